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

#include "plumbing/fs.h"
#include "plumbing/oid.h"

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pach {

// What the cache compares of a file's stat (36 bytes instead of 144).
struct StatKey {
	uint64_t size = 0, ino = 0;
	int64_t mtime_ns = 0, ctime_ns = 0;
	uint32_t mode = 0;   // st_mode

	static StatKey of(const struct stat &st);
	bool operator==(const StatKey &o) const
	{
		return size == o.size && ino == o.ino && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && mode == o.mode;
	}
	bool operator!=(const StatKey &o) const { return !(*this == o); }
	// Changed too recently to be trusted (see "Racy entries" above).
	bool racy(int64_t scan_start_ns) const;
};

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
	const Oid *lookup(const std::string &path, const StatKey &k, size_t *hint = nullptr) const;
	const Oid *lookup(const std::string &path, const struct stat &st, size_t *hint = nullptr) const
	{
		return lookup(path, StatKey::of(st), hint);
	}
	void update(const std::string &path, const StatKey &k, const Oid &oid, int64_t scan_start_ns);
	void update(const std::string &path, const struct stat &st, const Oid &oid, int64_t scan_start_ns)
	{
		update(path, StatKey::of(st), oid, scan_start_ns);
	}
	// Forget entries under dir/ that were neither matched by lookup nor
	// updated since load(): their files are gone.
	void prune_under(const std::string &dir);
	void forget(const std::string &path);
	void save();
	size_t size() const;

private:
	struct Entry {
		StatKey k;
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

// The same file read and rewritten in one pass, for walks that meet files
// in path order (plumbing/snapshot.cc): memory stays the same however many
// files the cache holds.  Each pass reads the cache and writes its
// successor beside it; save() puts the last one in place.
class StatCacheStream {
public:
	// file empty: no cache (nothing found, nothing written).
	explicit StatCacheStream(std::string file);
	~StatCacheStream();
	StatCacheStream(const StatCacheStream &) = delete;
	// Start a pass.  Entries under prune_dir/ that the pass neither looks
	// up nor keeps are dropped (their files are gone); others are kept.
	void begin(const std::string &prune_dir, int64_t scan_start_ns);
	// Both in increasing path order (keep may lag behind lookup).
	const Oid *lookup(const std::string &path, const StatKey &k);
	// What path holds now; dropped if racy (as of the pass's start, or
	// of `as_of` for a file written during the pass).
	void keep(const std::string &path, const StatKey &k, const Oid &oid, int64_t as_of = 0);
	// The rest of the cache goes through; the pass is done.
	void end();
	// The last finished pass becomes the cache (after the commit it fed).
	void save();

private:
	struct Reader;
	struct Writer;
	bool next_old();
	void pass_old();
	std::string file_, cur_, prune_;
	int64_t start_ = 0;
	std::unique_ptr<Reader> in_;
	std::unique_ptr<Writer> out_;
	bool have_ = false;   // in_ holds a record not yet passed
	Oid hit_;
	std::vector<TempFile> done_;   // finished passes, the last one current
};

int64_t now_ns();

} // namespace pach
