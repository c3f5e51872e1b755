#include "porcelain/worktree.h"
#include "plumbing/crash.h"
#include "plumbing/quote.h"

#include "plumbing/address.h"
#include "plumbing/branch_commit.h"
#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/progress.h"
#include "plumbing/snapshot.h"
#include "plumbing/tree_edit.h"
#include "porcelain/commit.h"
#include "porcelain/maint.h"

#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <sstream>
#include <thread>

namespace pach::porcelain {

static constexpr const char *kMagic = "pach worktree";

static std::string state_dir(const Store &s, const std::string &id)
{
	return s.path("pach/worktrees/" + id);
}

// The .pach file of a work tree: "pach worktree\nstore <dir>\nid <id>\n".
static std::map<std::string, std::string> read_kv(const std::string &file)
{
	std::map<std::string, std::string> kv;
	std::istringstream in(read_file_small(file));
	std::string line;
	while (std::getline(in, line)) {
		auto sp = line.find(' ');
		if (sp != std::string::npos)
			kv[line.substr(0, sp)] = line.substr(sp + 1);
	}
	return kv;
}

static Oid state_oid(const std::string &hex, const std::string &file)
{
	auto o = Oid::from_hex(hex);
	if (!o)
		die("work tree state '{}' is damaged (bad object id '{}')", file, hex);
	return *o;
}

static bool is_worktree_file(const std::string &p)
{
	struct stat st;
	if (lstat(p.c_str(), &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return read_file_small(p).compare(0, strlen(kMagic), kMagic) == 0;
}

std::string find_worktree(const std::string &dir)
{
	std::string d = absolute_path(dir.empty() ? "." : dir);
	for (;;) {
		if (is_worktree_file(d + "/.pach"))
			return d;
		if (is_dir(d + "/.pach"))
			return "";   // a store's own directory
		if (d == "/" || d.empty())
			return "";
		d = dirname_of(d);
	}
}

std::string worktree_store(const std::string &root)
{
	return read_kv(root + "/.pach")["store"];
}

static bool under(const std::string &path, const std::string &prefix)
{
	return prefix.empty() || path == prefix ||
	       (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '/');
}

static bool same(const TreeEntry *a, const TreeEntry *b)
{
	if (!a || !b)
		return !a && !b;
	return a->mode == b->mode && a->oid == b->oid;
}

using FileMap = std::map<std::string, TreeEntry>;

static FileMap to_map(const std::vector<WorktreeFile> &v)
{
	FileMap m;
	for (auto &f : v)
		m.emplace(f.path, f.entry);
	return m;
}

static const TreeEntry *get(const FileMap &m, const std::string &p)
{
	auto it = m.find(p);
	return it == m.end() ? nullptr : &it->second;
}

Worktree::Worktree(Store &s, const std::string &root) : s_(s), root_(root)
{
	auto kv = read_kv(root + "/.pach");
	st_.id = kv["id"];
	if (st_.id.empty() || st_.id.find('/') != std::string::npos)
		die("'{}/.pach' is not a valid work tree file", root);
	std::string dir = state_dir(s, st_.id);
	if (!is_dir(dir))
		die("work tree '{}' is not known to the store '{}' (was it removed by 'pach gc'?)", root, s.git_dir());
	lock_ = std::make_unique<FileLock>(dir + "/lock", FileLock::exclusive);
	auto state = read_kv(dir + "/state");
	st_.repo = state["repo"];
	st_.branch = state["branch"];
	st_.path = root;
	if (!state["head"].empty() && state["head"] != "-")
		st_.head = state_oid(state["head"], dir + "/state");
	st_.index = state["index"].empty() ? empty_tree_oid() : state_oid(state["index"], dir + "/state");
	if (st_.repo.empty() || st_.branch.empty())
		die("work tree state '{}/state' is damaged", dir);
	st_.pending = state["pending"];
	// Moved (mv wt elsewhere): the state follows, so gc finds it again.
	// Copied (cp -r): the original still answers to this id; refuse.
	if (state["path"] != root) {
		std::string orig = state["path"] + "/.pach";
		if (!state["path"].empty() && is_worktree_file(orig) && read_kv(orig)["id"] == st_.id)
			die("'{}' is a copy of the work tree at '{}'; make a new one with 'pach checkout {}@{} <dir>'", root,
			    state["path"], st_.repo, st_.branch);
		save();
	}
}

Worktree::~Worktree() = default;

// The one writer of a work tree's state file (read back by the
// constructor and worktree_roots).
static void write_state(const Store &s, const WorktreeState &st, const std::string &root)
{
	std::string body = fmt::format("repo {}\nbranch {}\nhead {}\nindex {}\npath {}\n", st.repo, st.branch,
				       st.head ? st.head->hex() : "-", st.index.hex(), root);
	if (!st.pending.empty())
		body += "pending " + st.pending + "\n";
	write_file_atomic(state_dir(s, st.id) + "/state", body);
}

void Worktree::save()
{
	write_state(s_, st_, root_);
	if (cache_)
		cache().save();
}

std::string Worktree::state_file(const std::string &name) const
{
	return state_dir(s_, st_.id) + "/" + name;
}

// Loaded on first use: status() and create() stream it instead.
StatCache &Worktree::cache()
{
	if (!cache_) {
		cache_ = std::make_unique<StatCache>(state_dir(s_, st_.id) + "/statcache");
		cache().load();
	}
	return *cache_;
}

Oid Worktree::head_tree() const
{
	return st_.head ? s_.read_commit(*st_.head).tree : empty_tree_oid();
}

std::vector<WorktreeFile> Worktree::flat(const Oid &tree) const
{
	std::vector<WorktreeFile> out;
	walk_tree(s_, tree, [&](const std::string &p, const TreeEntry &e) {
		if (!e.is_dir())
			out.push_back({p, e});
		return true;
	});
	// Usually already in order (a depth-first walk is, unless a name sorts
	// below '/' next to a directory it prefixes: "a.txt" and "a/").
	auto by_path = [](auto &a, auto &b) { return a.path < b.path; };
	if (!std::is_sorted(out.begin(), out.end(), by_path))
		std::sort(out.begin(), out.end(), by_path);
	return out;
}

std::vector<WorktreeFile> Worktree::scan(ObjectWriter *w, const std::string &sub)
{
	std::vector<WorktreeFile> out;
	std::string src = sub.empty() ? root_ : root_ + "/" + sub;
	int64_t start = now_ns();
	auto files = scan_files(s_, w, src, cache());
	if (getenv("PACH_TRACE_PERFORMANCE")) {
		size_t n = 0;
		for (auto &f : files)
			n += f.hashed;
		fprintf(stderr, "trace: work tree scan: %zu files, %zu hashed\n", files.size(), n);
	}
	out.reserve(files.size());
	for (auto &f : files) {
		std::string p = sub.empty() ? std::move(f.path) : f.path.empty() ? sub : sub + "/" + f.path;
		// Interrupted writes of ours are not content.
		if (p.size() > 9 && p.compare(p.size() - 9, 9, ".pach-tmp") == 0)
			continue;
		// Written blobs are safe to remember; hashed-only ones are
		// remembered by the caller once it knows the store has them.
		if (w && f.hashed && f.mode != kModeLink)
			cache().update(root_ + "/" + p, f.st, f.oid, start);
		if (!w && f.hashed && f.mode != kModeLink)
			hashed_.push_back({p, f.st, f.oid, start});
		out.push_back({std::move(p), TreeEntry{"", f.mode, f.oid}});
	}
	return out;
}

// Remember hashed files whose blob the store has (equal to the index's).
void Worktree::remember(const FileMap &known)
{
	for (auto &h : hashed_) {
		auto e = get(known, h.path);
		if (e && e->oid == h.oid)
			cache().update(root_ + "/" + h.path, h.st, h.oid, h.start);
	}
	hashed_.clear();
}

Oid Worktree::build(ObjectWriter &w, const std::vector<WorktreeFile> &files)
{
	if (files.empty())
		return empty_tree_oid();
	return build_tree(w, files);
}

static std::vector<WorktreeFile> from_map(const FileMap &m)
{
	std::vector<WorktreeFile> v;
	v.reserve(m.size());
	for (auto &[p, e] : m)
		v.push_back({p, e});
	return v;
}

std::string Worktree::rel_path(const std::string &user_path, const std::string &cwd) const
{
	std::string abs = user_path.size() && user_path[0] == '/' ? user_path : cwd + "/" + user_path;
	// Normalise . and .. without touching the filesystem (the path may be deleted).
	std::vector<std::string> parts;
	for_each_component(abs, [&](const std::string &c) {
		if (c == "..") {
			if (!parts.empty())
				parts.pop_back();
		} else if (c != "." && !c.empty()) {
			parts.push_back(c);
		}
	});
	std::string norm;
	for (auto &p : parts)
		norm += "/" + p;
	if (norm.empty())
		norm = "/";
	if (!under(norm, root_) && norm != root_)
		die("'{}' is outside the work tree at '{}'", user_path, root_);
	if (norm == root_)
		return "";
	return norm.substr(root_.size() + 1);
}

// Walk two sorted lists together: fn(path, a or null, b or null).
template <class F> static void merge_walk(const std::vector<WorktreeFile> &a, const std::vector<WorktreeFile> &b, F fn)
{
	size_t x = 0, y = 0;
	while (x < a.size() || y < b.size()) {
		int c = x == a.size() ? 1 : y == b.size() ? -1 : a[x].path.compare(b[y].path);
		if (c < 0) {
			fn(a[x].path, &a[x].entry, nullptr);
			x++;
		} else if (c > 0) {
			fn(b[y].path, nullptr, &b[y].entry);
			y++;
		} else {
			fn(a[x].path, &a[x].entry, &b[y].entry);
			x++, y++;
		}
	}
}

bool Worktree::tracks_under(const std::string &dir) const
{
	std::vector<std::string> parts;
	for_each_component(dir, [&](const std::string &c) { parts.push_back(c); });
	auto e = lookup_path(s_, st_.index, parts);
	return e && e->is_dir();
}

void Worktree::add(const std::vector<std::string> &paths)
{
	WriteLock lock(s_);
	ObjectWriter w(s_);
	FileMap i = to_map(flat(st_.index));
	for (auto &rel : paths) {
		// As git: a path through a symlink is not in the work tree.
		for (auto sl = rel.find('/'); sl != std::string::npos; sl = rel.find('/', sl + 1)) {
			struct stat st;
			if (lstat((root_ + "/" + rel.substr(0, sl)).c_str(), &st) == 0 && S_ISLNK(st.st_mode))
				die("pathspec '{}' is beyond a symbolic link", quote_path(rel));
		}
		for_each_component(rel, [&](const std::string &c) {
			if (!c.empty() && !valid_tree_name(c))
				die("'{}' cannot be stored ('{}' is reserved)", quote_path(rel), quote_path(c));
		});
		auto found = scan(&w, rel);
		bool tracked = false;
		for (auto it = i.lower_bound(rel); it != i.end() && under(it->first, rel);)
			tracked = true, it = i.erase(it);
		if (found.empty() && !tracked)
			die("pathspec '{}' did not match any files", rel.empty() ? "." : rel);
		for (auto &f : found)
			i[f.path] = f.entry;
	}
	st_.index = build(w, from_map(i));
	w.finish();
	save();
}

std::optional<Oid> Worktree::commit(const std::string &msg, bool all)
{
	WriteLock lock(s_);
	ObjectWriter w(s_);
	if (all) {
		FileMap i = to_map(flat(st_.index));
		FileMap wk = to_map(scan(&w, ""));
		for (auto it = i.begin(); it != i.end();) {
			auto we = get(wk, it->first);
			if (!we) {
				it = i.erase(it);
				continue;
			}
			it->second = *we;
			++it;
		}
		st_.index = build(w, from_map(i));
	}
	Oid ht = head_tree();
	if (st_.index == ht) {
		w.finish();
		save();
		return std::nullopt;
	}
	std::string m = msg.empty() ? "commit from work tree " + root_ : msg;
	save();
	std::string ref = branch_ref(st_.repo, st_.branch);
	auto c = commit_on_ref(s_, w, ref, st_.index, st_.head, s_.author(), m, "commit (work tree): " + first_line(m));
	if (!c) {
		auto now = s_.ref(ref);
		die_conflict("{}@{} moved to {} since this work tree was updated; run 'pach checkout' to bring it "
			     "up to date, then commit again",
			     st_.repo, st_.branch, now ? now->hex().substr(0, 12) : "nothing");
	}
	st_.head = *c;
	save();
	auto_repack(s_);
	return *c;
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
		if (m.work.mode && (m.work.mode == kModeLink) != (m.index.mode == kModeLink))
			c.status = 'T';
		if (m.work.mode)
			c.new_file = root_ + "/" + m.path;
		changes.push_back(c);
	}
	return changes;
}

void Worktree::write_file(Materialiser &m, const WorktreeFile &f)
{
	auto slash = f.path.rfind('/');
	std::string parent = slash == std::string::npos ? "" : f.path.substr(0, slash);
	std::string name = slash == std::string::npos ? f.path : f.path.substr(slash + 1);
	if (!last_dir_fd_ || parent != last_dir_) {
		// A file or symlink where the new tree has a directory is replaced
		// (checkout already refused if it held local changes).
		Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!root)
			die_errno("unable to open '" + root_ + "'");
		last_dir_fd_ = open_dir_beneath_or_die(root.get(), parent, kBeneathCreate | kBeneathReplace, root_);
		last_dir_ = parent;
	}
	struct stat st;
	m.write(f.entry, last_dir_fd_.get(), name, root_ + "/" + f.path, &st);
	written_.push_back({f.path, StatKey::of(st), f.entry.oid, 0});
}

// Remember the files just written, once the clock has moved past them.
void Worktree::remember_written()
{
	int64_t start = now_ns();
	for (auto &h : written_)
		if (h.path.size())
			cache().update(root_ + "/" + h.path, h.st, h.oid, start);
	written_.clear();
}

// Remove a file of the work tree, and the directories it leaves empty
// (git has no empty directories).  Nothing beyond a symlink is touched: a
// file "under" a symlink is not in the work tree.
static void remove_file(const std::string &root, const std::string &rel)
{
	Fd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!rootfd)
		die_errno("unable to open '" + root + "'");
	auto slash = rel.rfind('/');
	std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
	Fd pd = open_dir_beneath(rootfd.get(), parent, 0, root);
	if (!pd)
		return;
	std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
	if (unlinkat(pd.get(), name.c_str(), 0) < 0 && errno != ENOENT)
		die_errno("unable to remove '" + root + "/" + rel + "'");
	while (!parent.empty()) {
		auto s2 = parent.rfind('/');
		std::string up = s2 == std::string::npos ? "" : parent.substr(0, s2);
		std::string dir = s2 == std::string::npos ? parent : parent.substr(s2 + 1);
		Fd ud = open_dir_beneath(rootfd.get(), up, 0, root);
		if (!ud || unlinkat(ud.get(), dir.c_str(), AT_REMOVEDIR) < 0)
			break;
		parent = up;
	}
}

