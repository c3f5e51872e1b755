#include "runner/runtime.h"
#include "plumbing/number.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/quote.h"

#include <sstream>
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <cstring>
#include <fstream>
#include <thread>

extern char **environ;

namespace pach::runner {

namespace {

// Credentials the worker read from its environment: never handed on to
// user code in a pod.
bool secret_env(const std::string &name)
{
	for (const char *k : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
		if (name == k)
			return true;
	return name.compare(0, 12, "PACH_WORKER_") == 0;
}

enum { kStageRedirect = 1, kStageChdir, kStageUser, kStageExec };

// What a child needs between clone and exec, all made before: it runs on
// the parent's memory (CLONE_VM | CLONE_VFORK), so it only makes system
// calls (no malloc, no locks; set*id as raw calls: glibc's would signal
// the parent's threads).
struct Child {
	int in, out, err, rep;
	bool as_root, switch_user;
	const char *dir, *pfs_dir, *pfs_cwd, *cwd, *no_pfs;
	size_t no_pfs_len;
	unsigned uid, gid;
	char **argv, **envp;
	sigset_t mask;   // the caller's: the program starts with it
};

int child_main(void *arg)
{
	Child &c = *static_cast<Child *>(arg);
	auto fail = [&](int stage) {
		int msg[2] = {stage, errno};
		(void)!::write(c.rep, msg, sizeof msg);
		_exit(127);
	};
	// pach's handlers must not run here (they would write the parent's
	// memory), and what pach ignores (SIGPIPE) the program must not.
	struct sigaction dfl {};
	dfl.sa_handler = SIG_DFL;
	for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT})
		sigaction(sig, &dfl, nullptr);
	sigprocmask(SIG_SETMASK, &c.mask, nullptr);
	setpgid(0, 0);
	if (dup2(c.in, 0) < 0 || dup2(c.out, 1) < 0 || dup2(c.err, 2) < 0)
		fail(kStageRedirect);
	// Show the datum at /pfs, as a container would, in a mount namespace
	// of our own; as non-root, $PFS tells where it is.
	const char *dir = c.dir;
	if (!dir) {
		bool mounted = c.as_root && unshare(CLONE_NEWNS) == 0 &&
			       mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
			       (mkdir("/pfs", 0755) == 0 || errno == EEXIST) &&
			       mount(c.pfs_dir, "/pfs", nullptr, MS_BIND | MS_REC, nullptr) == 0;
		if (!mounted)
			(void)!::write(2, c.no_pfs, c.no_pfs_len);
		dir = mounted ? c.pfs_cwd : c.cwd;
	}
	if (chdir(dir) < 0)
		fail(kStageChdir);
	if (c.switch_user && (syscall(SYS_setgroups, 0, nullptr) < 0 || syscall(SYS_setgid, c.gid) < 0 ||
			      syscall(SYS_setuid, c.uid) < 0))
		fail(kStageUser);
	execvpe(c.argv[0], c.argv, c.envp);
	fail(kStageExec);
	return 127;
}

class LocalRuntime : public Runtime {
public:
	// in_pod: pach is a worker inside the pipeline's own container (a
	// Kubernetes pod); the datum is at /pfs itself, the image's
	// environment (the container's) is handed on, less credentials.
	explicit LocalRuntime(bool in_pod = false) : in_pod_(in_pod) {}
	std::string name() const override { return in_pod_ ? "pod" : "local"; }

