// Tree objects as they come from a remote or a crafted store: the parser,
// git fsck's checks, and the quoting of the names for output.
#include "fuzz/fuzz.h"
#include "plumbing/quote.h"
#include "plumbing/tree.h"

#include <cassert>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string raw((const char *)data, size);
	pach::fuzz::expect_errors_only([&] {
		auto problems = pach::fsck_tree(raw, "fuzz");
		auto v = pach::parse_tree(raw, "fuzz");
		// What parse_tree accepts, fsck finds nothing wrong with.
		assert(problems.empty());
		for (auto &e : v) {
			assert(pach::valid_tree_name(e.name));
			assert(pach::valid_utf8(pach::json_string(e.name)));
			assert(!pach::needs_quoting(pach::quote_path(e.name)) || pach::quote_path(e.name)[0] == '"');
		}
		// Serialising what was read gives the same bytes back.
		assert(pach::serialize_tree(v) == raw);
	});
	pach::fuzz::expect_errors_only([&] { pach::parse_tree_unchecked(raw, "fuzz"); });
	return 0;
}
