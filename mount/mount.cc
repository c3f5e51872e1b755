#define FUSE_USE_VERSION 31
#include "mount/mount.h"
#include "mount/model.h"

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

using Shared = std::shared_lock<std::shared_mutex>;

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
			size_t got = 0;
			for (auto &[at, len] : ranges) {
				ssize_t k = pread(fd, buf + got, len, (off_t)at);
				if (k != (ssize_t)len)
					return -EIO;
				got += len;
			}
			return (int)got;
		}
		return (int)blob_pread(fs()->store(), h->oid, h->r, buf, size, pos);
	});
}

// A write by another user clears the set-user-ID bit, and set-group-ID
// with group execute (as Linux does; for direct writes the kernel leaves
// it to us).
void drop_setid(Handle *h)
{
	struct stat st;
	h->setid = false;
	if (fstat(h->fd.get(), &st) < 0)
		return;
	mode_t m = st.st_mode & 07777, kill = S_ISUID | ((m & S_IXGRP) ? S_ISGID : 0);
	if (m & kill)
		fchmod(h->fd.get(), m & ~kill);
}

int op_write(const char *, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	return guarded([&] {
		Handle *h = (Handle *)fi->fh;
		if (!h->fd)
			return -EBADF;
		Shared lk(fs()->stage_mu);
		if (h->setid && fuse_get_context()->uid != 0)
			drop_setid(h);
		ssize_t k = h->part ? h->part->pwrite(fs()->store(), h->fd.get(), buf, size, (uint64_t)off)
				    : pwrite(h->fd.get(), buf, size, off);
		if (k <= 0)
			return k < 0 ? (h->part ? (int)k : -errno) : 0;
		if (h->direct && fs()->cached_opens(h->ino))
			fuse_invalidate_path(fuse_get_context()->fuse, h->path.c_str());
		if (h->part)
			return (int)k;
		// A file written from start to end (cp, dd, a program saving its
		// output) has each 16 MiB it completes sent on to the disk: an
		// fsync or a commit then finds little left to wait for, where a
		// plain file's writer would have the whole file to flush.
		uint64_t end = (uint64_t)off + (uint64_t)k, block = 16 << 20;
		if (h->wend.exchange(end) == (uint64_t)off && end / block != (uint64_t)off / block && off >= (off_t)block)
			sync_file_range(h->fd.get(), (off_t)(end / block - 1) * block, (off_t)block, SYNC_FILE_RANGE_WRITE);
		return (int)k;
	});
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
	if (name.size() > kMaxNameBytes)
		return -ENAMETOOLONG;
	if (name.compare(0, 4, ".wh.") == 0)
		return -EINVAL;   // reserved for the staging area's deletions
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
	fill_stat(pn, &st, "");
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

// The staged directory a new name goes into (made if missing), with a
// deletion of that name there undone; `was_deleted` says if it was.
Fd new_name_dir(Node &pn, const std::string &name, bool *was_deleted = nullptr)
{
	Fd d = fs()->upper_dir(pn, pn.rel);
	bool gone = ::unlinkat(d.get(), (".wh." + name).c_str(), 0) == 0;
	if (was_deleted)
		*was_deleted = gone;
	return d;
}

// A new entry belongs to the caller (the group of a set-group-ID
// directory, as Linux does), with the mode asked for: the kernel already
// applied the caller's umask, the mount's own is 0.
int own_new(int dirfd, const std::string &name, mode_t mode, bool is_link)
{
	auto *c = fuse_get_context();
	struct stat pst;
	if (fstat(dirfd, &pst) < 0)
		return -errno;
	gid_t gid = (pst.st_mode & S_ISGID) ? pst.st_gid : c->gid;
	if (fchownat(dirfd, name.c_str(), c->uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return -errno;
	if (is_link)
		return 0;
	if (S_ISDIR(mode) && (pst.st_mode & S_ISGID))
		mode |= S_ISGID;
	return fchmodat(dirfd, name.c_str(), mode & 07777, 0) < 0 ? -errno : 0;
}

int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		Node pn;
		std::string name;
		int r = parent_of(path, pn, name);
		if (r)
			return r;
		Fd dir = new_name_dir(pn, name);
		Fd f(::openat(dir.get(), name.c_str(), (fi->flags & ~O_TRUNC) | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode & 07777));
		if (!f)
			return -errno;
		if ((r = own_new(dir.get(), name, mode, false)) != 0)
			return r;
		auto h = std::make_unique<Handle>();
		h->fd = std::move(f);
		return staged_handle(std::move(h), path, fi->flags, true, fi);
	});
}

