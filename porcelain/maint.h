// Keeping the store healthy: fsck verifies, gc repacks and frees space.
#pragma once

#include "plumbing/store.h"

#include <string>
#include <vector>

namespace pach::porcelain {

struct FsckReport {
	uint64_t objects = 0, packs = 0, bytes = 0;
	std::vector<std::string> errors;
};
FsckReport fsck(Store &s);

struct GcReport {
	uint64_t before = 0, after = 0;       // bytes under objects/
	uint64_t kept = 0, removed = 0;       // reachable objects kept, objects dropped
	uint64_t packs_before = 0, packs_after = 0;
	uint64_t loose_removed = 0;
};
GcReport gc(Store &s);

// Keep lookups fast between gcs: once there are more than kAutoPacks packs
// smaller than kTinyPack, merge them into one (all objects are kept, so it
// is safe beside readers and writers; readers rescan when a pack goes).
// Returns whether it repacked.  Called after each commit.
constexpr size_t kAutoPacks = 32;
constexpr uint64_t kTinyPack = 8ull << 20;
// Never fails: a problem is a warning (the change before it is in).
bool auto_repack(Store &s);
bool repack_small_packs(Store &s);   // the same, failing with an Error

} // namespace pach::porcelain
