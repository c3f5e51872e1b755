// Where user code runs.  Every runtime gets the same request: a command,
// the host directory that must appear as /pfs, environment, and a log;
// only how (and how isolated) differs.  This file has `local`: a plain
// process; as root it still sees the datum at /pfs, through a private
// mount namespace.  Container runtimes (runc, bwrap, ...) come next.
#pragma once

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
	double timeout = -1;                    // seconds; kills the process group
	bool network = false;                   // containers: share the host's network
	uint64_t memory_limit = 0;              // bytes, where the runtime enforces it (runc)
	std::string id;                         // unique per run (container names)
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
};

std::unique_ptr<Runtime> make_local_runtime();
// bubblewrap over a root filesystem directory: new namespaces (no network
// unless asked), read-only root and inputs, writable /pfs/out, private
// /tmp, /proc and /dev; dies with pach.
std::unique_ptr<Runtime> make_bwrap_runtime(const std::string &rootfs);
// runc with an OCI bundle made per datum: pid, mount, ipc, uts and (unless
// asked) network namespaces, read-only root and inputs, memory limit by
// cgroup; on a timeout the container itself is killed and deleted.
std::unique_ptr<Runtime> make_runc_runtime(const std::string &rootfs);
// "512Mi", "1G", "100M", "1024" -> bytes; 0 for ""; -1 if malformed.
int64_t parse_memory(const std::string &s);

// The runtime's name for a spec: `override` (pach run --runtime), else the
// spec's `runtime`, else: no image -> local, an image -> bwrap.
std::string runtime_name(const std::string &override_name, const std::string &spec_runtime, const std::string &image);
// Make it; rootfs is the unpacked image (unused by local).  Dies with
// what to do when it cannot run here.
std::unique_ptr<Runtime> make_runtime(const std::string &name, const std::string &rootfs);
bool have_program(const std::string &name);

} // namespace pach::runner