// An existing entry of a writable branch (its root only if allow_root).
int writable_entry(const char *path, Node &n, struct stat &st, bool allow_root = false)
{
	int r = fs()->resolve(path, n);
	if (r)
		return r;
	if (n.kind != Node::k_entry || n.fixed || !fs()->writable() || (n.rel.empty() && !allow_root))
		return n.rel.empty() && n.kind == Node::k_entry && !n.fixed && fs()->writable() ? -EBUSY : -EROFS;
	fill_stat(n, &st, "");
	return 0;
}

int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		if (Handle *h = handle(fi); h && h->fd)
			return h->part ? h->part->truncate(h->fd.get(), (uint64_t)size)
				       : (ftruncate(h->fd.get(), size) < 0 ? -errno : 0);
		if (!path && !(path = handle(fi) ? handle(fi)->path.c_str() : nullptr))
			return -ENOENT;
		Node n;
		struct stat st;
		int r = writable_entry(path, n, st);
		if (r || (r = fs()->copy_up(n, size == 0)) != 0)
			return r;
		Fd f(::openat(n.udir->get(), Fs::base_name(n.rel).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
		if (!f)
			return -errno;
		auto part = fs()->partial(f.get());
		return part ? part->truncate(f.get(), (uint64_t)size) : (ftruncate(f.get(), size) < 0 ? -errno : 0);
	});
}

int op_unlink(const char *path)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
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

// A new name (directory, node, symlink) in a writable branch: made by
// make(dirfd, name, was_deleted) in the staged parent.
template <class F> int make_new(const char *path, F make)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		Node pn, n;
		std::string name;
		int r = parent_of(path, pn, name);
		if (r)
			return r;
		if (fs()->resolve(path, n) == 0)
			return -EEXIST;
		bool was_deleted = false;
		Fd dir = new_name_dir(pn, name, &was_deleted);
		return make(dir.get(), name, was_deleted);
	});
}

int op_mkdir(const char *path, mode_t mode)
{
	return make_new(path, [&](int dir, const std::string &name, bool was_deleted) {
		if (::mkdirat(dir, name.c_str(), mode & 07777) < 0)
			return -errno;
		// A deleted directory made again starts empty.
		if (was_deleted)
			write_opaque(dir, name);
		return own_new(dir, name, S_IFDIR | (mode & 07777), false);
	});
}

int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	// FIFOs, sockets and devices live in the mount only: a commit cannot
	// hold them (it says so, and leaves them out).
	return make_new(path, [&](int dir, const std::string &name, bool) {
		if (::mknodat(dir, name.c_str(), mode, rdev) < 0)
			return -errno;
		return own_new(dir, name, mode, false);
	});
}

