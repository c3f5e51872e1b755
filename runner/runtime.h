// Where user code runs.  Every runtime gets the same request: a command,
// the host directory that must appear as /pfs, environment, and a log;
// only how (and how isolated) differs: `local` (a plain process; as root
// it still sees the datum at /pfs through a private mount namespace),
// bwrap, runc/crun (an OCI bundle per datum), docker/podman (their CLI).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pach::runner {

struct ProcessSpec {
	std::vector<std::string> argv;          // run without a shell
	std::vector<std::string> stdin_lines;
	std::map<std::string, std::string> env;
	std::string cwd;                        // "" = the /pfs directory's parent
	std::string pfs_dir;                    // host directory shown as /pfs
	std::string log_path;                   // stdout and stderr go here
	std::string err_path;                   // if set, stderr goes here instead
	double timeout = -1;                    // seconds; kills the process group
	bool network = false;                   // containers: share the host's network
	uint64_t memory_limit = 0;              // bytes, where the runtime enforces it (runc, podman)
	double cpu_limit = 0;                   // cores, where the runtime enforces it (runc, podman)
	std::string user;                       // "uid[:gid]" or "name[:group]"; "" = root
	std::string image;                      // docker/podman: the image name ("" = the rootfs)
	std::string id;                         // unique per run (container names)
	// More host directories seen inside (writable): (host path, path
	// inside).  The local runtime shows the host's file system as it is.
	std::vector<std::pair<std::string, std::string>> binds;
	// When set and true, the process is stopped as on a timeout (a datum
	// batch's process, once its slot has no datum left).
	const std::atomic<bool> *cancel = nullptr;
};

struct ProcessResult {
	int exit_code = -1;                     // -1 when killed by a signal
	int signal = 0;
	bool timed_out = false;
	std::string error;                      // could not start it at all
};

class Runtime {
public:
	virtual ~Runtime() = default;
	virtual std::string name() const = 0;
	virtual ProcessResult run(const ProcessSpec &p) = 0;
	// Whether resource_limits are enforced (cgroups through the runtime).
	virtual bool enforces_limits() const { return false; }
};

// A user spec ("1000", "1000:100", "nobody", "app:staff") as ids, names
// looked up in ROOT/etc/passwd and ROOT/etc/group; dies when unknown.
// Without a group, the user's primary group (0 for an unknown uid).
struct UserIds {
	unsigned uid = 0, gid = 0;
};
UserIds resolve_user(const std::string &user, const std::string &root);

std::unique_ptr<Runtime> make_local_runtime();
// bubblewrap over a root filesystem directory: new namespaces (no network
// unless asked), read-only root and inputs, writable /pfs/out, private
// /tmp, /proc and /dev; dies with pach.
std::unique_ptr<Runtime> make_bwrap_runtime(const std::string &rootfs);
// runc with an OCI bundle made per datum: pid, mount, ipc, uts and (unless
// asked) network namespaces, read-only root and inputs, memory limit by
// cgroup; on a timeout the container itself is killed and deleted.
std::unique_ptr<Runtime> make_runc_runtime(const std::string &rootfs);
// docker or podman (bin) through its CLI: the image is a name the engine
// knows, or (podman) an unpacked rootfs.  No network unless asked,
// read-only root, ulimits no higher than pach's own.
std::unique_ptr<Runtime> make_cli_runtime(const std::string &bin, const std::string &rootfs);
// Whether docker's daemon answers (the client alone is not enough).
// Asks the docker daemon (up to 10 s) on every call; callers ask once.
bool docker_works();
// "0.5", "2", "500m" -> cores; 0 for ""; -1 if malformed.
double parse_cpu(const std::string &s);
// "512Mi", "1G", "100M", "1024" -> bytes; 0 for ""; -1 if malformed.
int64_t parse_memory(const std::string &s);

// The runtime's name for a spec: `override` (pach run --runtime), else the
// spec's `runtime`, else `config` (pach.runtime), else: no image -> local;
// an image -> the first that works here of bwrap, runc, crun, podman,
// docker.
std::string runtime_name(const std::string &override_name, const std::string &spec_runtime, const std::string &image,
			 const std::string &config = "");
// "": not a runtime pach knows.
bool known_runtime(const std::string &name);
// Make it; rootfs is the unpacked image (unused by local).  Dies with
// what to do when it cannot run here.
std::unique_ptr<Runtime> make_runtime(const std::string &name, const std::string &rootfs);
bool have_program(const std::string &name);

} // namespace pach::runner
