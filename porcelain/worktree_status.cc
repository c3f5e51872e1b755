// pach status: the work tree against its index, and the index against
// its commit -- by one walk in path order, or, with a monitor running on
// the work tree, by reading only what changed since the last status.
#include "porcelain/worktree.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/monitor.h"
#include "plumbing/progress.h"
#include "plumbing/snapshot.h"
#include "plumbing/tree_edit.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

namespace pach::porcelain {

namespace {

bool same(const TreeEntry *a, const TreeEntry *b)
{
	if (!a || !b)
		return !a && !b;
	return a->mode == b->mode && a->oid == b->oid;
}

// A tree's files at or below sub ("" = all of them), in path order, with
// their full paths: a tree walk's memory.
class TrackedFiles {
public:
	TrackedFiles(const Store &s, const Oid &tree, const std::string &sub) : sub_(sub)
	{
		if (sub.empty()) {
			files_.emplace(s, tree);
		} else if (auto e = lookup_path(s, tree, path_components(sub))) {
			if (e->is_dir())
				files_.emplace(s, e->oid);
			else
				one_ = PathEntry{sub, TreeEntry{"", e->mode, e->oid}};
		}
		next();
	}
	bool done() const { return !have_; }
	const std::string &path() const { return cur_.path; }
	const TreeEntry &entry() const { return cur_.entry; }
	void next()
	{
		have_ = true;
		if (one_) {
			cur_ = std::move(*one_);
			one_.reset();
		} else if (files_ && !files_->done()) {
			cur_.path = sub_.empty() ? files_->path() : sub_ + "/" + files_->path();
			cur_.entry = files_->entry();
			files_->next();
		} else {
			have_ = false;
		}
	}

private:
	std::string sub_;
	std::optional<TreeFiles> files_;
	std::optional<PathEntry> one_;
	PathEntry cur_;
	bool have_ = false;
};

// A file that differs from the index: modified, or (as git says) a type
// change between a file and a symlink.
char unstaged_code(const TreeEntry &index, const TreeEntry &work)
{
	return (index.mode == kModeLink) != (work.mode == kModeLink) ? 'T' : 'M';
}

std::vector<StatusEntry> to_vector(const std::map<std::string, StatusEntry> &out)
{
	std::vector<StatusEntry> v;
	v.reserve(out.size());
	for (auto &[p, e] : out)
		v.push_back(e);
	return v;
}

// What the last status with a monitor saw: its token, the index it
// compared with, and the paths that differed from it (NUL-terminated).
struct Saved {
	std::string token;
	Oid index;
	std::vector<std::string> dirty;
};

std::optional<Saved> read_saved(const std::string &file)
{
	std::string body;
	try {
		if (!path_exists(file))
			return std::nullopt;
		body = read_file_small(file);
	} catch (const Error &) {
		return std::nullopt;
	}
	size_t a = body.find('\n'), b = a == std::string::npos ? a : body.find('\n', a + 1);
	if (b == std::string::npos || body.compare(0, 6, "token ") || body.compare(a + 1, 6, "index "))
		return std::nullopt;
	Saved s;
	s.token = body.substr(6, a - 6);
	auto o = Oid::from_hex(body.substr(a + 7, b - a - 7));
	if (!o)
		return std::nullopt;
	s.index = *o;
	for (size_t i = b + 1; i < body.size();) {
		size_t z = body.find('\0', i);
		if (z == std::string::npos)
			return std::nullopt;
		s.dirty.push_back(body.substr(i, z - i));
		i = z + 1;
	}
	return s;
}

void save_saved(const std::string &file, const std::string &token, const Oid &index,
		const std::map<std::string, StatusEntry> &out)
{
	std::string body = "token " + token + "\nindex " + index.hex() + "\n";
	for (auto &[p, e] : out)
		if (e.unstaged != ' ')
			body += p + '\0';
	try {
		write_file_atomic(file, body);
	} catch (const Error &) {
		// Without it the next status walks everything.
	}
}

} // namespace

// Each candidate path (and all below it) compared afresh: the files on
// disk against the index's.  Paths not listed are as the last status saw
// them: equal to the index.
bool Worktree::status_from_changes(std::map<std::string, StatusEntry> &out, std::vector<std::string> cand)
{
	if (cand.size() > kMonitorMaxPaths)
		return false;
	std::sort(cand.begin(), cand.end());
	cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
	auto at = [&](const std::string &p) -> StatusEntry & {
		auto &e = out[p];
		e.path = p;
		return e;
	};
	return for_each_changed(root_, cand, [&](const std::string &p, const std::vector<std::string> &parts) {
		// The index's files at or below p, and the work tree's.
		std::vector<PathEntry> idx;
		if (auto e = lookup_path(s_, st_.index, parts)) {
			if (!e->is_dir())
				idx.push_back({p, *e});
			else
				for (TreeFiles f(s_, e->oid); !f.done(); f.next())
					idx.push_back({p + "/" + f.path(), f.entry()});
		}
		std::vector<PathEntry> disk;
		scan_each(s_, nullptr, root_ + "/" + p, nullptr, [&](ScannedFile &&f) {
			std::string q = f.path.empty() ? p : p + "/" + f.path;
			if (q.size() > 9 && q.compare(q.size() - 9, 9, ".pach-tmp") == 0)
				return;
			disk.push_back({std::move(q), TreeEntry{"", f.mode, f.oid}});
		});
		size_t i = 0, j = 0;
		while (i < idx.size() || j < disk.size()) {
			int c = i == idx.size() ? 1 : j == disk.size() ? -1 : idx[i].path.compare(disk[j].path);
			if (c < 0) {
				at(idx[i++].path).unstaged = 'D';
			} else if (c > 0) {
				auto &x = at(disk[j++].path);
				if (x.staged == ' ')
					x.staged = '?';
				x.unstaged = '?';
			} else {
				if (!same(&idx[i].entry, &disk[j].entry))
					at(idx[i].path).unstaged = unstaged_code(idx[i].entry, disk[j].entry);
				i++, j++;
			}
		}
	});
}

std::vector<StatusEntry> Worktree::status()
{
	Oid ht = head_tree();
	std::map<std::string, StatusEntry> out;   // changed paths only
	auto at = [&](const std::string &p) -> StatusEntry & {
		auto &e = out[p];
		e.path = p;
		return e;
	};
	// Staged: the commit against the index, equal subtrees skipped.
	if (!(ht == st_.index))
		for (auto &c : diff_trees(s_, ht, st_.index))
			at(c.path).staged = c.status == 'A' || c.status == 'D' || c.status == 'T' ? c.status : 'M';
	// With a monitor on the work tree (pach-monitor(1)): only the paths
	// changed since the last status, and those that differed then.
	std::string abs = absolute_path(root_);
	auto saved = read_saved(state_file("monitor"));
	std::optional<MonitorAnswer> ans;
	if (!getenv("PACH_NO_MONITOR"))
		ans = monitor_query(monitor_address(s_.git_dir(), abs), saved ? saved->token : "");
	if (ans && !ans->all && saved && saved->index == st_.index) {
		std::vector<std::string> cand = saved->dirty;
		cand.insert(cand.end(), ans->paths.begin(), ans->paths.end());
		if (status_from_changes(out, std::move(cand))) {
			trace_point("work tree: changes from the monitor");
			save_saved(state_file("monitor"), ans->token, st_.index, out);
			return to_vector(out);
		}
	}
	// Unstaged and untracked: the index's files and the work tree's, both
	// in path order, merged as the walk reports them.
	StatCacheStream cache(state_file("statcache"));
	compare(cache, st_.index, "", nullptr, [&](const std::string &p, const TreeEntry *ie, const TreeEntry *we) {
		if (!we) {
			at(p).unstaged = 'D';
		} else if (!ie) {
			auto &x = at(p);
			if (x.staged == ' ')   // not a staged deletion of the same path
				x.staged = '?';
			x.unstaged = '?';
		} else {
			at(p).unstaged = unstaged_code(*ie, *we);
		}
	});
	cache.save();
	trace_point("work tree scanned");
	if (ans)
		save_saved(state_file("monitor"), ans->token, st_.index, out);
	return to_vector(out);
}

// Does a directory on the way to rel (not rel itself) resolve through a
// symlink?  Then rel is not in the work tree, as in git.
bool Worktree::beyond_link(const std::string &rel) const
{
	for (auto sl = rel.find('/'); sl != std::string::npos; sl = rel.find('/', sl + 1)) {
		struct stat st;
		if (lstat((root_ + "/" + rel.substr(0, sl)).c_str(), &st) == 0 && S_ISLNK(st.st_mode))
			return true;
	}
	return false;
}

Worktree::Counts Worktree::compare(StatCacheStream &cache, const Oid &tree, const std::string &sub, ObjectWriter *w,
				   const OnDiff &fn)
{
	Counts n;
	TrackedFiles idx(s_, tree, sub);
	auto gone = [&] {
		n.tracked++;
		fn(idx.path(), &idx.entry(), nullptr);
	};
	std::string src = sub.empty() ? root_ : root_ + "/" + sub;
	int64_t start = now_ns();
	cache.begin(src, start);
	uint64_t hashed = 0;
	struct stat st;
	if (!beyond_link(sub) && lstat(src.c_str(), &st) == 0)   // missing, or under a file: nothing there
		scan_each(
			s_, w, src, [&](const std::string &p, const StatKey &k) { return cache.lookup(p, k); },
			[&](ScannedFile &&f) {
				std::string p = sub.empty() ? std::move(f.path) : f.path.empty() ? sub : sub + "/" + f.path;
				// Interrupted writes of ours are not content.
				if (p.size() > 9 && p.compare(p.size() - 9, 9, ".pach-tmp") == 0)
					return;
				n.files++;
				hashed += f.hashed;
				for (; !idx.done() && idx.path() < p; idx.next())
					gone();
				const TreeEntry *ie = !idx.done() && idx.path() == p ? &idx.entry() : nullptr;
				TreeEntry we{"", f.mode, f.oid};
				if (!same(ie, &we))
					fn(p, ie, &we);
				// Only hashed, so remembered when the store has the blob:
				// the tree's, or written to w (the cache is saved after it).
				if (f.mode != kModeLink && (!f.hashed || w || (ie && ie->oid == f.oid)))
					cache.keep(root_ + "/" + p, f.st, f.oid);
				if (ie) {
					n.tracked++;
					idx.next();
				}
			});
	for (; !idx.done(); idx.next())
		gone();
	cache.end();
	if (getenv("PACH_TRACE_PERFORMANCE"))
		fprintf(stderr, "trace: work tree scan: %llu files, %llu hashed\n", (unsigned long long)n.files,
			(unsigned long long)hashed);
	return n;
}

std::vector<Worktree::Modified> Worktree::unstaged(const std::vector<std::string> &paths, bool against_head)
{
	// The tracked files against the index (only what differs).
	std::map<std::string, Modified> work;   // path -> index, file (mode 0: gone)
	StatCacheStream cache(state_file("statcache"));
	for (auto &rel : paths.empty() ? std::vector<std::string>{""} : paths)
		compare(cache, st_.index, rel, nullptr, [&](const std::string &p, const TreeEntry *ie, const TreeEntry *we) {
			if (ie)
				work[p] = {p, *ie, we ? *we : TreeEntry{}};
		});
	cache.save();
	std::vector<Modified> out;
	if (!against_head) {
		for (auto &[p, m] : work)
			out.push_back(std::move(m));
		return out;
	}
	// Against the commit, as git diff HEAD: a path the index does not
	// track is gone, whatever is on disk.  A path differs when the index
	// differs from the commit (a staged change) or the file from the
	// index; each is O(changes), and both together say what the file is
	// against the commit.
	std::map<std::string, TreeEntry> head_of;   // staged paths: the commit's entry (mode 0: none)
	std::map<std::string, TreeEntry> index_of;  // staged paths: the index's entry (mode 0: none)
	Oid ht = head_tree();
	if (!(ht == st_.index))
		for (auto &c : diff_trees(s_, ht, st_.index, paths)) {
			head_of[c.path] = c.old_e;
			index_of[c.path] = c.new_e;
		}
	std::set<std::string> cand;
	for (auto &[p, m] : work)
		cand.insert(p);
	for (auto &[p, e] : head_of)
		cand.insert(p);
	for (auto &p : cand) {
		auto w = work.find(p);
		auto h = head_of.find(p);
		TreeEntry ie = h != head_of.end() ? index_of[p] : w->second.index;
		TreeEntry he = h != head_of.end() ? h->second : ie;   // unstaged only: the index is the commit's
		TreeEntry we = w != work.end() ? w->second.work : ie;
		if (he.mode == we.mode && (!he.mode || he.oid == we.oid))
			continue;
		out.push_back({p, he, we});
	}
	return out;
}

std::vector<Change> Worktree::diff(DiffOf what, const std::vector<std::string> &paths)
{
	std::vector<Change> changes;
	if (what == DiffOf::staged) {
		Oid ht = head_tree();
		if (!(ht == st_.index))
			changes = diff_trees(s_, ht, st_.index, paths);
		return changes;
	}
	for (auto &m : unstaged(paths, what == DiffOf::against_head)) {
		Change c{!m.index.mode ? 'A' : m.work.mode ? 'M' : 'D', m.path, m.index, m.work, ""};
		if (m.index.mode && m.work.mode && (m.work.mode == kModeLink) != (m.index.mode == kModeLink))
			c.status = 'T';
		if (m.work.mode)
			c.new_file = root_ + "/" + m.path;
		changes.push_back(c);
	}
	return changes;
}

} // namespace pach::porcelain
