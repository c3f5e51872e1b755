#include "remote/packfile.h"

#include "plumbing/delta.h"
#include "plumbing/error.h"
#include "plumbing/odb.h"
#include "plumbing/fs.h"
#include "plumbing/lg2.h"
#include "plumbing/pack_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <sys/stat.h>
#include <vector>

namespace pach::remote {

namespace {

// Sequential reads of the pack, hashing every byte consumed (the trailer
// covers all of them) and CRC-ing the current entry's bytes.
class Stream {
public:
	// The pack is mapped, not read: the bytes are hashed where the page
	// cache holds them (the file is being written by the download).
	Stream(int fd, uint64_t size, const std::string &what, const std::function<void(uint64_t)> &wait_for)
		: size_(size), what_(what), wait_(wait_for)
	{
		void *m = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			die_errno("unable to map " + what);
		map_ = (const unsigned char *)m;
		madvise(m, size, MADV_SEQUENTIAL);
	}
	~Stream() { munmap(const_cast<unsigned char *>(map_), size_); }
	// Make at least one byte available; returns bytes available.
	size_t fill()
	{
		if (pos_ < len_)
			return len_ - pos_;
		uint64_t at = base_ + len_;
		if (at >= size_ - 20)
			die("{}: truncated pack", what_);
		size_t want = (size_t)std::min<uint64_t>(1 << 20, size_ - 20 - at);
		if (wait_)
			wait_(at + want);
		// Unmap what was hashed (the pages stay in the page cache): the
		// mapping must not make the process as big as the pack.
		uint64_t drop = at & ~(uint64_t)((1 << 20) - 1);
		if (drop > dropped_) {
			madvise(const_cast<unsigned char *>(map_) + dropped_, drop - dropped_, MADV_DONTNEED);
			dropped_ = drop;
		}
		base_ = at;
		pos_ = 0;
		len_ = want;
		return len_;
	}
	unsigned char byte()
	{
		fill();
		unsigned char c = map_[base_ + pos_];
		consume(1);
		return c;
	}
	const unsigned char *data() const { return map_ + base_ + pos_; }
	void consume(size_t n)
	{
		sha_.update(data(), n);
		crc_ = (uint32_t)crc32(crc_, data(), (uInt)n);
		pos_ += n;
	}
	uint64_t offset() const { return base_ + pos_; }
	void start_entry() { crc_ = (uint32_t)crc32(0, nullptr, 0); }
	uint32_t crc() const { return crc_; }
	Oid checksum() { return sha_.final(); }

private:
	const unsigned char *map_ = nullptr;
	uint64_t size_;
	const std::string &what_;
	const std::function<void(uint64_t)> &wait_;
	uint64_t base_ = 0, dropped_ = 0;
	size_t pos_ = 0, len_ = 0;
	Sha1 sha_;
	uint32_t crc_ = 0;
};

// A delta entry met on the pass, resolved afterwards.
struct Pending {
	uint64_t off, base_off;   // base_off: OFS_DELTA's base (else 0)
	Oid base_id;              // REF_DELTA's base
	uint64_t data_off, size;
	int entry;                // its index in the idx entries
};
struct Whole {
	uint64_t off, data_off;
	ObjType type;
	uint64_t size;
};

// The ids of a pack's deltas, computed by reading each through its chain
// (plumbing/delta.h: streamed, whatever the object's size) and hashing
// what comes out.  Meant for packs of a file's versions: false, and
// libgit2's indexer is used instead, for packs of many deltas (git's own)
// or chains too deep or fragmented to compose.  Dies on a delta whose
// base is not in the pack.
bool resolve_deltas(const std::string &pack_path, std::vector<IdxEntry> &entries,
		    const std::vector<Pending> &pending, const std::vector<Whole> &whole, const std::string &what,
		    ThinPack *thin)
{
	if (pending.size() > 256)
		return false;
	auto pack = std::make_shared<Pack>();
	pack->pack_path = pack_path;
	if (pack->get_fd() < 0)
		die_errno("unable to open " + what);
	// What each resolved object is made of: its chain down to a whole one.
	struct Made {
		std::vector<DeltaLink> chain;
		const Whole *base;
		std::optional<Oid> external;   // the chain ends in another pack's object
	};
	std::vector<Whole> externals;   // their types and sizes (reserved: stable pointers)
	externals.reserve(pending.size());
	std::unordered_map<uint64_t, Made> made;   // by offset
	std::unordered_map<Oid, uint64_t, OidHash> at;
	for (auto &w : whole)
		made[w.off] = {{}, &w, std::nullopt};
	for (auto &e : entries)
		if (!e.oid.is_zero())
			at[e.oid] = e.offset;
	std::vector<bool> done(pending.size());
	for (size_t left = pending.size(); left;) {
		size_t before = left;
		for (size_t i = 0; i < pending.size(); i++) {
			if (done[i])
				continue;
			const Pending &d = pending[i];
			uint64_t boff = d.base_off;
			if (!boff) {
				auto b = at.find(d.base_id);
				if (b == at.end())
					continue;
				boff = b->second;
			}
			auto b = made.find(boff);
			if (b == made.end())
				continue;
			Made m{{{pack, d.data_off, d.size}}, b->second.base, b->second.external};
			m.chain.insert(m.chain.end(), b->second.chain.begin(), b->second.chain.end());
			if ((int)m.chain.size() > kMaxDeltaDepth)
				return false;
			// The whole object at the chain's end: in this pack, or (thin)
			// read from the store through a reader of its own.
			EntryOpener opener = open_pack_entry;
			if (m.external) {
				Oid ext = *m.external;
				opener = [thin, ext, &pack](const std::shared_ptr<Pack> &p, uint64_t off, ObjType t,
							    uint64_t sz) -> std::unique_ptr<ObjectReader> {
					if (p != nullptr)
						return open_pack_entry(p, off, t, sz);
					auto r = thin->open_base(ext);
					if (!r)
						die("object {} vanished while pach was reading it", ext.hex());
					return r;
				};
			}
			auto r = open_delta_chain(m.chain, m.external ? nullptr : pack, m.base->data_off, m.base->type,
						  m.base->size, opener);
			if (!r)
				return false;
			Oid id;
			if (m.external) {
				// Stored as the store's own writes are (hashed there).
				id = thin->write(*r, m.chain.size() == 1 ? m.external : std::nullopt);
				thin->made.push_back(id);
			} else {
				Sha1 h;
				auto hdr = object_header(r->type(), r->size());
				h.update(hdr.data(), hdr.size());
				std::vector<char> buf(1 << 20);
				while (size_t n = r->read(buf.data(), buf.size()))
					h.update(buf.data(), n);
				id = h.final();
			}
			entries[(size_t)d.entry].oid = id;
			at[id] = d.off;
			made[d.off] = std::move(m);
			done[i] = true;
			left--;
		}
		if (left == before && thin) {
			// REF_DELTAs on objects of earlier packs (a thin pack): their
			// bases come from the store, as whole objects of their own.
			bool added = false;
			for (size_t i = 0; i < pending.size(); i++) {
				const Pending &d = pending[i];
				if (done[i] || d.base_off || at.count(d.base_id))
					continue;
				auto r = thin->open_base(d.base_id);
				if (!r)
					throw MissingBase(fmt::format("{}: the base {} of a delta is missing", what,
								      d.base_id.hex()));
				externals.push_back({0, 0, r->type(), r->size()});
				uint64_t key = UINT64_MAX - externals.size(); // no offset of this pack
				made[key] = {{}, &externals.back(), d.base_id};
				at[d.base_id] = key;
				added = true;
			}
			if (added)
				continue;
		}
		if (left == before)
			die("{}: {} deltas whose base is not in the pack", what, left);
	}
	return true;
}

} // namespace

std::optional<Oid> install_thin_pack(const std::string &dir, const std::string &pack_path,
				     const std::string &idx_path, const ThinPack &thin)
{
	PackIndex idx(idx_path);
	std::unordered_set<Oid, OidHash> made(thin.made.begin(), thin.made.end());
	std::vector<std::pair<uint64_t, Oid>> es;
	for (uint32_t i = 0; i < idx.count(); i++)
		es.push_back({idx.offset_at(i), idx.oid_at(i)});
	std::sort(es.begin(), es.end());
	Fd f(::open(pack_path.c_str(), O_RDONLY | O_CLOEXEC));
	struct stat st;
	if (!f || fstat(f.get(), &st) < 0)
		die_errno("unable to read '" + pack_path + "'");
	uint32_t keep = 0;
	for (auto &e : es)
		keep += !made.count(e.second);
	if (!keep)
		return std::nullopt;
	PackWriter w(dir, keep);
	for (size_t i = 0; i < es.size(); i++) {
		if (made.count(es[i].second))
			continue;
		uint64_t end = i + 1 < es.size() ? es[i + 1].first : (uint64_t)st.st_size - 20;
		w.copy_raw(f.get(), es[i].first, end - es[i].first, es[i].second, pack_path);
	}
	return w.finish();
}

Oid index_pack(const std::string &pack_path, uint64_t size, const std::string &idx_path, const std::string &what,
	       const std::function<void(uint64_t)> &wait_for, ThinPack *thin)
{
	Fd f(::open(pack_path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!f)
		die_errno("unable to open " + what);
	if (size < 32)
		die("{}: not a pack", what);
	Stream in(f.get(), size, what, wait_for);
	unsigned char hdr[12];
	for (auto &c : hdr)
		c = in.byte();
	if (memcmp(hdr, "PACK", 4) != 0 || hdr[7] != 2 || hdr[4] || hdr[5] || hdr[6])
		die("{}: not a version 2 pack", what);
	uint32_t count = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 | (uint32_t)hdr[10] << 8 | hdr[11];
	// Every object takes at least 9 bytes (a header byte, an empty zlib
	// stream): a count beyond that is a lie, not a reason to allocate.
	if (count > (size - 32) / 9)
		die("{}: claims {} objects in {} bytes", what, count, size);
	std::vector<IdxEntry> entries;
	entries.reserve(count);
	bool deltas = false;
	std::vector<Pending> pending;
	std::vector<Whole> whole;
	std::vector<unsigned char> out(1 << 18);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t off = in.offset();
		in.start_entry();
		unsigned char c = in.byte();
		int type = (c >> 4) & 7;
		uint64_t sz = c & 15;
		int shift = 4;
		while (c & 0x80) {
			c = in.byte();
			if (shift > 60)
				die("{}: bad entry header at {}", what, off);
			sz |= (uint64_t)(c & 0x7f) << shift;
			shift += 7;
		}
		Pending d{off, 0, Oid{}, 0, sz, (int)entries.size()};
		if (type == 6) {
			deltas = true;
			uint64_t rel = 0;
			int k = 0;
			do {
				c = in.byte();
				if (k++)
					rel += 1;
				if (k > 9)
					die("{}: bad delta offset at {}", what, off);
				rel = (rel << 7) | (c & 0x7f);
			} while (c & 0x80);
			if (!rel || rel > off)
				die("{}: bad delta offset at {}", what, off);
			d.base_off = off - rel;
		} else if (type == 7) {
			deltas = true;
			for (int k = 0; k < 20; k++)
				d.base_id.b[(size_t)k] = in.byte();
		} else if (type < 1 || type > 4) {
			die("{}: bad object type {} at {}", what, type, off);
		}
		d.data_off = in.offset();
		if (type >= 6)
			pending.push_back(d);
		else
			whole.push_back({off, d.data_off, (ObjType)type, sz});
		Sha1 h;
		bool hash = type >= 1 && type <= 4;
		if (hash) {
			std::string prefix = std::string(type_name((ObjType)type)) + " " + std::to_string(sz);
			h.update(prefix.data(), prefix.size() + 1);
		}
		// The zlib header by hand, then raw inflate: zlib's own Adler-32
		// would cost as much as the SHA-1 that checks the content anyway.
		unsigned char cmf = in.byte(), flg = in.byte();
		if ((cmf & 15) != 8 || ((cmf << 8) | flg) % 31 != 0 || (flg & 0x20))
			die("{}: corrupt data in the object at {}", what, off);
		z_stream z{};
		if (inflateInit2(&z, -15) != Z_OK)
			die("{}: zlib failed", what);
		// Ended on every way out, a truncated pack's die() included.
		struct End {
			z_stream &z;
			~End() { inflateEnd(&z); }
		} end{z};
		uint64_t got = 0;
		int zr = Z_OK;
		while (zr != Z_STREAM_END) {
			size_t avail = in.fill();
			z.next_in = const_cast<unsigned char *>(in.data());
			z.avail_in = (uInt)std::min<size_t>(avail, 1u << 30);
			z.next_out = out.data();
			z.avail_out = (uInt)out.size();
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				die("{}: corrupt data in the object at {}", what, off);
			}
			size_t used = (size_t)(z.next_in - in.data());
			in.consume(used);
			size_t produced = out.size() - z.avail_out;
			if (hash)
				h.update(out.data(), produced);
			got += produced;
			if (zr == Z_BUF_ERROR && !used && !produced) {
				die("{}: corrupt data in the object at {}", what, off);
			}
		}
		for (int k = 0; k < 4; k++) // the Adler-32 trailer
			in.byte();
		if (got != sz)
			die("{}: the object at {} has {} bytes, its header says {}", what, off, got, sz);
		entries.push_back({hash ? h.final() : Oid{}, off, in.crc()});
	}
	if (in.offset() != size - 20)
		die("{}: {} bytes of garbage after the last object", what, size - 20 - in.offset());
	Oid sum = in.checksum();
	unsigned char trailer[20];
	if (wait_for)
		wait_for(size);
	if (pread(f.get(), trailer, 20, (off_t)(size - 20)) != 20 || memcmp(trailer, sum.b.data(), 20) != 0)
		die("{}: the pack's checksum does not match its content", what);
	if (deltas && !resolve_deltas(pack_path, entries, pending, whole, what, thin))
		return index_pack_with_libgit2(pack_path, idx_path, what);
	Fd out_fd(::open(idx_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444));
	if (!out_fd)
		die_errno("unable to write '" + idx_path + "'");
	write_idx(out_fd.get(), idx_path, entries, sum);
	fsync_or_die(out_fd.get(), idx_path);
	return sum;
}

} // namespace pach::remote
