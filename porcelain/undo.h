// Undo: reflogs, reset and revert of a branch, snapshots of every branch,
// and rollback of the whole store (or some repos) to a time or snapshot.
// Nothing here deletes an object: old commits stay reachable through the
// reflogs and snapshots, and gc keeps them until the reflog expiry.
//
// A snapshot is a ref, refs/pach/snapshots/<name>, to a commit whose tree
// holds one file, "refs" ("ref <id> <refname>" lines, plus the snapshot's
// time and, for the ones a rollback saves, the refs it changed) and whose
// parents are those ids: plain git sees every snapshotted commit as
// reachable, push sends it, gc keeps it.
#pragma once

#include "plumbing/reflog.h"
#include "plumbing/store.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pach::porcelain {

struct ReflogLine {
	std::string ref, label;   // "refs/heads/r/master", "r@master"
	size_t index = 0;         // @{index}, 0 = newest
	ReflogEntry e;
};
// Newest first.  repo "" = every branch and the metadata; branch "" =
// every branch of repo.
std::vector<ReflogLine> reflog(const Store &s, const std::string &repo, const std::string &branch);

// Pipelines that read repo@branch, then everything downstream of them.
std::vector<std::string> pipelines_fed_by(const Store &s, const std::string &repo, const std::string &branch);

// Move repo@branch to `to`.  Dies (naming the pipelines) when the branch
// feeds a pipeline, unless force.
void reset_branch(Store &s, const std::string &repo, const std::string &branch, const Oid &to, bool force);

// A new commit on repo@branch undoing `commit`'s changes (against its
// first parent).  Files changed since are merged as text; conflicts die,
// listing the paths, with nothing committed.
Oid revert_commit(Store &s, const std::string &repo, const std::string &branch, const Oid &commit);

struct SnapshotInfo {
	std::string name;
	Oid commit;
	int64_t when = 0;
	std::map<std::string, Oid> refs;
	std::vector<std::string> changed;   // a rollback's own snapshot: refs it moved
	std::string note;
};
constexpr const char *kSnapshotPrefix = "refs/pach/snapshots/";
// name "" = a name from the time.  Dies if the name is taken.
// unique: add -2, -3... instead of dying when the name is taken.
SnapshotInfo snapshot_create(Store &s, const std::string &name, const std::string &note = "",
			     const std::vector<std::string> &changed = {}, bool unique = false);
std::vector<SnapshotInfo> snapshot_list(const Store &s);   // oldest first
// A snapshot's "refs" file (dies naming the snapshot on any bad line).
SnapshotInfo parse_snapshot_text(const std::string &name, const std::string &text);
std::optional<SnapshotInfo> snapshot_get(const Store &s, const std::string &name);

struct RollbackChange {
	std::string ref;
	std::optional<Oid> from, to;
};
struct RollbackTarget {
	std::optional<int64_t> time;
	std::string snapshot;
	bool undo = false;
};
struct RollbackResult {
	std::vector<RollbackChange> changes;
	std::string saved;   // the snapshot of the state before
	std::vector<std::string> unknown;   // refs without a log (left alone)
};
RollbackResult rollback(Store &s, const RollbackTarget &t, const std::vector<std::string> &repos, bool dry_run);

// gc: commits the reflogs still name (entries newer than the expiry),
// after dropping older entries.  Expiry from gc.reflogExpire (30 days).
std::vector<Oid> reflog_roots(Store &s, bool expire);

} // namespace pach::porcelain
