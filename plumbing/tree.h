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
// Dies naming `what` if the tree is malformed, or if it has an entry
// git's fsck --strict (or pach) would refuse: a bad name (see
// entry_name_problem), a bad or zero-padded mode, a null id, duplicate
// entries, entries out of order, a .gitmodules symlink.  Every tree pach
// reads for output, editing or running passes through here, so such an
// entry never becomes a path.
std::vector<TreeEntry> parse_tree(const std::string &raw, const std::string &what);
// For gc and fsck, which must walk bad trees too.
std::vector<TreeEntry> parse_tree_unchecked(const std::string &raw, const std::string &what);
// What git fsck --strict says of the tree, as "msgId: text" lines (one per
// kind), plus pach's own "pach: ..." refusals.  Empty: a good tree.
std::vector<std::string> fsck_tree(const std::string &raw, const std::string &what);

// Deepest nesting of directories pach writes out or walks by path (git's
// core.maxTreeDepth default).
constexpr int kMaxTreeDepth = 2048;
// Most entries one walk of a tree visits.  A tree can name one subtree
// many times (a "tree bomb": 40 levels of two entries each naming the same
// tree expand to 2^40 files from 40 objects); walks stop here, with an
// error, instead of running for ever.  Ten times the 10-million-file
// repos pach is built for.
constexpr uint64_t kMaxWalkEntries = 100'000'000;
struct WalkBudget {
	explicit WalkBudget(std::string what) : what_(std::move(what)) {}
	void take(uint64_t n);   // dies past kMaxWalkEntries
private:
	uint64_t used_ = 0;
	std::string what_;
};
// Longest entry name pach reads or writes (NAME_MAX of Linux filesystems).
constexpr size_t kMaxNameBytes = 255;
// ".git" as git, HFS+ (ignorable code points, any case) or NTFS ("git~1",
// trailing dots and spaces) would see it.
bool is_dotgit(const std::string &n);
// ".pach" (any case) and the suffixes of pach's temporary files.
bool reserved_name(const std::string &n);
// Why a name cannot be a tree entry ("" if it can): git fsck's message id
// and text, or "pach: ..." for pach's own reserved names and limits.
std::string entry_name_problem(const std::string &n);
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

// The non-empty components of p ("a//b/" -> a, b).
inline std::vector<std::string> path_components(const std::string &p)
{
	std::vector<std::string> v;
	for_each_component(p, [&](const std::string &c) {
		if (!c.empty())
			v.push_back(c);
	});
	return v;
}

// A name pach accepts in a tree it reads or writes (entry_name_problem).
bool valid_tree_name(const std::string &n);

} // namespace pach
