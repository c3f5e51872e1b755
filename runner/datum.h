// Datums: each path an input's glob matches (a file or a whole subtree),
// combined across inputs by cross, union, join and group exactly as
// Pachyderm does (see ../shared/reference/pachyderm-semantics.md).
#pragma once

#include "plumbing/store.h"
#include "runner/spec.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pach::runner {

struct DatumFile {
	std::string input;    // input name: mounted at /pfs/<input>
	std::string repo, branch;
	std::optional<Oid> commit;
	std::string path;     // "/dir/file" (no trailing slash; "/" for the root)
	TreeEntry entry;      // what the path is: blob or tree, with its oid
	std::string join_key, group_key;   // from its own input's join_on / group_by
	bool has_join_on = false, has_group_by = false, outer_join = false;
	bool empty_files = false; // shown as empty files (names only)
	bool lazy = false;        // read through a FUSE mount, not copied
};

struct Datum {
	std::vector<DatumFile> files;   // sorted by (input, path)
	// Pachyderm's datum id: a hash of (input, repo, branch, path) of each file.
	std::string id() const;
	// Content hash: the id plus each file's object id, salted with `salt`
	// (the transform's hash): unchanged -> the previous output is reused.
	std::string hash(const std::string &salt) const;
	std::string hash(const std::string &id, const std::string &salt) const;  // id() given
};

// The commit each input reads: the head of its branch (nullopt if the
// branch has no commits yet, which gives no datums).
using InputCommits = std::map<std::string, std::optional<Oid>>;   // by repo@branch
InputCommits resolve_inputs(const Store &s, const PipelineSpec &spec);

// Every datum of the input, handed to fn as it is found, in the order
// Pachyderm lists them.  Memory: a pfs, cron or union input streams (a
// tree walk's worth); a cross holds every input but its first; a join or
// group holds the matched files by key.
using OnDatum = std::function<void(Datum &&)>;
void for_each_datum(const Store &s, const Input &in, const InputCommits &commits, const OnDatum &fn);
// The same, gathered.
std::vector<Datum> compute_datums(const Store &s, const Input &in, const InputCommits &commits);

} // namespace pach::runner
