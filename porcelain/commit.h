// Making commits: snapshot a directory onto a path, put files, remove paths.
// Each is one new commit on a branch, moved by compare-and-swap; when
// another process moved the branch meanwhile, the same change is applied
// again on top of its commit, so neither is lost.
#pragma once

#include "plumbing/address.h"
#include "plumbing/branch_commit.h"
#include "plumbing/snapshot.h"
#include "plumbing/store.h"
#include "porcelain/split.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pach::porcelain {

struct CommitResult {
	std::optional<Oid> commit;   // nullopt: nothing to commit
	Oid parent_tree;
	SnapshotStats stats;
	int retries = 0;
};

struct CommitOptions {
	std::string message;
	int jobs = 0;   // hashing threads, 0 = one per core
	// put only: cut the one source into pieces under <path> (see split.h;
	// they replace what <path> held unless `append`), or with `append`
	// alone add the source's bytes to the end of the file at <path>.
	SplitOptions split;
	bool append = false;
};

CommitResult commit_dir(Store &s, const Address &a, const std::string &src, const CommitOptions &o);
// srcs may contain "-" (standard input), then a target path is required.
CommitResult put_paths(Store &s, const Address &a, const std::vector<std::string> &srcs, const CommitOptions &o);
CommitResult rm_paths(Store &s, const std::vector<Address> &paths, bool recursive, const CommitOptions &o);

// The engine behind the three (plumbing/branch_commit.h), its result
// as a CommitResult.
using TreeEdit = BranchEdit;
CommitResult commit_edit(Store &s, const std::string &repo, const std::string &branch, const std::string &msg,
			 const TreeEdit &edit, std::unique_ptr<ObjectWriter> first = nullptr);

// Hold this while writing objects: gc takes it exclusively.
class WriteLock {
public:
	explicit WriteLock(Store &s);

private:
	std::unique_ptr<FileLock> lock_;
};

} // namespace pach::porcelain
