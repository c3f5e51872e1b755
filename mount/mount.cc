#define FUSE_USE_VERSION 31
#include "mount/mount.h"
#include "mount/model.h"
#include "mount/ops.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"
#include "plumbing/checkout.h"

#include <fuse.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

namespace pach::mount {

std::string mounted_store(const std::string &dir);
void unmount(const std::string &dir);

namespace ops {

using namespace detail;

// Inode numbers: a staged entry's own (hard links share it; ext4's fit
// in 32 bits), else one derived from the path, with the top bit set.
ino_t path_ino(std::string_view path) { return (ino_t)(std::hash<std::string_view>()(path) | (1ull << 63)); }

void fill_stat(const Node &n, struct stat *st, std::string_view path)
{
	if (n.in_upper) {
		*st = n.ust;
		return;
	}
	memset(st, 0, sizeof *st);
	st->st_ino = path_ino(path);
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = n.mtime;
	if (n.kind != Node::k_entry || n.e.is_dir()) {
		st->st_mode = S_IFDIR | (n.kind == Node::k_entry && !n.fixed && fs()->writable() ? 0755 : 0555);
		st->st_nlink = 2;
		return;
	}
	st->st_nlink = 1;
	if (n.e.mode == kModeLink) {
		st->st_mode = S_IFLNK | 0777;
		st->st_size = (off_t)fs()->link_target(n.e.oid).size();
	} else {
		bool w = !n.fixed && fs()->writable();
		st->st_mode = S_IFREG | (n.e.mode == kModeExec ? (w ? 0755 : 0555) : (w ? 0644 : 0444));
		st->st_size = (off_t)fs()->blob_size(n.e.oid);
	}
	st->st_blocks = (st->st_size + 511) / 512;
}

Handle *handle(struct fuse_file_info *fi) { return fi ? (Handle *)fi->fh : nullptr; }

int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	return guarded([&] {
		// An open staged file: its own attributes (also once unlinked).
		if (Handle *h = handle(fi); h && h->fd) {
			if (fstat(h->fd.get(), st) < 0)
				return -errno;
			return 0;
		}
		if (!path && !(path = handle(fi) ? handle(fi)->path.c_str() : nullptr))
			return -ENOENT;
		Shared lk(fs()->stage_mu);
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		fill_stat(n, st, path);
		return 0;
	});
}

int op_readlink(const char *path, char *buf, size_t size)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		std::string t;
		if (n.in_upper) {
			std::vector<char> b(PATH_MAX + 1);
			ssize_t k = ::readlinkat(n.udir->get(), Fs::base_name(n.rel).c_str(), b.data(), b.size());
			if (k < 0)
				return -errno;
			t.assign(b.data(), (size_t)k);
		} else {
			if (n.kind != Node::k_entry || n.e.mode != kModeLink)
				return -EINVAL;
			t = fs()->link_target(n.e.oid);
		}
		size_t k = std::min(size - 1, t.size());
		memcpy(buf, t.data(), k);
		buf[k] = 0;
		return 0;
	});
}

// With nullpath_ok, readdir gets no path: opendir keeps it.
int op_opendir(const char *path, struct fuse_file_info *fi)
{
	fi->fh = (uint64_t) new std::string(path);
	return 0;
}

int op_releasedir(const char *, struct fuse_file_info *fi)
{
	delete (std::string *)fi->fh;
	return 0;
}

