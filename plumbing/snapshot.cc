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

std::string read_link_at(int dfd, const std::string &name, uint64_t size, const std::string &display)
{
	std::string target(size > 0 ? (size_t)size + 1 : 4096, '\0');
	ssize_t n = readlinkat(dfd, name.c_str(), target.data(), target.size());
	if (n < 0)
		die_errno("unable to read symlink '" + display + "'");
	target.resize((size_t)n);
	return target;
}

namespace {

// Open a file the walk stat'ed; dies if it changed since (size, mtime).
Fd open_unchanged(const std::string &path, const StatKey &walked)
{
	Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	if (!fd)
		die_errno("unable to open '" + path + "'");
	struct stat now;
	if (fstat(fd.get(), &now) < 0)
		die_errno("unable to stat '" + path + "'");
	auto k = StatKey::of(now);
	if (k.size != walked.size || k.mtime_ns != walked.mtime_ns)
		die("'{}' changed while pach was reading it", path);
	return fd;
}

constexpr size_t kStatChunk = 512;         // files stat'ed per task in a big directory
constexpr size_t kBatchFiles = 64;         // files per hashing task
constexpr uint64_t kBatchBytes = 8 << 20;  // ... or bytes
constexpr size_t kMaxHashing = 4096;       // files handed out, not yet hashed
constexpr size_t kMaxRecords = 1 << 16;    // files walked, not yet reported
constexpr size_t kReadAhead = 16;          // directories read ahead of the walk
constexpr size_t kOnePack = 256;           // files hashed into slot 0 first

struct Dir;

// One entry of a directory, as its scan found it.
struct Ent {
	std::string name;
	uint32_t mode = 0;       // git mode (kModeDir for directories)
	bool dir = false;
	bool skip = false;       // special file, vanished, or a directory with no file
	bool need_hash = false;  // not in the stat cache
	bool pending = false;    // need_hash and not hashed yet (guarded by Walk::mu_)
	StatKey st;
	Oid oid;
	std::string link;            // a symlink's target
	std::unique_ptr<Dir> scan;   // a subdirectory read ahead
};

// A directory read and its files stat'ed, by the workers.
struct Dir {
	std::string path;   // absolute
	int depth = 0;
	std::vector<Ent> ents;   // in git's tree order, which is path order
	size_t parts = 0;        // stat tasks outstanding (guarded by Walk::mu_)
	bool ready = false;      // guarded by Walk::mu_
	std::exception_ptr err;
};

// A directory being walked, or walked and waiting for its tree.
struct Frame {
	std::unique_ptr<Dir> dir;
	Frame *parent = nullptr;   // written after this one (post-order)
	size_t at = 0;             // this directory's index in the parent
	size_t next = 0;           // next entry to walk
	size_t ahead = 0;          // next entry to consider reading ahead
	size_t hashing = 0;        // files handed out (guarded by Walk::mu_)
	size_t files = 0;
};

// git's tree order: a directory sorts as if its name ended in '/'.
bool git_order(const Ent &a, const Ent &b)
{
	size_t n = std::min(a.name.size(), b.name.size());
	int c = std::memcmp(a.name.data(), b.name.data(), n);
	if (c)
		return c < 0;
	unsigned char ca = a.name.size() > n ? (unsigned char)a.name[n] : (a.dir ? '/' : 0);
	unsigned char cb = b.name.size() > n ? (unsigned char)b.name[n] : (b.dir ? '/' : 0);
	return ca < cb;
}

// The walk, in path order with bounded memory: directories are read and
// their files stat'ed by workers a little ahead of it (the stat calls are
// most of the time), files not in the stat cache are hashed by the same
// workers in batches, and each directory's tree is written as soon as
// everything below it is known, after which it is freed.  What it holds
// is the directories on the path from the root, a few read ahead, and
// the files handed out and not yet hashed -- not the whole tree.  Files
// are reported in path order (the stat cache's order), once known.
class Walk {
public:
	using Lookup = std::function<const Oid *(const std::string &path, const StatKey &)>;
	using OnFile = std::function<void(const Dir &, const Ent &)>;

