#include "plumbing/monitor.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <random>
#include <unordered_map>

namespace pach {

namespace {

constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE |
			   IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
// Paths remembered between two questions; past this the daemon forgets
// them and answers "all" for older tokens (a full walk, then lists again).
constexpr size_t kMaxRemembered = 1 << 18;
constexpr size_t kMaxAnswerBytes = 64 << 20;
constexpr int kTimeoutSecs = 10;

sockaddr_un abstract_addr(const std::string &name, socklen_t *len)
{
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	size_t n = std::min(name.size(), sizeof a.sun_path - 1);
	std::memcpy(a.sun_path + 1, name.data(), n);   // sun_path[0] = 0: abstract
	*len = (socklen_t)(offsetof(sockaddr_un, sun_path) + 1 + n);
	return a;
}

void set_timeouts(int fd, int secs)
{
	timeval tv{secs, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

uid_t peer_uid(int fd)
{
	ucred c{};
	socklen_t n = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &n) < 0)
		return (uid_t)-1;
	return c.uid;
}

bool send_all(int fd, const std::string &s)
{
	size_t off = 0;
	while (off < s.size()) {
		ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

// One request, one answer: the whole answer, or nullopt (no daemon, not
// ours, no answer in time, too big).
std::optional<std::string> ask(const std::string &address, const std::string &request)
{
	Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		return std::nullopt;
	socklen_t len;
	sockaddr_un a = abstract_addr(address, &len);
	if (::connect(fd.get(), (sockaddr *)&a, len) < 0)
		return std::nullopt;
	// Anyone can bind an abstract name: only our own user's daemon is
	// believed (its list decides what a commit reads).
	uid_t u = peer_uid(fd.get());
	if (u != geteuid()) {
		warning(fmt::format("ignoring the file-system monitor at '{}': it runs as uid {}", address, (long)u));
		return std::nullopt;
	}
	set_timeouts(fd.get(), kTimeoutSecs);
	if (!send_all(fd.get(), request + "\n"))
		return std::nullopt;
	std::string out;
	char buf[65536];
	for (;;) {
		ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return std::nullopt;   // timed out
		if (n == 0)
			break;
		out.append(buf, (size_t)n);
		if (out.size() > kMaxAnswerBytes)
			return std::nullopt;
	}
	return out;
}

// The daemon.
class Daemon {
public:
	Daemon(const std::string &address, const std::string &dir) : dir_(dir)
	{
		std::random_device rd;
		instance_ = fmt::format("{:08x}{:08x}", rd(), rd());
		ifd_ = Fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
		if (!ifd_)
			die_errno("unable to start inotify");
		add_watches("", true);
		lfd_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		socklen_t len;
		sockaddr_un a = abstract_addr(address, &len);
		if (!lfd_ || ::bind(lfd_.get(), (sockaddr *)&a, len) < 0) {
			if (errno == EADDRINUSE)
				die("a monitor already watches '{}' for this store", dir);
			die_errno("unable to listen for the monitor of '" + dir + "'");
		}
		if (::listen(lfd_.get(), 16) < 0)
			die_errno("unable to listen for the monitor of '" + dir + "'");
	}

	void run()
	{
		for (;;) {
			pollfd p[2] = {{ifd_.get(), POLLIN, 0}, {lfd_.get(), POLLIN, 0}};
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				return;
			}
			if (p[0].revents & POLLIN)
				drain();
			if (gone_)
				return;
			if (p[1].revents & POLLIN) {
				Fd c(::accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
				if (c && serve(c.get()))
					return;
			}
		}
	}

	size_t watches() const { return wd_.size(); }

private:
	// Watch dir (relative; "" the root) and every directory below it.
	void add_watches(const std::string &rel, bool starting)
	{
		std::vector<std::string> todo{rel};
		while (!todo.empty()) {
			std::string r = std::move(todo.back());
			todo.pop_back();
			std::string abs = r.empty() ? dir_ : dir_ + "/" + r;
			int wd = inotify_add_watch(ifd_.get(), abs.c_str(), kMask);
			if (wd < 0) {
				if (errno == ENOSPC) {
					if (starting)
						die("too many directories below '{}' to watch: raise fs.inotify.max_user_watches", dir_);
					degraded_ = true;
					return;
				}
				if (r.empty())
					die_errno("unable to watch '" + dir_ + "'");
				continue;   // gone meanwhile: its parent's event says so
			}
			wd_[wd] = r;
			DirStream d(abs);
			if (!d)
				continue;
			while (struct dirent *e = d.next()) {
				std::string n = e->d_name;
				if (!valid_tree_name(n) || n == ".pach")
					continue;   // never in a snapshot: nothing to report
				bool isdir = e->d_type == DT_DIR;
				if (e->d_type == DT_UNKNOWN) {
					struct stat st;
					isdir = fstatat(d.fd(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
				}
				if (isdir)
					todo.push_back(r.empty() ? n : r + "/" + n);
			}
		}
	}

	// Forget everything: tokens given so far get "all".
	void reset()
	{
		for (auto &[wd, r] : wd_)
			inotify_rm_watch(ifd_.get(), wd);
		wd_.clear();
		changed_.clear();
		degraded_ = false;
		floor_ = ++seq_;
		add_watches("", false);
	}

	void mark(const std::string &path)
	{
		if (changed_.size() >= kMaxRemembered) {
			changed_.clear();
			floor_ = seq_;
		}
		changed_[path] = ++seq_;
	}

	void drain()
	{
		alignas(inotify_event) char buf[1 << 16];
		for (;;) {
			ssize_t n = ::read(ifd_.get(), buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			for (char *p = buf; p < buf + n;) {
				auto *ev = reinterpret_cast<inotify_event *>(p);
				p += sizeof(inotify_event) + ev->len;
				event(*ev);
				if (gone_)
					return;
			}
		}
	}

	void event(const inotify_event &ev)
	{
		if (ev.mask & IN_Q_OVERFLOW) {
			reset();
			return;
		}
		auto it = wd_.find(ev.wd);
		if (it == wd_.end())
			return;
		if (ev.mask & IN_IGNORED) {
			wd_.erase(it);
			return;
		}
		const std::string rel = it->second;
		if (rel.empty() && (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
			gone_ = true;   // the directory itself went: nothing to watch
			return;
		}
		if (!ev.len)
			return;   // the directory's own attributes: not content
		std::string name = ev.name;
		if (!valid_tree_name(name) || name == ".pach")
			return;
		std::string path = rel.empty() ? name : rel + "/" + name;
		if (ev.mask & IN_ISDIR) {
			// A moved directory keeps its watches under the old path:
			// start over (rare; the next commit walks everything).
			if (ev.mask & (IN_MOVED_FROM | IN_MOVED_TO)) {
				reset();
				return;
			}
			if (ev.mask & IN_CREATE)
				add_watches(path, false);   // its content is walked by the commit
			else if (!(ev.mask & IN_DELETE))
				return;   // a subdirectory's attributes
		}
		mark(path);
	}

	// One client; true when it asked the daemon to stop.
	bool serve(int fd)
	{
		set_timeouts(fd, kTimeoutSecs);
		uid_t u = peer_uid(fd);
		if (u != getuid() && u != 0)
			return false;
		std::string req;
		char c;
		while (req.size() < 512) {
			ssize_t n = ::recv(fd, &c, 1, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || c == '\n')
				break;
			req += c;
		}
		if (req == "stop") {
			send_all(fd, "ok\n");
			return true;
		}
		// Everything that happened before the question is in the queue.
		drain();
		if (req == "info") {
			send_all(fd, fmt::format("pid {}\nwatches {}\npaths {}\ndegraded {}\ndir {}\n", (long)getpid(), wd_.size(),
						 changed_.size(), degraded_ ? 1 : 0, dir_));
			return false;
		}
		if (req.compare(0, 6, "query ") != 0)
			return false;
		std::string token = req.substr(6);
		std::string out = fmt::format("token {}:{}\n", instance_, seq_);
		auto colon = token.find(':');
		uint64_t since = 0;
		bool known = !degraded_ && colon != std::string::npos && token.substr(0, colon) == instance_;
		if (known) {
			char *end = nullptr;
			since = strtoull(token.c_str() + colon + 1, &end, 10);
			known = end && !*end && since >= floor_ && since <= seq_;
		}
		std::vector<const std::string *> paths;
		if (known)
			for (auto &[p, seq] : changed_)
				if (seq > since && paths.size() <= kMonitorMaxPaths)
					paths.push_back(&p);
		if (!known || paths.size() > kMonitorMaxPaths) {
			send_all(fd, out + "all\n");
			return false;
		}
		out += fmt::format("paths {}\n", paths.size());
		for (auto *p : paths) {
			out += *p;
			out += '\0';
		}
		send_all(fd, out);
		return false;
	}

	std::string dir_, instance_;
	Fd ifd_, lfd_;
	std::unordered_map<int, std::string> wd_;          // watch -> directory (relative)
	std::unordered_map<std::string, uint64_t> changed_;   // path -> when, last
	uint64_t seq_ = 0, floor_ = 0;   // tokens below floor_ get "all"
	bool degraded_ = false, gone_ = false;
};

bool is_dir_nofollow(const std::string &p)
{
	struct stat st;
	return lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string state_file(const Store &s, const std::string &dir)
{
	return s.path("pach/monitor/" + hash_object(ObjType::blob, dir.data(), dir.size()).hex());
}

} // namespace

std::string monitor_address(const std::string &git_dir, const std::string &dir)
{
	std::string key = git_dir + '\0' + dir;
	return "pach-monitor-" + hash_object(ObjType::blob, key.data(), key.size()).hex();
}

std::optional<MonitorAnswer> monitor_query(const std::string &address, const std::string &token)
{
	if (token.find('\n') != std::string::npos)
		return std::nullopt;
	auto r = ask(address, "query " + token);
	if (!r)
		return std::nullopt;
	const std::string &s = *r;
	size_t nl = s.find('\n');
	if (nl == std::string::npos || s.compare(0, 6, "token ") != 0)
		return std::nullopt;
	MonitorAnswer a;
	a.token = s.substr(6, nl - 6);
	size_t nl2 = s.find('\n', nl + 1);
	if (nl2 == std::string::npos)
		return std::nullopt;
	std::string kind = s.substr(nl + 1, nl2 - nl - 1);
	if (kind == "all")
		return a;
	if (kind.compare(0, 6, "paths ") != 0)
		return std::nullopt;
	size_t want = strtoull(kind.c_str() + 6, nullptr, 10);
	for (size_t i = nl2 + 1; i < s.size();) {
		size_t z = s.find('\0', i);
		if (z == std::string::npos)
			return std::nullopt;
		std::string p = s.substr(i, z - i);
		// Relative, no empty or dot components: checked again where the
		// paths are used.
		if (p.empty() || p[0] == '/' || p.size() > 4096)
			return std::nullopt;
		a.paths.push_back(std::move(p));
		i = z + 1;
	}
	if (a.paths.size() != want)
		return std::nullopt;
	std::sort(a.paths.begin(), a.paths.end());
	a.all = false;
	return a;
}

std::optional<MonitorInfo> monitor_info(const std::string &address)
{
	auto r = ask(address, "info");
	if (!r)
		return std::nullopt;
	MonitorInfo i;
	size_t pos = 0;
	while (pos < r->size()) {
		size_t nl = r->find('\n', pos);
		if (nl == std::string::npos)
			break;
		std::string line = r->substr(pos, nl - pos);
		pos = nl + 1;
		auto sp = line.find(' ');
		if (sp == std::string::npos)
			continue;
		std::string k = line.substr(0, sp), v = line.substr(sp + 1);
		if (k == "pid")
			i.pid = (pid_t)strtol(v.c_str(), nullptr, 10);
		else if (k == "watches")
			i.watches = strtoull(v.c_str(), nullptr, 10);
		else if (k == "paths")
			i.paths = strtoull(v.c_str(), nullptr, 10);
		else if (k == "degraded")
			i.degraded = v == "1";
		else if (k == "dir")
			i.dir = v;
	}
	if (!i.pid)
		return std::nullopt;
	return i;
}

pid_t monitor_start(const std::string &address, const std::string &dir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die_errno("unable to make a pipe");
	Fd rd(p[0]), wr(p[1]);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("unable to start the monitor");
	if (pid == 0) {
		// A daemon: its own session, no terminal, a grandchild of the
		// caller (reparented), reporting on the pipe once it is ready.
		rd.close();
		setsid();
		pid_t g = fork();
		if (g != 0)
			_exit(g < 0 ? 1 : 0);
		int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		// Nothing of the caller's stays open (a lock on the store would
		// be held for as long as the daemon runs): the pipe becomes fd 3.
		if (dup2(wr.get(), 3) == 3) {
			(void)wr.release();
			close_range(4, ~0U, 0);
			wr = Fd(3);
		}
		if (chdir("/") < 0) {
			// harmless: every path it uses is absolute
		}
		signal(SIGPIPE, SIG_IGN);
		try {
			Daemon d(address, dir);
			std::string ok = fmt::format("ok {} {}\n", (long)getpid(), d.watches());
			if (::write(wr.get(), ok.data(), ok.size()) < 0) {
				// the caller is gone; serve anyway
			}
			wr.close();
			d.run();
		} catch (const std::exception &e) {
			std::string msg = e.what();
			if (::write(wr.get(), msg.data(), msg.size()) < 0) {
				// nobody to tell
			}
		}
		_exit(0);
	}
	wr.close();
	int status;
	waitpid(pid, &status, 0);
	std::string msg;
	char buf[512];
	for (;;) {
		ssize_t n = ::read(rd.get(), buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		msg.append(buf, (size_t)n);
	}
	if (msg.compare(0, 3, "ok ") != 0) {
		if (msg.compare(0, 7, "fatal: ") == 0)
			msg = msg.substr(7);
		while (!msg.empty() && msg.back() == '\n')
			msg.pop_back();
		die("{}", msg.empty() ? "the monitor did not start" : msg);
	}
	return (pid_t)strtol(msg.c_str() + 3, nullptr, 10);
}

bool monitor_stop(const std::string &address)
{
	auto r = ask(address, "stop");
	return r && *r == "ok\n";
}

std::optional<MonitorState> read_monitor_state(const Store &s, const std::string &dir)
{
	std::string f = state_file(s, dir);
	std::string body;
	try {
		if (!path_exists(f))
			return std::nullopt;
		body = read_file_small(f);
	} catch (const Error &) {
		return std::nullopt;
	}
	MonitorState st;
	std::string got_dir, tree;
	size_t pos = 0;
	while (pos < body.size()) {
		size_t nl = body.find('\n', pos);
		if (nl == std::string::npos)
			break;
		std::string line = body.substr(pos, nl - pos);
		pos = nl + 1;
		if (line.compare(0, 4, "dir ") == 0)
			got_dir = line.substr(4);
		else if (line.compare(0, 6, "token ") == 0)
			st.token = line.substr(6);
		else if (line.compare(0, 5, "tree ") == 0)
			tree = line.substr(5);
	}
	auto o = Oid::from_hex(tree);
	if (got_dir != dir || st.token.empty() || !o)
		return std::nullopt;
	st.tree = *o;
	return st;
}

void write_monitor_state(const Store &s, const std::string &dir, const MonitorState &st)
{
	try {
		mkdir_p(s.path("pach/monitor"));
		write_file_atomic(state_file(s, dir), fmt::format("dir {}\ntoken {}\ntree {}\n", dir, st.token, st.tree.hex()));
	} catch (const Error &) {
		// Without it the next commit walks everything: slower, not wrong.
	}
}

void forget_monitor_states(const Store &s)
{
	std::string d = s.path("pach/monitor");
	DirStream ds(d);
	if (!ds)
		return;
	while (struct dirent *e = ds.next())
		unlinkat(ds.fd(), e->d_name, 0);
}

bool for_each_changed(const std::string &dir, const std::vector<std::string> &sorted_paths,
		      const std::function<void(const std::string &, const std::vector<std::string> &)> &fn)
{
	std::vector<std::string> handled;   // paths whose whole subtree is settled
	for (auto &p : sorted_paths) {
		std::vector<std::string> parts;
		bool ok = true;
		for_each_component(p, [&](const std::string &c) {
			parts.push_back(c);
			ok = ok && valid_tree_name(c) && c != ".pach";
		});
		if (!ok || parts.empty())
			continue;   // a snapshot leaves such names out too
		bool below = false;
		for (auto &h : handled)
			below = below || (p.size() > h.size() && !p.compare(0, h.size(), h) && p[h.size()] == '/');
		if (below)
			continue;
		// Every directory on the way is still one (else it is in the list
		// itself, settled above); a symlink there is never followed.
		std::string at = dir;
		for (size_t i = 0; i + 1 < parts.size(); i++) {
			at += "/" + parts[i];
			if (!is_dir_nofollow(at))
				return false;
		}
		handled.push_back(p);
		fn(p, parts);
	}
	return true;
}

std::optional<std::optional<TreeEntry>> snapshot_changes(Store &s, ObjectWriter &w, const std::string &dir,
							 const Oid &prev, const std::vector<std::string> &paths,
							 SnapshotStats *stats)
{
	std::optional<Oid> tree = prev;
	bool fits = for_each_changed(dir, paths, [&](const std::string &p, const std::vector<std::string> &parts) {
		std::string abs = dir + "/" + p;
		struct stat st;
		std::optional<TreeEntry> e;
		if (lstat(abs.c_str(), &st) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				die_errno("unable to stat '" + abs + "'");
		} else if (S_ISDIR(st.st_mode)) {
			StatCacheStream none("");
			e = snapshot(s, w, abs, none, stats, 0);
		} else if (S_ISLNK(st.st_mode)) {
			// Stored as the link, as the walk does (snapshot() would
			// follow a symlink it is named).
			std::string target = read_link_at(AT_FDCWD, abs, (uint64_t)st.st_size, abs);
			e = TreeEntry{"", kModeLink, w.blob(target.data(), target.size())};
			if (stats) {
				stats->files++;
				stats->links++;
			}
		} else if (S_ISREG(st.st_mode)) {
			StatCacheStream none("");
			e = snapshot(s, w, abs, none, stats, 1);
		} else {
			warning("skipping '" + abs + "': not a regular file, directory or symlink");
		}
		if (e)
			e->name.clear();
		// Only what is there changes: a path the tree never had and that
		// is gone again costs nothing.
		if (!e && !(tree && lookup_path(w, *tree, parts)))
			return;
		tree = edit_tree(s, w, tree, parts, e);
	});
	if (!fits)
		return std::nullopt;
	if (!tree || *tree == empty_tree_oid())
		return std::optional<TreeEntry>();
	return std::optional<TreeEntry>(TreeEntry{"", kModeDir, *tree});
}

} // namespace pach
