// Content-defined chunking: where a file's chunks begin depends on the
// bytes around the cut, not on offsets, so an insertion shifts no chunk
// but the one it falls in.  A gear rolling hash (as in FastCDC) cuts chunks
// of a quarter to four times an average of 2^bits bytes, 2 KiB for files
// up to 64 MiB, growing with the file to 64 KiB (so a list has at most
// ~64 Ki chunks); each chunk is named by its SHA-256.  All versions of a
// file are cut with the bits of the first one, so their chunks compare.  Two versions of a file share the chunks they have in common:
// that is what makes a delta of one against the other (plumbing/delta.h).
//
// A blob's chunk list is kept in .pach/pach/chunks/<id> once computed, so
// a version is read once to be chunked, however many later versions are
// compared with it.
#pragma once

#include "plumbing/oid.h"

#include <array>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace pach {

class ObjectReader;

struct Chunk {
	uint64_t off;
	uint32_t len;
	std::array<unsigned char, 32> sha;   // SHA-256 of the chunk's bytes
};

struct ChunkHash {
	size_t operator()(const std::array<unsigned char, 32> &h) const noexcept
	{
		size_t v;
		std::memcpy(&v, h.data(), sizeof v);
		return v;
	}
};

// The chunk size (log2 of the average) for a file of this size.
int chunk_bits_for(uint64_t size);
constexpr int kMinChunkBits = 11, kMaxChunkBits = 16;

struct ChunkList {
	int bits = kMaxChunkBits;
	std::vector<Chunk> chunks;
};

class Chunker {
public:
	explicit Chunker(int bits = kMaxChunkBits);
	~Chunker();
	Chunker(const Chunker &) = delete;
	// Feed the next bytes of the file; complete chunks go to out().
	void feed(const unsigned char *p, size_t n);
	// The end of the file: the last (short) chunk.
	void finish();
	std::vector<Chunk> &out() { return out_; }
	uint64_t size() const { return pos_; }

	uint32_t max_len() const { return max_; }

private:
	void cut();
	uint32_t min_, avg_, max_;
	uint64_t mask_s_, mask_l_;
	uint64_t pos_ = 0, start_ = 0;
	uint64_t h_ = 0;
	void *sha_;   // EVP_MD_CTX of the chunk being read
	std::vector<Chunk> out_;
};

// A Chunker on a thread of its own: feed() copies the bytes into a short
// queue and returns, so chunking overlaps whatever the caller does next
// (hashing and writing the same bytes).
class ThreadedChunker {
public:
	explicit ThreadedChunker(int bits);
	~ThreadedChunker();
	void feed(const unsigned char *p, size_t n);
	// Waits for the thread; rethrows its error.
	std::vector<Chunk> finish();

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

// The chunk list of what r reads.
std::vector<Chunk> chunk_stream(ObjectReader &r, int bits);

// The cache of chunk lists, .pach/pach/chunks/<hex>: written atomically,
// checked on reading (a list that does not add up to the blob's size or
// fails its checksum is ignored, never trusted).
class ChunkCache {
public:
	explicit ChunkCache(std::string dir) : dir_(std::move(dir)) {}
	std::optional<ChunkList> load(const Oid &blob, uint64_t size) const;
	void save(const Oid &blob, const ChunkList &list) const;
	void remove(const Oid &blob) const;
	std::string path(const Oid &blob) const;
	const std::string &dir() const { return dir_; }

private:
	std::string dir_;
};

} // namespace pach
