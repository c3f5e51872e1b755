// Git tree objects: entries, canonical order and serialisation.
#pragma once

#include "plumbing/oid.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pach {

enum : uint32_t {
	kModeDir = 040000,
	kModeFile = 0100644,
	kModeExec = 0100755,
	kModeLink = 0120000,
	kModeGitlink = 0160000,
};

struct TreeEntry {
	std::string name;
	uint32_t mode = 0;
	Oid oid;
	bool is_dir() const { return mode == kModeDir; }
};

// git's order: byte-wise, with directories compared as if named "name/".
bool tree_entry_less(const TreeEntry &a, const TreeEntry &b);
void sort_tree(std::vector<TreeEntry> &v);
std::string serialize_tree(const std::vector<TreeEntry> &sorted);
// Dies naming `what` if the tree is malformed.
std::vector<TreeEntry> parse_tree(const std::string &raw, const std::string &what);
// The mode git would record for a file with these st_mode bits.
uint32_t git_mode_of(uint32_t st_mode);
const Oid &empty_tree_oid();
// Call fn(component) for each '/'-separated component of p, empty ones
// included (callers decide what "", "." and ".." mean).
template <class F> void for_each_component(const std::string &p, F fn)
{
	size_t i = 0;
	while (i <= p.size()) {
		size_t j = p.find('/', i);
		if (j == std::string::npos)
			j = p.size();
		fn(p.substr(i, j - i));
		i = j + 1;
	}
}

// A name git's fsck accepts in a tree ("", ".", "..", ".git" and '/' are not).
bool valid_tree_name(const std::string &n);

} // namespace pach
