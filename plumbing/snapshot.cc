#include "plumbing/snapshot.h"

#include "plumbing/error.h"
#include "plumbing/progress.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <unordered_map>

namespace pach {

namespace {

struct Node {
	std::string name;
	std::string path;   // absolute, for messages and the stat cache
	struct stat st;
	uint32_t mode = 0;
	Oid oid;
	bool need_hash = false;
	std::string link;   // a symlink's target
	std::vector<Node> kids;
};

class Walker {
public:
	Walker(Store &s, StatCache &c, SnapshotStats *st) : s_(s), cache_(c), stats_(st) {}

	void scan_dir(int dfd, Node &dir)
	{
		int fd = dfd == AT_FDCWD ? ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
					 : openat(dfd, dir.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			die_errno("unable to open directory '" + dir.path + "'");
		Fd guard(fd);
		DIR *d = fdopendir(dup(fd));
		if (!d)
			die_errno("unable to read directory '" + dir.path + "'");
		errno = 0;
		while (struct dirent *e = readdir(d)) {
			std::string n = e->d_name;
			if (n == "." || n == "..")
				continue;
			Node k;
			k.name = n;
			k.path = dir.path + "/" + n;
			if (fstatat(fd, n.c_str(), &k.st, AT_SYMLINK_NOFOLLOW) < 0) {
				closedir(d);
				die_errno("unable to stat '" + k.path + "'");
			}
			if (!valid_tree_name(n) || n == ".pach") {
				// git refuses ".git" in trees; a store never snapshots itself.
				if (S_ISDIR(k.st.st_mode) && stats_)
					stats_->skipped++;
				continue;
			}
			if (S_ISDIR(k.st.st_mode)) {
				scan_dir(fd, k);
				if (!k.kids.empty()) {
					k.mode = kModeDir;
					dir.kids.push_back(std::move(k));
				}
			} else if (S_ISREG(k.st.st_mode) || S_ISLNK(k.st.st_mode)) {
				classify(fd, k);
				dir.kids.push_back(std::move(k));
			} else {
				warning("skipping '" + k.path + "': not a regular file, directory or symlink");
				if (stats_)
					stats_->skipped++;
			}
		}
		closedir(d);
	}

	void classify(int dfd, Node &k)
	{
		k.mode = git_mode_of(k.st.st_mode);
		if (stats_)
			stats_->files++;
		if (S_ISLNK(k.st.st_mode)) {
			std::string target(k.st.st_size + 1 > 1 ? (size_t)k.st.st_size + 1 : 4096, '\0');
			ssize_t n = readlinkat(dfd, k.name.c_str(), target.data(), target.size());
			if (n < 0)
				die_errno("unable to read symlink '" + k.path + "'");
			target.resize((size_t)n);
			k.link = std::move(target);
			return;
		}
		if (const Oid *o = cache_.lookup(k.path, k.st); o && s_.odb().contains(*o)) {
			k.oid = *o;
			return;
		}
		k.need_hash = true;
	}

	void collect(Node &n, std::vector<Node *> &work, std::vector<Node *> &links)
	{
		for (auto &k : n.kids) {
			if (k.mode == kModeDir)
				collect(k, work, links);
			else if (k.mode == kModeLink)
				links.push_back(&k);
			else if (k.need_hash)
				work.push_back(&k);
		}
	}

private:
	Store &s_;
	StatCache &cache_;
	SnapshotStats *stats_;
};

void hash_files(ObjectWriter &w, std::vector<Node *> &work, int workers, SnapshotStats *stats)
{
	uint64_t total_bytes = 0;
	for (auto *n : work)
		total_bytes += (uint64_t)n->st.st_size;
	Progress prog("Hashing files", work.size(), true);
	std::atomic<size_t> next{0};
	std::atomic<bool> failed{false};
	std::exception_ptr err;
	std::mutex err_mu;
	auto run = [&](int slot) {
		try {
			for (;;) {
				size_t i = next++;
				if (i >= work.size() || failed)
					return;
				Node *n = work[i];
				Fd fd(::open(n->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
				if (!fd)
					die_errno("unable to open '" + n->path + "'");
				struct stat now;
				if (fstat(fd.get(), &now) < 0)
					die_errno("unable to stat '" + n->path + "'");
				if (now.st_size != n->st.st_size || now.st_mtim.tv_nsec != n->st.st_mtim.tv_nsec ||
				    now.st_mtim.tv_sec != n->st.st_mtim.tv_sec)
					die("'{}' changed while pach was reading it", n->path);
				if (n->st.st_size > (1 << 20))
					posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
				n->oid = w.blob_from_fd(fd.get(), (uint64_t)n->st.st_size, n->path, slot);
				struct stat after;
				if (fstat(fd.get(), &after) == 0 &&
				    (after.st_mtim.tv_sec != now.st_mtim.tv_sec ||
				     after.st_mtim.tv_nsec != now.st_mtim.tv_nsec || after.st_size != now.st_size))
					die("'{}' changed while pach was reading it", n->path);
				prog.add(1, (uint64_t)n->st.st_size);
			}
		} catch (...) {
			std::lock_guard<std::mutex> g(err_mu);
			if (!err)
				err = std::current_exception();
			failed = true;
		}
	};
	std::vector<std::thread> ts;
	for (int i = 1; i < workers; i++)
		ts.emplace_back(run, i);
	run(0);
	for (auto &t : ts)
		t.join();
	if (err)
		std::rethrow_exception(err);
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

void update_cache(StatCache &c, Node &dir, int64_t start, std::unordered_map<std::string, bool> &seen)
{
	for (auto &k : dir.kids) {
		if (k.mode == kModeDir) {
			update_cache(c, k, start, seen);
		} else if (k.mode != kModeLink) {
			seen[k.path] = true;
			c.update(k.path, k.st, k.oid, start);
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
	root.path = absolute_path(src);
	Walker walker(s, cache, stats);
	std::vector<Node *> work, links;
	if (S_ISDIR(root.st.st_mode)) {
		root.name = root.path;
		walker.scan_dir(AT_FDCWD, root);
		walker.collect(root, work, links);
	} else if (S_ISREG(root.st.st_mode) || S_ISLNK(root.st.st_mode)) {
		root.name = root.path;
		walker.classify(AT_FDCWD, root);
		if (root.mode == kModeLink)
			links.push_back(&root);
		else if (root.need_hash)
			work.push_back(&root);
	} else {
		die("'{}' is not a regular file, directory or symlink", src);
	}
	for (auto *n : links)
		n->oid = w.blob(n->link.data(), n->link.size());
	if (workers <= 0) {
		unsigned hc = std::thread::hardware_concurrency();
		workers = (int)std::max(1u, std::min(hc ? hc : 1u, 8u));
	}
	if (work.size() < 32)
		workers = 1;
	hash_files(w, work, std::min<int>(workers, (int)std::max<size_t>(1, work.size())), stats);

	std::unordered_map<std::string, bool> seen;
	std::optional<TreeEntry> out;
	if (S_ISDIR(root.st.st_mode)) {
		auto t = write_trees(w, root);
		if (t)
			out = TreeEntry{"", kModeDir, *t};
		update_cache(cache, root, start, seen);
		cache.prune_under(root.path, seen);
	} else {
		out = TreeEntry{"", root.mode, root.oid};
		if (root.mode != kModeLink)
			cache.update(root.path, root.st, root.oid, start);
	}
	return out;
}

} // namespace pach
