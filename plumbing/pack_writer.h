// Writes objects straight into a pack v2 file and its idx v2, streaming,
// as git fast-import does: no loose objects, no whole file in memory.
//
// A pack's header holds its object count and its trailer a SHA-1 of all
// that precedes it.  When the count is known up front (a pack holding one
// large blob) the trailer is hashed while writing; otherwise the header is
// patched at finish() and the file hashed once more (only small objects go
// there, so that second pass is cheap and usually from the page cache).
#pragma once

#include "plumbing/fs.h"
#include "plumbing/oid.h"

#include <zlib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pach {

// Chooses the zlib level: level 1 while data compresses, stored (level 0)
// blocks once it does not, probing again now and then.  Level 1 runs at
// ~50 MB/s on incompressible data, stored blocks at memory speed.
// An object's place in a pack, as its idx records it.
struct IdxEntry {
	Oid oid;
	uint64_t offset;
	uint32_t crc;
};

class LevelGovernor {
public:
	int level() const { return incompressible_ && !probe_due() ? 0 : 1; }
	void observe(int level, size_t in, size_t out);

private:
	bool probe_due() const { return since_probe_ >= kProbeEvery; }
	static constexpr int kProbeEvery = 32;
	bool incompressible_ = false;
	int since_probe_ = 0;
};

class PackWriter {
public:
	// count: the exact number of objects that will be written, or 0 if unknown.
	PackWriter(const std::string &pack_dir, uint32_t count = 0);
	~PackWriter();
	PackWriter(const PackWriter &) = delete;

	// Write an object held in memory; the caller has checked it is new.
	void add(ObjType t, const void *data, size_t n, const Oid &oid, LevelGovernor *gov = nullptr);
	Oid add(ObjType t, const void *data, size_t n);

	// Stream `size` bytes of fd as a blob; returns its id.  Dies if the file
	// does not deliver exactly `size` bytes.
	// `progress`, if set, is told of every chunk's size as it is written.
	// `tap`, if set, sees every byte of the content in order (the chunker
	// of a new version: plumbing/cdc.h), in the reading thread.
	using OnBytes = std::function<void(size_t)>;
	using Tap = std::function<void(const unsigned char *, size_t)>;
	Oid add_blob_stream(int fd, uint64_t size, const std::string &what, LevelGovernor &gov,
			    const OnBytes &progress = nullptr, const Tap &tap = nullptr);

	// Copy an entry's raw bytes (header + compressed data) from another
	// pack: what gc does for objects that are not deltas.
	void copy_raw(int src_fd, uint64_t off, uint64_t len, const Oid &oid, const std::string &what);
	// Write an object of known type and size produced by `read`.
	void add_stream(ObjType t, uint64_t size, const Oid &oid,
			const std::function<size_t(void *, size_t)> &read, LevelGovernor &gov);

	// A REF_DELTA entry: `size` bytes of git delta instructions from `read`
	// that make object `oid` out of `base` (which this pack must hold).
	void add_ref_delta(const Oid &base, const Oid &oid, uint64_t size,
			   const std::function<size_t(void *, size_t)> &read, LevelGovernor &gov);

	// Take back the last object written (it turned out to exist already).
	// Only for packs of unknown count, whose checksum is computed at finish.
	void drop_last();

	uint32_t count() const { return (uint32_t)entries_.size(); }
	// Everything written so far on disk under temp_path() (to read an
	// object back before the pack is sealed).
	const std::string &temp_path() const { return file_.path(); }
	void flush_buffer() { flush(); }
	uint64_t bytes() const { return offset_; }
	// Whether one of the first `upto` objects of this pack (all by
	// default) is o: a hash table over the entries, built as asked.
	bool has(const Oid &o, size_t upto = SIZE_MAX);

	// Finish the pack: trailer, idx, fsync, rename into place.  Returns the
	// pack's name (its checksum), or nothing if it held no object (then
	// nothing is left on disk).
	std::optional<Oid> finish();
	// finish() in two steps: seal() completes and fsyncs the pack and its
	// idx under temporary names and frees the buffers; publish() renames
	// them into place.  An operation seals as it goes and publishes only
	// when all of its objects are written: a failure midway leaves nothing.
	void seal();
	std::optional<Oid> publish();
	void abandon();

private:
	using Entry = IdxEntry;
	void put(const void *p, size_t n);        // pack bytes: hashed, crc'ed, buffered
	void flush();
	void raw_write(const void *p, size_t n);
	void entry_header(int type, uint64_t size);
	void deflate_from(uint64_t size, const std::string &what, const std::function<size_t(void *, size_t)> &read,
			  LevelGovernor &gov);
	void deflate_chunk(const void *p, size_t n, bool last);
	void start_deflate(int level);
	// Level 0 without zlib: a zlib header, stored blocks of at most 65535
	// bytes, the adler32 trailer.  Readers copy such data straight out.
	void stored_begin();
	void stored_chunk(const unsigned char *p, size_t n, bool last);
	void stored_end();
	void stored_blocks(const unsigned char *p, size_t n, bool last);
	void pipeline(int fd, uint64_t size, const unsigned char *first_data, size_t first, const std::string &what,
		      int level, Sha1 &osha, const std::function<void(size_t)> &progress, const Tap &tap);
	uint32_t adler_ = 1;
	// Stored blocks are all 65535 bytes but the last, whatever the chunks
	// they come in: a reader can then find block k without reading the
	// headers before it.  What does not fill a block waits here.
	std::vector<unsigned char> carry_;

	std::string dir_;
	TempFile file_;
	uint32_t declared_;
	uint64_t offset_ = 0;
	uint64_t flushed_ = 0, kicked_ = 0;   // bytes written; bytes handed to writeback
	Sha1 pack_sha_;
	uint32_t crc_ = 0;
	std::vector<unsigned char> buf_;
	std::vector<unsigned char> zout_;
	std::vector<Entry> entries_;
	std::vector<uint32_t> table_;   // has(): entry index + 1 by oid, 0 empty
	size_t indexed_ = 0;            // entries in table_
	z_stream z_{};
	bool z_init_ = false;
	int z_level_ = -1;
	bool finished_ = false;
	std::unique_ptr<TempFile> idx_;
	std::optional<Oid> checksum_;
};

// Write the idx v2 for a pack's entries (sorted here) next to it.
void write_idx(int fd, const std::string &path, std::vector<IdxEntry> &entries,
	       const Oid &pack_checksum);

} // namespace pach