int op_rmdir(const char *path)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
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
			return -EINVAL;   // RENAME_EXCHANGE, RENAME_WHITEOUT
		Shared lk(fs()->stage_mu);
		Node nf, nt, pn;
		std::string name;
		struct stat st, tt;
		int r = writable_entry(from, nf, st);
		if (r)
			return r;
		if ((r = parent_of(to, pn, name)) != 0)
			return r;
		bool dir = S_ISDIR(st.st_mode), exists = fs()->resolve(to, nt) == 0;
		if (exists) {
			if (flags & RENAME_NOREPLACE)
				return -EEXIST;
			fill_stat(nt, &tt, "");
			if (nf.in_upper && nt.in_upper && st.st_dev == tt.st_dev && nf.ust.st_ino == nt.ust.st_ino)
				return 0;   // two names of one file: nothing to do
			if (dir && !S_ISDIR(tt.st_mode))
				return -ENOTDIR;
			if (!dir && S_ISDIR(tt.st_mode))
				return -EISDIR;
			if (dir && !fs()->merged_names(nt).empty())
				return -ENOTEMPTY;
		}
		if ((r = fs()->copy_up(nf)) != 0)
			return r;
		std::string src = Fs::base_name(nf.rel);
		if (dir) {
			// What the moved directory shows of the commit goes with it:
			// its tree (or nothing, for one made here).
			Fd d(::openat(nf.udir->get(), src.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			if (!d)
				return -errno;
			if (read_marker(d.get(), nullptr) == Marker::none) {
				if (nf.lower_below && nf.e.is_dir())
					write_base(nf.udir->get(), src, nf.e.oid);
				else
					write_opaque(nf.udir->get(), src);
			}
		}
		Fd dst = new_name_dir(pn, name);
		if (exists && dir && nt.in_upper && (r = Fs::remove_hollow_dir(dst.get(), name)) != 0)
			return r;
		if (::renameat(nf.udir->get(), src.c_str(), dst.get(), name.c_str()) < 0)
			return -errno;
		if (nf.lower)
			fs()->whiteout(nf);
		return 0;
	});
}

int op_link(const char *from, const char *to)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		Node nf, nt, pn;
		std::string name;
		struct stat st;
		int r = writable_entry(from, nf, st);
		if (r)
			return r;
		if (S_ISDIR(st.st_mode))
			return -EPERM;
		if ((r = parent_of(to, pn, name)) != 0)
			return r;
		if (fs()->resolve(to, nt) == 0)
			return -EEXIST;
		// Both names share the staged inode; a commit holds the blob twice.
		if ((r = fs()->copy_up(nf)) != 0)
			return r;
		Fd dst = new_name_dir(pn, name);
		return ::linkat(nf.udir->get(), Fs::base_name(nf.rel).c_str(), dst.get(), name.c_str(), 0) < 0 ? -errno : 0;
	});
}

// chmod, chown, utimens: on the staged copy (made first; cheap).
template <class F> int set_attr(const char *path, struct fuse_file_info *fi, F f)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		if (Handle *h = handle(fi); h && h->fd)
			return f(h->fd.get(), "", AT_EMPTY_PATH);
		if (!path && !(path = handle(fi) ? handle(fi)->path.c_str() : nullptr))
			return -ENOENT;
		Node n;
		struct stat st;
		int r = writable_entry(path, n, st, true);
		if (r || (r = fs()->copy_up(n)) != 0)
			return r;
		return f(n.udir->get(), Fs::base_name(n.rel).c_str(), AT_SYMLINK_NOFOLLOW);
	});
}

int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return set_attr(path, fi, [&](int dfd, const char *name, int fl) {
		// fchmodat has no AT_SYMLINK_NOFOLLOW; a symlink is never asked.
		int r = fl & AT_EMPTY_PATH ? fchmod(dfd, mode & 07777) : fchmodat(dfd, name, mode & 07777, 0);
		return r < 0 ? -errno : 0;
	});
}

int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return set_attr(path, fi, [&](int dfd, const char *name, int fl) {
		return fchownat(dfd, name, uid, gid, fl) < 0 ? -errno : 0;
	});
}

int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return set_attr(path, fi, [&](int dfd, const char *name, int fl) {
		int r = fl & AT_EMPTY_PATH ? futimens(dfd, tv) : utimensat(dfd, name, tv, fl);
		return r < 0 ? -errno : 0;
	});
}

int op_symlink(const char *target, const char *path)
{
	return make_new(path, [&](int dir, const std::string &name, bool) {
		if (::symlinkat(target, dir, name.c_str()) < 0)
			return -errno;
		return own_new(dir, name, S_IFLNK, true);
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
	if (server)
		server->start();
	fuse_set_signal_handlers(fuse_get_session(f));
	int r = fuse_loop_mt(f, 0);
	server.reset();
	fuse_remove_signal_handlers(fuse_get_session(f));
	fuse_unmount(f);
	fuse_destroy(f);
	return r == 0 ? 0 : 1;
}

} // namespace pach::mount
