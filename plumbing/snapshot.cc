#include "plumbing/snapshot.h"

#include "plumbing/error.h"
#include "plumbing/parallel.h"
#include "plumbing/progress.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>
#include <unordered_map>

namespace pach {

Oid hash_fd(int fd, uint64_t size, const std::string &what, const std::function<void(size_t)> &progress)
{
	Sha1 h;
	auto hdr = object_header(ObjType::blob, size);
	h.update(hdr.data(), hdr.size());
	std::vector<char> b((size_t)std::min<uint64_t>(size + 1, 1 << 20));
	uint64_t left = size;
	while (left) {
		size_t n = read_full(fd, b.data(), (size_t)std::min<uint64_t>(left, b.size()), what);
		if (!n)
			die("'{}' changed while pach was reading it", what);
		h.update(b.data(), n);
		left -= n;
		if (progress)
			progress(n);
	}
	return h.final();
}

namespace {

struct Node {
	std::string name;
	Node *parent = nullptr;
	std::string dir_path; // absolute; directories (and a lone root file) only
	struct stat st;
	uint32_t mode = 0;
	Oid oid;
	bool need_hash = false;
	bool skip = false;  // special file, or became a directory
	int dfd = -1;       // open fd of the parent directory, or -1
	std::string link;   // a symlink's target
	int depth = 0;
	std::vector<Node> kids;

	// Files keep no path of their own (20,000 fewer allocations for a
	// 20,000-file walk): it is built when needed.
	std::string path() const { return parent ? parent->dir_path + "/" + name : dir_path; }
};

// The walk runs on every core, as git's preloaded index does: a queue of
// work items, each either "read this directory" (readdir, sort, then stat
// its files and queue its subdirectories) or "stat these files of a big
// directory".  Directory fds stay open (up to a bound) so files are
// stat'ed relative to them.
class Walker {
public:
	// workers <= 0: every core.  One walks on the calling thread (a
	// datum's /pfs/out: no thread started for a handful of files).
	Walker(Store &s, StatCache &c, int workers = 0)
		: s_(s), cache_(c), workers_(workers > 0 ? workers : cpu_workers())
	{
	}

	void walk(Node &root)
	{
		push({&root, 0, 0, true});
		parallel_run(workers_, [this](int) { run(); });
	}

private:
	struct Item {
		Node *dir;
		size_t begin, end;  // file range of dir->kids, when !read
		bool read;          // read the directory itself
	};

	void push(Item it)
	{
		std::lock_guard<std::mutex> g(mu_);
		q_.push_back(it);
		pending_++;
		cv_.notify_one();
	}

	void run()
	{
		size_t hint = 0;
		for (;;) {
			Item it;
			{
				std::unique_lock<std::mutex> g(mu_);
				cv_.wait(g, [&] { return !q_.empty() || pending_ == 0; });
				if (q_.empty())
					return;
				it = q_.front();
				q_.pop_front();
			}
			// After a failure the queue is drained without work, so
			// every thread sees pending_ reach zero.
			std::exception_ptr err;
			try {
				if (!failed_) {
					if (it.read)
						read_dir(*it.dir, hint);
					else
						for (size_t i = it.begin; i < it.end; i++)
							stat_one(it.dir->kids[i], &hint);
				}
			} catch (...) {
				err = std::current_exception();
				failed_ = true;
			}
			{
				std::lock_guard<std::mutex> g(mu_);
				if (--pending_ == 0)
					cv_.notify_all();
			}
			if (err)
				std::rethrow_exception(err);
		}
	}

