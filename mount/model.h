// The model behind pach mount: a path resolves to a Node (a tree entry
// of a branch or commit, or a file staged in the writable overlay); trees
// are read once and indexed by name; branches are looked up again after a
// second; open files read stored data straight from the pack, with a
// prefetch thread for sequential reads.  Used only by mount/mount.cc (the
// FUSE callbacks); everything is inline, in pach::mount::detail.
#pragma once

#include "plumbing/address.h"
#include "plumbing/checkout.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"
#include "mount/mount.h"
#include "mount/overlay.h"
#include "mount/partial.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace pach::mount::detail {

// A tree as read once: its entries and an index by name.
struct Entries {
	std::vector<TreeEntry> v;
	std::unordered_map<std::string, size_t> by_name;
	const TreeEntry *find(const std::string &n) const
	{
		auto it = by_name.find(n);
		return it == by_name.end() ? nullptr : &v[it->second];
	}
};

struct Node {
	enum Kind { k_root, k_repo, k_prefix, k_entry } kind = k_root;
	std::string repo, branch_prefix;
	TreeEntry e;            // for entry: what it is (the commit's root tree for a branch or @commit dir)
	int64_t mtime = 0;
	bool fixed = false;     // under @commit: never changes
	// Writable mounts, under a branch: where it is, and its staged copy.
	std::string branch, rel;    // rel: "a/b" inside the branch ("" = its root)
	bool lower = false;         // the commit (below the overlay) has this name: removing it needs a whiteout
	bool lower_below = false;   // a directory whose committed entries (e) show through
	std::shared_ptr<Fd> udir;   // the staged directory that holds it (the branch's root: the root), if any
	bool in_upper = false;      // staged: ust is its lstat
	struct stat ust {};
};

struct Handle {
	Fd fd;                // a staged file (writable mounts)
	std::shared_ptr<PartialFile> part;       // its chunk map, if partial
	std::pair<dev_t, ino_t> ino{};
	bool writer = false;  // counted as open for writing
	bool direct = false;  // opened with direct I/O (Fs::opened)
	bool setid = false;   // direct, and set-ID bits to clear on a write
	std::atomic<uint64_t> wend{0};  // where the last write ended
	std::string path;     // as opened (nullpath_ok gives none to calls with a handle)
	Oid oid;
	uint64_t ahead = 0;   // where the next read-ahead hint is due
	uint64_t hinted = 0;  // content hinted up to here
	uint64_t next = 0;    // where the last read ended
	int run = 0;          // reads in a row that went on from the last
	std::unique_ptr<ObjectReader> r;
	std::mutex mu;
	// Sequential reads of stored data: a thread reads the pack ahead of
	// the reader in 1 MiB pieces, as cat would, so the kernel's requests
	// find the pages in memory instead of waiting for the disk each time.
	std::thread prefetch;
	std::atomic<uint64_t> want{0}, done{0};
	std::atomic<bool> stop{false};
	std::condition_variable cv;
	~Handle()
	{
		stop = true;
		cv.notify_all();
		if (prefetch.joinable())
			prefetch.join();
	}
	void start_prefetch()
	{
		prefetch = std::thread([this] {
			std::vector<char> buf(1 << 20);
			std::unique_lock<std::mutex> g(mu);
			while (!stop) {
				if (done >= want || done >= r->size()) {
					cv.wait_for(g, std::chrono::milliseconds(100));
					continue;
				}
				std::vector<std::pair<uint64_t, size_t>> ranges;
				int fd = -1;
				uint64_t from = done;
				if (!r->file_ranges(from, buf.size(), ranges, &fd))
					return;
				g.unlock();
				ssize_t k = pread_ranges(fd, ranges, buf.data());
				uint64_t n = k > 0 ? (uint64_t)k : 0;
				g.lock();
				if (!n)
					return;
				done = from + n;
			}
		});
	}
};

class Fs {
public:
	Fs(Store &s, const Options &o) : s_(s)
	{
		for (auto &w : o.only) {
			auto at = w.find('@');
			only_[w.substr(0, at)].push_back(at == std::string::npos ? "" : w.substr(at + 1));
		}
		mounted_ = time(nullptr);
	}