	ProcessResult run(const ProcessSpec &p) override
	{
		ProcessResult r;
		Fd log(::open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
		if (!log)
			die_errno("unable to open log '" + p.log_path + "'");
		Fd errlog;
		if (!p.err_path.empty()) {
			errlog = Fd(::open(p.err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
			if (!errlog)
				die_errno("unable to open log '" + p.err_path + "'");
		}
		// Everything the child needs is built before fork: between fork
		// and exec only async-signal-safe calls (other threads may hold
		// malloc's or stdio's locks).
		std::vector<std::string> envs;
		if (in_pod_) {
			for (char **e = environ; *e; e++) {
				std::string kv = *e;
				std::string k = kv.substr(0, kv.find('='));
				if (!secret_env(k) && !p.env.count(k))
					envs.push_back(kv);
			}
		} else {
			for (const char *keep : {"PATH", "HOME", "LANG", "TZ"})
				if (const char *v = getenv(keep))
					envs.push_back(std::string(keep) + "=" + v);
		}
		if (!getenv("PATH"))
			envs.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
		for (auto &[k, v] : p.env)
			envs.push_back(k + "=" + v);
		std::vector<char *> envp, argv;
		for (auto &e : envs)
			envp.push_back(const_cast<char *>(e.c_str()));
		envp.push_back(nullptr);
		for (auto &a : p.argv)
			argv.push_back(const_cast<char *>(a.c_str()));
		argv.push_back(nullptr);
		if (p.argv.empty())
			die("no command to run");
		std::string cwd = p.cwd.empty() ? p.pfs_dir : p.cwd;
		if (in_pod_ && p.cwd.empty()) {
			// The image's WORKDIR, as the container started the worker.
			char here[4096];
			cwd = getcwd(here, sizeof here) ? here : "/";
		}
		bool as_root = geteuid() == 0;
		UserIds ids;
		if (!p.user.empty()) {
			if (!as_root)
				die("transform.user '{}' needs root with the 'local' runtime", p.user);
			ids = resolve_user(p.user, "/");
			if (!p.pfs_dir.empty() && chown((p.pfs_dir + "/out").c_str(), ids.uid, ids.gid) < 0)
				die_errno("unable to hand /pfs/out to user '" + p.user + "'");
		}
		bool switch_user = !p.user.empty();
		const char *dir = p.pfs_dir.empty() || in_pod_ ? (cwd.empty() ? "/" : cwd.c_str()) : nullptr;
		const char *pfs_cwd = p.cwd.empty() ? "/pfs" : cwd.c_str();
		static const char no_pfs[] = "pach: local runtime: /pfs is not available here; see $PFS\n";

		// stdin, and a close-on-exec pipe on which the child reports why
		// it could not exec (the parent then knows it never ran: not the
		// command's own exit 127).
		int in[2], rep[2];
		if (pipe2(in, O_CLOEXEC) < 0)
			die_errno("unable to create a pipe");
		Fd in_r(in[0]), in_w(in[1]);
		if (pipe2(rep, O_CLOEXEC) < 0)
			die_errno("unable to create a pipe");
		Fd rep_r(rep[0]), rep_w(rep[1]);
		// The child shares our memory until it execs (vfork): no copy of
		// pach's address space to make and tear down (2 ms of a datum on
		// a VM).  Signals stay blocked here meanwhile.
		Child c;
		c.in = in_r.get();
		c.out = log.get();
		c.err = errlog ? errlog.get() : log.get();
		c.rep = rep_w.get();
		c.as_root = as_root;
		c.switch_user = switch_user;
		c.dir = dir;
		c.pfs_dir = p.pfs_dir.c_str();
		c.pfs_cwd = pfs_cwd;
		c.cwd = cwd.c_str();
		c.no_pfs = no_pfs;
		c.no_pfs_len = sizeof no_pfs - 1;
		c.uid = ids.uid;
		c.gid = ids.gid;
		c.argv = argv.data();
		c.envp = envp.data();
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &c.mask);
		constexpr size_t kStack = 256 << 10;
		static thread_local std::unique_ptr<char[]> stack;
		if (!stack)
			stack.reset(new char[kStack]);
		pid_t pid = clone(child_main, stack.get() + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
		int clone_errno = errno;
		pthread_sigmask(SIG_SETMASK, &c.mask, nullptr);
		if (pid < 0) {
			errno = clone_errno;
			die_errno("unable to start a process");
		}
		setpgid(pid, pid);
		in_r.close();
		rep_w.close();
		// Feed stdin (from a thread when it is more than the pipe holds:
		// a command that does not read it must not block us).  Joined on
		// every way out.
		std::string input;
		for (auto &l : p.stdin_lines)
			input += l + "\n";
		struct Feeder {
			std::thread t;
			~Feeder()
			{
				if (t.joinable())
					t.join();
			}
		} feeder;
		int room = fcntl(in_w.get(), F_GETPIPE_SZ);
		if (input.size() <= (size_t)std::max(room, 0)) {
			// An empty pipe takes what it holds without blocking: no thread.
			if (!input.empty())
				(void)!::write(in_w.get(), input.data(), input.size());
			in_w.close();
		} else {
			feeder.t = std::thread([fd = in_w.release(), input = std::move(input)] {
				Fd w(fd);
				size_t off = 0;
				while (off < input.size()) {   // SIGPIPE is ignored (main): EPIPE ends it
					ssize_t n = ::write(w.get(), input.data() + off, input.size() - off);
					if (n < 0 && errno == EINTR)
						continue;
					if (n <= 0)
						break;
					off += (size_t)n;
				}
			});
		}
		int status = 0;
		bool reaped = false;
		struct Reaper {
			pid_t pid;
			bool &reaped;
			~Reaper()
			{
				// Whatever the command left running in its group goes with
				// it; a throw on the way still leaves no child behind.
				kill(-pid, SIGKILL);
				int st;
				if (!reaped)
					while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
					}
			}
		} reaper{pid, reaped};
		auto start = std::chrono::steady_clock::now();
		for (;;) {
			pid_t w = waitpid(pid, &status, p.timeout > 0 || p.cancel ? WNOHANG : 0);
			if (w == pid) {
				reaped = true;
				break;
			}
			if (w < 0 && errno != EINTR)
				die_errno("waitpid");
			if ((p.timeout > 0 &&
			     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > p.timeout) ||
			    (p.cancel && p.cancel->load())) {
				kill(-pid, SIGKILL);
				r.timed_out = true;
				while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
				}
				reaped = true;
				break;
			}
			if (w == 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(5));
		}
		int msg[2];
		if (read_full(rep_r.get(), msg, sizeof msg, "the child's report") == sizeof msg) {
			const char *what = msg[0] == kStageExec	     ? "unable to run '{}': {}"
					   : msg[0] == kStageChdir   ? "unable to enter the working directory for '{}': {}"
					   : msg[0] == kStageUser    ? "unable to become the transform's user for '{}': {}"
								     : "unable to set up the input and output of '{}': {}";
			r.error = fmt::format(fmt::runtime(what), p.argv[0], strerror(msg[1]));
			return r;
		}
		if (WIFEXITED(status))
			r.exit_code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			r.signal = WTERMSIG(status);
		return r;
	}

private:
	bool in_pod_;
};

class BwrapRuntime : public Runtime {
public:
	explicit BwrapRuntime(std::string rootfs) : rootfs_(std::move(rootfs)), local_(make_local_runtime()) {}
	std::string name() const override { return "bwrap"; }

