// The object database as pach reads it: pack idx files mmapped and searched
// directly, blob bodies streamed out of packs (or loose objects) in bounded
// memory.  libgit2 materialises whole objects, so it is used here only for
// deltified objects, which git makes only of objects small enough to diff.
#pragma once

#include "plumbing/fs.h"
#include "plumbing/oid.h"

#include <zlib.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct git_odb;

namespace pach {

class PackIndex {
public:
	// Dies if the file is not a sound idx v2 (size, fan-out).
	explicit PackIndex(const std::string &idx_path);
	~PackIndex();
	PackIndex(const PackIndex &) = delete;
	std::optional<uint64_t> find(const Oid &o) const;
	uint32_t count() const { return n_; }
	Oid oid_at(uint32_t i) const;
	uint64_t offset_at(uint32_t i) const;
	uint32_t crc_at(uint32_t i) const;
	Oid pack_checksum() const;
	const std::string &path() const { return path_; }
	size_t size() const { return len_; }
	const unsigned char *data() const { return map_; }

private:
	void check();
	std::string path_;
	const unsigned char *map_ = nullptr;
	size_t len_ = 0;
	uint32_t n_ = 0;
};

struct Pack {
	std::string name;        // "pack-<hex>"
	std::string pack_path;
	std::unique_ptr<PackIndex> idx;
	Fd fd;                   // opened lazily
	std::once_flag opened;
	uint64_t size = 0;
	int get_fd();
};

// A streaming reader of one object's content.
class ObjectReader {
public:
	virtual ~ObjectReader() = default;
	ObjType type() const { return type_; }
	uint64_t size() const { return size_; }
	// Up to n bytes; 0 at the end.  Dies on corruption.
	virtual size_t read(void *buf, size_t n) = 0;
	// Skip forward; the default reads and discards.
	virtual void skip(uint64_t n);
	// Go to content offset pos, backwards too, without reading what lies
	// before it; false where the encoding does not allow it (then reopen
	// and skip).  Packed objects stored uncompressed (what pach writes for
	// incompressible data) can.
	virtual bool seek(uint64_t pos) { (void)pos; return false; }
	// Where content [pos, pos+n) lies in a file, as (offset, length)
	// pieces, when it is stored there as is: a reader can then copy or
	// splice it without this reader.  False otherwise.
	virtual bool file_ranges(uint64_t pos, size_t n, std::vector<std::pair<uint64_t, size_t>> &out, int *fd)
	{
		(void)pos, (void)n, (void)out, (void)fd;
		return false;
	}
	uint64_t position() const { return pos_; }
	// Write the rest of the content to fd (zero-copy where the data is
	// stored uncompressed in a pack).
	virtual void copy_to(int fd, const std::string &what);

protected:
	ObjType type_ = ObjType::none;
	uint64_t size_ = 0;
	uint64_t pos_ = 0;
};

// Reads the pieces file_ranges gave, in order, into buf: one preadv(2)
// for pieces a few bytes apart (the stored blocks' headers between them go
// to a scratch buffer), instead of one pread per 64 KiB block.  Returns
// the bytes read, short only at the end of the file; -1 with errno set.
ssize_t pread_ranges(int fd, const std::vector<std::pair<uint64_t, size_t>> &ranges, char *buf);

class ObjectDb {
public:
	// lg2(open) gives libgit2's object database, opening it only if `open`
	// (else nullptr when not yet open); it serves deltified objects.
	ObjectDb(const std::string &objects_dir, std::function<git_odb *(bool open)> lg2);
	// Rescan objects/pack for new packs (after we or someone else wrote).
	void refresh();
	bool contains(const Oid &o) const;
	bool contains_packed(const Oid &o) const;
	std::unique_ptr<ObjectReader> open(const Oid &o) const;   // nullptr if missing
	// The pack and offset of a packed object.
	std::optional<std::pair<std::shared_ptr<Pack>, uint64_t>> locate(const Oid &o) const;
	// Read a small object whole (trees, commits); dies if missing.
	std::string read_small(const Oid &o, ObjType *type = nullptr) const;
	using PackList = std::vector<std::shared_ptr<Pack>>;
	// A snapshot of the pack list: lookups on the hot path take one
	// reference to it instead of copying the list.
	std::shared_ptr<const PackList> pack_list() const;
	PackList packs() const { return *pack_list(); }
	const std::string &dir() const { return dir_; }
	std::string pack_dir() const { return dir_ + "/pack"; }
	std::string loose_path(const Oid &o) const;

private:
	std::unique_ptr<ObjectReader> open_delta(const std::shared_ptr<Pack> &p, uint64_t off, int type, uint64_t size,
						 uint64_t data) const;
	std::string dir_;
	std::function<git_odb *(bool)> lg2_;
	mutable std::mutex mu_;
	std::shared_ptr<const PackList> packs_ = std::make_shared<PackList>();
	bool loose_dirs_[256] = {};
	bool any_loose_ = false;
};

// Parse an entry header at `off` of a pack: type (1-7) and inflated size;
// returns the offset of the data that follows.
uint64_t pack_entry_header(int fd, uint64_t off, int *type, uint64_t *size, const std::string &what);

// The reader of a whole object's data at data_off in a pack.
std::unique_ptr<ObjectReader> open_pack_entry(const std::shared_ptr<Pack> &p, uint64_t data_off, ObjType t,
					      uint64_t size);

// A delta entry's base (types 6 OFS_DELTA, 7 REF_DELTA): its id (REF only)
// and offset in the same pack; *data moves past the base's reference.
// nullopt when a REF_DELTA's base is not in this pack.
struct DeltaBase {
	Oid id;
	uint64_t off = 0;
};
std::optional<DeltaBase> delta_base(const std::shared_ptr<Pack> &p, uint64_t off, int type, uint64_t *data);

} // namespace pach