	int resolve(const char *path, Node &n)
	{
		std::vector<std::string> parts;
		for (const char *p = path; *p;) {
			while (*p == '/')
				p++;
			const char *e = p;
			while (*e && *e != '/')
				e++;
			if ((size_t)(e - p) > kMaxNameBytes)
				return -ENAMETOOLONG;
			if (e > p)
				parts.emplace_back(p, e);
			p = e;
		}
		n = Node{};
		n.mtime = mounted_;
		if (parts.empty())
			return 0;
		n.repo = parts[0];
		if (!repo_visible(n.repo))
			return -ENOENT;
		auto bset = branch_names(n.repo);
		const std::set<std::string> &branches = *bset;
		if (parts.size() == 1) {
			if (branches.empty() && !repo_exists(n.repo))
				return -ENOENT;
			n.kind = Node::k_repo;
			return 0;
		}
		// @commit, or a branch (whose name may hold slashes).
		std::optional<Oid> commit;
		size_t used = 0;
		if (parts[1][0] == '@') {
			std::string hex = parts[1].substr(1);
			if (hex.size() < 4 || hex.find_first_not_of("0123456789abcdef") != std::string::npos || !branch_allowed(n.repo, parts[1]))
				return -ENOENT;
			try {
				Oid c = s_.resolve_commitish(hex);
				if (s_.object_type(c) != ObjType::commit)
					return -ENOENT;
				commit = c;
			} catch (const Error &) {
				return -ENOENT;
			}
			n.fixed = true;
			used = 2;
		} else {
			std::string name;
			for (size_t k = 1; k < parts.size(); k++) {
				name += (k > 1 ? "/" : "") + parts[k];
				if (branches.count(name)) {
					if (!branch_allowed(n.repo, name))
						return -ENOENT;
					commit = s_.ref(branch_ref(n.repo, name));
					n.branch = name;
					used = k + 1;
					break;
				}
			}
			if (!commit) {
				// A directory of branch names ("feature/" of feature/x)?
				auto it = branches.lower_bound(name + "/");
				if (it != branches.end() && it->compare(0, name.size() + 1, name + "/") == 0 && used == 0) {
					n.kind = Node::k_prefix;
					n.branch_prefix = name;
					return 0;
				}
				return -ENOENT;
			}
		}
		if (!commit)
			return -ENOENT;
		CommitInfo ci = commit_info(*commit);
		n.mtime = ci.committer.when;
		n.kind = Node::k_entry;
		n.e = TreeEntry{"", kModeDir, ci.tree};
		if (writable_ && !n.fixed)
			return merged(n, parts, used);
		for (size_t k = used; k < parts.size(); k++) {
			if (!n.e.is_dir())
				return -ENOTDIR;
			auto t = tree(n.e.oid);
			const TreeEntry *x = t->find(parts[k]);
			if (!x)
				return -ENOENT;
			n.e = *x;
		}
		return 0;
	}

	// Writable mounts: the staged copy of a branch is an overlay, as
	// overlayfs and OCI layers do it: files and directories written here,
	// ".wh.NAME" for a deleted NAME, ".wh..wh..opq" in a directory that
	// hides what the commit has below it, ".wh..wh..base" (a tree id) in
	// a directory that shows that tree below it instead (one renamed from
	// elsewhere).  Every access is relative to a directory descriptor, so
	// no path grows past what the branch itself holds and nothing staged
	// is reached through a symlink.
	std::string upper_root(const std::string &repo, const std::string &branch) const
	{
		std::string b;
		for (char c : branch)
			b += c == '/' ? std::string("%2F") : c == '%' ? std::string("%25") : std::string(1, c);
		return stage_ + "/upper/" + repo + "/" + b;
	}

