#include "runner/runtime.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace pach::runner {

namespace {

class LocalRuntime : public Runtime {
public:
	std::string name() const override { return "local"; }

	ProcessResult run(const ProcessSpec &p) override
	{
		ProcessResult r;
		int in[2];
		if (pipe2(in, O_CLOEXEC) < 0)
			die_errno("unable to create a pipe");
		Fd log(::open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
		if (!log)
			die_errno("unable to open log '" + p.log_path + "'");
		// Build everything the child needs before fork: no allocation after.
		std::vector<std::string> envs;
		for (const char *keep : {"PATH", "HOME", "LANG", "TZ"})
			if (const char *v = getenv(keep))
				envs.push_back(std::string(keep) + "=" + v);
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
		std::string cwd = p.cwd.empty() ? p.pfs_dir : p.cwd;
		bool as_root = geteuid() == 0;

		pid_t pid = fork();
		if (pid < 0)
			die_errno("unable to fork");
		if (pid == 0) {
			setpgid(0, 0);
			dup2(in[0], 0);
			dup2(log.get(), 1);
			dup2(log.get(), 2);
			// Show the datum at /pfs, as a container would, in a mount
			// namespace of our own; as non-root, $PFS tells where it is.
			bool mounted = false;
			if (p.pfs_dir.empty()) {
				mounted = true; // a container runtime takes care of /pfs
			} else if (as_root && unshare(CLONE_NEWNS) == 0 &&
			    mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
				mkdir("/pfs", 0755);
				mounted = mount(p.pfs_dir.c_str(), "/pfs", nullptr, MS_BIND | MS_REC, nullptr) == 0;
			}
			if (!mounted) {
				static const char msg[] = "pach: local runtime: /pfs is not available here; see $PFS\n";
				(void)!write(2, msg, sizeof msg - 1);
			}
			const char *dir = p.pfs_dir.empty() ? (cwd.empty() ? "/" : cwd.c_str())
					  : mounted && p.cwd.empty() ? "/pfs"
								     : cwd.c_str();
			if (chdir(dir) < 0)
				_exit(126);
			execvpe(argv[0], argv.data(), envp.data());
			dprintf(2, "pach: unable to run '%s': %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		setpgid(pid, pid);
		close(in[0]);
		// Feed stdin from a thread: a command that does not read it must
		// not block us.
		std::string input;
		for (auto &l : p.stdin_lines)
			input += l + "\n";
		int wfd = in[1];
		std::thread feeder([wfd, input] {
			signal(SIGPIPE, SIG_IGN);
			size_t off = 0;
			while (off < input.size()) {
				ssize_t n = write(wfd, input.data() + off, input.size() - off);
				if (n <= 0)
					break;
				off += (size_t)n;
			}
			close(wfd);
		});
		auto start = std::chrono::steady_clock::now();
		int status = 0;
		for (;;) {
			pid_t w = waitpid(pid, &status, p.timeout > 0 ? WNOHANG : 0);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR)
				die_errno("waitpid");
			if (p.timeout > 0 &&
			    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > p.timeout) {
				kill(-pid, SIGKILL);
				r.timed_out = true;
				waitpid(pid, &status, 0);
				break;
			}
			if (w == 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(5));
		}
		// Whatever the command left running in its group goes with it.
		kill(-pid, SIGKILL);
		feeder.join();
		if (WIFEXITED(status))
			r.exit_code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			r.signal = WTERMSIG(status);
		return r;
	}
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
		add({"--ro-bind", rootfs_, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
		// Inputs read-only, /pfs/out writable on top.
		add({"--ro-bind", p.pfs_dir, "/pfs", "--bind", p.pfs_dir + "/out", "/pfs/out"});
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
		return local_->run(q);
	}

private:
	std::string rootfs_;
	std::unique_ptr<Runtime> local_;
};

std::string jstr(const std::string &s)
{
	std::string o = "\"";
	for (unsigned char c : s) {
		if (c == '"' || c == '\\')
			o += '\\', o += (char)c;
		else if (c < 0x20)
			o += fmt::format("\\u{:04x}", c);
		else
			o += (char)c;
	}
	return o + "\"";
}

// runc and crun take the same bundle and the same commands.
class RuncRuntime : public Runtime {
public:
	RuncRuntime(std::string rootfs, std::string bin)
		: rootfs_(std::move(rootfs)), bin_(std::move(bin)), local_(make_local_runtime())
	{
	}
	std::string name() const override { return bin_; }

	ProcessResult run(const ProcessSpec &p) override
	{
		std::string bundle = p.pfs_dir + "/../bundle";
		mkdir_p(bundle);
		std::string args, env;
		for (auto &a : p.argv)
			args += (args.empty() ? "" : ",") + jstr(a);
		env = jstr("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
		for (auto &[k, v] : p.env)
			if (k != "PFS")
				env += "," + jstr(k + "=" + v);
		std::string ns = R"({"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"})";
		if (!p.network)
			ns += R"(,{"type":"network"})";
		std::string resources = R"("pids":{"limit":4096})";
		if (p.memory_limit)
			resources += fmt::format(R"(,"memory":{{"limit":{},"swap":{}}})", p.memory_limit, p.memory_limit);
		std::string config = fmt::format(
			R"({{"ociVersion":"1.0.2","process":{{"terminal":false,"user":{{"uid":0,"gid":0}},"args":[{}],"env":[{}],"cwd":{},)"
			R"("noNewPrivileges":true,"capabilities":{{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],)"
			R"("effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]}}}},)"
			R"("root":{{"path":{},"readonly":true}},"hostname":"pach",)"
			R"("mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},)"
			R"({{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},)"
			R"({{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}},)"
			R"({{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}},)"
			R"({{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","mode=1777"]}},)"
			R"({{"destination":"/pfs","type":"bind","source":{},"options":["rbind","ro","nosuid","nodev"]}},)"
			R"({{"destination":"/pfs/out","type":"bind","source":{},"options":["rbind","rw","nosuid","nodev"]}}],)"
			R"("linux":{{"namespaces":[{}],"resources":{{{}}},)"
			R"("maskedPaths":["/proc/kcore","/proc/keys","/proc/timer_list","/sys/firmware"],)"
			R"("readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}}})",
			args, env, jstr(p.cwd.empty() ? "/pfs" : p.cwd), jstr(rootfs_), jstr(absolute_path(p.pfs_dir)),
			jstr(absolute_path(p.pfs_dir + "/out")), ns, resources);
		write_file_atomic(bundle + "/config.json", config);
		std::string id = "pach-" + (p.id.empty() ? std::to_string(getpid()) : p.id);
		ProcessSpec q;
		q.argv = {bin_, "run", "--bundle", bundle, id};
		q.stdin_lines = p.stdin_lines;
		q.log_path = p.log_path;
		q.timeout = p.timeout;
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

} // namespace

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

std::unique_ptr<Runtime> make_bwrap_runtime(const std::string &rootfs)
{
	return std::make_unique<BwrapRuntime>(rootfs);
}

std::string runtime_name(const std::string &override_name, const std::string &spec_runtime, const std::string &image)
{
	std::string name = !override_name.empty() ? override_name : spec_runtime;
	if (name.empty())
		name = image.empty() ? "local" : "bwrap";
	return name;
}

std::unique_ptr<Runtime> make_runtime(const std::string &name, const std::string &rootfs)
{
	if (name == "local")
		return make_local_runtime();
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
	die("runtime '{}' is not supported by pach yet (local, bwrap, runc and crun are; docker and podman are being added)",
	    name);
}

std::unique_ptr<Runtime> make_local_runtime()
{
	return std::make_unique<LocalRuntime>();
}

} // namespace pach::runner
