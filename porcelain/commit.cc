#include "porcelain/commit.h"

#include "plumbing/branch_commit.h"
#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/monitor.h"
#include "plumbing/tree_edit.h"
#include "porcelain/files.h"
#include "porcelain/maint.h"
#include "plumbing/progress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pach::porcelain {

WriteLock::WriteLock(Store &s) : lock_(s.lock_shared())
{
	s.clean_stale_temp();
}

static std::string target_branch(const Store &s, const Address &a)
{
	require_repo(s, a.repo);
	std::string b = a.branch_or_default();
	if (!names_branch(s, a))
		die("'{}' is not a branch of repo '{}'; commits can only be added to a branch", b, a.repo);
	return b;
}

CommitResult commit_edit(Store &s, const std::string &repo, const std::string &branch, const std::string &msg,
			 const TreeEdit &edit, std::unique_ptr<ObjectWriter> first)
{
	BranchCommit b = commit_on_branch(s, repo, branch, msg, edit, std::move(first));
	CommitResult res;
	res.commit = b.commit;
	res.parent_tree = b.parent_tree;
	res.retries = b.retries;
	return res;
}

// Housekeeping once a commit is in: merge small packs now and then.
static void after_commit(Store &s, const CommitResult &r)
{
	if (r.commit)
		auto_repack(s);
}

static std::string default_msg(const std::string &what)
{
	return what;
}

static const char kStdinName[] = "standard input";

// What each big file under src (or src itself) was on the branch before,
// at dst + its path below src: the base of its next version
// (ObjectWriter::set_previous).  Read once from the branch's head now;
// should the branch move meanwhile, only the choice of delta base changes.
static ObjectWriter::PreviousVersion previous_versions(Store &s, const std::string &repo, const std::string &branch,
						       std::vector<std::pair<std::string, std::vector<std::string>>> at)
{
	auto head = s.ref(branch_ref(repo, branch));
	if (!head)
		return nullptr;
	Oid root = s.read_commit(*head).tree;
	for (auto &[src, dst] : at)
		if (src != kStdinName)
			src = absolute_path(src);
	return [&s, root, at = std::move(at)](const std::string &what) -> std::optional<Oid> {
		for (auto &[src, dst] : at) {
			std::vector<std::string> path = dst;
			if (what != src) {
				if (what.size() <= src.size() + 1 || what.compare(0, src.size(), src) ||
				    what[src.size()] != '/')
					continue;
				size_t i = src.size() + 1;
				while (i <= what.size()) {
					size_t j = what.find('/', i);
					if (j == std::string::npos)
						j = what.size();
					path.push_back(what.substr(i, j - i));
					i = j + 1;
				}
			}
			auto e = lookup_path(s, root, path);
			if (e && e->mode != kModeDir && e->mode != kModeLink)
				return e->oid;
		}
		return std::nullopt;
	};
}

