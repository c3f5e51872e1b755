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

// A pack outside the remote's packs/ (a job's inputs): <prefix><name>.pack
// and .idx.
struct ExtraPack {
	std::string prefix, name;
	uint64_t size = 0;
};

// Brings `want` (blobs and trees) into s; those s has are skipped.
// `extra` are packs to look in besides those the remote's state lists.
// Dies naming the object when one is nowhere or is corrupt.
ObjectFetchStats fetch_objects(Store &s, Backend &b, const std::vector<Oid> &want, const std::string &idx_cache,
			       const std::vector<ExtraPack> &extra = {});

} // namespace pach::remote
