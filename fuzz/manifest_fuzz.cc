// What a cluster job leaves on the remote: the job, a task, a task's
// result.  A worker turns task paths into files under /pfs and the
// coordinator result ids into records: only what pach writes may pass.
#include "fuzz/fuzz.h"
#include "runner/manifest.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	std::string text((const char *)data + 1, size - 1);
	pach::fuzz::expect_errors_only([&] {
		switch (data[0] % 3) {
		case 0: {
			auto t = pach::runner::parse_task(text, "fuzz");
			for (auto &[id, d] : t.datums)
				for (auto &f : d.files) {
					std::string p = f.path + "/";
					assert(p[0] == '/' && p.find("/../") == std::string::npos &&
					       p.find("/./") == std::string::npos && (f.path == "/" || p.find("//") == std::string::npos));
					assert(f.input.find('/') == std::string::npos && f.input != ".." && f.input != ".");
				}
			// What parses formats back to the same text.
			assert(pach::runner::format_task(t) == text);
			break;
		}
		case 1: {
			auto r = pach::runner::parse_result(text, "fuzz");
			for (auto &d : r.datums)
				assert(d.id.size() == 40);
			break;
		}
		default: {
			auto m = pach::runner::parse_job_manifest(text, "fuzz");
			assert(m.id.size() == 32);
			break;
		}
		}
	});
	return 0;
}
