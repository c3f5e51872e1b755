// A staged file that holds only what was written into it: the first write
// into a big committed file does not copy the file.  The staged file has
// the right size (sparse); an extended attribute names the blob it was
// made from and which chunks of it are already in the staged file.  Bytes
// of a chunk not yet there are read from the blob; the first write into
// such a chunk copies the rest of that chunk in first, then marks it.
// The attribute travels with the inode (renames, hard links) and goes
// with it; a file system without user xattrs gets whole copies instead.
#pragma once

#include "plumbing/store.h"

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace pach::mount {

struct Partial {
	static constexpr const char *kXattr = "user.pach.base";
	static constexpr uint64_t kMin = 1 << 20;     // smaller files are copied whole
	static constexpr size_t kMaxChunks = 16384;   // the chunk map stays under 2 KiB

	Oid base;
	uint64_t base_len = 0;   // bytes of the blob still meant (a truncate shortens it)
	unsigned shift = 20;     // chunk size = 1 << shift
	std::vector<uint8_t> bits;

	// A fresh map for a blob of `size` bytes: no chunk present.
	static Partial fresh(const Oid &blob, uint64_t size);
	// The map an open staged file carries; nullopt for a whole file.  A
	// map that says more than the file holds is clamped to its size.
	static std::optional<Partial> load(int fd);
	// Write the map to fd (removed once nothing of the blob is still
	// needed); false when the file system has no user xattrs.
	bool save(int fd) const;
	bool complete() const;
	bool present(uint64_t chunk) const { return bits[chunk >> 3] & (1u << (chunk & 7)); }
	void mark(uint64_t chunk) { bits[chunk >> 3] |= (uint8_t)(1u << (chunk & 7)); }
	uint64_t chunk_size() const { return 1ull << shift; }
};

// Read n bytes at pos of a blob into buf (seeking where the pack allows,
// reopening otherwise); `r` is kept open between calls.  Returns bytes
// read (short at its end).
size_t blob_pread(const Store &s, const Oid &blob, std::unique_ptr<ObjectReader> &r, char *buf, size_t n,
		  uint64_t pos);

// A staged file and its map, shared by every open handle of one inode.
struct PartialFile {
	std::mutex mu;
	std::optional<Partial> map;   // nullopt once whole
	std::unique_ptr<ObjectReader> r;
	// The file's content at pos: the staged file where it holds it, the
	// blob elsewhere.  -errno on failure.
	ssize_t pread(const Store &s, int fd, char *buf, size_t n, uint64_t pos);
	// Write through: chunks of the blob the write only partly covers are
	// copied in and marked first.
	ssize_t pwrite(const Store &s, int fd, const char *buf, size_t n, uint64_t pos);
	int truncate(int fd, uint64_t size);
};

// Content of a staged file that may be partial, as one stream: a pipe
// fed by a thread (the object writer reads files sequentially).
class MergedStream {
public:
	MergedStream(const Store &s, int fd, const Partial &p, uint64_t size);
	~MergedStream();
	int fd() const { return rd_; }

private:
	int rd_ = -1;
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace pach::mount