void Worktree::restore(const std::vector<std::string> &paths, bool staged)
{
	if (staged) {
		WriteLock lock(s_);
		ObjectWriter w(s_);
		FileMap h = to_map(flat(head_tree())), i = to_map(flat(st_.index));
		for (auto &rel : paths) {
			bool any = false;
			for (auto it = i.lower_bound(rel); it != i.end() && under(it->first, rel);)
				any = true, it = i.erase(it);
			for (auto it = h.lower_bound(rel); it != h.end() && under(it->first, rel); ++it)
				any = true, i[it->first] = it->second;
			if (!any)
				die("pathspec '{}' did not match any file known to pach", rel.empty() ? "." : rel);
		}
		st_.index = build(w, from_map(i));
		w.finish();
		save();
		return;
	}
	FileMap i = to_map(flat(st_.index));
	std::vector<WorktreeFile> todo;
	for (auto &rel : paths) {
		auto it = i.lower_bound(rel);
		if (it == i.end() || !under(it->first, rel))
			die("pathspec '{}' did not match any file known to pach", rel.empty() ? "." : rel);
		FileMap w = to_map(scan(nullptr, rel));
		for (; it != i.end() && under(it->first, rel); ++it)
			if (!same(get(w, it->first), &it->second))
				todo.push_back({it->first, it->second});
	}
	Materialiser m(s_, LinkMode::automatic, root_);
	for (auto &f : todo)
		write_file(m, f);
	remember(i);
	remember_written();
	save();
}