	Walk(ObjectWriter *w, Lookup lookup, OnFile on_file, int workers)
		: w_(w), lookup_(std::move(lookup)), on_file_(std::move(on_file)), prog_("Reading files", 0, true),
		  pool_(workers)
	{
	}
	~Walk()
	{
		abort_ = true;   // queued tasks return at once; pool_ joins first
	}

	// The tree of root (nullopt when it holds no file).
	std::optional<Oid> run(const std::string &root);

	std::atomic<uint64_t> files_{0}, skipped_{0}, links_{0}, hashed_{0}, bytes_hashed_{0};

private:
	struct Rec {
		std::shared_ptr<Frame> f;
		uint32_t idx;
	};

	void read_dir(Dir &d, bool root);
	void stat_files(Dir &d, int dfd, size_t begin, size_t end);
	void part_done(Dir &d, std::exception_ptr err);
	void submit_read(Dir &d, bool root);
	void wait_read(Dir &d);
	void read_ahead();
	void file(const std::shared_ptr<Frame> &f, size_t i);
	void flush_batch();
	void hash_batch(const std::shared_ptr<Frame> &f, const std::vector<uint32_t> &idx, int slot);
	void report(bool all);
	bool finish_dirs(bool all);
	void throttle();
	void check_failed();

	ObjectWriter *w_;
	Lookup lookup_;
	OnFile on_file_;
	Progress prog_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::atomic<bool> abort_{false};
	std::vector<std::shared_ptr<Frame>> stack_;   // root first
	std::deque<std::shared_ptr<Frame>> done_;     // walked, tree not yet written
	std::deque<Rec> recs_;                        // walked, not yet reported
	std::shared_ptr<Frame> batch_frame_;
	std::vector<uint32_t> batch_;
	uint64_t batch_bytes_ = 0;
	size_t handed_ = 0;     // files handed out for hashing so far
	size_t hashing_ = 0;    // guarded by mu_
	std::exception_ptr err_;   // a hashing task's (guarded by mu_)
	size_t reading_ = 0;    // directories read ahead, not yet walked
	std::optional<Oid> root_tree_;
	std::string path_;
	TaskPool pool_;         // last: joined before the rest goes
};

void Walk::check_failed()
{
	std::exception_ptr e;
	{
		std::lock_guard<std::mutex> g(mu_);
		e = err_;
	}
	if (e)
		std::rethrow_exception(e);
	if (pool_.failed())
		pool_.rethrow_if_failed();
}

void Walk::part_done(Dir &d, std::exception_ptr err)
{
	std::lock_guard<std::mutex> g(mu_);
	if (err && !d.err)
		d.err = err;
	if (--d.parts == 0) {
		d.ready = true;
		cv_.notify_all();
	}
}

void Walk::submit_read(Dir &d, bool root)
{
	d.parts = 1;
	pool_.submit([this, &d, root](int) {
		std::exception_ptr err;
		try {
			if (!abort_)
				read_dir(d, root);
		} catch (...) {
			err = std::current_exception();
		}
		part_done(d, err);
	});
}

void Walk::wait_read(Dir &d)
{
	std::unique_lock<std::mutex> g(mu_);
	cv_.wait(g, [&] { return d.ready; });
	if (d.err)
		std::rethrow_exception(d.err);
}

void Walk::read_dir(Dir &d, bool root)
{
	int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (root ? 0 : O_NOFOLLOW);
	auto fd = std::make_shared<Fd>(::open(d.path.c_str(), flags));
	if (!*fd)
		die_errno("unable to open directory '" + d.path + "'");
	// Names sorted first, then the entries made in order (sorting the
	// entries themselves moved ~150 bytes each, log n times).
	std::vector<Ent> names;
	size_t nfiles = 0;
	{
		DirStream ds{Fd(dup(fd->get()))};
		if (!ds)
			die_errno("unable to read directory '" + d.path + "'");
		while (struct dirent *e = ds.next()) {
			Ent k;
			k.name = e->d_name;
			if (!valid_tree_name(k.name) || k.name == ".pach") {
				// git refuses ".git" in trees; a store never snapshots itself.
				skipped_++;
				continue;
			}
			unsigned char type = e->d_type;
			if (type == DT_UNKNOWN) {
				struct stat st;
				if (fstatat(fd->get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
					die_errno("unable to stat '" + d.path + "/" + k.name + "'");
				type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
			}
			if (type == DT_DIR) {
				k.dir = true;
				k.mode = kModeDir;
				// What pach writes it must read back (see kMaxTreeDepth).
				if (d.depth + 1 > kMaxTreeDepth)
					die("'{}/{}' is nested more than {} directories deep", d.path, k.name, kMaxTreeDepth);
			} else {
				nfiles++;
			}
			names.push_back(std::move(k));
		}
	}
	std::vector<uint32_t> order(names.size());
	for (uint32_t i = 0; i < order.size(); i++)
		order[i] = i;
	std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return git_order(names[a], names[b]); });
	d.ents.reserve(names.size());
	for (uint32_t i : order)
		d.ents.push_back(std::move(names[i]));
	// Big directories are stat'ed by every worker.
	if (nfiles > 2 * kStatChunk && pool_.workers() > 1) {
		size_t n = d.ents.size();
		{
			std::lock_guard<std::mutex> g(mu_);
			d.parts += (n + kStatChunk - 1) / kStatChunk;
		}
		for (size_t b = 0; b < n; b += kStatChunk)
			pool_.submit([this, &d, fd, b, n](int) {
				std::exception_ptr err;
				try {
					if (!abort_)
						stat_files(d, fd->get(), b, std::min(n, b + kStatChunk));
				} catch (...) {
					err = std::current_exception();
				}
				part_done(d, err);
			});
		return;
	}
	stat_files(d, fd->get(), 0, d.ents.size());
}

void Walk::stat_files(Dir &d, int dfd, size_t begin, size_t end)
{
	for (size_t i = begin; i < end; i++) {
		Ent &k = d.ents[i];
		if (k.dir)
			continue;
		struct stat st;
		if (fstatat(dfd, k.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
			die_errno("unable to stat '" + d.path + "/" + k.name + "'");
		k.st = StatKey::of(st);
		if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			k.mode = git_mode_of(st.st_mode);
			if (S_ISLNK(st.st_mode)) {
				k.link = read_link_at(dfd, k.name, (uint64_t)st.st_size, d.path + "/" + k.name);
			}
			continue;
		}
		k.skip = true;
		skipped_++;
		// One that became a directory since readdir is left out quietly.
		if (!S_ISDIR(st.st_mode))
			warning("skipping '" + d.path + "/" + k.name + "': not a regular file, directory or symlink");
	}
}

// Read ahead the next directories the walk will enter: first those of
// the deepest directory, then its parent's, and so on up.
void Walk::read_ahead()
{
	for (size_t s = stack_.size(); s-- > 0 && reading_ < kReadAhead;) {
		Frame &f = *stack_[s];
		auto &ents = f.dir->ents;
		f.ahead = std::max(f.ahead, f.next);
		for (; f.ahead < ents.size() && reading_ < kReadAhead; f.ahead++) {
			Ent &e = ents[f.ahead];
			if (!e.dir || e.scan)
				continue;
			e.scan = std::make_unique<Dir>();
			e.scan->path = f.dir->path + "/" + e.name;
			e.scan->depth = f.dir->depth + 1;
			reading_++;
			submit_read(*e.scan, false);
		}
	}
}

void Walk::file(const std::shared_ptr<Frame> &fp, size_t i)
{
	Frame &f = *fp;
	Ent &e = f.dir->ents[i];
	files_++;
	f.files++;
	recs_.push_back({fp, (uint32_t)i});
	if (e.mode == kModeLink) {
		links_++;
		e.oid = w_ ? w_->blob(e.link.data(), e.link.size()) : hash_object(ObjType::blob, e.link.data(), e.link.size());
		return;
	}
	path_.assign(f.dir->path);
	path_ += '/';
	path_ += e.name;
	if (const Oid *o = lookup_ ? lookup_(path_, e.st) : nullptr) {
		e.oid = *o;
		return;
	}
	e.need_hash = e.pending = true;
	if (batch_frame_ != fp)
		flush_batch();
	batch_frame_ = fp;
	batch_.push_back((uint32_t)i);
	batch_bytes_ += e.st.size;
	{
		std::lock_guard<std::mutex> g(mu_);
		f.hashing++;
		hashing_++;
	}
	if (batch_.size() >= kBatchFiles || batch_bytes_ >= kBatchBytes)
		flush_batch();
}

void Walk::flush_batch()
{
	if (batch_.empty())
		return;
	// The first few hundred files go to slot 0's pack, where the trees go
	// too: a small commit makes one pack (one object to push), as before.
	bool small = handed_ < kOnePack;
	handed_ += batch_.size();
	pool_.submit([this, f = std::move(batch_frame_), idx = std::move(batch_), small](int slot) {
		hash_batch(f, idx, small ? 0 : slot);
	});
	batch_frame_.reset();
	batch_.clear();
	batch_bytes_ = 0;
}

void Walk::hash_batch(const std::shared_ptr<Frame> &fp, const std::vector<uint32_t> &idx, int slot)
{
	Dir &d = *fp->dir;
	std::exception_ptr err;
	uint64_t bytes = 0;
	try {
		for (uint32_t i : idx) {
			if (abort_)
				break;
			Ent &e = d.ents[i];
			const std::string path = d.path + "/" + e.name;
			Fd fd = open_unchanged(path, e.st);
			const StatKey &k = e.st;
			struct stat now;
			if (e.st.size > (1 << 20))
				posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
			auto progress = [&](size_t b) { prog_.add(0, b); };
			e.oid = w_ ? w_->blob_from_fd(fd.get(), e.st.size, path, slot, progress)
				   : hash_fd(fd.get(), e.st.size, path, progress);
			if (fstat(fd.get(), &now) == 0) {
				auto after = StatKey::of(now);
				if (after.mtime_ns != k.mtime_ns || after.size != k.size)
					die("'{}' changed while pach was reading it", path);
			}
			bytes += e.st.size;
		}
	} catch (...) {
		err = std::current_exception();
	}
	hashed_ += idx.size();
	bytes_hashed_ += bytes;
	{
		// The error is known before the files count as done: no tree is
		// written with the ids they lack.
		std::lock_guard<std::mutex> g(mu_);
		if (err && !err_)
			err_ = err;
		for (uint32_t i : idx)
			d.ents[i].pending = false;
		fp->hashing -= idx.size();
		hashing_ -= idx.size();
	}
	cv_.notify_all();
}

// Report walked files in order, as far as they are known (all: wait).
void Walk::report(bool all)
{
	std::unique_lock<std::mutex> g(mu_);
	while (!recs_.empty()) {
		Rec &r = recs_.front();
		const Ent &e = r.f->dir->ents[r.idx];
		if (e.pending) {
			if (!all)
				return;
			cv_.wait(g, [&] { return !e.pending; });
			g.unlock();
			check_failed();
			g.lock();
			continue;
		}
		g.unlock();
		if (on_file_)
			on_file_(*r.f->dir, e);
		recs_.pop_front();
		g.lock();
	}
}

// Write the trees of walked directories whose files are all known, in
// the order they were walked (children first).  False when one is not.
bool Walk::finish_dirs(bool all)
{
	while (!done_.empty()) {
		Frame &f = *done_.front();
		{
			std::unique_lock<std::mutex> g(mu_);
			if (f.hashing) {
				if (!all)
					return false;
				cv_.wait(g, [&] { return f.hashing == 0; });
			}
		}
		check_failed();
		std::optional<Oid> tree;
		if (w_) {
			std::vector<TreeEntry> entries;
			entries.reserve(f.dir->ents.size());
			for (auto &e : f.dir->ents)
				if (!e.skip)
					entries.push_back({e.name, e.mode, e.oid});
			if (!entries.empty())
				tree = w_->tree(entries);
		}
		if (f.parent) {
			Ent &pe = f.parent->dir->ents[f.at];
			if (tree)
				pe.oid = *tree;
			else
				pe.skip = true;
		} else {
			root_tree_ = tree;
		}
		prog_.add(f.files);
		// Entries stay until reported (recs_ holds the frame).
		done_.pop_front();
	}
	return true;
}

// Keep what is handed out and not reported within bounds.
void Walk::throttle()
{
	report(false);
	finish_dirs(false);
	while (hashing_ > kMaxHashing || recs_.size() > kMaxRecords) {
		flush_batch();
		{
			std::unique_lock<std::mutex> g(mu_);
			if (!recs_.empty() && recs_.front().f->dir->ents[recs_.front().idx].pending)
				cv_.wait(g, [&] { return !recs_.front().f->dir->ents[recs_.front().idx].pending; });
		}
		check_failed();
		report(false);
		finish_dirs(false);
	}
}

std::optional<Oid> Walk::run(const std::string &root)
{
	auto rd = std::make_unique<Dir>();
	rd->path = root;
	submit_read(*rd, true);
	wait_read(*rd);
	auto top = std::make_shared<Frame>();
	top->dir = std::move(rd);
	stack_.push_back(top);
	read_ahead();
	while (!stack_.empty()) {
		std::shared_ptr<Frame> fp = stack_.back();
		Frame &f = *fp;
		if (f.next == f.dir->ents.size()) {
			flush_batch();
			done_.push_back(std::move(stack_.back()));
			stack_.pop_back();
			finish_dirs(false);
			continue;
		}
		size_t i = f.next++;
		Ent &e = f.dir->ents[i];
		if (e.skip)
			continue;
		if (!e.dir) {
			file(fp, i);
			if ((files_ & 63) == 0)
				throttle();
			continue;
		}
		flush_batch();
		if (!e.scan) {
			e.scan = std::make_unique<Dir>();
			e.scan->path = f.dir->path + "/" + e.name;
			e.scan->depth = f.dir->depth + 1;
			reading_++;
			submit_read(*e.scan, false);
		}
		wait_read(*e.scan);
		reading_--;
		auto c = std::make_shared<Frame>();
		c->dir = std::move(e.scan);
		c->parent = &f;
		c->at = i;
		stack_.push_back(std::move(c));
		read_ahead();
		throttle();
	}
	flush_batch();
	report(true);
	finish_dirs(true);
	check_failed();
	prog_.done();
	return root_tree_;
}

// A file or symlink named as the root: its entry (mode 0: neither).
TreeEntry one_file(ObjectWriter *w, const std::string &path, const struct stat &st, const Oid *cached)
{
	TreeEntry e{"", 0, {}};
	if (S_ISLNK(st.st_mode)) {
		std::string target = read_link_at(AT_FDCWD, path, (uint64_t)st.st_size, path);
		e.mode = kModeLink;
		e.oid = w ? w->blob(target.data(), target.size()) : hash_object(ObjType::blob, target.data(), target.size());
		return e;
	}
	if (!S_ISREG(st.st_mode))
		return e;
	e.mode = git_mode_of(st.st_mode);
	if (cached) {
		e.oid = *cached;
		return e;
	}
	Fd fd = open_unchanged(path, StatKey::of(st));
	Progress prog("Reading files", 1, true);
	prog.set_total_bytes((uint64_t)st.st_size);
	auto progress = [&](size_t b) { prog.add(0, b); };
	e.oid = w ? w->blob_from_fd(fd.get(), (uint64_t)st.st_size, path, 0, progress)
		  : hash_fd(fd.get(), (uint64_t)st.st_size, path, progress);
	prog.add(1);
	prog.done();
	return e;
}

int pick_workers(int workers)
{
	return workers > 0 ? workers : cpu_workers();
}

} // namespace

std::optional<TreeEntry> snapshot(Store &, ObjectWriter &w, const std::string &src, StatCacheStream &cache,
				  SnapshotStats *stats, int workers)
{
	int64_t start = now_ns();
	struct stat st;
	if (lstat(src.c_str(), &st) < 0)
		die_errno("unable to stat '" + src + "'");
	// A symlink named on the command line is followed (its target is what
	// the user means); symlinks inside a directory never are.
	if (S_ISLNK(st.st_mode) && stat(src.c_str(), &st) < 0)
		die_errno("unable to follow symlink '" + src + "'");
	std::string root = absolute_path(src);
	if (!S_ISDIR(st.st_mode)) {
		cache.begin("", start);
		auto k = StatKey::of(st);
		const Oid *hit = S_ISREG(st.st_mode) ? cache.lookup(root, k) : nullptr;
		TreeEntry e = one_file(&w, root, st, hit);
		if (!e.mode)
			die("'{}' is not a regular file, directory or symlink", src);
		if (stats) {
			stats->files++;
			stats->hashed += !hit;
			stats->bytes_hashed += hit ? 0 : (uint64_t)st.st_size;
		}
		if (e.mode != kModeLink)
			cache.keep(root, k, e.oid);
		cache.end();
		return e;
	}
	cache.begin(root, start);
	Walk walk(
		&w, [&](const std::string &p, const StatKey &k) { return cache.lookup(p, k); },
		[&](const Dir &d, const Ent &e) {
			if (e.mode != kModeLink)
				cache.keep(d.path + "/" + e.name, e.st, e.oid);
		},
		pick_workers(workers));
	auto tree = walk.run(root);
	trace_point("snapshot walked");
	cache.end();
	if (stats) {
		stats->files += walk.files_;
		stats->skipped += walk.skipped_;
		stats->links += walk.links_;
		stats->hashed += walk.hashed_;
		stats->bytes_hashed += walk.bytes_hashed_;
	}
	if (!tree)
		return std::nullopt;
	return TreeEntry{"", kModeDir, *tree};
}

void scan_each(Store &, ObjectWriter *w, const std::string &src, const CacheLookup &lookup,
	       const std::function<void(ScannedFile &&)> &fn, int workers)
{
	struct stat st;
	if (lstat(src.c_str(), &st) < 0) {
		if (errno == ENOENT)
			return;
		die_errno("unable to stat '" + src + "'");
	}
	// Not resolved: src may be a symlink, which is what is scanned.
	std::string root = !src.empty() && src[0] == '/' ? src : absolute_path(src);
	if (!S_ISDIR(st.st_mode)) {
		auto k = StatKey::of(st);
		const Oid *hit = S_ISREG(st.st_mode) && lookup ? lookup(root, k) : nullptr;
		TreeEntry e = one_file(w, root, st, hit);
		if (e.mode)
			fn({"", e.mode, e.oid, k, !hit && e.mode != kModeLink});
		return;
	}
	Walk walk(
		w, lookup,
		[&](const Dir &d, const Ent &e) {
			std::string p = d.path.size() > root.size() ? d.path.substr(root.size() + 1) + "/" + e.name : e.name;
			fn({std::move(p), e.mode, e.oid, e.st, e.need_hash});
		},
		pick_workers(workers));
	walk.run(root);
}

std::vector<ScannedFile> scan_files(Store &s, ObjectWriter *w, const std::string &src, StatCache &cache, int workers)
{
	std::vector<ScannedFile> out;
	size_t hint = 0;
	scan_each(
		s, w, src, [&](const std::string &p, const StatKey &k) { return cache.lookup(p, k, &hint); },
		[&](ScannedFile &&f) { out.push_back(std::move(f)); }, workers);
	return out;
}

} // namespace pach