	void read_dir(Node &dir, size_t &hint)
	{
		int fd = !dir.parent ? ::open(dir.dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			 : dir.dfd >= 0 ? openat(dir.dfd, dir.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
					: ::open(dir.dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			die_errno("unable to open directory '" + dir.dir_path + "'");
		DirStream d{Fd(dup(fd))};
		if (!d) {
			::close(fd);
			die_errno("unable to read directory '" + dir.dir_path + "'");
		}
		// Keep a bounded number of directory fds for stat calls; beyond
		// that files are stat'ed by absolute path.
		int keep = -1;
		{
			std::lock_guard<std::mutex> g(mu_);
			if (fds_.size() < kMaxFds) {
				fds_.emplace_back(fd);
				keep = fd;
			}
		}
		std::vector<std::pair<std::string, unsigned char>> names;
		while (struct dirent *e = d.next())
			names.push_back({e->d_name, e->d_type});
		Fd closer(keep < 0 ? fd : -1);
		// Sorted, so the stat calls meet files in the stat cache's order.
		std::sort(names.begin(), names.end());
		dir.kids.reserve(names.size());
		size_t nfiles = 0;
		for (auto &[n, type] : names) {
			if (!valid_tree_name(n) || n == ".pach") {
				// git refuses ".git" in trees; a store never snapshots itself.
				skipped_++;
				continue;
			}
			Node k;
			k.name = n;
			k.parent = &dir;
			k.dfd = keep;
			if (type == DT_UNKNOWN) {
				if (fstatat(fd, n.c_str(), &k.st, AT_SYMLINK_NOFOLLOW) < 0)
					die_errno("unable to stat '" + k.path() + "'");
				type = S_ISDIR(k.st.st_mode) ? DT_DIR : DT_REG;
			}
			if (type == DT_DIR) {
				k.mode = kModeDir;
				k.dir_path = dir.dir_path + "/" + n;
				// What pach writes it must read back (see kMaxTreeDepth).
				k.depth = dir.depth + 1;
				if (k.depth > kMaxTreeDepth)
					die("'{}' is nested more than {} directories deep", k.dir_path, kMaxTreeDepth);
			} else {
				nfiles++;
			}
			dir.kids.push_back(std::move(k));
		}
		if (keep < 0) {
			// No fd to share: stat by path, after the directory is closed.
			for (auto &k : dir.kids)
				k.dfd = -1;
		}
		// kids no longer moves: hand out pointers into it.
		for (auto &k : dir.kids)
			if (k.mode == kModeDir)
				push({&k, 0, 0, true});
		if (nfiles > 2 * kChunk) {
			for (size_t i = 0; i < dir.kids.size(); i += kChunk)
				push({&dir, i, std::min(dir.kids.size(), i + kChunk), false});
			return;
		}
		for (auto &k : dir.kids)
			if (k.mode != kModeDir)
				stat_one(k, &hint);
		(void)closer;
	}

public:
	void stat_one(Node &k, size_t *hint)
	{
		if (k.mode == kModeDir)
			return;
		int rc = k.dfd >= 0 ? fstatat(k.dfd, k.name.c_str(), &k.st, AT_SYMLINK_NOFOLLOW)
				    : lstat(k.path().c_str(), &k.st);
		if (rc < 0)
			die_errno("unable to stat '" + k.path() + "'");
		if (S_ISREG(k.st.st_mode) || S_ISLNK(k.st.st_mode)) {
			classify(k.dfd, k, hint);
			return;
		}
		k.skip = true;
		skipped_++;
		if (!S_ISDIR(k.st.st_mode))
			warning("skipping '" + k.path() + "': not a regular file, directory or symlink");
	}

	void classify(int dfd, Node &k, size_t *hint = nullptr)
	{
		k.mode = git_mode_of(k.st.st_mode);
		files_++;
		if (S_ISLNK(k.st.st_mode)) {
			std::string target(k.st.st_size + 1 > 1 ? (size_t)k.st.st_size + 1 : 4096, '\0');
			ssize_t n = dfd >= 0 ? readlinkat(dfd, k.name.c_str(), target.data(), target.size())
					     : readlink(k.path().c_str(), target.data(), target.size());
			if (n < 0)
				die_errno("unable to read symlink '" + k.path() + "'");
			target.resize((size_t)n);
			k.link = std::move(target);
			return;
		}
		// No existence check: objects are only ever deleted by gc, and
		// gc throws the stat cache away (StatCache::kFile).
		static thread_local std::string path;
		if (k.parent) {
			path.assign(k.parent->dir_path);
			path += '/';
			path += k.name;
		} else {
			path.assign(k.dir_path);
		}
		if (const Oid *o = cache_.lookup(path, k.st, hint)) {
			k.oid = *o;
			return;
		}
		k.need_hash = true;
	}

	void collect(Node &n, std::vector<Node *> &work, std::vector<Node *> &links)
	{
		for (auto &k : n.kids) {
			if (k.skip)
				continue;
			if (k.mode == kModeDir)
				collect(k, work, links);
			else if (k.mode == kModeLink)
				links.push_back(&k);
			else if (k.need_hash)
				work.push_back(&k);
		}
	}

	std::atomic<uint64_t> files_{0}, skipped_{0};

private:
	static constexpr size_t kMaxFds = 256;
	static constexpr size_t kChunk = 512;
	Store &s_;
	StatCache &cache_;
	int workers_;
	std::vector<Fd> fds_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Item> q_;
	size_t pending_ = 0;
	std::atomic<bool> failed_{false};
};

// With w null, files are only hashed (as `git hash-object` without -w).
void hash_files(ObjectWriter *w, std::vector<Node *> &work, int workers, SnapshotStats *stats)
{
	uint64_t total_bytes = 0;
	for (auto *n : work)
		total_bytes += (uint64_t)n->st.st_size;
	Progress prog("Hashing files", work.size(), true);
	prog.set_total_bytes(total_bytes);
	parallel_for(work.size(), workers, [&](size_t i, int slot) {
		Node *n = work[i];
		const std::string path = n->path();
		Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
		if (!fd)
			die_errno("unable to open '" + path + "'");
		struct stat now;
		if (fstat(fd.get(), &now) < 0)
			die_errno("unable to stat '" + path + "'");
		if (now.st_size != n->st.st_size || now.st_mtim.tv_nsec != n->st.st_mtim.tv_nsec ||
		    now.st_mtim.tv_sec != n->st.st_mtim.tv_sec)
			die("'{}' changed while pach was reading it", path);
		if (n->st.st_size > (1 << 20))
			posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
		if (w)
			n->oid = w->blob_from_fd(fd.get(), (uint64_t)n->st.st_size, path, slot,
						 [&](size_t b) { prog.add(0, b); });
		else
			n->oid = hash_fd(fd.get(), (uint64_t)n->st.st_size, path, [&](size_t b) { prog.add(0, b); });
		struct stat after;
		if (fstat(fd.get(), &after) == 0 &&
		    (after.st_mtim.tv_sec != now.st_mtim.tv_sec || after.st_mtim.tv_nsec != now.st_mtim.tv_nsec ||
		     after.st_size != now.st_size))
			die("'{}' changed while pach was reading it", path);
		prog.add(1, 0);
	});
	prog.done();
	if (stats) {
		stats->hashed += work.size();
		stats->bytes_hashed += total_bytes;
	}
}

std::optional<Oid> write_trees(ObjectWriter &w, Node &dir)
{
	std::vector<TreeEntry> entries;
	entries.reserve(dir.kids.size());
	for (auto &k : dir.kids) {
		if (k.skip)
			continue;
		if (k.mode == kModeDir) {
			auto t = write_trees(w, k);
			if (!t)
				continue;
			k.oid = *t;
		}
		entries.push_back({k.name, k.mode, k.oid});
	}
	if (entries.empty())
		return std::nullopt;
	sort_tree(entries);
	return w.tree(entries);
}

// Walk a directory, or classify a single file or symlink: what needs
// hashing goes to work, symlinks to links.  False for anything else.
bool walk_root(Walker &walker, Node &root, std::vector<Node *> &work, std::vector<Node *> &links)
{
	if (S_ISDIR(root.st.st_mode)) {
		walker.walk(root);
		trace_point("walk");
		walker.collect(root, work, links);
		return true;
	}
	if (!S_ISREG(root.st.st_mode) && !S_ISLNK(root.st.st_mode))
		return false;
	walker.classify(AT_FDCWD, root);
	if (root.mode == kModeLink)
		links.push_back(&root);
	else if (root.need_hash)
		work.push_back(&root);
	return true;
}

// Only hashed files need new entries; cache hits are unchanged.
void update_cache(StatCache &c, Node &dir, int64_t start)
{
	for (auto &k : dir.kids) {
		if (k.skip)
			continue;
		if (k.mode == kModeDir) {
			update_cache(c, k, start);
		} else if (k.need_hash) {
			c.update(k.path(), k.st, k.oid, start);
		}
	}
}

} // namespace

std::optional<TreeEntry> snapshot(Store &s, ObjectWriter &w, const std::string &src, StatCache &cache,
				  SnapshotStats *stats, int workers)
{
	int64_t start = now_ns();
	Node root;
	if (lstat(src.c_str(), &root.st) < 0)
		die_errno("unable to stat '" + src + "'");
	// A symlink named on the command line is followed (its target is what
	// the user means); symlinks inside a directory never are.
	if (S_ISLNK(root.st.st_mode) && stat(src.c_str(), &root.st) < 0)
		die_errno("unable to follow symlink '" + src + "'");
	root.dir_path = absolute_path(src);
	Walker walker(s, cache, workers);
	std::vector<Node *> work, links;
	root.name = root.dir_path;
	if (!walk_root(walker, root, work, links))
		die("'{}' is not a regular file, directory or symlink", src);
	if (stats) {
		stats->files += walker.files_;
		stats->skipped += walker.skipped_;
		stats->links += links.size();
	}
	for (auto *n : links)
		n->oid = w.blob(n->link.data(), n->link.size());
	if (workers <= 0)
		workers = cpu_workers();
	if (work.size() < 32)
		workers = 1;
	hash_files(&w, work, std::min<int>(workers, (int)std::max<size_t>(1, work.size())), stats);
	trace_point("hashed");

	std::optional<TreeEntry> out;
	if (S_ISDIR(root.st.st_mode)) {
		auto t = write_trees(w, root);
		trace_point("trees");
		if (t)
			out = TreeEntry{"", kModeDir, *t};
		update_cache(cache, root, start);
		cache.prune_under(root.dir_path);
	} else {
		out = TreeEntry{"", root.mode, root.oid};
		if (root.mode != kModeLink)
			cache.update(root.dir_path, root.st, root.oid, start);
	}
	return out;
}

static void flatten(Node &dir, const std::string &prefix, std::vector<ScannedFile> &out)
{
	for (auto &k : dir.kids) {
		if (k.skip)
			continue;
		std::string p = prefix.empty() ? k.name : prefix + "/" + k.name;
		if (k.mode == kModeDir)
			flatten(k, p, out);
		else
			out.push_back({p, k.mode, k.oid, k.st, k.need_hash});
	}
}

std::vector<ScannedFile> scan_files(Store &s, ObjectWriter *w, const std::string &src, StatCache &cache, int workers)
{
	std::vector<ScannedFile> out;
	Node root;
	if (lstat(src.c_str(), &root.st) < 0) {
		if (errno == ENOENT)
			return out;
		die_errno("unable to stat '" + src + "'");
	}
	// Not resolved: src may be a symlink, which is what is scanned.
	root.dir_path = !src.empty() && src[0] == '/' ? src : absolute_path(src);
	root.name = root.dir_path;
	Walker walker(s, cache);
	std::vector<Node *> work, links;
	if (!walk_root(walker, root, work, links))
		return out;
	for (auto *n : links)
		n->oid = w ? w->blob(n->link.data(), n->link.size()) : hash_object(ObjType::blob, n->link.data(), n->link.size());
	if (workers <= 0)
		workers = cpu_workers();
	if (work.size() < 32)
		workers = 1;
	hash_files(w, work, std::min<int>(workers, (int)std::max<size_t>(1, work.size())), nullptr);
	if (S_ISDIR(root.st.st_mode))
		flatten(root, "", out);
	else
		out.push_back({"", root.mode, root.oid, root.st, root.need_hash});
	// Usually already in order (a depth-first walk is, unless a name sorts
	// below '/' next to a directory it prefixes: "a.txt" and "a/").
	auto by_path = [](auto &a, auto &b) { return a.path < b.path; };
	if (!std::is_sorted(out.begin(), out.end(), by_path))
		std::sort(out.begin(), out.end(), by_path);
	return out;
}

} // namespace pach
