// pach mount: every repo, branch and commit of a store as a filesystem
// (libfuse3); with -w, branches take writes, staged on disk as an overlay
// until committed.  DIR/<repo>/<branch>/... follows the branch
// (looked up again after a second); DIR/<repo>/@<commit>/... is fixed,
// so the kernel keeps its pages.  Files are read at any offset without
// reading what comes before (packed data stored uncompressed is seeked
// through its block headers).
#pragma once

#include "plumbing/store.h"

#include <string>
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
// Turn what was staged for `dir` into one commit per branch (message
// `msg`, or one naming the branch), and clear it.  Returns
// "repo@branch <commit>" lines.
std::vector<std::string> commit_staged(Store &s, const std::string &dir, const std::string &msg);
// The store (.pach) a pach mount on dir serves, from the mount table; "".
std::string mounted_store(const std::string &dir);

// Mounts and serves until unmounted; in the background unless
// foreground (returns once the mount is in place).  Dies with a clear
// message when it cannot mount.
int serve(Store &s, const Options &o);
// Unmount DIR (also when the serving process died); dies if busy.
void unmount(const std::string &dir);

} // namespace pach::mount
