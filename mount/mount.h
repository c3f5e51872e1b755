// pach mount: every repo, branch and commit of a store as a filesystem
// (libfuse3); with -w, branches take writes, staged on disk as an overlay
// until committed.  DIR/<repo>/<branch>/... follows the branch
// (looked up again after a second); DIR/<repo>/@<commit>/... is fixed,
// so the kernel keeps its pages.  Files are read at any offset without
// reading what comes before (packed data stored uncompressed is seeked
// through its block headers).
#pragma once

#include "plumbing/store.h"

#include <sys/stat.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace pach::mount {

struct Options {
	std::string dir;
	std::vector<std::string> only;   // REPO or REPO@REF: show only these
	bool foreground = false;
	bool writable = false;           // branches take writes, staged on disk
};

// Where a writable mount of `dir` stages its changes:
// .pach/pach/mounts/<hash of the absolute dir>/upper/<repo>/<branch>/...
std::string stage_dir(const Store &s, const std::string &dir);
struct CommitReport {
	std::vector<std::string> committed;   // "repo@branch <commit>"
	std::vector<std::string> warnings;    // what a commit cannot hold (FIFOs, sockets, devices)
};
// Turn what is staged in `stage` into one commit per branch (message
// `msg`, or one naming the branch), then clear it, but for files that
// keep(st) names (open for writing in a live mount: their later writes
// go into the next commit).
CommitReport commit_stage(Store &s, const std::string &stage, const std::string &msg,
			  const std::function<bool(const struct stat &)> &keep);
// What `pach mount --commit` and `pach unmount` do: a live mount of
// `dir` is asked to commit (it knows which files are open); otherwise
// the staged changes are committed here, under the stage's lock.
CommitReport commit_staged(Store &s, const std::string &dir, const std::string &msg);

// The mount's end of that request: <stage>/ctl, a Unix socket that only
// root and the mount's owner may use.
class CommitServer {
public:
	using Handler = std::function<CommitReport(const std::string &msg)>;
	CommitServer(const std::string &stage, Handler h);   // binds
	~CommitServer();
	void start();   // serves from a thread (call after going to the background)

private:
	int fd_ = -1;
	Handler h_;
	std::thread t_;
};
// The store (.pach) a pach mount on dir serves, from the mount table; "".
std::string mounted_store(const std::string &dir);

// Mounts and serves until unmounted; in the background unless
// foreground (returns once the mount is in place).  Dies with a clear
// message when it cannot mount.
int serve(Store &s, const Options &o);
// Unmount DIR (also when the serving process died); dies if busy.
void unmount(const std::string &dir);

} // namespace pach::mount
