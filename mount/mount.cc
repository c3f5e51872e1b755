#define FUSE_USE_VERSION 31
#include "mount/mount.h"
#include "mount/model.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"
#include "plumbing/checkout.h"
#include "porcelain/commit.h"

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
#include <unordered_map>

namespace pach::mount {

std::string mounted_store(const std::string &dir);
void unmount(const std::string &dir);

namespace {

using namespace detail;

Fs *fs() { return static_cast<Fs *>(fuse_get_context()->private_data); }

// Errors inside a callback become EIO; the filesystem keeps serving.
template <class F> int guarded(F f)
{
	try {
		return f();
	} catch (const std::exception &e) {
		fprintf(stderr, "pach mount: %s\n", e.what());
		return -EIO;
	}
}

void fill_stat(const Node &n, struct stat *st)
{
	if (!n.upper.empty() && ::lstat(n.upper.c_str(), st) == 0) {
		st->st_uid = getuid();
		st->st_gid = getgid();
		st->st_ino = 0;
		return;
	}
	memset(st, 0, sizeof *st);
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

int op_getattr(const char *path, struct stat *st, struct fuse_file_info *)
{
	return guarded([&] {
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		fill_stat(n, st);
		return 0;
	});
}

int op_readlink(const char *path, char *buf, size_t size)
{
	return guarded([&] {
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		std::string t;
		if (!n.upper.empty()) {
			char b[4096];
			ssize_t k = ::readlink(n.upper.c_str(), b, sizeof b);
			if (k < 0)
				return -errno;
			t.assign(b, (size_t)k);
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

int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t, struct fuse_file_info *, enum fuse_readdir_flags flags)
{
	return guarded([&] {
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
					fill_stat(c, &st);
					fill(buf, e.name.c_str(), &st, 0, FUSE_FILL_DIR_PLUS);
				} else {
					fill(buf, e.name.c_str(), nullptr, 0, (fuse_fill_dir_flags)0);
				}
			}
		}
		return 0;
	});
}

int op_open(const char *path, struct fuse_file_info *fi)
{
	return guarded([&] {
		bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		if (writing && (n.fixed || !fs()->writable() || n.kind != Node::k_entry))
			return -EROFS;
		if (n.kind != Node::k_entry)
			return -EISDIR;
		if (writing && (r = fs()->copy_up(n)) != 0)
			return r;
		if (!n.upper.empty()) {
			auto h = std::make_unique<Handle>();
			h->fd = Fd(::open(n.upper.c_str(), (fi->flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC));
			if (!h->fd)
				return -errno;
			fi->fh = (uint64_t)h.release();
			return 0;
		}
		if (n.e.is_dir())
			return -EISDIR;
		auto h = std::make_unique<Handle>();
		h->oid = n.e.oid;
		h->r = fs()->store().odb().open(n.e.oid);
		if (!h->r)
			return -EIO;
		std::vector<std::pair<uint64_t, size_t>> first;
		int pfd = -1;
		if (h->r->file_ranges(0, 1, first, &pfd))
			posix_fadvise(pfd, 0, 0, POSIX_FADV_SEQUENTIAL);   // a larger read-ahead window
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
			if (pos > h->done)
				h->done = pos;   // jumped ahead: prefetch from here
			h->want = pos + (32 << 20);
			if (!h->prefetch.joinable() && pos > 0)
				h->start_prefetch();   // reading on past the start: sequential
			h->cv.notify_all();
			if (pos >= h->ahead) {
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
			size_t got = 0;
			for (auto &[at, len] : ranges) {
				ssize_t k = pread(fd, buf + got, len, (off_t)at);
				if (k != (ssize_t)len)
					return -EIO;
				got += len;
			}
			return (int)got;
		}
		if (h->r->position() != pos && !h->r->seek(pos)) {
			if (pos < h->r->position())
				h->r = fs()->store().odb().open(h->oid);
			h->r->skip(pos - h->r->position());
		}
		size_t got = 0;
		while (got < size) {
			size_t k = h->r->read(buf + got, size - got);
			if (!k)
				break;
			got += k;
		}
		return (int)got;
	});
}

int op_write(const char *, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	Handle *h = (Handle *)fi->fh;
	if (!h->fd)
		return -EBADF;
	ssize_t k = pwrite(h->fd.get(), buf, size, off);
	return k < 0 ? -errno : (int)k;
}

int op_fsync(const char *, int, struct fuse_file_info *fi)
{
	Handle *h = (Handle *)fi->fh;
	return h->fd && fsync(h->fd.get()) < 0 ? -errno : 0;
}

// The parent of a new name must be a directory of a writable branch.
int parent_of(const char *path, Node &pn, std::string &name)
{
	std::string p = path;
	auto slash = p.find_last_of('/');
	name = p.substr(slash + 1);
	std::string parent = slash == 0 ? "/" : p.substr(0, slash);
	if (name.compare(0, 4, ".wh.") == 0)
		return -EINVAL;   // reserved for the staging area's deletions
	if (name.size() > kMaxNameBytes)
		return -ENAMETOOLONG;
	// What cannot be read back from a commit (.git, .pach, *.pach-tmp)
	// is never written into one.
	if (!valid_tree_name(name))
		return -EINVAL;
	int r = fs()->resolve(parent.c_str(), pn);
	if (r)
		return r;
	if (pn.kind != Node::k_entry || pn.fixed || !fs()->writable())
		return -EROFS;
	struct stat st;
	fill_stat(pn, &st);
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return guarded([&] {
		Node pn;
		std::string name;
		int r = parent_of(path, pn, name);
		if (r)
			return r;
		std::string dir = fs()->upper_dir(pn);
		::unlink((dir + "/.wh." + name).c_str());
		auto h = std::make_unique<Handle>();
		h->fd = Fd(::open((dir + "/" + name).c_str(), fi->flags | O_CREAT | O_CLOEXEC, mode & 0777));
		if (!h->fd)
			return -errno;
		fi->fh = (uint64_t)h.release();
		return 0;
	});
}

int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return guarded([&] {
		if (fi && ((Handle *)fi->fh)->fd)
			return ftruncate(((Handle *)fi->fh)->fd.get(), size) < 0 ? -errno : 0;
		Node n;
		int r = fs()->resolve(path, n);
		if (!r && (r = fs()->copy_up(n)) == 0 && ::truncate(n.upper.c_str(), size) < 0)
			r = -errno;
		return r;
	});
}

// An existing entry of a writable branch (not its root), with its attributes.
int writable_entry(const char *path, Node &n, struct stat &st)
{
	int r = fs()->resolve(path, n);
	if (r)
		return r;
	if (n.kind != Node::k_entry || n.fixed || !fs()->writable() || n.rel.empty())
		return -EROFS;
	fill_stat(n, &st);
	return 0;
}

int op_unlink(const char *path)
{
	return guarded([&] {
		Node n;
		struct stat st;
		int r = writable_entry(path, n, st);
		if (r)
			return r;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return fs()->remove_entry(n, false);
	});
}

int op_mkdir(const char *path, mode_t mode)
{
	return guarded([&] {
		Node pn, n;
		std::string name;
		int r = parent_of(path, pn, name);
		if (r)
			return r;
		if (fs()->resolve(path, n) == 0)
			return -EEXIST;
		std::string dir = fs()->upper_dir(pn);
		bool was_deleted = ::unlink((dir + "/.wh." + name).c_str()) == 0;
		if (::mkdir((dir + "/" + name).c_str(), mode & 0777) < 0)
			return -errno;
		// A deleted directory made again starts empty.
		if (was_deleted)
			Fd(::open((dir + "/" + name + "/.wh..wh..opq").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		return 0;
	});
}

int op_rmdir(const char *path)
{
	return guarded([&] {
		Node n;
		struct stat st;
		int r = writable_entry(path, n, st);
		if (r)
			return r;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (!fs()->merged_names(n).empty())
			return -ENOTEMPTY;
		return fs()->remove_entry(n, true);
	});
}

int op_rename(const char *from, const char *to, unsigned int flags)
{
	return guarded([&] {
		if (flags & ~RENAME_NOREPLACE)
			return -EINVAL;
		Node nf, nt, pn;
		std::string name;
		struct stat st;
		int r = writable_entry(from, nf, st);
		if (r)
			return r;
		if (S_ISDIR(st.st_mode))
			return -EXDEV;   // mv copies directories then
		if ((r = parent_of(to, pn, name)) != 0)
			return r;
		if (fs()->resolve(to, nt) == 0) {
			if (flags & RENAME_NOREPLACE)
				return -EEXIST;
			struct stat tt;
			fill_stat(nt, &tt);
			if (S_ISDIR(tt.st_mode))
				return -EISDIR;
		}
		if ((r = fs()->copy_up(nf)) != 0)
			return r;
		std::string dir = fs()->upper_dir(pn);
		::unlink((dir + "/.wh." + name).c_str());
		if (::rename(nf.upper.c_str(), (dir + "/" + name).c_str()) < 0)
			return -errno;
		if (nf.lower)
			fs()->whiteout(nf);
		return 0;
	});
}

int op_chmod(const char *path, mode_t mode, struct fuse_file_info *)
{
	return guarded([&] {
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		if (n.kind != Node::k_entry || n.fixed || !fs()->writable())
			return -EROFS;
		if ((r = fs()->copy_up(n)) != 0)
			return r;
		return ::chmod(n.upper.c_str(), mode & 07777) < 0 ? -errno : 0;
	});
}

int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *)
{
	return guarded([&] {
		Node n;
		int r = fs()->resolve(path, n);
		if (r)
			return r;
		// git keeps no times; a staged file keeps what it is told.
		if (!n.upper.empty() && utimensat(AT_FDCWD, n.upper.c_str(), tv, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	});
}

int op_symlink(const char *target, const char *path)
{
	return guarded([&] {
		Node pn, n;
		std::string name;
		int r = parent_of(path, pn, name);
		if (r)
			return r;
		if (fs()->resolve(path, n) == 0)
			return -EEXIST;
		std::string dir = fs()->upper_dir(pn);
		::unlink((dir + "/.wh." + name).c_str());
		return ::symlink(target, (dir + "/" + name).c_str()) < 0 ? -errno : 0;
	});
}

int op_release(const char *, struct fuse_file_info *fi)
{
	delete (Handle *)fi->fh;
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
	cfg->use_ino = 0;
	conn->max_readahead = 1 << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->max_write = 1 << 20;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	return fuse_get_context()->private_data;
}

} // namespace

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
	ops.readdir = op_readdir;
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
		ops.utimens = op_utimens;
		ops.symlink = op_symlink;
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
	if (o.writable) {
		mkdir_p(stage + "/upper");
		write_file_atomic(stage + "/dir", absolute_path(o.dir) + "\n");
		std::error_code ec;
		if (!std::filesystem::is_empty(stage + "/upper", ec))
			fprintf(stderr, "pach mount: changes staged by an earlier mount of '%s' are back; "
					"'pach unmount' commits them\n", o.dir.c_str());
	}
	struct fuse *f = fuse_new(&args, &ops, sizeof ops, &ctx);
	if (!f)
		die("unable to start the filesystem");
	if (fuse_mount(f, o.dir.c_str()) != 0) {
		fuse_destroy(f);
		die("unable to mount on '{}' (already mounted? see 'pach unmount')", o.dir);
	}
	if (fuse_daemonize(o.foreground ? 1 : 0) != 0) {
		fuse_unmount(f);
		fuse_destroy(f);
		die("unable to go to the background");
	}
	fuse_set_signal_handlers(fuse_get_session(f));
	int r = fuse_loop_mt(f, 0);
	fuse_remove_signal_handlers(fuse_get_session(f));
	fuse_unmount(f);
	fuse_destroy(f);
	return r == 0 ? 0 : 1;
}

} // namespace pach::mount
