// The FUSE operations of pach mount, shared between mount.cc (lookups,
// reads, the mount itself) and write.cc (what a writable mount adds).
#pragma once

#define FUSE_USE_VERSION 31
#include "mount/model.h"

#include <fuse.h>

#include <cstdio>
#include <memory>
#include <shared_mutex>
#include <string_view>

namespace pach::mount::ops {

using namespace detail;

inline Fs *fs() { return static_cast<Fs *>(fuse_get_context()->private_data); }

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

void fill_stat(const Node &n, struct stat *st, std::string_view path);
Handle *handle(struct fuse_file_info *fi);
// Hands an open staged file to the kernel, counted among the file's opens.
int staged_handle(std::unique_ptr<Handle> h, const char *path, int flags, bool writing, struct fuse_file_info *fi);

// write.cc
int op_write(const char *, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int op_fsync(const char *, int, struct fuse_file_info *fi);
int op_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int op_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int op_unlink(const char *path);
int op_mkdir(const char *path, mode_t mode);
int op_mknod(const char *path, mode_t mode, dev_t rdev);
int op_rmdir(const char *path);
int op_rename(const char *from, const char *to, unsigned int flags);
int op_link(const char *from, const char *to);
int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int op_symlink(const char *target, const char *path);

} // namespace pach::mount::ops