	ProcessResult run(const ProcessSpec &p) override
	{
		ProcessSpec q;
		q.argv = {"bwrap", "--die-with-parent", "--unshare-all"};
		if (p.network)
			q.argv.push_back("--share-net");
		auto add = [&](std::initializer_list<std::string> v) { q.argv.insert(q.argv.end(), v); };
		if (!p.user.empty()) {
			// The sandbox's uid maps to ours, so /pfs/out stays writable.
			UserIds ids = resolve_user(p.user, rootfs_);
			add({"--unshare-user", "--uid", std::to_string(ids.uid), "--gid", std::to_string(ids.gid)});
		}
		add({"--ro-bind", rootfs_, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
		// Inputs read-only, /pfs/out writable on top.
		add({"--ro-bind", p.pfs_dir, "/pfs", "--bind", p.pfs_dir + "/out", "/pfs/out"});
		for (auto &[host, in] : p.binds)
			add({"--bind", host, in});
		add({"--chdir", p.cwd.empty() ? "/pfs" : p.cwd, "--clearenv"});
		add({"--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
		for (auto &[k, v] : p.env)
			if (k != "PFS")
				add({"--setenv", k, v});
		q.argv.push_back("--");
		q.argv.insert(q.argv.end(), p.argv.begin(), p.argv.end());
		q.stdin_lines = p.stdin_lines;
		q.log_path = p.log_path;
		q.timeout = p.timeout;
		q.cancel = p.cancel;
		return local_->run(q);
	}

private:
	std::string rootfs_;
	std::unique_ptr<Runtime> local_;
};

// runc and crun take the same bundle and the same commands.
class RuncRuntime : public Runtime {
public:
	RuncRuntime(std::string rootfs, std::string bin)
		: rootfs_(std::move(rootfs)), bin_(std::move(bin)), local_(make_local_runtime())
	{
	}
	std::string name() const override { return bin_; }
	bool enforces_limits() const override { return true; }

	ProcessResult run(const ProcessSpec &p) override
	{
		std::string bundle = p.pfs_dir + "/../bundle";
		mkdir_p(bundle);
		std::string args, env;
		for (auto &a : p.argv)
			args += (args.empty() ? "" : ",") + json_string(a);
		env = json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
		for (auto &[k, v] : p.env)
			if (k != "PFS")
				env += "," + json_string(k + "=" + v);
		std::string ns = R"({"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"})";
		if (!p.network)
			ns += R"(,{"type":"network"})";
		std::string resources = R"("pids":{"limit":4096})";
		if (p.memory_limit)
			resources += fmt::format(R"(,"memory":{{"limit":{},"swap":{}}})", p.memory_limit, p.memory_limit);
		if (p.cpu_limit > 0)
			resources += fmt::format(R"(,"cpu":{{"quota":{},"period":100000}})",
						 std::max<long>(1000, (long)(p.cpu_limit * 100000)));
		UserIds ids;
		if (!p.user.empty()) {
			ids = resolve_user(p.user, rootfs_);
			if (chown((p.pfs_dir + "/out").c_str(), ids.uid, ids.gid) < 0)
				die_errno("unable to hand /pfs/out to user '" + p.user + "'");
		}
		std::string extra;
		for (auto &[host, in] : p.binds)
			extra += fmt::format(R"(,{{"destination":{},"type":"bind","source":{},"options":["rbind","rw","nosuid","nodev"]}})",
					     json_string(in), json_string(absolute_path(host)));
		std::string config = fmt::format(
			R"({{"ociVersion":"1.0.2","process":{{"terminal":false,"user":{{"uid":{},"gid":{}}},"args":[{}],"env":[{}],"cwd":{},)"
			R"("noNewPrivileges":true,"capabilities":{{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],)"
			R"("effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]}}}},)"
			R"("root":{{"path":{},"readonly":true}},"hostname":"pach",)"
			R"("mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},)"
			R"({{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},)"
			R"({{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}},)"
			R"({{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}},)"
			R"({{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","mode=1777"]}},)"
			R"({{"destination":"/pfs","type":"bind","source":{},"options":["rbind","ro","nosuid","nodev"]}},)"
			R"({{"destination":"/pfs/out","type":"bind","source":{},"options":["rbind","rw","nosuid","nodev"]}}{}],)"
			R"("linux":{{"namespaces":[{}],"resources":{{{}}},)"
			R"("maskedPaths":["/proc/kcore","/proc/keys","/proc/timer_list","/sys/firmware"],)"
			R"("readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}}})",
			ids.uid, ids.gid, args, env, json_string(p.cwd.empty() ? "/pfs" : p.cwd), json_string(rootfs_), json_string(absolute_path(p.pfs_dir)),
			json_string(absolute_path(p.pfs_dir + "/out")), extra, ns, resources);
		write_file_atomic(bundle + "/config.json", config);
		std::string id = "pach-" + (p.id.empty() ? std::to_string(getpid()) : p.id);
		ProcessSpec q;
		q.argv = {bin_, "run", "--bundle", bundle, id};
		q.stdin_lines = p.stdin_lines;
		q.log_path = p.log_path;
		q.timeout = p.timeout;
		q.cancel = p.cancel;
		auto r = local_->run(q);
		// runc's own death does not end the container: end it here.
		ProcessSpec del;
		del.argv = {bin_, "delete", "--force", id};
		del.log_path = bundle + "/delete.log";
		local_->run(del);
		return r;
	}

