// Checking a pack that came from a remote before anything relies on it:
// every object is inflated and hashed (its id is computed here, never
// taken from the remote's idx), the trailer must be the SHA-1 of the
// pack, and the idx is written from what was computed.  Runs while the
// pack is still arriving: `wait_for(n)` returns once the first n bytes
// are on disk.
#pragma once

#include "plumbing/error.h"
#include "plumbing/odb.h"
#include "plumbing/oid.h"
#include "plumbing/store.h"

#include <memory>
#include <optional>
#include <vector>

#include <functional>
#include <string>

namespace pach::remote {

// Writes idx_path; returns the pack's checksum (its name).  Dies, naming
// `what`, on any corruption.  Packs with deltas are handed to libgit2's
// indexer once complete.
// A thin pack (pach-remote-format(5)) holds REF_DELTAs whose bases are in
// earlier packs: those come from `open_base` (the local store).  The
// objects made from such a base are listed in `made` (with the base when
// they are its delta directly), for install_thin_pack.
struct ThinPack {
	std::function<std::unique_ptr<ObjectReader>(const Oid &)> open_base;
	// Stores an object made from another pack's base (its content, and
	// that base when it is the object's delta directly); returns its id.
	std::function<Oid(ObjectReader &, const std::optional<Oid> &)> write;
	std::vector<Oid> made;
};
// Thrown when a thin base is not (yet) in the local store: the caller
// retries once the packs fetched before it are in.
struct MissingBase : Error {
	explicit MissingBase(const std::string &msg) : Error(Exit::fatal, msg) {}
};

Oid index_pack(const std::string &pack_path, uint64_t size, const std::string &idx_path, const std::string &what,
	       const std::function<void(uint64_t)> &wait_for = nullptr, ThinPack *thin = nullptr);

// The rest of a verified thin pack (what `write` did not store): copied
// as they are into a pack in dir; returns its name, if any.
std::optional<Oid> install_thin_pack(const std::string &dir, const std::string &pack_path,
				     const std::string &idx_path, const ThinPack &thin);

} // namespace pach::remote
