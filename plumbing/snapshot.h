// Turn a directory (or file) of the local filesystem into git objects:
// one walk in path order with a stat per entry, the stat cache to skip
// unchanged files, and the rest hashed and packed by parallel workers.
#pragma once

#include "plumbing/stat_cache.h"
#include "plumbing/store.h"

#include <functional>
#include <optional>
#include <vector>
#include <string>

namespace pach {

struct SnapshotStats {
	uint64_t files = 0;       // regular files and symlinks seen
	uint64_t hashed = 0;      // of those, read and hashed
	uint64_t bytes_hashed = 0;
	uint64_t skipped = 0;     // special files, .git/.pach
	uint64_t links = 0;       // symlinks among files
};

// Returns the entry for `src`: a directory's tree (nullopt if it holds no
// file at all, since git has no empty directories), a file's blob with its
// mode, or a symlink (never followed).
// The stat cache is read and rewritten in the same pass (save() it once
// the objects are committed); memory does not grow with the number of
// files, only with the widest directory.
std::optional<TreeEntry> snapshot(Store &s, ObjectWriter &w, const std::string &src, StatCacheStream &cache,
				  SnapshotStats *stats, int workers = 0);

// One file or symlink found by scan_files, path relative to the scanned
// directory ("a/b"; "" when a single file was scanned).
struct ScannedFile {
	std::string path;
	uint32_t mode;
	Oid oid;
	StatKey st;
	bool hashed;   // not found in the stat cache
};

// Every file and symlink under src (or src itself) with its blob id: from
// the stat cache, else read and hashed -- and written to w when w is not
// null.  Sorted by path; missing src gives nothing; the cache is not
// updated (the caller knows which ids are safe to remember).
std::vector<ScannedFile> scan_files(Store &s, ObjectWriter *w, const std::string &src, StatCache &cache,
				    int workers = 0);

// The same, each file handed to fn in path order as soon as it is known
// and nothing kept: memory does not grow with the number of files.
// lookup (absolute path, stat) is the stat cache, asked in path order.
using CacheLookup = std::function<const Oid *(const std::string &path, const StatKey &)>;
void scan_each(Store &s, ObjectWriter *w, const std::string &src, const CacheLookup &lookup,
	       const std::function<void(ScannedFile &&)> &fn, int workers = 0);

// A symlink's target (size: its lstat size, a hint); display names it in errors.
std::string read_link_at(int dfd, const std::string &name, uint64_t size, const std::string &display);

// The blob id of size bytes read from fd.
Oid hash_fd(int fd, uint64_t size, const std::string &what, const std::function<void(size_t)> &progress = nullptr);

} // namespace pach