private:
	std::string rootfs_, bin_;
	std::unique_ptr<Runtime> local_;
};


// cgroup v1 and v2 mounted side by side: crun refuses to run there.
bool hybrid_cgroups()
{
	struct stat st;
	return ::stat("/sys/fs/cgroup/unified", &st) == 0 && S_ISDIR(st.st_mode) &&
	       ::stat("/sys/fs/cgroup/memory", &st) == 0;
}

// docker and podman take the same options.  pach's own hard limits are
// the most a container can get here (runc refuses to raise them), so
// they are passed down explicitly.
class CliRuntime : public Runtime {
public:
	CliRuntime(std::string bin, std::string rootfs)
		: bin_(std::move(bin)), rootfs_(std::move(rootfs)), local_(make_local_runtime())
	{
	}
	std::string name() const override { return bin_; }
	bool enforces_limits() const override { return true; }

	ProcessResult run(const ProcessSpec &p) override
	{
		std::string name = "pach-" + (p.id.empty() ? std::to_string(getpid()) : p.id);
		ProcessSpec q;
		q.argv = {bin_, "run", "--rm", "-i", "--name", name, "--read-only", "--tmpfs", "/tmp"};
		auto add = [&](std::initializer_list<std::string> v) { q.argv.insert(q.argv.end(), v); };
		if (!p.network)
			add({"--network", "none"});
		// podman may pick crun, which refuses hybrid cgroup hosts.
		if (bin_ == "podman" && hybrid_cgroups() && have_program("runc"))
			add({"--runtime", "runc"});
		// Open files: our own soft limit.  Processes: 4096 at most (the
		// engine's monitor may run with less than we do).
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			add({"--ulimit", fmt::format("nofile={}:{}", rl.rlim_cur, rl.rlim_cur)});
		if (getrlimit(RLIMIT_NPROC, &rl) == 0) {
			rlim_t n = std::min<rlim_t>(rl.rlim_cur, 4096);
			add({"--ulimit", fmt::format("nproc={}:{}", n, n)});
		}
		if (p.memory_limit)
			add({"--memory", std::to_string(p.memory_limit)});
		if (p.cpu_limit > 0)
			add({"--cpus", fmt::format("{:.3f}", p.cpu_limit)});
		if (!p.user.empty()) {
			// The engine resolves the name in the image; whoever it is
			// must be able to write /pfs/out.
			add({"--user", p.user});
			if (chmod((p.pfs_dir + "/out").c_str(), 0777) < 0)
				die_errno("unable to open /pfs/out to user '" + p.user + "'");
		}
		add({"-v", absolute_path(p.pfs_dir) + ":/pfs:ro", "-v", absolute_path(p.pfs_dir + "/out") + ":/pfs/out:rw"});
		for (auto &[host, in] : p.binds)
			add({"-v", absolute_path(host) + ":" + in + ":rw"});
		if (!p.cwd.empty())
			add({"-w", p.cwd});
		else
			add({"-w", "/pfs"});
		for (auto &[k, v] : p.env)
			if (k != "PFS")
				add({"-e", k + "=" + v});
		if (!p.image.empty()) {
			q.argv.push_back(p.image);
		} else {
			if (bin_ != "podman")
				die("runtime '{}' runs images it knows by name only (load the image into it, or use podman)", bin_);
			add({"--rootfs", rootfs_});
		}
		q.argv.insert(q.argv.end(), p.argv.begin(), p.argv.end());
		q.stdin_lines = p.stdin_lines;
		q.log_path = p.log_path;
		q.timeout = p.timeout;
		q.cancel = p.cancel;
		auto r = local_->run(q);
		if (r.timed_out) {
			// The client's death does not end the container: end it here.
			ProcessSpec del;
			del.argv = {bin_, "rm", "-f", name};
			del.log_path = absolute_path(p.pfs_dir + "/../rm.log");
			local_->run(del);
		}
		return r;
	}

private:
	std::string bin_, rootfs_;
	std::unique_ptr<Runtime> local_;
};

} // namespace

