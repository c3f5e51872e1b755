// push, fetch and pull over a Backend.
//
// The remote holds git packs and one state object:
//   <prefix>/state                     "pach-remote 1", then "pack <name> <size>"
//                                      and "ref <oid> <refname>" lines
//   <prefix>/packs/<name>.pack, .idx   packs named by their checksum
//   <prefix>/lock                      (servers without conditional PUT)
// Packs are uploaded first and the state last, by compare-and-swap, so a
// reader never sees a ref whose objects are not all there, and two
// pushers never overwrite each other.  Documentation/pach-remote-format.adoc
// describes it for other tools.
#pragma once

#include "plumbing/store.h"
#include "remote/backend.h"

#include <map>
#include <string>
#include <vector>

namespace pach::remote {

// The remote's state object, parsed.  It is hostile input: pack names
// become local file names and refs local refs, so parse_state accepts
// exactly the lines pach writes and dies, naming `where`, on anything else.
struct State {
	bool exists = false;
	std::string etag;
	std::map<std::string, uint64_t> packs;   // name (40 hex) -> size
	std::map<std::string, Oid> refs;         // valid_store_ref names
};
State parse_state(const std::string &data, const std::string &where);
// The remote's state object, parsed (exists = false when there is none).
State read_state(Backend &b);

struct RefUpdate {
	std::string ref;                 // refs/heads/<repo>/<branch> or refs/pach/meta
	std::optional<Oid> old_oid, new_oid;
	std::string status;              // created, updated, forced, up-to-date, rejected, deleted
	std::string reason;              // for rejected
};

struct TransferStats {
	uint64_t packs = 0, bytes = 0, objects = 0, requests = 0;
};

struct PushOptions {
	std::vector<std::string> what;   // "repo" or "repo@branch"; empty = every branch
	bool force = false;
};

// Returns the ref updates (rejected ones included); dies on errors.
std::vector<RefUpdate> push(Store &s, const RemoteConfig &rc, const PushOptions &o, TransferStats &stats);

// Brings the remote's refs into refs/pach/remotes/<name>/..., objects
// verified first.  Returns what moved.
std::vector<RefUpdate> fetch(Store &s, const RemoteConfig &rc, TransferStats &stats);

struct PullOptions {
	std::vector<std::string> what;   // empty = every branch the remote has
	bool force = false;
};
// fetch, then fast-forward local branches (and merge the metadata).
// Diverged branches are refused (status "rejected") unless force.
std::vector<RefUpdate> pull(Store &s, const RemoteConfig &rc, const PullOptions &o, TransferStats &stats);

struct CloneResult {
	std::string dir;                 // where the store's work directory is
	size_t branches = 0, snapshots = 0;
	TransferStats stats;
};
// A new store in dir ("" = named after the URL's last part, as git clone)
// with the remote rc (its name, usually "origin") and everything it
// holds.  dir must not exist or be empty; on failure nothing is left.
CloneResult clone(const RemoteConfig &rc, const std::string &dir);

// Every push and fetch appends a line to .pach/pach/transfers:
// "<unix time> <push|fetch> <remote> <bytes> <objects> <packs> <requests>"
// (what `pach stats` and /metrics sum by remote).
std::string transfers_path(const Store &s);
void record_transfer(const Store &s, const std::string &op, const std::string &remote, const TransferStats &st);

// "images@master" for refs/heads/images/master; "(metadata)" for the meta ref.
std::string ref_label(const std::string &ref);

} // namespace pach::remote
