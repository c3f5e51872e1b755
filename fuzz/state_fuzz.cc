// A remote's state object: the only thing that names files and refs.
#include "fuzz/fuzz.h"
#include "plumbing/address.h"
#include "remote/sync.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text((const char *)data, size);
	pach::fuzz::expect_errors_only([&] {
		auto st = pach::remote::parse_state(text, "fuzz");
		for (auto &[name, sz] : st.packs)
			assert(name.size() == 40 && name.find_first_not_of("0123456789abcdef") == std::string::npos);
		for (auto &[ref, oid] : st.refs)
			assert(pach::valid_store_ref(ref) && ref.find("..") == std::string::npos);
	});
	return 0;
}
