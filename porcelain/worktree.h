// Work trees: a branch written out as plain files, git style.  The
// directory holds a small `.pach` file naming the store and the work
// tree's id; its state lives in the store, under pach/worktrees/<id>/:
//
//   state       repo, branch, head commit, index tree, path (text, atomic)
//   statcache   stat -> blob id for the work tree's files
//   lock        held by every command working on it
//
// The index is a tree object: `add` writes blobs and a new index tree,
// `commit` makes it a commit on the branch (compare-and-swap from head).
// gc keeps every work tree's head and index reachable.
#pragma once

#include "plumbing/checkout.h"
#include "plumbing/stat_cache.h"
#include "plumbing/store.h"
#include "plumbing/tree_edit.h"
#include "porcelain/history.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pach::porcelain {

struct WorktreeState {
	std::string id, repo, branch, path;
	std::optional<Oid> head;   // nullopt: the branch had no commit yet
	Oid index;                 // a tree
	std::string pending;       // a checkout of this branch was cut short
};

// The work tree containing dir (or the current directory): its root, or
// "" when there is none.
std::string find_worktree(const std::string &dir);
// The store a work tree belongs to (the .pach directory).
std::string worktree_store(const std::string &root);

struct StatusEntry {
	char staged = ' ', unstaged = ' ';   // git's XY: A M D, '?' untracked
	std::string path;
};

using WorktreeFile = PathEntry;

class Worktree {
public:
	// Open the work tree at root (found by find_worktree); takes its lock.
	Worktree(Store &s, const std::string &root);
	~Worktree();
	const WorktreeState &state() const { return st_; }
	const std::string &root() const { return root_; }

	// A path given by the user (relative to cwd) as a path in the tree
	// ("" for the root); dies if it is outside the work tree.
	std::string rel_path(const std::string &user_path, const std::string &cwd) const;

	std::vector<StatusEntry> status();
	// Does the index hold a file under directory dir?
	bool tracks_under(const std::string &dir) const;
	// Stage the files under each path: new, modified and deleted ones.
	void add(const std::vector<std::string> &paths);
	// Commit the index (with all: every tracked file's change first).
	// Returns nullopt when there is nothing to commit.
	std::optional<Oid> commit(const std::string &msg, bool all);
	// From the index to the files, or (staged) from head to the index.
	void restore(const std::vector<std::string> &paths, bool staged);
	// Move to branch's tip (the current branch: bring it up to date),
	// keeping local changes to files the move does not touch.
	void switch_to(const std::string &branch, LinkMode m);

	// For diff: tracked files that differ from the index, the new side
	// read from the file (TreeEntry of mode 0 = deleted).
	struct Modified {
		std::string path;
		TreeEntry index, work;
	};
	// against_head: files against the commit instead (git diff HEAD).
	std::vector<Modified> unstaged(const std::vector<std::string> &paths, bool against_head = false);
	// What `pach diff` shows in a work tree: staged (the index against
	// the commit), unstaged (the files against the index) or against_head
	// (the files against the commit); a work tree file's new side is read
	// from the file.
	enum class DiffOf { staged, unstaged, against_head };
	std::vector<Change> diff(DiffOf what, const std::vector<std::string> &paths);
	Oid head_tree() const;

	// Create a work tree of repo@branch in dir (which must be missing or
	// empty) and write its files.
	static void create(Store &s, const std::string &repo, const std::string &branch, const std::string &dir,
			   LinkMode m);

private:
	void save();
	std::string state_file(const std::string &name) const;   // in the store's state dir
	// status() from a monitor's list of changed paths (worktree_status.cc);
	// false when the list does not fit the tree.
	bool status_from_changes(std::map<std::string, StatusEntry> &out, std::vector<std::string> paths);
	// The files at or below sub ("" = all) against tree's, both in path
	// order: fn(path, tracked, work) where they differ (tracked null:
	// untracked; work null: gone).  One pass of cache, pruned under sub;
	// the caller saves it (after w, if given, has written the files it
	// hashed).  Memory: a tree walk's, whatever the number of files.
	struct Counts {
		uint64_t files = 0, tracked = 0;   // seen on disk, in the tree
	};
	using OnDiff = std::function<void(const std::string &, const TreeEntry *, const TreeEntry *)>;
	Counts compare(StatCacheStream &cache, const Oid &tree, const std::string &sub, ObjectWriter *w,
		       const OnDiff &fn);
	bool beyond_link(const std::string &rel) const;
	template <class Moves> std::string untracked_under(const std::string &rel, const Moves &moves) const;
	// The work tree's file or symlink at rel, hashed through cache (a
	// pass in path order); nullopt when rel is not one.
	std::optional<TreeEntry> work_entry(StatCacheStream &cache, const std::string &rel);
	void write_file(Materialiser &m, const WorktreeFile &f);
	// Files written by this process, entered in the stat cache once safe
	// (remember_written: one more pass over it).
	struct Seen {
		std::string path;
		StatKey st;
		Oid oid;
	};
	void remember_written(StatCacheStream &cache);
	std::vector<Seen> written_;
	// write_file: the last directory written to, open (never reached
	// through a symlink: see open_dir_beneath).
	std::string last_dir_;
	Fd last_dir_fd_;

	Store &s_;
	std::string root_;
	WorktreeState st_;
	std::unique_ptr<FileLock> lock_;
};

// Heads and index trees of every work tree of the store (gc roots).
std::vector<Oid> worktree_roots(const Store &s);
// gc: forget work trees whose directory has been gone for three months.
void prune_worktrees(const Store &s);
// Forget the work trees' stat caches (gc, which may delete blobs they name).
void worktree_forget_caches(const Store &s);

} // namespace pach::porcelain