CommitResult commit_dir(Store &s, const Address &a, const std::string &src, const CommitOptions &o)
{
	std::string branch = target_branch(s, a);
	struct stat st;
	if (stat(src.c_str(), &st) < 0)
		die_errno("unable to read '" + src + "'");
	if (!S_ISDIR(st.st_mode) && a.path.empty())
		die("'{}' is not a directory; name a file path in the repo to commit a single file", src);
	WriteLock lock(s);
	trace_point("locked");
	StatCacheStream cache(s.path(StatCache::kFile));
	SnapshotStats stats;
	auto wp = std::make_unique<ObjectWriter>(s);
	wp->set_previous(previous_versions(s, a.repo, branch, {{src, a.path}}));
	// With a monitor running (pach-monitor(1)), only what changed since the
	// last snapshot of src is read; it asks before reading anything, so a
	// change made while this commit reads is reported to the next one.
	std::optional<MonitorState> next;
	std::optional<std::optional<TreeEntry>> changed;
	std::string abs = S_ISDIR(st.st_mode) ? absolute_path(src) : "";
	if (!abs.empty() && !getenv("PACH_NO_MONITOR")) {
		auto prev = read_monitor_state(s, abs);
		if (auto ans = monitor_query(monitor_address(s.git_dir(), abs), prev ? prev->token : "")) {
			next = MonitorState{ans->token, {}};
			if (!ans->all && prev && s.odb().contains(prev->tree)) {
				changed = snapshot_changes(s, *wp, abs, prev->tree, ans->paths, &stats);
				trace_point(changed ? "monitor: changes applied" : "monitor: changes do not apply");
			}
		}
	}
	auto entry = changed ? *changed : snapshot(s, *wp, src, cache, &stats, o.jobs);
	trace_point("snapshot");
	std::string msg = o.message.empty() ? default_msg("commit " + src + " to " + a.path_str()) : o.message;
	auto res = commit_edit(s, a.repo, branch, msg, [&](ObjectWriter &tw, const std::optional<Oid> &base) {
		return edit_tree(s, tw, base, a.path, entry);
	}, std::move(wp));
	cache.save();
	if (next) {
		next->tree = entry ? entry->oid : empty_tree_oid();
		write_monitor_state(s, abs, *next);
	}
	res.stats = stats;
	after_commit(s, res);
	return res;
}

static std::string base_name(const std::string &p)
{
	std::string q = p;
	while (q.size() > 1 && q.back() == '/')
		q.pop_back();
	auto k = q.find_last_of('/');
	return k == std::string::npos ? q : q.substr(k + 1);
}

// Copy standard input to a temporary file in the store: a blob's size
// must be known before its bytes go into a pack.
static Fd spool_stdin(Store &s, uint64_t *size)
{
	std::string dir = s.path("pach");
	std::string tmpl = dir + "/tmp_stdin_XXXXXX";
	int fd = mkstemp(tmpl.data());
	if (fd < 0)
		die_errno("unable to create a temporary file in '" + dir + "'");
	unlink(tmpl.c_str());
	Fd f(fd);
	std::vector<char> buf(1 << 20);
	*size = 0;
	for (;;) {
		ssize_t n = read(0, buf.data(), buf.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno("unable to read standard input");
		}
		if (n == 0)
			break;
		write_full(f.get(), buf.data(), (size_t)n, "temporary file");
		*size += (uint64_t)n;
	}
	lseek(f.get(), 0, SEEK_SET);
	return f;
}

