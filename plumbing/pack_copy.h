// Making one pack of given objects out of the store's packs: the one raw
// copier (gc, the automatic repack, push).
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pach {

// Writes into dir one pack holding exactly `objects`.  An object stored
// whole (not as a delta) in one of `packs` is copied as its raw entry, no
// inflating or recompressing; the rest (loose objects, deltas) are
// re-encoded from a streaming read.  With a title, progress is shown.
// Returns the pack's checksum; nullopt when there are no objects.
// `own`, if set, is offered each object first: it may write it itself
// (returning true), as push does with a version the remote can rebuild
// from an older one.
using WriteOwn = std::function<bool(PackWriter &, const Oid &)>;
std::optional<Oid> copy_to_pack(Store &s, const std::string &dir, const std::vector<Oid> &objects,
				const std::vector<std::shared_ptr<Pack>> &packs, const char *title = nullptr,
				const WriteOwn &own = nullptr);

} // namespace pach
