// Pipeline specs (YAML or JSON) from someone else's repository.
#include "fuzz/fuzz.h"
#include "plumbing/address.h"
#include "runner/spec.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text((const char *)data, size);
	pach::fuzz::expect_errors_only([&] {
		auto r = pach::runner::parse_specs(text, "fuzz.yaml");
		for (auto &s : r.specs) {
			assert(pach::valid_repo_name(s.name));
			for (auto &[input, repo] : pach::runner::input_repos(s))
				assert(pach::valid_repo_name(input) && pach::valid_repo_name(repo));
		}
	});
	return 0;
}
