// Writing a tree (or one blob) of the store out to the filesystem, with
// modes and symlinks, each file streamed under a temporary name and
// renamed into place.  Used by `pach get` and by the runner for inputs.
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <string>

#include <sys/stat.h>
#include <ctime>

namespace pach {

struct CheckoutStats {
	uint64_t files = 0, bytes = 0;
};

// on_file(bytes) is called after each file (0 for symlinks).  With
// `empty`, regular files are created empty (Pachyderm's empty_files).
// dest is the user's path (it may lead through their symlinks); nothing
// below it is ever written through a symlink, a tree deeper than
// kMaxTreeDepth is refused, and the walk keeps no recursion on the stack.
CheckoutStats checkout(const Store &s, const TreeEntry &e, const std::string &dest,
		       const std::function<void(uint64_t)> &on_file = nullptr, bool empty = false);
// The same at `rel` beneath the open directory dirfd (directories on the
// way are made, none followed); display + "/" + rel names it in messages.
CheckoutStats checkout_at(const Store &s, const TreeEntry &e, int dirfd, const std::string &rel,
			  const std::string &display, const std::function<void(uint64_t)> &on_file = nullptr,
			  bool empty = false);

// How a work tree gets its large files.  copy streams from the pack;
// reflink and hardlink go through a cache of extracted blobs in the store
// (.pach/pach/cache/), so a file checked out again costs no data copy:
// reflink shares extents (XFS, Btrfs; copy-on-write, safe to edit), hardlink
// shares the file itself (read-only: editing in place would change the
// cache, so edit by replacing).  auto: reflink where the filesystem can,
// else copy.
enum class LinkMode { automatic, copy, reflink, hardlink };
LinkMode parse_link_mode(const std::string &s);   // dies on anything else
const char *link_mode_name(LinkMode m);

class Materialiser {
public:
	// Files at least this big go through the cache.
	static constexpr uint64_t kLinkMin = 1 << 20;
	// Cache files carry this mtime: a cache file written to (through a
	// hard link) no longer has it, and is extracted again.
	static constexpr time_t kCacheMtime = 1;

	// dest_dir: where files will be written (probed for reflink support).
	Materialiser(const Store &s, LinkMode m, const std::string &dest_dir);
	// Write a file or symlink entry as `name` in the directory dirfd,
	// replacing a file or symlink there (never writing through one); st
	// gets the written file's lstat.  Returns the bytes written or linked.
	// With `empty`, a regular file is created empty.
	uint64_t write(const TreeEntry &e, int dirfd, const std::string &name, const std::string &display,
		       struct stat *st, bool empty = false);
	LinkMode mode() const { return mode_; }
	uint64_t linked = 0, copied = 0;

private:
	std::string cached(const TreeEntry &e);
	const Store &s_;
	LinkMode mode_;
	std::string cache_dir_;
};

// Stream a blob into an open file descriptor.
uint64_t copy_blob(const Store &s, const Oid &blob, int fd, const std::string &what);

} // namespace pach