void Worktree::switch_to(const std::string &branch, LinkMode lm)
{
	check_branch_name(branch);
	auto tip = s_.ref(branch_ref(st_.repo, branch));
	if (!tip && !(branch == st_.branch && !st_.head))
		die("branch '{}' not found in repo '{}' (create it with 'pach branch {} {}')", branch, st_.repo, st_.repo,
		    branch);
	Oid tt = tip ? s_.read_commit(*tip).tree : empty_tree_oid();
	FileMap h = to_map(flat(head_tree())), i = to_map(flat(st_.index)), t = to_map(flat(tt));
	FileMap w = to_map(scan(nullptr, ""));
	remember(i);
	std::vector<std::string> changed, conflicts;
	std::set<std::string> already;   // files that are the target's already
	auto consider = [&](const std::string &p) {
		auto he = get(h, p), te = get(t, p);
		if (same(he, te))
			return;
		auto ie = get(i, p), we = get(w, p);
		if (same(ie, te) && same(we, te))
			return;   // already what the target has
		// Each of index and file must be the current commit's version or
		// the target's (a file already switched by an interrupted
		// checkout is then simply kept).
		if ((!same(ie, he) && !same(ie, te)) || (!same(we, he) && !same(we, te))) {
			conflicts.push_back(p);
			return;
		}
		changed.push_back(p);
		if (same(we, te))
			already.insert(p);
	};
	for (auto &[p, e] : h)
		consider(p);
	for (auto &[p, e] : t)
		if (!get(h, p))
			consider(p);
	// An untracked file where the target has one is a local change too.
	if (!conflicts.empty()) {
		std::sort(conflicts.begin(), conflicts.end());
		die("your local changes to '{}'{} would be overwritten by checkout; commit, restore or move them first",
		    conflicts[0],
		    conflicts.size() > 1 ? fmt::format(" and {} other file{}", conflicts.size() - 1,
						      conflicts.size() > 2 ? "s" : "")
					 : "");
	}
	std::sort(changed.begin(), changed.end());
	WriteLock lock(s_);
	ObjectWriter ow(s_);
	Materialiser m(s_, lm, root_);
	uint64_t total = 0;
	for (auto &p : changed)
		if (auto te = get(t, p); te && te->mode != kModeLink)
			if (auto r = s_.odb().open(te->oid))
				total += r->size();
	Progress prog("Checking out files", changed.size(), true);
	prog.set_total_bytes(total);
	// Deletions first: a file may become a directory and the reverse.
	// A crash from here on leaves the files between two commits: the
	// state says so, and the same checkout finishes the job.
	st_.pending = branch;
	save();
	for (auto &p : changed)
		if (!get(t, p)) {
			remove_file(root_, p);
			last_dir_fd_ = Fd();
			i.erase(p);
			prog.add(1);
		}
	for (auto &p : changed)
		if (auto te = get(t, p)) {
			uint64_t before = m.linked + m.copied;
			if (!already.count(p))
				write_file(m, {p, *te});
			crash_point("checkout-file");
			i[p] = *te;
			prog.add(1, m.linked + m.copied - before);
		}
	prog.done();
	st_.index = build(ow, from_map(i));
	ow.finish();
	st_.head = tip;
	st_.branch = branch;
	st_.pending.clear();
	remember_written();
	save();
}