	int merged(Node &n, const std::vector<std::string> &parts, size_t used)
	{
		Fd cur(::open(upper_root(n.repo, n.branch).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		bool lower_ok = true;
		n.lower = true;
		n.lower_below = true;
		if (cur) {
			n.in_upper = fstat(cur.get(), &n.ust) == 0;
			n.udir = std::make_shared<Fd>(::fcntl(cur.get(), F_DUPFD_CLOEXEC, 0));
		}
		std::string rel;
		for (size_t k = used; k < parts.size(); k++) {
			const std::string &name = parts[k];
			rel += (rel.empty() ? "" : "/") + name;
			struct stat st;
			if (lower_ok && cur && fstatat(cur.get(), (".wh." + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
				lower_ok = false;
			if (lower_ok) {
				const TreeEntry *x = n.e.is_dir() ? tree(n.e.oid)->find(name) : nullptr;
				if (x)
					n.e = *x;
				else
					lower_ok = false;
			}
			// (".wh." names are the overlay's own, never shown)
			bool in_upper = cur && name.compare(0, 4, ".wh.") != 0 &&
					fstatat(cur.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
			if (!in_upper && !lower_ok)
				return -ENOENT;
			if (k + 1 < parts.size() && (in_upper ? !S_ISDIR(st.st_mode) : !n.e.is_dir()))
				return -ENOTDIR;
			n.lower = lower_ok;
			n.in_upper = in_upper;
			n.udir = cur ? std::make_shared<Fd>(std::move(cur)) : nullptr;
			if (in_upper) {
				n.ust = st;
				if (S_ISDIR(st.st_mode)) {
					cur = Fd(::openat(n.udir->get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
					if (!cur)
						return -errno;
					Oid base;
					Marker m = read_marker(cur.get(), &base);
					if (m == Marker::opaque) {
						lower_ok = false;
					} else if (m == Marker::base) {
						n.e = TreeEntry{name, kModeDir, base};
						lower_ok = true;
					}
				}
			}
			n.lower_below = lower_ok;
		}
		n.rel = rel;
		return 0;
	}

	// The staged directory `rel` of a branch, made (as the committed
	// directories look: 0755, the mount's owner) if missing.
	Fd upper_dir(const Node &n, const std::string &rel)
	{
		std::string root = upper_root(n.repo, n.branch);
		mkdir_p(root, 0755);
		Fd r(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!r)
			die_errno("unable to open '" + root + "'");
		return open_dir_beneath_or_die(r.get(), rel, kBeneathCreate, root, 0755);
	}
	static std::string parent_rel(const std::string &rel)
	{
		auto s = rel.rfind('/');
		return s == std::string::npos ? "" : rel.substr(0, s);
	}
	static std::string base_name(const std::string &rel)
	{
		auto s = rel.rfind('/');
		return rel.empty() ? "." : s == std::string::npos ? rel : rel.substr(s + 1);
	}
	// Re-read a node's staged entry after it changed.
	void restat(Node &n)
	{
		n.in_upper = n.udir && fstatat(n.udir->get(), base_name(n.rel).c_str(), &n.ust, AT_SYMLINK_NOFOLLOW) == 0;
	}

	// Make the staged copy of what n names: a directory, a symlink, or a
	// file.  A big file is not copied: it is made sparse, with a map of
	// which chunks of the blob it holds yet (mount/partial.h); `empty`
	// (an open with O_TRUNC) makes it empty.
	int copy_up(Node &n, bool empty = false)
	{
		if (n.in_upper)
			return 0;
		if (n.rel.empty()) {
			Fd d = upper_dir(n, "");
			n.udir = std::make_shared<Fd>(std::move(d));
			restat(n);
			return 0;
		}
		n.udir = std::make_shared<Fd>(upper_dir(n, parent_rel(n.rel)));
		std::string name = base_name(n.rel);
		int dfd = n.udir->get();
		if (n.e.is_dir()) {
			if (::mkdirat(dfd, name.c_str(), 0755) < 0 && errno != EEXIST)
				return -errno;
		} else if (n.e.mode == kModeLink) {
			if (::symlinkat(link_target(n.e.oid).c_str(), dfd, name.c_str()) < 0 && errno != EEXIST)
				return -errno;
		} else {
			Fd f(::openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, n.e.mode == kModeExec ? 0755 : 0644));
			if (!f)
				return -errno;
			uint64_t size = empty ? 0 : blob_size(n.e.oid);
			bool lazy = size >= Partial::kMin && Partial::fresh(n.e.oid, size).save(f.get());
			if (lazy) {
				if (::ftruncate(f.get(), (off_t)size) < 0)
					return -errno;
			} else if (size) {
				copy_blob(s_, n.e.oid, f.get(), n.rel);
			}
			std::string proc = "/proc/self/fd/" + std::to_string(f.get());
			if (::linkat(AT_FDCWD, proc.c_str(), dfd, name.c_str(), AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)
				return -errno;
		}
		restat(n);
		return n.in_upper ? 0 : -EIO;
	}

	// ".wh.NAME" in the staged parent: the committed NAME is gone.
	void whiteout(const Node &n)
	{
		Fd d = upper_dir(n, parent_rel(n.rel));
		Fd(::openat(d.get(), (".wh." + base_name(n.rel)).c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
	}

	// A staged directory that shows nothing any more (only whiteouts and
	// markers are left in it): remove it.
	static int remove_hollow_dir(int dirfd, const std::string &name)
	{
		Fd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!d)
			return -errno;
		for (auto &x : list_dir(d.get()))
			if (x.compare(0, 4, ".wh.") == 0 && ::unlinkat(d.get(), x.c_str(), 0) < 0)
				return -errno;
		return ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0 ? -errno : 0;
	}

	int remove_entry(const Node &n, bool dir)
	{
		if (n.in_upper) {
			std::string name = base_name(n.rel);
			int r = dir ? remove_hollow_dir(n.udir->get(), name)
				    : (::unlinkat(n.udir->get(), name.c_str(), 0) < 0 ? -errno : 0);
			if (r)
				return r;
		}
		if (n.lower)
			whiteout(n);
		return 0;
	}

	// A writable branch directory's names: the commit's, less what was
	// deleted, plus what was staged.
	std::set<std::string> merged_names(const Node &n)
	{
		std::set<std::string> out, gone;
		if (n.in_upper && S_ISDIR(n.ust.st_mode)) {
			Fd d(::openat(n.udir->get(), base_name(n.rel).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			for (auto &name : d ? list_dir(d.get()) : std::vector<std::string>{}) {
				if (!is_overlay_name(name))
					out.insert(name);
				else if (is_whiteout(name))
					gone.insert(name.substr(4));
			}
		}
		if (n.lower_below && n.e.is_dir())
			for (auto &e : tree(n.e.oid)->v)
				if (!gone.count(e.name))
					out.insert(e.name);
		return out;
	}

	// Open staged files, by inode: those written to are kept across a
	// commit; partial ones share one map.
	//
	// A file opened write-only while nothing else has it open is written
	// with direct I/O: the kernel hands the caller's pages to us instead
	// of first copying them into its cache of the file (a sequential
	// write then costs two copies, not three, and half the memory).
	// Direct writes do not update pages the kernel has cached: a writer
	// that finds the file open already writes through the cache, and
	// while a direct writer has readers beside it (tail -f) each of its
	// writes drops the file's cached pages.  Readers are never direct
	// (mmap must work).  Pages cached by earlier opens are dropped when a
	// file is opened: keep_cache is off for staged files.
	using Ino = std::pair<dev_t, ino_t>;
	struct Opens {
		int writers = 0, cached = 0, direct = 0;
	};
	// Counts an open; returns whether it is to use direct I/O.
	bool opened(const Ino &i, bool writer, bool write_only)
	{
		std::lock_guard<std::mutex> g(mu_);
		Opens &o = opens_[i];
		bool direct = write_only && o.cached == 0;
		o.writers += writer;
		(direct ? o.direct : o.cached)++;
		return direct;
	}
	void closed(const Ino &i, bool writer, bool direct)
	{
		std::lock_guard<std::mutex> g(mu_);
		Opens &o = opens_[i];
		o.writers -= writer;
		(direct ? o.direct : o.cached)--;
		if (o.cached <= 0 && o.direct <= 0)
			opens_.erase(i);
	}
	bool cached_opens(const Ino &i)
	{
		std::lock_guard<std::mutex> g(mu_);
		auto it = opens_.find(i);
		return it != opens_.end() && it->second.cached > 0;
	}
	bool open_for_write(const Ino &i)
	{
		std::lock_guard<std::mutex> g(mu_);
		auto it = opens_.find(i);
		return it != opens_.end() && it->second.writers > 0;
	}
	std::shared_ptr<PartialFile> partial(int fd)
	{
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return nullptr;
		Ino key{st.st_dev, st.st_ino};
		std::lock_guard<std::mutex> g(mu_);
		if (auto p = partials_[key].lock())
			return p;
		auto map = Partial::load(fd);
		if (!map) {
			partials_.erase(key);
			return nullptr;
		}
		auto p = std::make_shared<PartialFile>();
		p->map = std::move(map);
		partials_[key] = p;
		return p;
	}

	// Held shared by every operation on what is staged, exclusively by a
	// commit: a commit sees no half-done operation, and no write is lost
	// to the clean-up after it.
	std::shared_mutex stage_mu;
	const std::string &stage() const { return stage_; }
	void forget_branches()
	{
		std::lock_guard<std::mutex> g(mu_);
		branches_.clear();
	}

	bool writable() const { return writable_; }
	void set_stage(const std::string &dir, bool w)
	{
		stage_ = dir;
		writable_ = w;
	}

	std::shared_ptr<const Entries> tree(const Oid &o)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = trees_.find(o);
			if (it != trees_.end())
				return it->second;
		}
		auto e = std::make_shared<Entries>();
		e->v = s_.read_tree(o);
		e->by_name.reserve(e->v.size());
		for (size_t i = 0; i < e->v.size(); i++)
			e->by_name.emplace(e->v[i].name, i);
		std::shared_ptr<const Entries> t = e;
		std::lock_guard<std::mutex> g(mu_);
		if (trees_.size() > 50000)
			trees_.clear();
		trees_[o] = t;
		return t;
	}

	uint64_t blob_size(const Oid &o)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = sizes_.find(o);
			if (it != sizes_.end())
				return it->second;
		}
		auto r = s_.odb().open(o);
		uint64_t n = r ? r->size() : 0;
		std::lock_guard<std::mutex> g(mu_);
		sizes_[o] = n;
		return n;
	}

	std::string link_target(const Oid &o) { return s_.odb().read_small(o); }

	// Branch names of a repo, looked up at most once a second.
	std::shared_ptr<const std::set<std::string>> branch_names(const std::string &repo)
	{
		auto now = std::chrono::steady_clock::now();
		std::lock_guard<std::mutex> g(mu_);
		auto &c = branches_[repo];
		if (!c.second || now - c.first > std::chrono::seconds(1)) {
			auto names = std::make_shared<std::set<std::string>>();
			std::string pre = "refs/heads/" + repo + "/";
			for (auto &[ref, oid] : s_.refs(pre))
				names->insert(ref.substr(pre.size()));
			c.second = names;
			c.first = now;
		}
		return c.second;
	}

	std::vector<std::string> repos()
	{
		std::set<std::string> out;
		for (auto &[ref, oid] : s_.refs("refs/heads/")) {
			std::string rest = ref.substr(11);
			out.insert(rest.substr(0, rest.find('/')));
		}
		if (auto m = s_.ref("refs/pach/meta"))
			if (auto e = lookup_path(s_, s_.read_commit(*m).tree, {"repos"}); e && e->is_dir())
				for (auto &r : s_.read_tree(e->oid))
					out.insert(r.name);
		std::vector<std::string> v;
		for (auto &r : out)
			if (repo_visible(r))
				v.push_back(r);
		return v;
	}

	bool branch_allowed(const std::string &repo, const std::string &name)
	{
		auto it = only_.find(repo);
		if (only_.empty() || it == only_.end())
			return true;
		for (auto &b : it->second)
			if (b.empty() || b == name)
				return true;
		return false;
	}

	Store &store() { return s_; }

	bool same_as_last_open(const std::string &path, const Oid &oid)
	{
		std::lock_guard<std::mutex> g(mu_);
		auto [it, fresh] = last_open_.emplace(path, oid);
		bool same = !fresh && it->second == oid;
		it->second = oid;
		return same;
	}

private:
	bool repo_visible(const std::string &r) { return only_.empty() || only_.count(r); }
	bool repo_exists(const std::string &r)
	{
		auto all = repos();
		return std::find(all.begin(), all.end(), r) != all.end();
	}
	CommitInfo commit_info(const Oid &c)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = commits_.find(c);
			if (it != commits_.end())
				return it->second;
		}
		CommitInfo ci = s_.read_commit(c);
		std::lock_guard<std::mutex> g(mu_);
		commits_[c] = ci;
		return ci;
	}

	Store &s_;
	std::map<std::string, std::vector<std::string>> only_;
	int64_t mounted_;
	std::mutex mu_;
	std::unordered_map<Oid, std::shared_ptr<const Entries>, OidHash> trees_;
	std::unordered_map<Oid, uint64_t, OidHash> sizes_;
	std::unordered_map<Oid, CommitInfo, OidHash> commits_;
	std::unordered_map<std::string, Oid> last_open_;
	std::map<Ino, Opens> opens_;
	std::map<Ino, std::weak_ptr<PartialFile>> partials_;
	std::string stage_;
	bool writable_ = false;
	std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<const std::set<std::string>>>>
		branches_;
};

} // namespace pach::mount::detail
