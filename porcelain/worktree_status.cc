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

namespace pach::porcelain {

namespace {

bool same(const TreeEntry *a, const TreeEntry *b)
{
	if (!a || !b)
		return !a && !b;
	return a->mode == b->mode && a->oid == b->oid;
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
					at(idx[i].path).unstaged = 'M';
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
			at(c.path).staged = c.status == 'A' ? 'A' : c.status == 'D' ? 'D' : 'M';
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
	// in path order, merged as the walk reports them; the stat cache is
	// read and rewritten in the same pass.
	int64_t start = now_ns();
	StatCacheStream cache(state_file("statcache"));
	cache.begin(root_, start);
	TreeFiles idx(s_, st_.index);
	uint64_t files = 0, hashed = 0;
	scan_each(
		s_, nullptr, root_, [&](const std::string &p, const StatKey &k) { return cache.lookup(p, k); },
		[&](ScannedFile &&f) {
			// Interrupted writes of ours are not content.
			if (f.path.size() > 9 && f.path.compare(f.path.size() - 9, 9, ".pach-tmp") == 0)
				return;
			files++;
			hashed += f.hashed;
			for (; !idx.done() && idx.path() < f.path; idx.next())
				at(idx.path()).unstaged = 'D';
			const TreeEntry *ie = !idx.done() && idx.path() == f.path ? &idx.entry() : nullptr;
			TreeEntry we{"", f.mode, f.oid};
			if (!ie) {
				auto &x = at(f.path);
				if (x.staged == ' ')   // not a staged deletion of the same path
					x.staged = '?';
				x.unstaged = '?';
			} else if (!same(ie, &we)) {
				at(f.path).unstaged = 'M';
			}
			// Only hashed, so remembered when the store has the blob:
			// the index's.
			if (f.mode != kModeLink && (!f.hashed || (ie && ie->oid == f.oid)))
				cache.keep(root_ + "/" + f.path, f.st, f.oid);
			if (ie)
				idx.next();
		});
	for (; !idx.done(); idx.next())
		at(idx.path()).unstaged = 'D';
	cache.end();
	cache.save();
	if (getenv("PACH_TRACE_PERFORMANCE"))
		fprintf(stderr, "trace: work tree scan: %llu files, %llu hashed\n", (unsigned long long)files,
			(unsigned long long)hashed);
	trace_point("work tree scanned");
	if (ans)
		save_saved(state_file("monitor"), ans->token, st_.index, out);
	return to_vector(out);
}


} // namespace pach::porcelain