std::vector<Worktree::Modified> Worktree::unstaged(const std::vector<std::string> &paths, bool against_head)
{
	FileMap i = to_map(flat(st_.index));
	// Against the commit: every path the commit or the index tracks.
	FileMap base = against_head ? to_map(flat(head_tree())) : i;
	if (against_head)
		for (auto &[p, e] : i)
			base.emplace(p, TreeEntry{});
	std::vector<Modified> out;
	std::vector<std::string> ps = paths.empty() ? std::vector<std::string>{""} : paths;
	for (auto &rel : ps) {
		FileMap w = to_map(scan(nullptr, rel));
		for (auto it = base.lower_bound(rel); it != base.end() && under(it->first, rel); ++it) {
			auto we = get(w, it->first);
			const TreeEntry *old = it->second.mode ? &it->second : nullptr;
			if (same(we, old))
				continue;
			out.push_back({it->first, it->second, we ? *we : TreeEntry{}});
		}
	}
	remember(i);
	cache().save();
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.path < b.path; });
	out.erase(std::unique(out.begin(), out.end(), [](auto &a, auto &b) { return a.path == b.path; }), out.end());
	return out;
}

static std::string worktree_id(const std::string &abs)
{
	Oid o = hash_object(ObjType::blob, abs.data(), abs.size());
	return o.hex().substr(0, 16);
}

