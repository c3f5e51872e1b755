// Addresses typed by users and found in scripts: repo@branch~N:/path.
#include "fuzz/fuzz.h"
#include "plumbing/address.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text((const char *)data, size);
	pach::fuzz::expect_errors_only([&] {
		auto a = pach::parse_address(text);
		assert(pach::valid_repo_name(a.repo));
		for (auto &c : a.path)
			assert(c != ".." && c != "." && !c.empty() && c.find('/') == std::string::npos);
		(void)a.str();
	});
	pach::fuzz::expect_errors_only([&] { (void)pach::valid_store_ref(text); });
	return 0;
}
