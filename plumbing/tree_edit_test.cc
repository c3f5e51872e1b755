#include "plumbing/tree_edit.h"

#include "t/unit-store.h"

#include <doctest/doctest.h>

using namespace pach;

TEST_CASE("apply_edits: removals before additions, only what is expected is removed, conflicts refused")
{
	TempStore sc;
	Store &s = *sc.s;
	ObjectWriter w(s, 1);
	TreeEntry a{"a", kModeFile, w.blob("A", 1)}, b{"b", kModeFile, w.blob("B", 1)};
	Oid root = edit_tree(s, w, std::nullopt, {"d", "a"}, a);
	root = edit_tree(s, w, root, {"d", "b"}, b);

	// Replace d/a by d/a's new content: remove the old one, add the new.
	TreeEntry a2{"a", kModeFile, w.blob("A2", 2)};
	auto r = apply_edits(w, root, {{{"d", "a"}, a, true}, {{"d", "a"}, a2, false}});
	REQUIRE(r);
	CHECK(lookup_path(w, *r, {"d", "a"})->oid == a2.oid);
	CHECK(lookup_path(w, *r, {"d", "b"})->oid == b.oid);

	// Removing an entry that is not what the edit expects: a conflict.
	CHECK_FALSE(apply_edits(w, root, {{{"d", "a"}, b, true}}));
	// Adding where something already is: a conflict.
	CHECK_FALSE(apply_edits(w, root, {{{"d", "a"}, a2, false}}));
	// A file on the way of an addition: a conflict.
	CHECK_FALSE(apply_edits(w, root, {{{"d", "a", "x"}, a2, false}}));
	// Removing the last entries of a directory removes the directory.
	r = apply_edits(w, root, {{{"d", "a"}, a, true}, {{"d", "b"}, b, true}});
	REQUIRE(r);
	CHECK(*r == empty_tree_oid());
	w.finish();
}
