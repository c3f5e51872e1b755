// The other half of pach mount: where a writable mount stages its
// changes, how they become commits (asked of the live mount over its
// socket, or done here when none serves), and unmounting (which also
// finds the store a mount served from the mount table).
#include "mount/mount.h"
#include "mount/overlay.h"
#include "mount/partial.h"

#include "plumbing/branch_commit.h"
#include "plumbing/crash.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

namespace pach::mount {

Marker read_marker(int dirfd, Oid *base)
{
	struct stat st;
	if (fstatat(dirfd, kOpaque, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return Marker::opaque;
	Fd f(::openat(dirfd, kBase, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
	if (!f)
		return Marker::none;
	char hex[40];
	auto oid = ::read(f.get(), hex, 40) == 40 ? Oid::from_hex(std::string_view(hex, 40)) : std::nullopt;
	if (!oid)
		return Marker::opaque;   // unreadable: show nothing rather than the wrong tree
	if (base)
		*base = *oid;
	return Marker::base;
}

namespace {

void write_marker(int dirfd, const std::string &dir, const char *name, const std::string &content)
{
	Fd d(::openat(dirfd, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!d)
		die_errno("unable to open staged directory '" + dir + "'");
	if (read_marker(d.get(), nullptr) != Marker::none)
		return;
	Fd f(::openat(d.get(), name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
	if (!f)
		die_errno("unable to mark staged directory '" + dir + "'");
	write_full(f.get(), content.data(), content.size(), dir);
}

Fd open_dir_at(int dirfd, const std::string &name)
{
	return Fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// "feature%2Fx" -> "feature/x"; nullopt for anything upper_root() never writes.
std::optional<std::string> decode_branch(const std::string &enc)
{
	std::string b;
	for (size_t i = 0; i < enc.size(); i++) {
		if (enc[i] != '%') {
			b += enc[i];
		} else if (enc.compare(i, 3, "%2F") == 0) {
			b += '/', i += 2;
		} else if (enc.compare(i, 3, "%25") == 0) {
			b += '%', i += 2;
		} else {
			return std::nullopt;
		}
	}
	return b;
}

const char *kind_name(mode_t m)
{
	return S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : "not a file";
}

// One branch's staged tree applied to `base`: markers first (a
// directory's, before anything below it), then deletions, then what was
// written.  Iterative; every directory is opened below its parent.
Oid apply_stage(Store &s, ObjectWriter &w, const std::optional<Oid> &base, int root, const std::string &label,
		std::vector<std::string> &warnings)
{
	std::optional<Oid> t = base;
	std::map<std::pair<dev_t, ino_t>, Oid> linked;   // hard links: hashed once
	struct Item {
		Fd dir;
		std::vector<std::string> path;
	};
	std::vector<Item> todo;
	todo.push_back({Fd(::fcntl(root, F_DUPFD_CLOEXEC, 0)), {}});
	while (!todo.empty()) {
		Item it = std::move(todo.back());
		todo.pop_back();
		if (!it.path.empty()) {
			Oid b;
			Marker m = read_marker(it.dir.get(), &b);
			if (m == Marker::opaque)
				t = edit_tree(s, w, t, it.path, std::nullopt);
			else if (m == Marker::base)
				t = edit_tree(s, w, t, it.path, TreeEntry{it.path.back(), kModeDir, b});
		}
		auto names = list_dir(it.dir.get());
		std::sort(names.begin(), names.end());
		for (auto &name : names)
			if (is_whiteout(name)) {
				auto p = it.path;
				p.push_back(name.substr(4));
				if (valid_tree_name(p.back()))
					t = edit_tree(s, w, t, p, std::nullopt);
			}
		for (auto &name : names) {
			// (.fuse_hidden*: a deleted file still open, kept by libfuse)
			if (is_overlay_name(name) || !valid_tree_name(name) || name.compare(0, 12, ".fuse_hidden") == 0)
				continue;
			auto p = it.path;
			p.push_back(name);
			std::string shown = label;
			for (auto &c : p)
				shown += "/" + c;
			struct stat st;
			if (fstatat(it.dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
				die_errno("unable to read staged '" + shown + "'");
			if (S_ISDIR(st.st_mode)) {
				Fd d = open_dir_at(it.dir.get(), name);
				if (!d)
					die_errno("unable to open staged '" + shown + "'");
				todo.push_back({std::move(d), std::move(p)});
			} else if (S_ISLNK(st.st_mode)) {
				std::vector<char> b((size_t)PATH_MAX + 1);
				ssize_t k = ::readlinkat(it.dir.get(), name.c_str(), b.data(), b.size());
				if (k < 0)
					die_errno("unable to read staged '" + shown + "'");
				t = edit_tree(s, w, t, p, TreeEntry{name, kModeLink, w.blob(b.data(), (size_t)k)});
			} else if (S_ISREG(st.st_mode)) {
				auto key = std::make_pair(st.st_dev, st.st_ino);
				auto seen = linked.find(key);
				Oid o;
				if (seen != linked.end()) {
					o = seen->second;
				} else {
					Fd fd(::openat(it.dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
					if (!fd)
						die_errno("unable to read staged '" + shown + "'");
					if (auto part = Partial::load(fd.get())) {
						MergedStream m(s, fd.get(), *part, (uint64_t)st.st_size);
						o = w.blob_from_fd(m.fd(), (uint64_t)st.st_size, shown);
					} else {
						o = w.blob_from_fd(fd.get(), (uint64_t)st.st_size, shown);
					}
					if (st.st_nlink > 1)
						linked.emplace(key, o);
				}
				t = edit_tree(s, w, t, p, TreeEntry{name, (st.st_mode & S_IXUSR) ? kModeExec : kModeFile, o});
			} else {
				warnings.push_back(fmt::format("'{}' is {}: not committed (a commit holds files, "
							       "symlinks and directories)", shown, kind_name(st.st_mode)));
			}
		}
	}
	return t ? *t : w.tree({});
}

// After its commit: clear a branch's stage.  Markers go first, outermost
// first, so that a clean-up cut short leaves a stage that, committed
// again, gives the same tree; then everything else, deepest first, but
// for what keep() names (and the directories that hold it), and what a
// commit cannot hold.
// Freeing a big file's blocks takes a while (0.2 s for 512 MiB on ext4):
// a commit moves such staged files into <stage>/trash instead, and a
// detached process empties it after the commit has been reported.
constexpr off_t kTrashSize = 16 << 20;

void empty_trash_later(int stage_fd)
{
	Fd trash(::openat(stage_fd, "trash", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!trash)
		return;
	// Two forks, so nobody has to reap it; only system calls in the child
	// (the mount has threads: no malloc after fork).
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		char buf[8192];
		long n;
		while ((n = getdents64(trash.get(), buf, sizeof buf)) > 0) {
			for (long off = 0; off < n;) {
				auto *e = reinterpret_cast<struct dirent64 *>(buf + off);
				if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
					::unlinkat(trash.get(), e->d_name, 0);
				off += e->d_reclen;
			}
		}
		_exit(0);
	}
	while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR)
		;
}

void clear_stage(int root, int trash, const std::function<bool(const struct stat &)> &keep)
{
	std::vector<std::string> dirs{"."};
	for (size_t i = 0; i < dirs.size(); i++) {
		Fd d(::openat(root, dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!d)
			continue;
		::unlinkat(d.get(), kOpaque, 0);
		::unlinkat(d.get(), kBase, 0);
		for (auto &name : list_dir(d.get())) {
			struct stat st;
			if (!is_overlay_name(name) && fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				dirs.push_back(dirs[i] + "/" + name);
		}
	}
	for (size_t i = dirs.size(); i-- > 0;) {
		Fd d(::openat(root, dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!d)
			continue;
		for (auto &name : list_dir(d.get())) {
			struct stat st;
			if (fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(st.st_mode))
				::unlinkat(d.get(), name.c_str(), AT_REMOVEDIR);   // fails while something is kept in it
			else if (is_overlay_name(name) || !keep || !keep(st)) {
				std::string to = std::to_string(st.st_dev) + "-" + std::to_string(st.st_ino);
				if (trash < 0 || !S_ISREG(st.st_mode) || st.st_size < kTrashSize ||
				    ::renameat(d.get(), name.c_str(), trash, to.c_str()) < 0)
					::unlinkat(d.get(), name.c_str(), 0);
			}
		}
	}
}

} // namespace

std::vector<std::string> list_dir(int dirfd)
{
	std::vector<std::string> out;
	DirStream d(Fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
	while (struct dirent *e = d.next())
		out.emplace_back(e->d_name);
	return out;
}

void write_base(int dirfd, const std::string &dir, const Oid &tree) { write_marker(dirfd, dir, kBase, tree.hex()); }
void write_opaque(int dirfd, const std::string &dir) { write_marker(dirfd, dir, kOpaque, ""); }

std::string stage_dir(const Store &s, const std::string &dir)
{
	std::string abs = absolute_path(dir);
	while (abs.size() > 1 && abs.back() == '/')
		abs.pop_back();
	Sha1 h;
	h.update(abs.data(), abs.size());
	return s.path("pach/mounts/" + h.final().hex().substr(0, 16));
}

std::string mounted_store(const std::string &dir)
{
	std::string abs = absolute_path(dir);
	while (abs.size() > 1 && abs.back() == '/')
		abs.pop_back();
	std::ifstream in("/proc/self/mounts");
	std::string src, at, type, rest;
	// Fields are octal-escaped (a space is \040).
	auto unescape = [](const std::string &x) {
		std::string o;
		for (size_t i = 0; i < x.size(); i++) {
			if (x[i] == '\\' && i + 3 < x.size() && x.find_first_not_of("01234567", i + 1) >= i + 4) {
				o += (char)((x[i + 1] - '0') * 64 + (x[i + 2] - '0') * 8 + (x[i + 3] - '0'));
				i += 3;
			} else {
				o += x[i];
			}
		}
		return o;
	};
	while (in >> src >> at >> type && std::getline(in, rest))
		if (type == "fuse.pach" && unescape(at) == abs && src.compare(0, 5, "pach:") == 0)
			return unescape(src.substr(5));
	return "";
}

CommitReport commit_stage(Store &s, const std::string &stage, const std::string &msg,
			  const std::function<bool(const struct stat &)> &keep)
{
	CommitReport rep;
	Fd sd(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	Fd upper(sd ? ::openat(sd.get(), "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1);
	if (!upper)
		return rep;
	::mkdirat(sd.get(), "trash", 0700);
	Fd trash(::openat(sd.get(), "trash", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	auto repos = list_dir(upper.get());
	std::sort(repos.begin(), repos.end());
	for (auto &repo : repos) {
		Fd rd = open_dir_at(upper.get(), repo);
		if (!rd)
			continue;
		auto branches = list_dir(rd.get());
		std::sort(branches.begin(), branches.end());
		for (auto &enc : branches) {
			auto branch = decode_branch(enc);
			Fd root = open_dir_at(rd.get(), enc);
			if (!branch || !root) {
				rep.warnings.push_back(fmt::format("'{}/{}/{}' is not a staged branch; left alone", stage, repo, enc));
				continue;
			}
			std::vector<std::string> warnings;
			auto edit = [&](ObjectWriter &w, const std::optional<Oid> &base) {
				warnings.clear();
				return apply_stage(s, w, base, root.get(), repo + "@" + *branch, warnings);
			};
			std::string m = !msg.empty() ? msg : "pach mount: changes to " + repo + "@" + *branch;
			auto r = commit_on_branch(s, repo, *branch, m + (m.back() == '\n' ? "" : "\n"), edit);
			if (r.commit)
				rep.committed.push_back(repo + "@" + *branch + " " + r.commit->hex());
			rep.warnings.insert(rep.warnings.end(), warnings.begin(), warnings.end());
			crash_point("mount-committed");   // committed, still staged
			clear_stage(root.get(), trash ? trash.get() : -1, keep);
			::unlinkat(rd.get(), enc.c_str(), AT_REMOVEDIR);
		}
		::unlinkat(upper.get(), repo.c_str(), AT_REMOVEDIR);
	}
	empty_trash_later(sd.get());
	return rep;
}

namespace {

// Connect to <stage>/ctl through the directory's descriptor: a socket
// path must fit in 108 bytes, a store's path need not.
int connect_ctl(int stage_fd)
{
	int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		die_errno("unable to make a socket");
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/ctl", stage_fd);
	if (::connect(c, (sockaddr *)&a, sizeof a) < 0) {
		::close(c);
		return -1;
	}
	return c;
}

void send_all(int fd, const std::string &s)
{
	for (size_t at = 0; at < s.size();) {
		ssize_t k = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		at += (size_t)k;
	}
}

std::string recv_all(int fd, size_t max)
{
	std::string out;
	char b[4096];
	while (out.size() < max) {
		ssize_t k = ::recv(fd, b, sizeof b, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		out.append(b, (size_t)k);
	}
	return out;
}

} // namespace

CommitReport commit_staged(Store &s, const std::string &dir, const std::string &msg)
{
	std::string stage = stage_dir(s, dir);
	Fd sd(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!sd)
		return {};
	int c = connect_ctl(sd.get());
	if (c >= 0) {
		// What the kernel still holds of writes made so far (the mount
		// caches writes) reaches the stage before the commit.
		if (Fd m{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)})
			syncfs(m.get());
		Fd conn(c);
		send_all(c, "commit\n" + msg);
		::shutdown(c, SHUT_WR);
		std::string reply = recv_all(c, 16 << 20);
		CommitReport rep;
		bool done = false;
		for (size_t at = 0; at < reply.size();) {
			size_t nl = reply.find('\n', at);
			std::string line = reply.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
			at = nl == std::string::npos ? reply.size() : nl + 1;
			if (line.compare(0, 10, "committed ") == 0)
				rep.committed.push_back(line.substr(10));
			else if (line.compare(0, 8, "warning ") == 0)
				rep.warnings.push_back(line.substr(8));
			else if (line.compare(0, 6, "fatal ") == 0)
				die("{}", line.substr(6));
			else if (line == "done")
				done = true;
		}
		if (!done)
			die("the mount of '{}' stopped before it answered (see 'pach mount --commit' again)", dir);
		return rep;
	}
	// No mount serves it: nothing can write there while we hold the lock.
	FileLock lock(stage + "/lock", FileLock::exclusive);
	return commit_stage(s, stage, msg, nullptr);
}

CommitServer::CommitServer(const std::string &stage, Handler h) : h_(std::move(h))
{
	Fd sd(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!sd)
		die_errno("unable to open '" + stage + "'");
	::unlinkat(sd.get(), "ctl", 0);
	fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/ctl", sd.get());
	mode_t old = umask(077);
	int r = fd_ < 0 ? -1 : ::bind(fd_, (sockaddr *)&a, sizeof a);
	umask(old);
	if (r < 0 || ::listen(fd_, 8) < 0)
		die_errno("unable to listen on '" + stage + "/ctl'");
}

void CommitServer::start()
{
	t_ = std::thread([this] {
		for (;;) {
			int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
			if (c < 0) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				return;   // shut down
			}
			Fd conn(c);
			struct ucred cr{};
			socklen_t len = sizeof cr;
			if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || (cr.uid != 0 && cr.uid != geteuid())) {
				send_all(c, "fatal only root and the mount's owner may commit it\n");
				continue;
			}
			struct timeval tv{10, 0};
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			std::string req = recv_all(c, 1 << 20);
			if (req.compare(0, 7, "commit\n") != 0) {
				send_all(c, "fatal not a request this mount knows\n");
				continue;
			}
			std::string out;
			try {
				CommitReport rep = h_(req.substr(7));
				for (auto &l : rep.committed)
					out += "committed " + l + "\n";
				for (auto &l : rep.warnings)
					out += "warning " + l + "\n";
				out += "done\n";
			} catch (const std::exception &e) {
				std::string m = e.what();
				std::replace(m.begin(), m.end(), '\n', ' ');
				out = "fatal " + m + "\n";
			}
			send_all(c, out);
		}
	});
}

CommitServer::~CommitServer()
{
	if (fd_ >= 0)
		::shutdown(fd_, SHUT_RDWR);
	if (t_.joinable())
		t_.join();
	if (fd_ >= 0)
		::close(fd_);
}

void unmount(const std::string &dir)
{
	// fusermount3 knows the mount table and does the privileged part;
	// what it says comes back through a pipe.
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die_errno("unable to create a pipe");
	Fd rd(p[0]), wr(p[1]);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("unable to fork");
	if (pid == 0) {
		dup2(wr.get(), 2);
		dup2(wr.get(), 1);
		execlp("fusermount3", "fusermount3", "-u", "--", dir.c_str(), (char *)nullptr);
		_exit(127);
	}
	wr = Fd();
	std::string msg;
	char b[1024];
	ssize_t n;
	while ((n = ::read(rd.get(), b, sizeof b)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && msg.size() < 4096)
			msg.append(b, (size_t)n);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		die("fusermount3 is not installed (Debian: apt-get install fuse3)");
	if (msg.find("busy") != std::string::npos)
		die("'{}' is busy: a process still uses it (see fuser -m {})", dir, dir);
	if (msg.find("not found") != std::string::npos || msg.find("not mounted") != std::string::npos ||
	    msg.find("Invalid argument") != std::string::npos)
		die("'{}' is not mounted", dir);
	while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
		msg.pop_back();
	die("unable to unmount '{}': {}", dir, msg);
}


} // namespace pach::mount
