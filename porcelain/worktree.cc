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
}

std::string Worktree::state_file(const std::string &name) const
{
	return state_dir(s_, st_.id) + "/" + name;
}

Oid Worktree::head_tree() const
{
	return st_.head ? s_.read_commit(*st_.head).tree : empty_tree_oid();
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

bool Worktree::tracks_under(const std::string &dir) const
{
	std::vector<std::string> parts;
	for_each_component(dir, [&](const std::string &c) { parts.push_back(c); });
	auto e = lookup_path(s_, st_.index, parts);
	return e && e->is_dir();
}

// A change of the index: what is there now (removed first) and what
// goes there.
struct IndexChange {
	std::optional<TreeEntry> old, neu;
};

static Oid apply_index_changes(ObjectWriter &w, const Oid &index, const std::map<std::string, IndexChange> &changes)
{
	std::vector<pach::TreeEdit> edits;
	for (auto &[p, c] : changes) {
		if (c.old)
			edits.push_back({path_components(p), *c.old, true});
		if (c.neu)
			edits.push_back({path_components(p), *c.neu, false});
	}
	auto root = apply_edits(w, index, std::move(edits));
	if (!root)
		die("the index changed under this command; run it again");
	return *root;
}

void Worktree::add(const std::vector<std::string> &paths)
{
	WriteLock lock(s_);
	ObjectWriter w(s_);
	StatCacheStream cache(state_file("statcache"));
	// Only what differs is held: the index is edited, not rebuilt.
	std::map<std::string, IndexChange> changes;
	for (auto &rel : paths) {
		// As git: a path through a symlink is not in the work tree.
		if (beyond_link(rel))
			die("pathspec '{}' is beyond a symbolic link", quote_path(rel));
		for_each_component(rel, [&](const std::string &c) {
			if (!c.empty() && !valid_tree_name(c))
				die("'{}' cannot be stored ('{}' is reserved)", quote_path(rel), quote_path(c));
		});
		// A file of the index in the way of rel ("a" for "a/b") is staged
		// as deleted, as git does.
		auto parts = path_components(rel);
		for (size_t k = 1; k < parts.size(); k++) {
			std::vector<std::string> up(parts.begin(), parts.begin() + (long)k);
			auto e = lookup_path(s_, st_.index, up);
			if (!e || !e->is_dir()) {
				if (e) {
					std::string q;
					for (auto &c : up)
						q += (q.empty() ? "" : "/") + c;
					changes[q].old = *e;
				}
				break;
			}
		}
		auto n = compare(cache, st_.index, rel, &w, [&](const std::string &p, const TreeEntry *ie, const TreeEntry *we) {
			auto &c = changes[p];
			if (ie)
				c.old = *ie;
			if (we)
				c.neu = *we;
		});
		if (!n.files && !n.tracked && (rel.empty() || !is_dir(root_ + "/" + rel)))
			die("pathspec '{}' did not match any files", rel.empty() ? "." : rel);
	}
	st_.index = apply_index_changes(w, st_.index, changes);
	w.finish();
	cache.save();
	save();
}

std::optional<Oid> Worktree::commit(const std::string &msg, bool all)
{
	WriteLock lock(s_);
	ObjectWriter w(s_);
	StatCacheStream cache(state_file("statcache"));
	if (all) {
		// Every tracked file as it is now.  The changed ones are read
		// again to store them: untracked files are never written.
		std::map<std::string, IndexChange> changes;
		compare(cache, st_.index, "", nullptr, [&](const std::string &p, const TreeEntry *ie, const TreeEntry *we) {
			if (ie)
				changes[p] = {*ie, we ? std::optional<TreeEntry>(*we) : std::nullopt};
		});
		for (auto &kv : changes) {
			// (named, not bound: lambdas may not capture structured bindings in C++17/clang 14)
			const std::string &p = kv.first;
			IndexChange &c = kv.second;
			if (!c.neu)
				continue;
			c.neu.reset();   // gone since, unless read now
			scan_each(
				s_, &w, root_ + "/" + p, nullptr,
				[&](ScannedFile &&f) {
					if (!f.path.empty())
						return;   // a directory now
					c.neu = TreeEntry{"", f.mode, f.oid};
					if (f.mode != kModeLink)
						written_.push_back({p, f.st, f.oid});
				},
				1);
		}
		st_.index = apply_index_changes(w, st_.index, changes);
	}
	Oid ht = head_tree();
	if (st_.index == ht) {
		w.finish();
		remember_written(cache);
		cache.save();
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
	remember_written(cache);
	cache.save();
	save();
	auto_repack(s_);
	return *c;
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
	written_.push_back({f.path, StatKey::of(st), f.entry.oid});
}

// Remember the files just written, once the clock has moved past them:
// one more pass over the stat cache, in path order.
void Worktree::remember_written(StatCacheStream &cache)
{
	if (written_.empty())
		return;
	std::stable_sort(written_.begin(), written_.end(), [](auto &a, auto &b) { return a.path < b.path; });
	int64_t now = now_ns();
	cache.begin("", now);
	for (size_t k = 0; k < written_.size(); k++)
		if (k + 1 == written_.size() || written_[k + 1].path != written_[k].path)   // the last write wins
			cache.keep(root_ + "/" + written_[k].path, written_[k].st, written_[k].oid, now);
	cache.end();
	written_.clear();
}

// The file or symlink at rel, its blob id from the cache (a lookup in
// path order) or hashed.
std::optional<TreeEntry> Worktree::work_entry(StatCacheStream &cache, const std::string &rel)
{
	struct stat st;
	std::string abs = root_ + "/" + rel;
	if (beyond_link(rel) || lstat(abs.c_str(), &st) < 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
		return std::nullopt;
	std::optional<TreeEntry> out;
	scan_each(
		s_, nullptr, abs, [&](const std::string &p, const StatKey &k) { return cache.lookup(p, k); },
		[&](ScannedFile &&f) {
			if (!f.path.empty())
				return;
			out = TreeEntry{"", f.mode, f.oid};
			if (f.mode != kModeLink && !f.hashed)
				cache.keep(abs, f.st, f.oid);   // found: put back
		},
		1);
	return out;
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
	// A directory there now is untracked content: it stays.
	if (unlinkat(pd.get(), name.c_str(), 0) < 0 && errno != ENOENT && errno != EISDIR)
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

// rel and the directories below it if they hold no file (bottom up,
// iteratively); anything else is left alone.
static void remove_empty_dirs(const std::string &root, const std::string &rel)
{
	struct stat st;
	if (lstat((root + "/" + rel).c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	std::vector<std::pair<std::string, bool>> todo{{rel, false}};   // (dir, children done)
	while (!todo.empty()) {
		auto [dir, done] = todo.back();
		todo.pop_back();
		if (done) {
			rmdir((root + "/" + dir).c_str());   // fails, harmlessly, when not empty
			continue;
		}
		todo.push_back({dir, true});
		for (auto &n : dir_names(root + "/" + dir))
			if (lstat((root + "/" + dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
				todo.push_back({dir + "/" + n, false});
	}
}

void Worktree::restore(const std::vector<std::string> &paths, bool staged)
{
	if (staged) {
		// Each path's subtree (or file) of the commit grafted into the
		// index: the trees on the way are rewritten, nothing else read.
		WriteLock lock(s_);
		ObjectWriter w(s_);
		Oid ht = head_tree(), index = st_.index;
		for (auto &rel : paths) {
			auto parts = path_components(rel);
			if (parts.empty()) {
				if (ht == empty_tree_oid() && index == empty_tree_oid())
					die("pathspec '.' did not match any file known to pach");
				index = ht;
				continue;
			}
			auto he = lookup_path(s_, ht, parts);
			if (!he && !lookup_path(w, index, parts))
				die("pathspec '{}' did not match any file known to pach", rel);
			index = edit_tree(s_, w, index, parts, he);
		}
		st_.index = index;
		w.finish();
		save();
		return;
	}
	StatCacheStream cache(state_file("statcache"));
	std::vector<WorktreeFile> todo;   // tracked files that differ
	for (auto &rel : paths) {
		auto n = compare(cache, st_.index, rel, nullptr, [&](const std::string &p, const TreeEntry *ie, const TreeEntry *) {
			if (ie)
				todo.push_back({p, *ie});
		});
		if (!n.tracked)
			die("pathspec '{}' did not match any file known to pach", rel.empty() ? "." : rel);
	}
	std::sort(todo.begin(), todo.end(), [](auto &a, auto &b) { return a.path < b.path; });
	todo.erase(std::unique(todo.begin(), todo.end(), [](auto &a, auto &b) { return a.path == b.path; }), todo.end());
	Materialiser m(s_, LinkMode::automatic, root_);
	for (auto &f : todo)
		write_file(m, f);
	remember_written(cache);
	cache.save();
	save();
}

// A file or symlink under directory rel on disk that is not a removal
// of the sorted moves ("" when none, or when rel is no directory): an
// untracked file, or one only staged (git drops those silently).
template <class Moves> std::string Worktree::untracked_under(const std::string &rel, const Moves &moves) const
{
	struct stat st;
	if (beyond_link(rel) || lstat((root_ + "/" + rel).c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
		return "";
	auto removed = [&](const std::string &p) {
		auto it = std::lower_bound(moves.begin(), moves.end(), p, [](auto &m, auto &q) { return m.path < q; });
		return it != moves.end() && it->path == p && !it->te;
	};
	std::vector<std::string> todo{rel};   // iterative: depth bounded by nothing but the disk
	while (!todo.empty()) {
		std::string dir = std::move(todo.back());
		todo.pop_back();
		DirStream d(root_ + "/" + dir);
		while (auto *e = d ? d.next() : nullptr) {
			std::string p = dir + "/" + e->d_name;
			struct stat est;
			if (fstatat(d.fd(), e->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(est.st_mode))
				todo.push_back(p);
			else if (!removed(p))
				return p;
		}
	}
	return "";
}

void Worktree::switch_to(const std::string &branch, LinkMode lm)
{
	check_branch_name(branch);
	auto tip = s_.ref(branch_ref(st_.repo, branch));
	if (!tip && !(branch == st_.branch && !st_.head))
		die("branch '{}' not found in repo '{}' (create it with 'pach branch {} {}')", branch, st_.repo, st_.repo,
		    branch);
	Oid tt = tip ? s_.read_commit(*tip).tree : empty_tree_oid();
	// Only the files the two commits disagree on are looked at: the
	// index's entry and the file on disk for each, in path order.
	struct Move {
		std::string path;
		std::optional<TreeEntry> ie, te;
		bool already;   // the file is the target's already
	};
	std::vector<Move> moves;
	std::vector<std::string> conflicts;
	StatCacheStream cache(state_file("statcache"));
	cache.begin("", now_ns());
	auto opt = [](const TreeEntry &e) { return e.mode ? std::optional<TreeEntry>(e) : std::nullopt; };
	auto ptr = [](const std::optional<TreeEntry> &e) { return e ? &*e : nullptr; };
	for (auto &c : diff_trees(s_, head_tree(), tt)) {
		auto he = opt(c.old_e), te = opt(c.new_e);
		auto ie = lookup_path(s_, st_.index, path_components(c.path));
		if (ie && ie->is_dir())
			ie.reset();
		auto we = work_entry(cache, c.path);
		if (same(ptr(ie), ptr(te)) && same(ptr(we), ptr(te)))
			continue;   // already what the target has
		// A file deleted by hand is no local change to keep (as git):
		// the target's version comes back.
		struct stat st;
		bool missing = !we && lstat((root_ + "/" + c.path).c_str(), &st) < 0 && errno == ENOENT;
		// Each of index and file must be the current commit's version or
		// the target's (a file already switched by an interrupted
		// checkout is then simply kept).  An untracked file where the
		// target has one is a local change too.
		if ((!same(ptr(ie), ptr(he)) && !same(ptr(ie), ptr(te))) ||
		    (!missing && !same(ptr(we), ptr(he)) && !same(ptr(we), ptr(te)))) {
			conflicts.push_back(c.path);
			continue;
		}
		moves.push_back({c.path, ie, te, same(ptr(we), ptr(te))});
	}
	cache.end();
	// A directory on disk where a file of either commit is must hold only
	// files this switch removes: anything else in it would be lost.
	for (auto &mv : moves)
		if (auto lost = untracked_under(mv.path, moves); !lost.empty())
			die("updating '{}' would lose '{}' (in neither commit); commit, move or remove it first", mv.path,
			    lost);
	if (!conflicts.empty()) {
		die("your local changes to '{}'{} would be overwritten by checkout; commit, restore or move them first",
		    conflicts[0],
		    conflicts.size() > 1 ? fmt::format(" and {} other file{}", conflicts.size() - 1,
						      conflicts.size() > 2 ? "s" : "")
					 : "");
	}
	WriteLock lock(s_);
	ObjectWriter ow(s_);
	// The new index first: a path the index cannot take refuses the
	// switch before any file is touched.
	std::map<std::string, IndexChange> changes;
	for (auto &mv : moves)
		changes[mv.path] = {mv.ie, mv.te};
	Oid new_index = apply_index_changes(ow, st_.index, changes);
	Materialiser m(s_, lm, root_);
	uint64_t total = 0;
	for (auto &mv : moves)
		if (mv.te && mv.te->mode != kModeLink && !mv.already)
			if (auto r = s_.odb().open(mv.te->oid))
				total += r->size();
	Progress prog("Checking out files", moves.size(), true);
	prog.set_total_bytes(total);
	// Deletions first: a file may become a directory and the reverse.
	// A crash from here on leaves the files between two commits: the
	// state says so, and the same checkout finishes the job.
	st_.pending = branch;
	save();
	for (auto &mv : moves)
		if (!mv.te) {
			remove_file(root_, mv.path);
			last_dir_fd_ = Fd();
			prog.add(1);
		}
	for (auto &mv : moves)
		if (mv.te) {
			uint64_t before = m.linked + m.copied;
			if (!mv.already) {
				// Empty directories left where the file goes (nothing
				// else is there: see untracked_under).
				remove_empty_dirs(root_, mv.path);
				write_file(m, {mv.path, *mv.te});
			}
			crash_point("checkout-file");
			prog.add(1, m.linked + m.copied - before);
		}
	prog.done();
	st_.index = new_index;
	ow.finish();
	st_.head = tip;
	st_.branch = branch;
	st_.pending.clear();
	remember_written(cache);
	cache.save();
	save();
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