int op_readdir(const char *, void *buf, fuse_fill_dir_t fill, off_t, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	return guarded([&] {
		const char *path = ((std::string *)fi->fh)->c_str();
		Shared lk(fs()->stage_mu);
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		fill(buf, ".", nullptr, 0, (fuse_fill_dir_flags)0);
		fill(buf, "..", nullptr, 0, (fuse_fill_dir_flags)0);
		auto names_below = [&](const std::string &prefix) {
			std::set<std::string> out;
			for (auto &b : *fs()->branch_names(n.repo))
				if (b.compare(0, prefix.size(), prefix) == 0 && fs()->branch_allowed(n.repo, b)) {
					std::string rest = b.substr(prefix.size());
					out.insert(rest.substr(0, rest.find('/')));
				}
			return out;
		};
		if (n.kind == Node::k_root) {
			for (auto &rp : fs()->repos())
				fill(buf, rp.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
		} else if (n.kind == Node::k_repo) {
			for (auto &b : names_below(""))
				fill(buf, b.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
		} else if (n.kind == Node::k_prefix) {
			for (auto &b : names_below(n.branch_prefix + "/"))
				fill(buf, b.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
		} else {
			if (fs()->writable() && !n.fixed) {
				for (auto &name : fs()->merged_names(n))
					fill(buf, name.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
				return 0;
			}
			if (!n.e.is_dir())
				return -ENOTDIR;
			// With readdirplus the attributes come along: `ls -l` and
			// `ls -R` need no lookup per entry.
			bool plus = flags & FUSE_READDIR_PLUS;
			for (auto &e : fs()->tree(n.e.oid)->v) {
				if (plus) {
					Node c = n;
					c.e = e;
					struct stat st;
					fill_stat(c, &st, std::string(path) + "/" + e.name);
					fill(buf, e.name.c_str(), &st, 0, FUSE_FILL_DIR_PLUS);
				} else {
					fill(buf, e.name.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
				}
			}
		}
		return 0;
	});
}

// Hands an open staged file to the kernel, counted among the file's
// opens (Fs::opened decides direct I/O).
int staged_handle(std::unique_ptr<Handle> h, const char *path, int flags, bool writing, struct fuse_file_info *fi)
{
	struct stat st;
	if (fstat(h->fd.get(), &st) < 0)
		return -errno;
	h->ino = {st.st_dev, st.st_ino};
	h->writer = writing;
	h->path = path;
	h->direct = fs()->opened(h->ino, writing, (flags & O_ACCMODE) == O_WRONLY);
	h->setid = h->direct && (st.st_mode & (S_ISUID | S_ISGID));
	fi->direct_io = h->direct;
	fi->fh = (uint64_t)h.release();
	return 0;
}

// An open staged file: its descriptor, its chunk map if partial, and
// whether it counts as open for writing (kept across a commit).
int open_staged(Node &n, const char *path, int flags, bool writing, struct fuse_file_info *fi)
{
	auto h = std::make_unique<Handle>();
	h->fd = Fd(::openat(n.udir->get(), Fs::base_name(n.rel).c_str(),
			    (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_NOFOLLOW | O_CLOEXEC));
	if (!h->fd)
		return -errno;
	h->part = fs()->partial(h->fd.get());
	if (flags & O_TRUNC) {
		int r = h->part ? h->part->truncate(h->fd.get(), 0) : (::ftruncate(h->fd.get(), 0) < 0 ? -errno : 0);
		if (r)
			return r;
	}
	return staged_handle(std::move(h), path, flags, writing, fi);
}

int op_open(const char *path, struct fuse_file_info *fi)
{
	return guarded([&] {
		bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
		Shared lk(fs()->stage_mu);
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		if (writing && (n.fixed || !fs()->writable() || n.kind != Node::k_entry))
			return -EROFS;
		if (n.kind != Node::k_entry)
			return -EISDIR;
		if (writing && (r = fs()->copy_up(n, fi->flags & O_TRUNC)) != 0)
			return r;
		if (n.in_upper)
			return open_staged(n, path, fi->flags, writing, fi);
		if (n.e.is_dir())
			return -EISDIR;
		auto h = std::make_unique<Handle>();
		h->path = path;
		h->oid = n.e.oid;
		h->r = fs()->store().odb().open(n.e.oid);
		if (!h->r)
			return -EIO;
		// A commit's files never change; a branch's file may keep the
		// kernel's cached pages while it is still the same object.
		fi->keep_cache = n.fixed || fs()->same_as_last_open(path, n.e.oid);
		fi->fh = (uint64_t)h.release();
		return 0;
	});
}

int op_read(const char *, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	return guarded([&] {
		Handle *h = (Handle *)fi->fh;
		if (h->fd) {
			if (h->part)
				return (int)h->part->pread(fs()->store(), h->fd.get(), buf, size, (uint64_t)off);
			ssize_t k = pread(h->fd.get(), buf, size, off);
			return k < 0 ? -errno : (int)k;
		}
		std::unique_lock<std::mutex> g(h->mu);
		uint64_t pos = (uint64_t)off;
		if (pos >= h->r->size())
			return 0;
		// Data stored as is: where it lies in the pack is all we need,
		// and the reads themselves run in parallel (the kernel sends
		// several read-ahead requests at once).
		std::vector<std::pair<uint64_t, size_t>> ranges;
		int fd = -1;
		if (h->r->file_ranges(pos, size, ranges, &fd)) {
			// Sequential: this read starts near where the last one ended
			// (the kernel's read-ahead requests arrive a little out of
			// order).  Random reads get no prefetch and no hints: 32 MiB
			// read ahead of each would swamp the disk.
			bool seq = pos + (2 << 20) >= h->next && pos <= h->next + (2 << 20);
			h->run = seq ? h->run + 1 : 0;
			h->next = std::max(h->next, pos + size);
			if (!seq)
				h->next = pos + size;
			if (h->run >= 2 && pos > h->done)
				h->done = pos;   // jumped ahead: prefetch from here
			if (h->run >= 2)
				h->want = pos + (32 << 20);
			if (!h->prefetch.joinable() && pos > 0 && h->run >= 2)
				h->start_prefetch();   // reading on past the start: sequential
			h->cv.notify_all();
			if (h->run >= 2 && pos >= h->ahead) {
				// The kernel caps each hint at its read-ahead size, so
				// the next 32 MiB are hinted in 512 KiB pieces.
				std::vector<std::pair<uint64_t, size_t>> next;
				if (h->r->file_ranges(std::max(pos, h->hinted), pos + (32 << 20) - std::max(pos, h->hinted), next, &fd) &&
				    !next.empty()) {
					uint64_t a = next.front().first, b = next.back().first + next.back().second;
					for (uint64_t x = a; x < b; x += 512 << 10)
						posix_fadvise(fd, (off_t)x, (off_t)std::min<uint64_t>(512 << 10, b - x), POSIX_FADV_WILLNEED);
				}
				h->hinted = pos + (32 << 20);
				h->ahead = pos + (8 << 20);
			}
			g.unlock();
			size_t want = 0;
			for (auto &rg : ranges)
				want += rg.second;
			ssize_t got = pread_ranges(fd, ranges, buf);
			return got == (ssize_t)want ? (int)got : -EIO;
		}
		return (int)blob_pread(fs()->store(), h->oid, h->r, buf, size, pos);
	});
}

int op_release(const char *, struct fuse_file_info *fi)
{
	Handle *h = (Handle *)fi->fh;
	if (h->fd)
		fs()->closed(h->ino, h->writer, h->direct);
	delete h;
	return 0;
}

int op_statfs(const char *, struct statvfs *st)
{
	memset(st, 0, sizeof *st);
	st->f_bsize = 4096;
	st->f_namemax = 255;
	return 0;
}

void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	// Branches move: what the kernel caches about names and attributes
	// is looked up again after a second.
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 1;
	cfg->use_ino = 1;
	// An unlinked file that is still open is renamed .fuse_hiddenN by
	// libfuse until closed (so fstat on it works); commits leave those out.
	cfg->hard_remove = 0;
	cfg->nullpath_ok = 1;
	if (fs()->writable()) {
		// Staged files change under other names (hard links) and by
		// commits: attributes are asked for each time, and cached pages
		// of a file are dropped when it is opened again (keep_cache).
		cfg->attr_timeout = 0;
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	}
	conn->max_readahead = 1 << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->max_write = 1 << 20;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	return fuse_get_context()->private_data;
}

} // namespace ops

using namespace ops;

int serve(Store &s, const Options &o)
{
	struct stat st;
	// A mount whose process died ("Transport endpoint is not connected"):
	// clear it; what it staged is shown again below.
	if (!mounted_store(o.dir).empty()) {
		// Give a process that was just killed the moment it needs to go.
		for (int i = 0; i < 20 && ::stat(o.dir.c_str(), &st) == 0; i++)
			usleep(50000);
		if (::stat(o.dir.c_str(), &st) == 0)
			die("'{}' is already a pach mount ('pach unmount {}' first)", o.dir, o.dir);
		unmount(o.dir);
	} else if (::stat(o.dir.c_str(), &st) < 0 && errno == ENOTCONN) {
		unmount(o.dir);
	}
	if (::stat(o.dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
		die("mount point '{}' is not a directory", o.dir);
	if (::access("/dev/fuse", R_OK | W_OK) < 0)
		die("/dev/fuse is not usable here ({}); FUSE needs it", strerror(errno));
	for (auto &w : o.only) {
		std::string repo = w.substr(0, w.find('@'));
		if (s.refs("refs/heads/" + repo + "/").empty())
			die("repo '{}' not found", repo);
	}
	static struct fuse_operations ops;
	ops.getattr = op_getattr;
	ops.readlink = op_readlink;
	ops.opendir = op_opendir;
	ops.readdir = op_readdir;
	ops.releasedir = op_releasedir;
	ops.open = op_open;
	ops.read = op_read;
	ops.release = op_release;
	if (o.writable) {
		ops.write = op_write;
		ops.fsync = op_fsync;
		ops.create = op_create;
		ops.truncate = op_truncate;
		ops.unlink = op_unlink;
		ops.mkdir = op_mkdir;
		ops.rmdir = op_rmdir;
		ops.rename = op_rename;
		ops.chmod = op_chmod;
		ops.chown = op_chown;
		ops.utimens = op_utimens;
		ops.symlink = op_symlink;
		ops.link = op_link;
		ops.mknod = op_mknod;
	}
	ops.statfs = op_statfs;
	ops.init = op_init;
	std::string fsname = "fsname=pach:" + s.git_dir();
	std::vector<std::string> argv = {"pach", "-o", o.writable ? "rw" : "ro", "-o", fsname, "-o", "subtype=pach",
					 "-o", "default_permissions"};
	if (getuid() == 0)
		argv.insert(argv.end(), {"-o", "allow_other"});
	std::vector<char *> av;
	for (auto &a : argv)
		av.push_back(const_cast<char *>(a.c_str()));
	struct fuse_args args = FUSE_ARGS_INIT((int)av.size(), av.data());
	Fs ctx(s, o);
	std::string stage = stage_dir(s, o.dir);
	ctx.set_stage(stage, o.writable);
	std::unique_ptr<FileLock> serving;
	std::unique_ptr<CommitServer> server;
	if (o.writable) {
		mkdir_p(stage + "/upper");
		// Held while this mount serves: a commit from outside waits.
		serving = std::make_unique<FileLock>(stage + "/lock", FileLock::exclusive);
		write_file_atomic(stage + "/dir", absolute_path(o.dir) + "\n");
		std::error_code ec;
		if (!std::filesystem::is_empty(stage + "/upper", ec))
			fprintf(stderr, "pach mount: changes staged by an earlier mount of '%s' are back; "
					"'pach unmount' commits them\n", o.dir.c_str());
		// New entries get the modes asked for: the kernel applied the
		// caller's umask already.
		umask(0);
		server = std::make_unique<CommitServer>(stage, [&](const std::string &msg) {
			std::unique_lock<std::shared_mutex> lk(ctx.stage_mu);
			// Files open for writing stay staged (their later writes go
			// into the next commit); so do FIFOs and the like, which no
			// commit holds but the mount still shows.
			auto rep = commit_stage(s, stage, msg, [&](const struct stat &st) {
				return !S_ISREG(st.st_mode) || ctx.open_for_write({st.st_dev, st.st_ino});
			});
			ctx.forget_branches();
			return rep;
		});
	}
	// Unmounted and destroyed on every way out (a throw while starting
	// the commit server no longer leaves a dead mount behind).
	struct Fuse {
		struct fuse *f = nullptr;
		bool mounted = false, handlers = false;
		~Fuse()
		{
			if (handlers)
				fuse_remove_signal_handlers(fuse_get_session(f));
			if (mounted)
				fuse_unmount(f);
			if (f)
				fuse_destroy(f);
		}
	} fs;
	fs.f = fuse_new(&args, &ops, sizeof ops, &ctx);
	if (!fs.f)
		die("unable to start the filesystem");
	if (fuse_mount(fs.f, o.dir.c_str()) != 0)
		die("unable to mount on '{}' (already mounted? see 'pach unmount')", o.dir);
	fs.mounted = true;
	if (fuse_daemonize(o.foreground ? 1 : 0) != 0)
		die("unable to go to the background");
	if (server)
		server->start();
	fs.handlers = fuse_set_signal_handlers(fuse_get_session(fs.f)) == 0;
	int r = fuse_loop_mt(fs.f, 0);
	server.reset();
	return r == 0 ? 0 : 1;
}

} // namespace pach::mount
