// Checking a pack that came from a remote before anything relies on it:
// every object is inflated and hashed (its id is computed here, never
// taken from the remote's idx), the trailer must be the SHA-1 of the
// pack, and the idx is written from what was computed.  Runs while the
// pack is still arriving: `wait_for(n)` returns once the first n bytes
// are on disk.
#pragma once

#include "plumbing/oid.h"

#include <functional>
#include <string>

namespace pach::remote {

// Writes idx_path; returns the pack's checksum (its name).  Dies, naming
// `what`, on any corruption.  Packs with deltas are handed to libgit2's
// indexer once complete.
Oid index_pack(const std::string &pack_path, uint64_t size, const std::string &idx_path, const std::string &what,
	       const std::function<void(uint64_t)> &wait_for = nullptr);

} // namespace pach::remote