// The source of a split or an append: a file or standard input, read
// from the start.
static Fd open_source(Store &s, const std::string &src, uint64_t *size)
{
	if (src == "-")
		return spool_stdin(s, size);
	Fd f(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
	struct stat st;
	if (!f || fstat(f.get(), &st) < 0)
		die_errno("unable to read '" + src + "'");
	if (!S_ISREG(st.st_mode))
		die("'{}' is not a file: --split and --append take one file (or '-')", src);
	*size = (uint64_t)st.st_size;
	return f;
}

// pachctl's put file --split and --append (see CommitOptions).
static CommitResult put_split_or_append(Store &s, const Address &a, const std::string &branch,
					const std::vector<std::string> &srcs, const CommitOptions &o)
{
	bool split = !o.split.mode.empty();
	if (srcs.size() != 1)
		die("{} takes one source (a file or '-')", split ? "--split" : "--append");
	if (a.path.empty())
		die("{} needs a path: {}@{}:/{}", split ? "--split" : "--append", a.repo, branch,
		    split ? "dir (the pieces go there)" : "file");
	WriteLock lock(s);
	auto wp = std::make_unique<ObjectWriter>(s);
	ObjectWriter &w = *wp;
	uint64_t size = 0;
	Fd src = open_source(s, srcs[0], &size);
	std::vector<Oid> pieces;
	if (split)
		pieces = split_stream(s, w, src.get(), srcs[0] == "-" ? "standard input" : srcs[0], o.split);
	std::string msg = !o.message.empty() ? o.message
		: fmt::format("put {}{} to {}", split ? "--split " + o.split.mode + " " : "--append ", srcs[0], a.path_str());
	auto res = commit_edit(s, a.repo, branch, msg, [&](ObjectWriter &tw, const std::optional<Oid> &base) {
		Oid root = base.value_or(tw.tree({}));
		auto cur = lookup_path(tw, root, a.path);
		if (!split) {
			// Appending: the old content then the new, streamed through a
			// temporary file (a blob's size comes before its bytes).
			if (cur && cur->is_dir())
				die("'{}' is a directory: --append adds to a file", a.path_str());
			TempFile t(s.path("pach/tmp"), "append");
			uint64_t total = 0;
			if (cur && cur->mode != kModeLink) {
				cat_blob(s, cur->oid, t.fd(), t.path());
				total = (uint64_t)lseek(t.fd(), 0, SEEK_END);
			}
			lseek(src.get(), 0, SEEK_SET);
			std::vector<char> b(1 << 20);
			ssize_t n;
			while ((n = ::read(src.get(), b.data(), b.size())) != 0) {
				if (n < 0) {
					if (errno == EINTR)
						continue;
					die_errno("unable to read '" + srcs[0] + "'");
				}
				write_full(t.fd(), b.data(), (size_t)n, t.path());
				total += (uint64_t)n;
			}
			lseek(t.fd(), 0, SEEK_SET);
			Oid blob = tw.blob_from_fd(t.fd(), total, t.path());
			uint32_t mode = cur && cur->mode == kModeExec ? kModeExec : kModeFile;
			return edit_tree(s, tw, root, a.path, TreeEntry{"", mode, blob});
		}
		// Pieces are named by number; appended ones go on from the last.
		if (cur && !cur->is_dir())
			die("'{}' is a file: split pieces go into a directory", a.path_str());
		std::vector<TreeEntry> entries;
		uint64_t next = 0;
		if (cur && o.append)
			for (auto &e : tw.read_tree(cur->oid)) {
				entries.push_back(e);
				char *end = nullptr;
				uint64_t k = strtoull(e.name.c_str(), &end, 16);
				if (e.name.size() == 16 && end && *end == 0)
					next = std::max(next, k + 1);
			}
		for (size_t i = 0; i < pieces.size(); i++)
			entries.push_back(TreeEntry{piece_name(next + i), kModeFile, pieces[i]});
		std::sort(entries.begin(), entries.end(), [](auto &x, auto &y) { return tree_entry_less(x, y); });
		if (entries.empty())
			return edit_tree(s, tw, root, a.path, std::nullopt);
		return edit_tree(s, tw, root, a.path, TreeEntry{"", kModeDir, tw.tree(entries)});
	}, std::move(wp));
	after_commit(s, res);
	return res;
}

CommitResult put_paths(Store &s, const Address &a, const std::vector<std::string> &srcs, const CommitOptions &o)
{
	std::string branch = target_branch(s, a);
	if (srcs.empty())
		die("nothing to put: name at least one file, directory or '-'");
	bool has_stdin = false;
	for (auto &src : srcs) {
		if (src == "-") {
			has_stdin = true;
			if (srcs.size() > 1)
				die("'-' (standard input) cannot be combined with other sources");
			if (a.path.empty() || a.trailing_slash)
				die("reading standard input needs a file path: {}@{}:/path/to/file", a.repo, branch);
			continue;
		}
		struct stat st;
		if (lstat(src.c_str(), &st) < 0)
			die_errno("unable to read '" + src + "'");
	}
	if (!o.split.mode.empty() || o.append)
		return put_split_or_append(s, a, branch, srcs, o);
	WriteLock lock(s);
	StatCacheStream cache(s.path(StatCache::kFile));
	SnapshotStats stats;
	auto wp = std::make_unique<ObjectWriter>(s);
	ObjectWriter &w = *wp;
	{
		// Where each source lands (see the edit below): a.path itself, or
		// inside it when it is a directory.
		std::vector<std::pair<std::string, std::vector<std::string>>> at;
		for (auto &src : srcs) {
			std::string key = src == "-" ? kStdinName : src;
			auto inside = a.path;
			inside.push_back(base_name(src));
			if (srcs.size() == 1 && !a.trailing_slash && !a.path.empty())
				at.push_back({key, a.path});
			if (src != "-")
				at.push_back({key, inside});
		}
		w.set_previous(previous_versions(s, a.repo, branch, std::move(at)));
	}
	std::vector<std::pair<std::string, std::optional<TreeEntry>>> items;
	if (has_stdin) {
		uint64_t size;
		Fd f = spool_stdin(s, &size);
		Oid o = w.blob_from_fd(f.get(), size, kStdinName);
		items.push_back({"-", TreeEntry{"", kModeFile, o}});
	} else {
		for (auto &src : srcs)
			items.push_back({src, snapshot(s, w, src, cache, &stats, o.jobs)});
	}

	std::string msg = o.message;
	if (msg.empty()) {
		msg = "put";
		for (auto &src : srcs)
			msg += " " + src;
		msg += " to " + a.path_str();
	}
	bool into_dir = srcs.size() > 1 || a.trailing_slash || a.path.empty();
	auto res = commit_edit(s, a.repo, branch, msg, [&](ObjectWriter &tw, const std::optional<Oid> &base) {
		Oid root = base.value_or(tw.tree({}));
		for (auto &[src, entry] : items) {
			if (!entry)
				continue; // an empty directory: nothing to add
			std::vector<std::string> dst = a.path;
			bool into = into_dir;
			// A file put onto an existing directory goes into it; a
			// directory put onto a path merges there (as pachctl).
			if (!into && src != "-" && !entry->is_dir()) {
				auto cur = lookup_path(tw, root, dst);
				into = cur && cur->is_dir();
			}
			if (into && src != "-") {
				std::string b = base_name(src);
				if (!valid_tree_name(b))
					die("cannot store '{}' under the name '{}'", src, b);
				dst.push_back(b);
			}
			auto cur = lookup_path(tw, root, dst);
			if (entry->is_dir() && cur && cur->is_dir())
				root = edit_tree(s, tw, root, dst, TreeEntry{"", kModeDir, overlay_tree(s, tw, cur->oid, entry->oid)});
			else
				root = edit_tree(s, tw, root, dst, entry);
		}
		return root;
	}, std::move(wp));
	cache.save();
	res.stats = stats;
	after_commit(s, res);
	return res;
}

CommitResult rm_paths(Store &s, const std::vector<Address> &paths, bool recursive, const CommitOptions &o)
{
	if (paths.empty())
		die("nothing to remove: name at least one repo@branch:/path");
	const Address &a = paths[0];
	std::string branch = target_branch(s, a);
	for (auto &p : paths) {
		if (p.repo != a.repo || p.branch_or_default() != branch)
			die("all paths must be in the same repo and branch ('{}' is not in {}@{})", p.str(), a.repo, branch);
		if (!p.has_path)
			die("'{}' names no path; use {}@{}:/path", p.str(), p.repo, branch);
	}
	if (!s.ref(branch_ref(a.repo, branch)))
		die("branch '{}' of repo '{}' has no commits", branch, a.repo);
	WriteLock lock(s);
	std::string msg = o.message;
	if (msg.empty()) {
		msg = "rm";
		for (auto &p : paths)
			msg += " " + p.path_str();
	}
	auto res = commit_edit(s, a.repo, branch, msg, [&](ObjectWriter &tw, const std::optional<Oid> &base) {
		Oid root = base.value_or(tw.tree({}));
		for (auto &p : paths) {
			auto cur = p.path.empty() ? std::optional<TreeEntry>(TreeEntry{"", kModeDir, root})
						  : lookup_path(tw, root, p.path);
			if (!cur)
				die("path '{}' not found in {}@{}", p.path_str(), a.repo, branch);
			if (cur->is_dir() && !recursive)
				die("not removing directory '{}' without -r", p.path_str());
			root = edit_tree(s, tw, root, p.path, std::nullopt);
		}
		return root;
	});
	after_commit(s, res);
	return res;
}

} // namespace pach::porcelain
