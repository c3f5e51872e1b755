// One commit on a branch, the branch moved by compare-and-swap.  When
// another process moved it meanwhile, the same edit is applied again on
// top of that commit, so neither change is lost (put, rm, commit,
// revert, the mount's commits).
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace pach {

// edit(base tree, nullopt for a branch with no commit) -> the new tree.
using BranchEdit = std::function<Oid(ObjectWriter &, const std::optional<Oid> &base)>;

struct BranchCommit {
	std::optional<Oid> commit;   // nullopt: the edit changed nothing
	Oid parent_tree;
	int retries = 0;
};

// The one commit-with-compare-and-swap: writes a commit of `tree` on top
// of `head` (no parent when nullopt) with `w`, finishes `w`, then moves
// `ref` from `head` to it.  nullopt when `ref` no longer points at `head`
// (the commit stays unreferenced for gc).  `reflog` is the reflog's
// message; `crash_at` a crash point between the commit and the move.
std::optional<Oid> commit_on_ref(Store &s, ObjectWriter &w, const std::string &ref, const Oid &tree,
				 const std::optional<Oid> &head, const Signature &author, const std::string &msg,
				 const std::string &reflog, const char *crash_at = nullptr);

// `first`, if given, holds objects already written for this change; the
// first attempt adds its trees and commit to the same pack.
BranchCommit commit_on_branch(Store &s, const std::string &repo, const std::string &branch, const std::string &msg,
			      const BranchEdit &edit, std::unique_ptr<ObjectWriter> first = nullptr);

} // namespace pach
