// Fetching single objects from a remote, not whole packs: a worker needs
// only what its datums read.  Each object's entry is located through the
// idx of the remote's packs (downloaded once per pack into a cache: packs
// are immutable) and read with one ranged GET; it is inflated and hashed
// before it is stored, so the idx only says where to look, never what an
// object is.
#pragma once

#include "plumbing/store.h"
#include "remote/backend.h"

#include <string>
#include <vector>

namespace pach::remote {

struct ObjectFetchStats {
	uint64_t objects = 0, bytes = 0, idx_bytes = 0, requests = 0;
};

// Brings `want` (blobs and trees) into s; those s has are skipped.
// `extra_packs` are further packs (keys relative to the remote) to look
// in besides those its state lists.  Dies naming the object when one is
// nowhere or does not hash to its id.
ObjectFetchStats fetch_objects(Store &s, Backend &b, const std::vector<Oid> &want, const std::string &idx_cache);

} // namespace pach::remote