void Worktree::create(Store &s, const std::string &repo, const std::string &branch, const std::string &dir, LinkMode lm)
{
	require_repo(s, repo);
	check_branch_name(branch);
	auto tip = s.ref(branch_ref(repo, branch));
	struct stat st;
	if (lstat(dir.c_str(), &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			die("destination path '{}' already exists and is not a directory", dir);
		DirStream d(dir);
		if (!d)
			die_errno("unable to read '" + dir + "'");
		if (d.next())
			die("destination path '{}' already exists and is not an empty directory", dir);
	}
	std::string abs = absolute_path(dir);
	if (under(abs, s.git_dir()))
		die("cannot check out inside the store itself ('{}')", s.git_dir());
	// How files will be written is settled (and refused) before anything
	// is created: probed on the nearest existing directory.
	std::string probe = abs;
	while (!is_dir(probe) && probe != "/")
		probe = dirname_of(probe);
	Materialiser m(s, lm, probe);
	mkdir_p(abs);
	std::string id = worktree_id(abs);
	std::string sd = state_dir(s, id);
	mkdir_p(sd);
	unlink((sd + "/statcache").c_str());
	{
		// The state first, then the marker: a work tree file never names
		// state that does not exist.
		WorktreeState st;
		st.id = id;
		st.repo = repo;
		st.branch = branch;
		st.head = tip;
		st.index = tip ? s.read_commit(*tip).tree : empty_tree_oid();
		write_state(s, st, abs);
		write_file_atomic(abs + "/.pach", fmt::format("{}\nstore {}\nid {}\n", kMagic, s.git_dir(), id));
	}
	Worktree wt(s, abs);
	// Files go out in path order, and into the stat cache in the same
	// pass once old enough to be trusted (see StatKey::racy): nothing
	// grows with the number of files.
	StatCacheStream cache(sd + "/statcache");
	cache.begin(abs, now_ns());
	std::deque<Seen> fresh;
	auto settle = [&](bool all) {
		if (all && !fresh.empty() && fresh.back().st.racy(now_ns()))
			usleep(60'000);   // the racy margin (50 ms), once
		int64_t now = now_ns();
		for (; !fresh.empty() && !fresh.front().st.racy(now); fresh.pop_front())
			cache.keep(abs + "/" + fresh.front().path, fresh.front().st, fresh.front().oid, now);
		if (all)
			fresh.clear();   // whole-second timestamps: hashed by the next status
	};
	Progress prog("Checking out files", 0, true);
	for (TreeFiles f(s, wt.st_.index); !f.done(); f.next()) {
		uint64_t before = m.linked + m.copied;
		wt.write_file(m, {f.path(), f.entry()});
		prog.add(1, m.linked + m.copied - before);
		for (auto &h : wt.written_)
			if (!h.path.empty())
				fresh.push_back(std::move(h));
		wt.written_.clear();
		settle(false);
	}
	prog.done();
	settle(true);
	cache.end();
	cache.save();
	wt.save();
}

// The ids of the work trees registered in the store.
static std::vector<std::string> worktree_ids(const Store &s)
{
	std::vector<std::string> ids;
	for (auto &n : dir_names(s.path("pach/worktrees")))
		if (n[0] != '.')
			ids.push_back(n);
	return ids;
}

std::vector<Oid> worktree_roots(const Store &s)
{
	std::vector<Oid> out;
	for (auto &id : worktree_ids(s)) {
		std::string state = s.path("pach/worktrees/" + id + "/state");
		if (!path_exists(state))
			continue;
		auto kv = read_kv(state);
		if (!kv["head"].empty() && kv["head"] != "-")
			out.push_back(state_oid(kv["head"], state));
		if (!kv["index"].empty()) {
			Oid i = state_oid(kv["index"], state);
			if (i != empty_tree_oid())
				out.push_back(i);
		}
	}
	return out;
}

// A work tree whose directory is gone (or now belongs to another work
// tree) is forgotten, as `git worktree prune` does -- after three months
// unused (gc.worktreePruneExpire in git), since a moved work tree is
// found again by its next command.  Only gc prunes; fsck only reads.
void prune_worktrees(const Store &s)
{
	for (auto &id : worktree_ids(s)) {
		std::string sd = s.path("pach/worktrees/" + id);
		struct stat sst;
		if (stat((sd + "/state").c_str(), &sst) < 0 || time(nullptr) - sst.st_mtime <= 90 * 86400)
			continue;
		std::string marker = read_kv(sd + "/state")["path"] + "/.pach";
		if (is_worktree_file(marker) && read_kv(marker)["id"] == id)
			continue;
		for (auto f : {"state", "statcache", "lock"})
			unlink((sd + "/" + f).c_str());
		rmdir(sd.c_str());
	}
}

void worktree_forget_caches(const Store &s)
{
	for (auto &id : worktree_ids(s))
		unlink(s.path("pach/worktrees/" + id + "/statcache").c_str());
}

} // namespace pach::porcelain
