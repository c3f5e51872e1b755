// Turn a directory (or file) of the local filesystem into git objects:
// one walk with a stat per entry, the stat cache to skip unchanged files,
// and the rest hashed and packed by parallel workers.
#pragma once

#include "plumbing/stat_cache.h"
#include "plumbing/store.h"

#include <optional>
#include <string>

namespace pach {

struct SnapshotStats {
	uint64_t files = 0;       // regular files and symlinks seen
	uint64_t hashed = 0;      // of those, read and hashed
	uint64_t bytes_hashed = 0;
	uint64_t skipped = 0;     // special files, .git/.pach
};

// Returns the entry for `src`: a directory's tree (nullopt if it holds no
// file at all, since git has no empty directories), a file's blob with its
// mode, or a symlink (never followed).
std::optional<TreeEntry> snapshot(Store &s, ObjectWriter &w, const std::string &src, StatCache &cache,
				  SnapshotStats *stats, int workers = 0);

} // namespace pach
