// Editing trees by path, writing only the trees on the changed path: the
// cost of an edit grows with the depth of the path, not the size of the tree.
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pach {

std::optional<TreeEntry> lookup_path(const Store &s, const Oid &root, const std::vector<std::string> &path);
// The same, seeing the trees `w` has written but not yet finished.
std::optional<TreeEntry> lookup_path(const ObjectWriter &w, const Oid &root, const std::vector<std::string> &path);

// Set the entry at `path` (replacing whatever is there, creating missing
// directories) or, with nullopt, remove it; directories left empty vanish.
// `root` nullopt means the empty tree.  Setting the root itself requires a
// directory entry.  Returns the new root tree.
Oid edit_tree(Store &s, ObjectWriter &w, const std::optional<Oid> &root, const std::vector<std::string> &path,
	      const std::optional<TreeEntry> &entry);

// Many edits at once, each tree on their paths read and written once.
// A removal names the entry it expects (oid and mode): anything else
// there is a conflict; an addition needs its path free (no entry, and no
// file on the way).  Removals apply before additions.  Returns the new
// root, or nullopt on a conflict (nothing is wrong with the store then).
struct TreeEdit {
	std::vector<std::string> path;
	TreeEntry entry;
	bool remove = false;
};
std::optional<Oid> apply_edits(ObjectWriter &w, const Oid &root, std::vector<TreeEdit> edits);

// Merge `over` into `base`: entries of `over` win, directories merge.
Oid overlay_tree(Store &s, ObjectWriter &w, const Oid &base, const Oid &over);

// A tree from a flat list of files, sorted by path ("a/b"; no entry's
// path a prefix directory of another's): the one tree builder (a work
// tree's index, a job's output).  Iterative; dies beyond kMaxTreeDepth.
struct PathEntry {
	std::string path;
	TreeEntry entry;   // name unused
};
Oid build_tree(ObjectWriter &w, const std::vector<PathEntry> &sorted);

// Call fn for every entry below root (depth first, in tree order) with its
// path ("a/b").  Returning false from fn for a directory skips its content.
void walk_tree(const Store &s, const Oid &root, const std::function<bool(const std::string &, const TreeEntry &)> &fn,
	       const std::string &prefix = "");

// The files (and symlinks) below a tree in path order, one at a time: a
// walk_tree to merge with another sorted stream.  Holds the trees on the
// path from the root only.
class TreeFiles {
public:
	TreeFiles(const Store &s, const Oid &root);
	bool done() const { return !have_; }
	const std::string &path() const { return cur_.path; }
	const TreeEntry &entry() const { return cur_.entry; }
	void next();

private:
	struct Frame {
		std::vector<TreeEntry> kids;
		size_t next = 0;
		std::string prefix;
	};
	const Store &s_;
	std::vector<Frame> stack_;
	PathEntry cur_;
	bool have_ = false;
	WalkBudget budget_;
};

} // namespace pach
