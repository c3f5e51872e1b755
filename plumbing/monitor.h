// A file-system monitor for a directory that is committed again and
// again, as git's fsmonitor: a daemon watches every directory below it
// with inotify and tells a commit which paths changed since the token the
// commit was last given, so one changed file of a million is found
// without a stat of the million (see pach-monitor(1)).
//
// Nothing depends on it: without a daemon, or when it cannot vouch for
// a token (it restarted, its queue overflowed, a directory moved), a
// commit walks the whole directory as it always does.
#pragma once

#include "plumbing/snapshot.h"
#include "plumbing/store.h"

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pach {

// The daemon's address for the store at git_dir watching dir (absolute):
// an abstract Unix socket, so no file is left behind and no path length
// limit applies; whoever answers there must run as our user.
std::string monitor_address(const std::string &git_dir, const std::string &dir);

struct MonitorAnswer {
	std::string token;               // ask with this next time
	bool all = true;                 // no list: anything may have changed
	std::vector<std::string> paths;  // relative to the directory, sorted
};

// What changed since token ("" for a first question).  nullopt when no
// monitor runs there, or it is not ours, or it did not answer in time.
std::optional<MonitorAnswer> monitor_query(const std::string &address, const std::string &token);

struct MonitorInfo {
	pid_t pid = 0;
	std::string dir;
	uint64_t watches = 0, paths = 0;
	bool degraded = false;   // could not watch everything: answers "all"
};
std::optional<MonitorInfo> monitor_info(const std::string &address);

// Start a daemon for dir; returns its pid once it watches everything and
// listens.  Dies with the daemon's reason when it cannot start.
pid_t monitor_start(const std::string &address, const std::string &dir);
// Ask it to stop; false when none runs.
bool monitor_stop(const std::string &address);

// The last snapshot of a monitored directory: the token its changes
// count from and the tree it gave (pach/monitor/<id> in the store).
struct MonitorState {
	std::string token;
	Oid tree;
};
std::optional<MonitorState> read_monitor_state(const Store &s, const std::string &dir);
void write_monitor_state(const Store &s, const std::string &dir, const MonitorState &st);
// gc: the trees they name may go.
void forget_monitor_states(const Store &s);

// At most this many changed paths are applied one by one; beyond, a
// commit walks the whole directory.
constexpr size_t kMonitorMaxPaths = 4096;

// A monitor's changed paths (sorted), relative to dir, handed to fn as
// both users need them: split into components (names a snapshot leaves
// out are skipped), paths below one already handed over skipped (the
// whole subtree is read again), every directory on the way checked to
// still be one (no symlink is followed).  False, at once, when one is
// not: the list does not fit the directory.
bool for_each_changed(const std::string &dir, const std::vector<std::string> &sorted_paths,
		      const std::function<void(const std::string &, const std::vector<std::string> &)> &fn);

// The snapshot of dir made from its previous one (prev, its tree) and the
// paths changed since: each is read again (a directory walked whole) and
// set or removed -- the tree a full snapshot would give, at the cost of
// the changes.  nullopt when the paths do not fit the tree (a directory
// on the way is no longer one): then walk everything.
std::optional<std::optional<TreeEntry>> snapshot_changes(Store &s, ObjectWriter &w, const std::string &dir,
							 const Oid &prev, const std::vector<std::string> &paths,
							 SnapshotStats *stats);

} // namespace pach
