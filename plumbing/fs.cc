#include "plumbing/fs.h"

#include "plumbing/error.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdlib>

namespace pach {

Fd &Fd::operator=(Fd &&o) noexcept
{
	if (this != &o) {
		close();
		fd_ = o.release();
	}
	return *this;
}

Fd::~Fd()
{
	close();
}

void Fd::close()
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = -1;
}

void die_write(int fd, const std::string &what)
{
	// Whoever read our output has gone (`pach cat f | head`): stop
	// quietly, as git does.
	if (errno == EPIPE && fd == STDOUT_FILENO)
		throw Error(Exit::pipe, "");
	die_errno("unable to write '" + what + "'");
}

void write_full(int fd, const void *buf, size_t n, const std::string &what)
{
	auto p = static_cast<const char *>(buf);
	while (n) {
		ssize_t w = ::write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die_write(fd, what);
		}
		p += w;
		n -= (size_t)w;
	}
}

size_t read_full(int fd, void *buf, size_t n, const std::string &what)
{
	auto p = static_cast<char *>(buf);
	size_t got = 0;
	while (got < n) {
		ssize_t r = ::read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die_errno("unable to read '" + what + "'");
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

void fsync_or_die(int fd, const std::string &what)
{
	if (::fsync(fd) < 0)
		die_errno("unable to fsync '" + what + "'");
}

void fsync_dir(const std::string &dir)
{
	Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (d)
		::fsync(d.get());
}

static std::string unique_suffix()
{
	static std::atomic<unsigned> counter{0};
	return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

TempFile::TempFile(const std::string &dir, const std::string &prefix)
{
	path_ = dir + "/" + prefix + unique_suffix();
	fd_ = Fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
	if (!fd_)
		die_errno("unable to create temporary file '" + path_ + "'");
}

TempFile::~TempFile()
{
	discard();
}

void TempFile::discard()
{
	if (!done_ && !path_.empty())
		::unlink(path_.c_str());
	done_ = true;
	fd_.close();
}

void TempFile::rename_to(const std::string &final_path, bool sync)
{
	if (sync)
		fsync_or_die(fd_.get(), path_);
	fd_.close();
	if (::rename(path_.c_str(), final_path.c_str()) < 0)
		die_errno("unable to rename '" + path_ + "' to '" + final_path + "'");
	done_ = true;
}

LockFile::LockFile(const std::string &path) : path_(path), lock_(path + ".lock") {}

LockFile::~LockFile()
{
	rollback();
}

bool LockFile::try_lock()
{
	fd_ = Fd(::open(lock_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
	if (!fd_) {
		if (errno == EEXIST)
			return false;
		die_errno("unable to create '" + lock_ + "'");
	}
	held_ = true;
	return true;
}

void LockFile::lock_or_die()
{
	if (!try_lock())
		die("unable to create '{}': File exists.\n\n"
		    "Another pach process seems to be running in this store. If it\n"
		    "died, remove the file by hand and try again",
		    lock_);
}

void LockFile::commit()
{
	fsync_or_die(fd_.get(), lock_);
	fd_.close();
	if (::rename(lock_.c_str(), path_.c_str()) < 0)
		die_errno("unable to rename '" + lock_ + "'");
	held_ = false;
}

void LockFile::rollback()
{
	if (held_) {
		fd_.close();
		::unlink(lock_.c_str());
		held_ = false;
	}
}

FileLock::FileLock(const std::string &path, Mode m, bool wait)
{
	fd_ = Fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
	if (!fd_)
		die_errno("unable to open lock '" + path + "'");
	int op = (m == exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
	while (::flock(fd_.get(), op) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return;
		die_errno("unable to lock '" + path + "'");
	}
	held_ = true;
}

Fd open_dir_beneath(int dirfd, const std::string &rel, unsigned flags, const std::string &display, mode_t mode)
{
	Fd cur(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
	if (!cur)
		die_errno("unable to open '" + display + "'");
	size_t i = 0;
	while (i < rel.size()) {
		size_t j = rel.find('/', i);
		if (j == std::string::npos)
			j = rel.size();
		std::string c = rel.substr(i, j - i);
		i = j + 1;
		if (c.empty())
			continue;
		if (c == "." || c == "..")
			die("invalid path '{}'", rel);
		for (int attempt = 0;; attempt++) {
			Fd next(::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			if (next) {
				cur = std::move(next);
				break;
			}
			int err = errno;
			if (attempt > 2)
				errno = err, die_errno("unable to open directory '" + display + "/" + rel.substr(0, j) + "'");
			if (err == ENOENT) {
				if (!(flags & kBeneathCreate))
					return Fd();
				if (::mkdirat(cur.get(), c.c_str(), mode) < 0 && errno != EEXIST)
					die_errno("unable to create directory '" + display + "/" + rel.substr(0, j) + "'");
			} else if (err == ENOTDIR || err == ELOOP) {
				// A file or symlink where a directory belongs.
				if (!(flags & kBeneathReplace))
					return Fd();
				if (::unlinkat(cur.get(), c.c_str(), 0) < 0 && errno != ENOENT)
					die_errno("unable to remove '" + display + "/" + rel.substr(0, j) + "'");
			} else {
				errno = err;
				die_errno("unable to open directory '" + display + "/" + rel.substr(0, j) + "'");
			}
		}
	}
	return cur;
}

Fd open_dir_beneath_or_die(int dirfd, const std::string &rel, unsigned flags, const std::string &display, mode_t mode)
{
	Fd f = open_dir_beneath(dirfd, rel, flags, display, mode);
	if (!f)
		die("'{}' is beyond a symbolic link or not a directory; refusing to write there", display + "/" + rel);
	return f;
}

DirStream::DirStream(const std::string &path) : d_(opendir(path.c_str())) {}

DirStream::DirStream(Fd fd)
{
	if (fd && (d_ = fdopendir(fd.get())))
		fd.release();
}

DirStream::~DirStream()
{
	if (d_)
		closedir(d_);
}

struct dirent *DirStream::next()
{
	if (!d_)
		return nullptr;
	while (struct dirent *e = readdir(d_))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			return e;
	return nullptr;
}

std::vector<std::string> dir_names(const std::string &path)
{
	std::vector<std::string> out;
	DirStream d(path);
	while (auto *e = d.next())
		out.push_back(e->d_name);
	return out;
}

void remove_tree(const std::string &path)
{
	std::error_code ec;
	std::filesystem::remove_all(path, ec);
}

bool empty_dir(const std::string &path)
{
	// Depth first, with a stack of open directories (no recursion as deep
	// as the data), each emptied through its descriptor, then removed.
	struct Level {
		std::unique_ptr<DirStream> d;
		std::string name;   // in its parent
	};
	Fd root(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!root)
		return errno == ENOENT;
	std::vector<Level> stack;
	stack.push_back({std::make_unique<DirStream>(std::move(root)), ""});
	bool all = true;
	while (!stack.empty()) {
		struct dirent *e = stack.back().d->next();
		if (!e) {
			std::string name = std::move(stack.back().name);
			stack.pop_back();
			if (!stack.empty() && unlinkat(stack.back().d->fd(), name.c_str(), AT_REMOVEDIR) < 0)
				all = false;
			continue;
		}
		int at = stack.back().d->fd();
		std::string name = e->d_name;
		if (e->d_type != DT_DIR && unlinkat(at, name.c_str(), 0) == 0)
			continue;
		if (e->d_type == DT_DIR || errno == EISDIR) {
			Fd sub(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			auto d = sub ? std::make_unique<DirStream>(std::move(sub)) : nullptr;
			if (d && *d) {
				stack.push_back({std::move(d), name});
				continue;
			}
		}
		all = false;
	}
	return all;
}

void raise_fd_limit()
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 1 << 16);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

bool path_exists(const std::string &p)
{
	struct stat st;
	return ::lstat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string &p)
{
	struct stat st;
	return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void mkdir_p(const std::string &p, mode_t mode)
{
	if (p.empty() || is_dir(p))
		return;
	auto slash = p.find_last_of('/');
	if (slash != std::string::npos && slash > 0)
		mkdir_p(p.substr(0, slash), mode);
	if (::mkdir(p.c_str(), mode) < 0 && errno != EEXIST)
		die_errno("unable to create directory '" + p + "'");
}

std::string read_file_small(const std::string &p)
{
	Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		die_errno("unable to open '" + p + "'");
	std::string out;
	struct stat st;
	if (fstat(fd.get(), &st) == 0 && st.st_size > 0) {
		// One read for the common case; loop on in case the file grew.
		out.resize((size_t)st.st_size);
		out.resize(read_full(fd.get(), out.data(), out.size(), p));
	}
	char buf[65536];
	for (;;) {
		size_t n = read_full(fd.get(), buf, sizeof buf, p);
		out.append(buf, n);
		if (n < sizeof buf)
			break;
	}
	return out;
}

void write_file_atomic(const std::string &p, std::string_view content)
{
	TempFile t(dirname_of(p), ".tmp-");
	write_full(t.fd(), content.data(), content.size(), t.path());
	::fchmod(t.fd(), 0644);
	t.rename_to(p);
}

std::string dirname_of(const std::string &p)
{
	auto s = p.find_last_of('/');
	if (s == std::string::npos)
		return ".";
	if (s == 0)
		return "/";
	return p.substr(0, s);
}

std::string absolute_path(const std::string &p)
{
	char buf[PATH_MAX];
	if (::realpath(p.c_str(), buf))
		return buf;
	if (!p.empty() && p[0] == '/')
		return p;
	if (!::getcwd(buf, sizeof buf))
		die_errno("unable to get current directory");
	return std::string(buf) + "/" + p;
}

} // namespace pach
