// What git's index is to `git status`: (path, size, mtime, ctime, inode,
// mode) -> blob id, so committing an unchanged directory costs one stat per
// file and no read.  Kept in .pach/pach/statcache, sorted by path and
// rewritten atomically; loaded as one buffer and searched in place, so a
// lookup allocates nothing (it is on the path of every file of a commit).
//
// Racy entries: a file changed within a clock tick of being hashed could
// keep its size and timestamps.  Entries are therefore saved only when the
// file's mtime and ctime are older than the scan's start by a margin wider
// than a filesystem timestamp tick (50 ms; 1 s for whole-second stamps);
// newer ones are simply hashed again.
#pragma once

#include "plumbing/oid.h"

#include <sys/stat.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pach {

class StatCache {
public:
	// Where the cache lives inside a store.  Whatever deletes objects
	// (pach gc) must delete this file too: cached ids are trusted to exist.
	static constexpr const char *kFile = "pach/statcache";

	explicit StatCache(std::string file);
	void load();
	// The cached id if st matches what was recorded for path.  Safe to
	// call from several threads at once (between load and any update).
	// `hint`, if given, remembers where the last lookup landed: callers
	// that look up paths in sorted order then mostly skip the search.
	const Oid *lookup(const std::string &path, const struct stat &st, size_t *hint = nullptr) const;
	void update(const std::string &path, const struct stat &st, const Oid &oid, int64_t scan_start_ns);
	// Forget entries under dir/ that were neither matched by lookup nor
	// updated since load(): their files are gone.
	void prune_under(const std::string &dir);
	void forget(const std::string &path);
	void save();
	size_t size() const;

private:
	struct Entry {
		uint64_t size, ino;
		int64_t mtime_ns, ctime_ns;
		uint32_t mode;
		Oid oid;
	};
	struct Rec {
		std::string_view path;   // into raw_
		Entry e;
	};
	enum : uint8_t { kUnseen = 0, kSeen = 1, kDead = 2 };
	const Rec *find(std::string_view path, size_t *idx, size_t *hint = nullptr) const;

	std::string file_;
	std::string raw_;
	std::vector<Rec> recs_;                // sorted by path
	mutable std::vector<uint8_t> state_;   // per rec
	std::map<std::string, Entry> updates_; // new or changed entries
	bool dirty_ = false;
};

int64_t now_ns();

} // namespace pach
