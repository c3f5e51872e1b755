// What a writable mount adds to the read-only one: writes (direct for
// write-only opens), new names, removals, renames, links and attributes,
// all in the staging area (see model.h), relative to directory fds.
#include "mount/ops.h"
#include "mount/overlay.h"
#include "mount/partial.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace pach::mount::ops {

// A write by another user clears the set-user-ID bit, and set-group-ID
// with group execute (as Linux does; for direct writes the kernel leaves
// it to us).
static void drop_setid(Handle *h)
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
static int parent_of(const char *path, Node &pn, std::string &name)
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
static Fd new_name_dir(Node &pn, const std::string &name, bool *was_deleted = nullptr)
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
static int own_new(int dirfd, const std::string &name, mode_t mode, bool is_link)
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
static int writable_entry(const char *path, Node &n, struct stat &st, bool allow_root = false)
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

// unlink (dir false) and rmdir (dir true) of an entry of a writable branch.
static int remove_name(const char *path, bool dir)
{
	return guarded([&] {
		Shared lk(fs()->stage_mu);
		Node n;
		struct stat st;
		int r = writable_entry(path, n, st);
		if (r)
			return r;
		if (S_ISDIR(st.st_mode) != dir)
			return dir ? -ENOTDIR : -EISDIR;
		if (dir && !fs()->merged_names(n).empty())
			return -ENOTEMPTY;
		return fs()->remove_entry(n, dir);
	});
}

int op_unlink(const char *path) { return remove_name(path, false); }

// A new name (directory, node, symlink) in a writable branch: made by
// make(dirfd, name, was_deleted) in the staged parent.
template <class F> static int make_new(const char *path, F make)
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

int op_rmdir(const char *path) { return remove_name(path, true); }

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
template <class F> static int set_attr(const char *path, struct fuse_file_info *fi, F f)
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


} // namespace pach::mount::ops
