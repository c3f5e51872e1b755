// What pach asks of libgit2, in pach's own types: outside plumbing/ no
// libgit2 type or header is seen (git.h is plumbing's own).
#pragma once

#include "plumbing/oid.h"

#include <optional>
#include <string>
#include <vector>

namespace pach {

class Store;

// Commits reachable from start, newest first by committer time, at most
// max (< 0: all), as `git log` lists them.
std::vector<Oid> walk_history(const Store &s, const Oid &start, int max);

// Any object by git's revision syntax (abbreviated ids, rev^{tree}, ...).
enum class Revparse { found, ambiguous, not_found };
Revparse revparse_object(const Store &s, const std::string &spec, Oid *out);

// The hunks of a unified diff (three lines of context, as git prints
// them, "@@ ... @@" headers included) and the lines added and removed.
// The old side is a blob or nothing; the new side a blob, the bytes of
// a file (new_bytes), or nothing.
struct TextDiff {
	std::string hunks;
	size_t added = 0, removed = 0;
};
TextDiff diff_text(const Store &s, const std::string &path, const std::optional<Oid> &old_blob,
		   const std::optional<Oid> &new_blob, const std::string *new_bytes = nullptr);

// A three-way merge of file contents (git merge-file); nullopt when the
// changes conflict.
std::optional<std::string> merge_file(const std::string &base, const std::string &ours, const std::string &theirs);

// A pack with deltas indexed by libgit2's indexer: its idx written to
// idx_path; returns the pack's checksum.
Oid index_pack_with_libgit2(const std::string &pack_path, const std::string &idx_path, const std::string &what);

// "1.5.1"
std::string libgit2_version();

} // namespace pach