double parse_cpu(const std::string &s)
{
	if (s.empty())
		return 0;
	char *end;
	double v = strtod(s.c_str(), &end);
	if (end == s.c_str() || !(v > 0) || v > 1e6)
		return -1;
	std::string unit = end;
	if (unit == "m")
		return v / 1000;
	return unit.empty() ? v : -1;
}

int64_t parse_memory(const std::string &s)
{
	if (s.empty())
		return 0;
	char *end;
	double v = strtod(s.c_str(), &end);
	if (end == s.c_str() || v < 0)
		return -1;
	std::string unit = end;
	double mult = 1;
	if (unit == "" || unit == "B")
		mult = 1;
	else if (unit == "K" || unit == "k" || unit == "KB")
		mult = 1e3;
	else if (unit == "M" || unit == "MB")
		mult = 1e6;
	else if (unit == "G" || unit == "GB")
		mult = 1e9;
	else if (unit == "Ki")
		mult = 1024.0;
	else if (unit == "Mi")
		mult = 1024.0 * 1024;
	else if (unit == "Gi")
		mult = 1024.0 * 1024 * 1024;
	else
		return -1;
	return (int64_t)(v * mult);
}

std::unique_ptr<Runtime> make_runc_runtime(const std::string &rootfs)
{
	return std::make_unique<RuncRuntime>(rootfs, "runc");
}

