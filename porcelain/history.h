// Looking back: log, show and diff.  Diffs walk two trees together and
// skip every subtree whose id is equal, so their cost follows the change.
#pragma once

#include "plumbing/address.h"
#include "plumbing/store.h"

#include <string>
#include <vector>

namespace pach::porcelain {

std::vector<CommitInfo> log(const Store &s, const Oid &start, int max);

struct Change {
	char status;        // 'A', 'D', 'M' (content or mode), 'T' (type)
	std::string path;   // "a/b", no leading slash
	TreeEntry old_e, new_e;
	// When set, the new side is this file (a work tree's), not a blob.
	std::string new_file;
};

// Paths limit the diff to those files or directories ("a/b").
std::vector<Change> diff_trees(const Store &s, const Oid &a, const Oid &b, const std::vector<std::string> &paths = {});

// A unified diff of one change, git's format; binary or very large files
// get "Binary files a/x and b/x differ".
std::string patch_text(const Store &s, const Change &c);
struct LineStat {
	size_t added = 0, removed = 0;
	bool binary = false;
	uint64_t old_size = 0, new_size = 0;
};
LineStat line_stat(const Store &s, const Change &c);

} // namespace pach::porcelain
