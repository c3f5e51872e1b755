// pach mount: every repo, branch and commit of a store as a read-only
// filesystem (libfuse3).  DIR/<repo>/<branch>/... follows the branch
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
};

// Mounts and serves until unmounted; in the background unless
// foreground (returns once the mount is in place).  Dies with a clear
// message when it cannot mount.
int serve(Store &s, const Options &o);
// Unmount DIR (also when the serving process died); dies if busy.
void unmount(const std::string &dir);

} // namespace pach::mount
