// Files the careful way: move-only descriptors, temp files that vanish
// unless committed, git's ".lock" protocol, fsync of files and directories.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace pach {

class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept;
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	~Fd();
	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	int release() { int f = fd_; fd_ = -1; return f; }
	void close();

private:
	int fd_ = -1;
};

// Write all of buf or die naming `what`.
void write_full(int fd, const void *buf, size_t n, const std::string &what);
// Dies for a failed write to fd (errno set); a closed standard output
// ends the command quietly (Exit::pipe).
[[noreturn]] void die_write(int fd, const std::string &what);
// Read up to n bytes, retrying on EINTR and short reads; returns bytes read.
size_t read_full(int fd, void *buf, size_t n, const std::string &what);
void fsync_or_die(int fd, const std::string &what);
void fsync_dir(const std::string &dir);

// A file under a temporary name in `dir`, unlinked on destruction unless
// rename_to() moved it into place (after an fsync).
class TempFile {
public:
	TempFile(const std::string &dir, const std::string &prefix);
	TempFile(TempFile &&) = default;
	~TempFile();
	int fd() const { return fd_.get(); }
	const std::string &path() const { return path_; }
	void rename_to(const std::string &final_path, bool sync = true);
	// Close the descriptor early (after an fsync); the file still goes on
	// destruction unless renamed.
	void close_fd() { fd_.close(); }
	void discard();

private:
	Fd fd_;
	std::string path_;
	bool done_ = false;
};

// git's lock file protocol: create PATH.lock with O_EXCL, write, then
// commit() renames it over PATH; destruction without commit removes it.
class LockFile {
public:
	explicit LockFile(const std::string &path);
	~LockFile();
	LockFile(const LockFile &) = delete;
	// Returns false instead of dying when the lock is held by someone else.
	bool try_lock();
	void lock_or_die();
	int fd() const { return fd_.get(); }
	void commit();
	void rollback();
	const std::string &lock_path() const { return lock_; }

private:
	std::string path_, lock_;
	Fd fd_;
	bool held_ = false;
};

// An advisory flock(2) held for the life of the object; released by the
// kernel if the process dies, so a kill -9 never leaves it stuck.
class FileLock {
public:
	enum Mode { shared, exclusive };
	FileLock(const std::string &path, Mode m, bool wait = true);
	bool held() const { return held_; }

private:
	Fd fd_;
	bool held_ = false;
};

// Paths from data become paths on disk only through these: every
// component is opened relative to its parent's descriptor with O_NOFOLLOW,
// so a symlink in the way is an error (or, with kReplace, is removed and
// replaced by a directory), never a way out of `dirfd`.
enum : unsigned { kBeneathCreate = 1, kBeneathReplace = 2 };
// The directory `rel` ('/'-separated, no "." or ".." components) beneath
// dirfd.  An empty Fd when a component is missing (without kBeneathCreate)
// or is not a directory (without kBeneathReplace); `display` names the
// path in errors.
// Directories it makes get `mode` (less the umask).
Fd open_dir_beneath(int dirfd, const std::string &rel, unsigned flags, const std::string &display,
		    mode_t mode = 0777);
// As above, but dies naming display + "/" + rel when it cannot.
Fd open_dir_beneath_or_die(int dirfd, const std::string &rel, unsigned flags, const std::string &display,
			   mode_t mode = 0777);
// Raise the soft limit on open files to the hard limit (deep trees are
// written holding a descriptor per level).
// A directory stream, closed on destruction.
class DirStream {
public:
	explicit DirStream(const std::string &path);
	explicit DirStream(Fd fd);   // an open directory, taken over
	~DirStream();
	DirStream(const DirStream &) = delete;
	DirStream &operator=(const DirStream &) = delete;
	explicit operator bool() const { return d_ != nullptr; }
	// The next entry but "." and ".."; nullptr at the end.
	struct dirent *next();
	int fd() const { return dirfd(d_); }

private:
	DIR *d_ = nullptr;
};

// The names in a directory but "." and ".."; none when it cannot be read.
std::vector<std::string> dir_names(const std::string &path);

// Remove a file or a directory tree, best effort (symlinks are removed,
// never followed).
void remove_tree(const std::string &path);
// Everything in a directory removed, the directory kept (a mount point);
// false when something could not be (a missing directory is empty).
// Never follows a symlink.
bool empty_dir(const std::string &path);

void raise_fd_limit();

bool path_exists(const std::string &p);
bool is_dir(const std::string &p);
void mkdir_p(const std::string &p, mode_t mode = 0777);
std::string read_file_small(const std::string &p);   // for config-size files
void write_file_atomic(const std::string &p, std::string_view content);
std::string dirname_of(const std::string &p);
std::string absolute_path(const std::string &p);

} // namespace pach
