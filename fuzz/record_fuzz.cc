// Records that travel with pull: job records and snapshots.
#include "fuzz/fuzz.h"
#include "plumbing/address.h"
#include "porcelain/undo.h"
#include "runner/job.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text((const char *)data, size);
	pach::fuzz::expect_errors_only([&] {
		auto j = pach::runner::parse_job(text);
		pach::runner::parse_datums(j, text);
		for (auto &d : j.datums)
			assert(d.id.size() >= 2 && d.id.find_first_not_of("0123456789abcdef") == std::string::npos);
	});
	pach::fuzz::expect_errors_only([&] {
		auto s = pach::porcelain::parse_snapshot_text("fuzz", text);
		for (auto &[ref, oid] : s.refs)
			assert(pach::valid_store_ref(ref));
	});
	return 0;
}
