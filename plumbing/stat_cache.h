// What git's index is to `git status`: (path, size, mtime, ctime, inode,
// mode) -> blob id, so committing an unchanged directory costs one stat per
// file and no read.  Kept in .pach/pach/statcache, rewritten atomically.
//
// Racy entries: a file changed within a clock tick of being hashed could
// keep its size and timestamps.  Entries are therefore saved only when the
// file's mtime and ctime are older than the scan's start by a margin wider
// than a filesystem timestamp tick; newer ones are simply hashed again.
#pragma once

#include "plumbing/oid.h"

#include <sys/stat.h>

#include <string>
#include <unordered_map>

namespace pach {

class StatCache {
public:
	explicit StatCache(std::string file);
	void load();
	// The cached id if st matches what was recorded for path.
	const Oid *lookup(const std::string &path, const struct stat &st) const;
	void update(const std::string &path, const struct stat &st, const Oid &oid, int64_t scan_start_ns);
	// Forget entries under dir/ that were neither looked up with a match
	// nor updated since load(): their files are gone.
	void prune_under(const std::string &dir);
	void forget(const std::string &path);
	void save();
	size_t size() const { return m_.size(); }

private:
	struct Entry {
		uint64_t size, ino;
		int64_t mtime_ns, ctime_ns;
		uint32_t mode;
		Oid oid;
		mutable bool seen = false;   // matched or updated in this run
	};
	std::string file_;
	std::unordered_map<std::string, Entry> m_;
	bool dirty_ = false;
};

int64_t now_ns();

} // namespace pach