bool have_program(const std::string &name)
{
	const char *path = getenv("PATH");
	std::string ps = path ? path : "/usr/bin:/bin";
	size_t i = 0;
	while (i <= ps.size()) {
		size_t j = ps.find(':', i);
		if (j == std::string::npos)
			j = ps.size();
		std::string cand = ps.substr(i, j - i) + "/" + name;
		if (access(cand.c_str(), X_OK) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

UserIds resolve_user(const std::string &user, const std::string &root)
{
	auto colon = user.find(':');
	std::string u = user.substr(0, colon), g = colon == std::string::npos ? "" : user.substr(colon + 1);
	auto numeric = [](const std::string &x) {
		return !x.empty() && x.size() < 10 && x.find_first_not_of("0123456789") == std::string::npos;
	};
	// NAME:x:ID:GID:... lines; returns the fields of the matching line.
	auto find = [&](const std::string &file, const std::string &key, bool by_id) -> std::vector<std::string> {
		// The image's own file: no symlink followed (an image's
		// /etc/passwd -> /etc/shadow would read the host's), a regular
		// file of sane size, read whole.
		std::string text;
		{
			Fd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
			Fd etc = rootfd ? open_dir_beneath(rootfd.get(), "etc", 0, root) : Fd();
			Fd f(etc ? ::openat(etc.get(), file.substr(5).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
				 : -1);
			struct stat st;
			if (f && fstat(f.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (16 << 20)) {
				text.resize((size_t)st.st_size);
				text.resize(read_full(f.get(), text.data(), text.size(), root + file));
			}
		}
		std::istringstream in(text);
		std::string line;
		while (std::getline(in, line)) {
			std::vector<std::string> f;
			size_t i = 0;
			for (;;) {
				size_t j = line.find(':', i);
				f.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
				if (j == std::string::npos)
					break;
				i = j + 1;
			}
			if (f.size() >= 3 && (by_id ? f[2] : f[0]) == key)
				return f;
		}
		return {};
	};
	if (u.empty())
		die("bad user '{}'", user);
	// Ids from the spec or the image's own /etc files: strictly parsed.
	auto id = [&](const std::string &t) {
		auto v = parse_uint64(t);
		if (!v || *v >= 0xffffffffu)
			die("bad user or group id '{}' (for user '{}')", t.substr(0, 40), user);
		return (unsigned)*v;
	};
	UserIds ids;
	if (numeric(u)) {
		ids.uid = id(u);
		auto f = find("/etc/passwd", u, true);
		if (f.size() >= 4 && numeric(f[3]))
			ids.gid = id(f[3]);
	} else {
		auto f = find("/etc/passwd", u, false);
		if (f.size() < 4 || !numeric(f[2]) || !numeric(f[3]))
			die("user '{}' is not in {}/etc/passwd", u, root == "/" ? "" : root);
		ids.uid = id(f[2]);
		ids.gid = id(f[3]);
	}
	if (!g.empty()) {
		if (numeric(g)) {
			ids.gid = id(g);
		} else {
			auto f = find("/etc/group", g, false);
			if (f.size() < 3 || !numeric(f[2]))
				die("group '{}' is not in {}/etc/group", g, root == "/" ? "" : root);
			ids.gid = id(f[2]);
		}
	}
	return ids;
}

bool docker_works()
{
	if (!have_program("docker"))
		return false;
	ProcessSpec p;
	p.argv = {"docker", "version", "--format", "{{.Server.Version}}"};
	p.log_path = "/dev/null";
	p.timeout = 10;
	return make_local_runtime()->run(p).exit_code == 0;
}

std::unique_ptr<Runtime> make_cli_runtime(const std::string &bin, const std::string &rootfs)
{
	return std::make_unique<CliRuntime>(bin, rootfs);
}

bool known_runtime(const std::string &name)
{
	for (const char *k : {"local", "bwrap", "runc", "crun", "podman", "docker"})
		if (name == k)
			return true;
	return false;
}

std::unique_ptr<Runtime> make_bwrap_runtime(const std::string &rootfs)
{
	return std::make_unique<BwrapRuntime>(rootfs);
}

std::string runtime_name(const std::string &override_name, const std::string &spec_runtime, const std::string &image,
			 const std::string &config)
{
	std::string name = !override_name.empty() ? override_name : !spec_runtime.empty() ? spec_runtime : config;
	if (!name.empty() || image.empty())
		return name.empty() ? "local" : name;
	// Probe: the cheapest isolation that works here.
	if (have_program("bwrap"))
		return "bwrap";
	if (have_program("runc"))
		return "runc";
	if (have_program("crun") && !hybrid_cgroups())
		return "crun";
	if (have_program("podman"))
		return "podman";
	if (have_program("docker"))
		return "docker";   // make_runtime asks whether its daemon answers
	die("no container runtime works here: install bubblewrap, runc or podman (Debian: apt-get install bubblewrap), "
	    "or set 'runtime: local'");
}

std::unique_ptr<Runtime> make_runtime(const std::string &name, const std::string &rootfs)
{
	if (name == "local")
		return make_local_runtime();
	if (name == "pod")
		return std::make_unique<LocalRuntime>(true);
	if (name == "bwrap") {
		if (!have_program("bwrap"))
			die("runtime 'bwrap' is not installed (Debian: apt-get install bubblewrap), or set 'runtime: local'");
		return make_bwrap_runtime(rootfs);
	}
	if (name == "runc") {
		if (!have_program("runc"))
			die("runtime 'runc' is not installed (Debian: apt-get install runc), or use 'runtime: bwrap'");
		return make_runc_runtime(rootfs);
	}
	if (name == "crun") {
		if (!have_program("crun"))
			die("runtime 'crun' is not installed (Debian: apt-get install crun), or use 'runtime: runc'");
		if (hybrid_cgroups())
			die("runtime 'crun' cannot run on this host: it refuses hybrid cgroup v1/v2 hierarchies; "
			    "use 'runtime: runc' or 'runtime: bwrap'");
		return std::make_unique<RuncRuntime>(rootfs, "crun");
	}
	if (name == "podman") {
		if (!have_program("podman"))
			die("runtime 'podman' is not installed (Debian: apt-get install podman), or use 'runtime: bwrap'");
		return make_cli_runtime("podman", rootfs);
	}
	if (name == "docker") {
		if (!have_program("docker"))
			die("runtime 'docker' is not installed, or use 'runtime: bwrap'");
		if (!docker_works())
			die("runtime 'docker': the docker daemon does not answer here (is it running?); use 'runtime: podman' or 'runtime: bwrap'");
		return make_cli_runtime("docker", rootfs);
	}
	die("unknown runtime '{}' (expected local, bwrap, runc, crun, podman or docker)", name);
}

std::unique_ptr<Runtime> make_local_runtime()
{
	return std::make_unique<LocalRuntime>();
}

} // namespace pach::runner
