// git's delta format, both ways, in bounded memory.
//
// Writing: a delta of `target` against `base` from their chunk lists
// (plumbing/cdc.h): a chunk of the target that the base also has becomes a
// copy instruction, anything else an insert of the target's bytes.  The
// format's limits: a copy names a base offset in 32 bits and a length in
// 24, an insert at most 127 bytes; so a base must be under 4 GiB.
//
// Reading: a chain of deltas ending in a whole object is composed into one
// map of the result -- pieces that come from the whole object or from the
// inserted bytes of one of the deltas -- so a read costs one copy of each
// byte whatever the chain's depth, and any offset is found by a binary
// search (the mount's random reads).  Neither base nor result is ever held
// in memory; the map's size is bounded (kMaxPieces), beyond which the
// caller falls back to materialising the object.
#pragma once

#include "plumbing/cdc.h"
#include "plumbing/odb.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pach {

// One instruction of a delta being written: copy base[off, off+len), or
// insert target[off, off+len).
struct DeltaOp {
	bool copy;
	uint64_t off, len;
};

// The instructions for `target` against `base`, adjacent ones merged.
// Copies reach only base offsets below 4 GiB.
std::vector<DeltaOp> plan_delta(const std::vector<Chunk> &target, const std::vector<Chunk> &base);
// Reads n bytes at off of an object, any order (plumbing/delta.cc's
// RandomReader over an ObjectReader).
using ReadAt = std::function<void(uint64_t off, void *buf, size_t n)>;
// Chunks are compared whole: a chunk with one changed byte is inserted
// whole.  This moves the edges of every insert outwards as far as the
// bytes beside it equal those beside its neighbouring copies, so what is
// inserted is about what changed.
void refine_delta(std::vector<DeltaOp> &ops, const ReadAt &target, const ReadAt &base, uint64_t base_size);
// A ReadAt over readers that `open` makes: seeks where the reader can,
// reads forward otherwise, and reopens to go back.
ReadAt random_reader(std::function<std::unique_ptr<ObjectReader>()> open);

// Bytes the delta takes: header, instructions, inserted bytes.
uint64_t delta_size(const std::vector<DeltaOp> &ops, uint64_t base_size, uint64_t target_size);
uint64_t inserted_bytes(const std::vector<DeltaOp> &ops);

// Streams the encoded delta: read(buf, n) fills buf with the next bytes,
// taking inserted bytes from `target` (read forward only, skipping the
// copied parts).  Produces exactly delta_size() bytes.
class DeltaEncoder {
public:
	DeltaEncoder(const std::vector<DeltaOp> &ops, uint64_t base_size, uint64_t target_size, ObjectReader &target);
	size_t read(void *buf, size_t n);

private:
	bool refill();
	const std::vector<DeltaOp> &ops_;
	ObjectReader &target_;
	std::vector<unsigned char> out_;
	size_t out_pos_ = 0;
	size_t op_ = 0;
	uint64_t op_done_ = 0;
};

// A delta entry in a pack: where its (inflated) instruction stream is.
struct DeltaLink {
	std::shared_ptr<Pack> pack;
	uint64_t data_off;   // the zlib stream
	uint64_t size;       // inflated size of the instruction stream
};

// Opens a pack entry's data as a stream (the odb's packed reader).
using EntryOpener = std::function<std::unique_ptr<ObjectReader>(const std::shared_ptr<Pack> &, uint64_t data_off,
								  ObjType, uint64_t size)>;

// A reader of chain[0], a delta against chain[1], ..., the last against
// the whole object at (whole_pack, whole_off) of the given type and size.
// Returns nullptr when the composed map would exceed kMaxPieces.  Dies on
// a corrupt delta (sizes that do not match, a copy beyond its base).
std::unique_ptr<ObjectReader> open_delta_chain(const std::vector<DeltaLink> &chain,
					       const std::shared_ptr<Pack> &whole_pack, uint64_t whole_off,
					       ObjType type, uint64_t whole_size, const EntryOpener &open);

constexpr size_t kMaxPieces = 4u << 20;
// Deltas that make less than this are left to libgit2 (plumbing/odb.cc).
constexpr uint64_t kComposeMin = 1u << 20;
constexpr int kMaxDeltaDepth = 64;

} // namespace pach
