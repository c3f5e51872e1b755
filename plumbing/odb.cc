#include "plumbing/odb.h"
#include "plumbing/delta.h"

#include "plumbing/error.h"
#include "plumbing/inflate.h"
#include "plumbing/git.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pach {

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

PackIndex::PackIndex(const std::string &idx_path) : path_(idx_path)
{
	Fd fd(::open(idx_path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		die_errno("unable to open pack index '" + idx_path + "'");
	struct stat st;
	if (fstat(fd.get(), &st) < 0)
		die_errno("unable to stat '" + idx_path + "'");
	len_ = (size_t)st.st_size;
	if (len_ < 8 + 1024 + 40)
		die("pack index '{}' is too small", idx_path);
	void *m = mmap(nullptr, len_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
	if (m == MAP_FAILED)
		die_errno("unable to map '" + idx_path + "'");
	map_ = static_cast<const unsigned char *>(m);
	try {
		check();
	} catch (...) {
		munmap(m, len_);   // no destructor runs for a throwing constructor
		map_ = nullptr;
		throw;
	}
}

void PackIndex::check()
{
	const std::string &idx_path = path_;
	if (std::memcmp(map_, "\377tOc", 4) || be32(map_ + 4) != 2)
		die("pack index '{}' is not version 2", idx_path);
	n_ = be32(map_ + 8 + 255 * 4);
	if ((uint64_t)8 + 1024 + 28ull * n_ + 40 > len_)
		die("pack index '{}' is truncated", idx_path);
	// Lookups trust the fan-out table: it must only ever grow, up to n.
	uint32_t prev = 0;
	for (int k = 0; k < 256; k++) {
		uint32_t v = be32(map_ + 8 + 4 * k);
		if (v < prev)
			die("pack index '{}' is corrupt (fan-out table)", idx_path);
		prev = v;
	}
	// At most one large offset per object, and nothing else.
	if ((uint64_t)8 + 1024 + 36ull * n_ + 40 < len_)
		die("pack index '{}' is corrupt (trailing bytes)", idx_path);
}

PackIndex::~PackIndex()
{
	if (map_)
		munmap(const_cast<unsigned char *>(map_), len_);
}

Oid PackIndex::oid_at(uint32_t i) const
{
	Oid o;
	std::memcpy(o.b.data(), map_ + 1032 + 20ull * i, 20);
	return o;
}

uint32_t PackIndex::crc_at(uint32_t i) const
{
	return be32(map_ + 1032 + 20ull * n_ + 4ull * i);
}

uint64_t PackIndex::offset_at(uint32_t i) const
{
	uint32_t v = be32(map_ + 1032 + 24ull * n_ + 4ull * i);
	if (!(v & 0x80000000u))
		return v;
	const unsigned char *p = map_ + 1032 + 28ull * n_ + 8ull * (v & 0x7fffffffu);
	if (p + 8 > map_ + len_ - 40)
		die("pack index '{}' has a bad large offset", path_);
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

Oid PackIndex::pack_checksum() const
{
	Oid o;
	std::memcpy(o.b.data(), map_ + len_ - 40, 20);
	return o;
}

std::optional<uint64_t> PackIndex::find(const Oid &o) const
{
	uint32_t lo = o.b[0] ? be32(map_ + 8 + 4 * (o.b[0] - 1)) : 0;
	uint32_t hi = be32(map_ + 8 + 4 * o.b[0]);
	const unsigned char *oids = map_ + 1032;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = std::memcmp(oids + 20ull * mid, o.b.data(), 20);
		if (c == 0)
			return offset_at(mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return std::nullopt;
}

int Pack::get_fd()
{
	std::call_once(opened, [this] {
		fd = Fd(::open(pack_path.c_str(), O_RDONLY | O_CLOEXEC));
		if (!fd) {
			// gc replaced it since we listed the packs: the caller
			// rescans (ObjectDb::open) instead of failing.
			if (errno == ENOENT)
				return;
			die_errno("unable to open pack '" + pack_path + "'");
		}
		struct stat st;
		if (fstat(fd.get(), &st) == 0)
			size = (uint64_t)st.st_size;
	});
	return fd.get();
}

uint64_t pack_entry_header(int fd, uint64_t off, int *type, uint64_t *size, const std::string &what)
{
	unsigned char h[16];
	ssize_t r = pread(fd, h, sizeof h, (off_t)off);
	if (r <= 0)
		die("unable to read object header at offset {} in '{}'", off, what);
	size_t i = 0;
	unsigned char c = h[i++];
	*type = (c >> 4) & 7;
	uint64_t sz = c & 15;
	int shift = 4;
	while (c & 0x80) {
		if (i >= (size_t)r || shift > 60)
			die("corrupt object header at offset {} in '{}'", off, what);
		c = h[i++];
		sz |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	*size = sz;
	return off + i;
}

void ObjectReader::skip(uint64_t n)
{
	char buf[65536];
	while (n) {
		size_t r = read(buf, (size_t)std::min<uint64_t>(n, sizeof buf));
		if (!r)
			die("object shorter than its header says");
		n -= r;
	}
}

void ObjectReader::copy_to(int fd, const std::string &what)
{
	std::vector<char> buf(1 << 20);
	for (;;) {
		size_t n = read(buf.data(), buf.size());
		if (!n)
			break;
		write_full(fd, buf.data(), n, what);
	}
}

ssize_t pread_ranges(int fd, const std::vector<std::pair<uint64_t, size_t>> &ranges, char *buf)
{
	constexpr uint64_t kGap = 64;      // a stored block's header is 5 bytes
	constexpr size_t kMaxIov = 512;    // below IOV_MAX (1024)
	char scratch[kGap];
	std::vector<iovec> iov;
	size_t total = 0, i = 0;
	while (i < ranges.size()) {
		iov.clear();
		size_t first = i, data = 0;
		uint64_t start = ranges[i].first, at = start;
		while (i < ranges.size() && iov.size() + 2 <= kMaxIov) {
			auto [off, len] = ranges[i];
			if (off != at) {
				if (off < at || off - at > kGap)
					break;
				iov.push_back({scratch, (size_t)(off - at)});
			}
			iov.push_back({buf + total + data, len});
			data += len;
			at = off + len;
			i++;
		}
		ssize_t k;
		do
			k = preadv(fd, iov.data(), (int)iov.size(), (off_t)start);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return -1;
		if ((uint64_t)k == at - start) {
			total += data;
			continue;
		}
		// Short (the end of the file): piece by piece, to say how much.
		for (size_t j = first; j < i; j++) {
			ssize_t r;
			do
				r = pread(fd, buf + total, ranges[j].second, (off_t)ranges[j].first);
			while (r < 0 && errno == EINTR);
			if (r < 0)
				return -1;
			total += (size_t)r;
			if ((size_t)r < ranges[j].second)
				return (ssize_t)total;
		}
	}
	return (ssize_t)total;
}

namespace {

// Reads an object from a pack.  Data pach stored at level 0 is a run of
// deflate "stored" blocks: those are copied straight from the pack file,
// without zlib (and sent with sendfile(2) when the reader only copies).
// Anything else goes through zlib.
class PackedReader : public ObjectReader {
public:
	PackedReader(std::shared_ptr<Pack> p, uint64_t data_off, ObjType t, uint64_t size)
		: pack_(std::move(p)), fd_(pack_->get_fd()), data_off_(data_off)
	{
		type_ = t;
		size_ = size;
		unsigned char h[3];
		if (pread(fd_, h, 3, (off_t)data_off) == 3 && (h[0] & 0x0f) == 8 && ((h[0] << 8) | h[1]) % 31 == 0 &&
		    !(h[1] & 0x20) && (h[2] & 0x06) == 0) {
			stored_ = true;
			off_ = data_off + 2;
		} else {
			z_ = std::make_unique<Inflater>(fd_, data_off, pack_->pack_path, size);
		}
	}
	size_t read(void *buf, size_t n) override
	{
		n = (size_t)std::min<uint64_t>(n, size_ - pos_);
		if (!n)
			return 0;
		// Several blocks at once: one preadv over them (headers
		// skipped), not a pread per header and per block.
		std::vector<std::pair<uint64_t, size_t>> ranges;
		int fd = -1;
		if (stored_ && n >= (256u << 10) && file_ranges(pos_, n, ranges, &fd)) {
			ssize_t k = pread_ranges(fd, ranges, static_cast<char *>(buf));
			if (k != (ssize_t)n || !seek(pos_ + n))
				die("unexpected end of '{}'", pack_->pack_path);
			return n;
		}
		size_t got = 0;
		while (got < n) {
			if (stored_ && !next_block())
				break;
			size_t r;
			if (stored_) {
				size_t want = (size_t)std::min<uint64_t>(n - got, block_left_);
				ssize_t k = pread(fd_, static_cast<char *>(buf) + got, want, (off_t)off_);
				if (k <= 0)
					die("unexpected end of '{}'", pack_->pack_path);
				r = (size_t)k;
				off_ += r;
				block_left_ -= r;
			} else {
				r = z_->read(static_cast<char *>(buf) + got, n - got);
				if (!r)
					break;
			}
			got += r;
			pos_ += r;
		}
		if (got == 0)
			die("object in '{}' is shorter than its header says", pack_->pack_path);
		return got;
	}
	void copy_to(int fd, const std::string &what) override
	{
		while (stored_ && pos_ < size_ && next_block()) {
			if (!stored_)
				break;
			off_t o = (off_t)off_;
			ssize_t k = sendfile(fd, fd_, &o, (size_t)block_left_);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EINVAL || errno == ENOSYS)
					break; // not sendfile-able: read and write below
				die_write(fd, what);
			}
			if (k == 0)
				die("unexpected end of '{}'", pack_->pack_path);
			off_ += (uint64_t)k;
			block_left_ -= (uint64_t)k;
			pos_ += (uint64_t)k;
		}
		ObjectReader::copy_to(fd, what);
	}

private:
	// Position at data of a stored block; false at the end of the stream.
	// A non-stored block after stored ones (not written by pach, but legal)
	// switches to zlib from the start, skipping what was delivered.
	bool next_block()
	{
		while (block_left_ == 0) {
			if (final_)
				return false;
			unsigned char h[5];
			if (pread(fd_, h, 5, (off_t)off_) != 5)
				die("unexpected end of '{}'", pack_->pack_path);
			if ((h[0] & 0x06) != 0) {
				stored_ = false;
				z_ = std::make_unique<Inflater>(fd_, data_off_, pack_->pack_path, size_);
				uint64_t skip = pos_;
				std::vector<char> b(1 << 16);
				while (skip) {
					size_t r = z_->read(b.data(), (size_t)std::min<uint64_t>(skip, b.size()));
					if (!r)
						die("corrupt object in '{}'", pack_->pack_path);
					skip -= r;
				}
				return true;
			}
			unsigned len = h[1] | (unsigned)h[2] << 8, nlen = h[3] | (unsigned)h[4] << 8;
			if ((len ^ 0xffff) != nlen)
				die("corrupt stored block in '{}'", pack_->pack_path);
			final_ = h[0] & 1;
			off_ += 5;
			block_left_ = len;
		}
		return true;
	}

	std::shared_ptr<Pack> pack_;
	int fd_;
	uint64_t data_off_;
	bool stored_ = false, final_ = false;
	uint64_t off_ = 0, block_left_ = 0;
	std::unique_ptr<Inflater> z_;
	// The block index, extended as far as a read needs: one header
	// (5 bytes) every 64 KiB, read only up to where the data is wanted, so
	// a sequential read of a cold file never scans it ahead of itself.
	// False if the data is not all stored blocks.
	bool index_to(uint64_t want)
	{
		if (!all_stored_)
			return false;
		if (blocks_.empty())
			blocks_.push_back({0, data_off_ + 2}); // where scanning goes on
		// Ahead: pach writes every block but the last with 65535 bytes,
		// so block k's header is where arithmetic says.  Taken only if the
		// headers there and just before say exactly that (data written
		// otherwise fails this and is scanned).  The index goes 4 MiB
		// past what is wanted, so a sequential reader checks three
		// headers every 4 MiB instead of reading each one.
		uint64_t target = std::min<uint64_t>(want + (4u << 20), size_);
		if (!scan_done_ && want >= blocks_.back().first && target > blocks_.back().first + 2 * 65535 &&
		    blocks_.back().first % 65535 == 0) {
			auto [c0, a0] = blocks_.back();
			uint64_t k = (target - c0) / 65535 - 1;
			uint64_t ak = a0 + k * 65540;
			auto full_block = [&](uint64_t at) {
				unsigned char h[5];
				if (pread(fd_, h, 5, (off_t)at) != 5)
					return false;
				unsigned len = h[1] | (unsigned)h[2] << 8, nlen = h[3] | (unsigned)h[4] << 8;
				return h[0] == 0 && len == 65535 && nlen == 0;
			};
			if (full_block(ak - 65540) && full_block(ak) && full_block(a0))
				for (uint64_t j = 1; j <= k; j++)
					blocks_.push_back({c0 + j * 65535, a0 + j * 65540});
		}
		while (!scan_done_ && blocks_.back().first <= want) {
			auto [content, at] = blocks_.back();
			unsigned char h[5];
			if (pread(fd_, h, 5, (off_t)at) != 5)
				die("unexpected end of '{}'", pack_->pack_path);
			if ((h[0] & 0x06) != 0) {
				all_stored_ = false;
				blocks_.clear();
				return false;
			}
			unsigned len = h[1] | (unsigned)h[2] << 8, nlen = h[3] | (unsigned)h[4] << 8;
			if ((len ^ 0xffff) != nlen)
				die("corrupt stored block in '{}'", pack_->pack_path);
			blocks_.push_back({content + len, at + 5 + len});
			scan_done_ = h[0] & 1;
		}
		return true;
	}

	// Stored blocks: content offset and file offset of each block's header.
	// The last entry is where the index stops (the end once scan_done_).
	std::vector<std::pair<uint64_t, uint64_t>> blocks_;
	bool all_stored_ = true, scan_done_ = false;

public:
	bool file_ranges(uint64_t pos, size_t n, std::vector<std::pair<uint64_t, size_t>> &out, int *fd) override
	{
		uint64_t end = std::min<uint64_t>(size_, pos + n);
		if (!stored_ || pos > size_ || !index_to(end))
			return false;
		auto it = std::upper_bound(blocks_.begin(), blocks_.end(), std::make_pair(pos, UINT64_MAX));
		for (size_t i = (size_t)(it - blocks_.begin()) - 1; pos < end && i + 1 < blocks_.size(); i++) {
			uint64_t start = blocks_[i].first, stop = blocks_[i + 1].first;
			uint64_t take = std::min(end, stop) - pos;
			out.push_back({blocks_[i].second + 5 + (pos - start), (size_t)take});
			pos += take;
		}
		*fd = fd_;
		return true;
	}

	bool seek(uint64_t pos) override
	{
		if (!stored_ || pos > size_ || !index_to(pos))
			return false;
		auto it = std::upper_bound(blocks_.begin(), blocks_.end(), std::make_pair(pos, UINT64_MAX));
		size_t i = (size_t)(it - blocks_.begin()) - 1;
		if (i + 1 >= blocks_.size()) { // at the very end
			pos_ = size_;
			block_left_ = 0;
			final_ = true;
			return true;
		}
		uint64_t start = blocks_[i].first, hdr = blocks_[i].second, len = blocks_[i + 1].first - start;
		off_ = hdr + 5 + (pos - start);
		block_left_ = len - (pos - start);
		final_ = scan_done_ && i + 2 == blocks_.size();
		pos_ = pos;
		return true;
	}
};

class LooseReader : public ObjectReader {
public:
	LooseReader(Fd fd, const std::string &path) : fd_(std::move(fd)), z_(fd_.get(), 0, path)
	{
		char hdr[64];
		size_t i = 0;
		for (;;) {
			if (i == sizeof hdr || z_.read(hdr + i, 1) != 1)
				die("corrupt loose object '{}'", path);
			if (hdr[i] == 0)
				break;
			i++;
		}
		std::string h(hdr, i);
		auto sp = h.find(' ');
		if (sp == std::string::npos)
			die("corrupt loose object '{}'", path);
		type_ = type_from_name(h.substr(0, sp));
		size_ = std::stoull(h.substr(sp + 1));
	}
	size_t read(void *buf, size_t n) override
	{
		n = (size_t)std::min<uint64_t>(n, size_ - pos_);
		if (!n)
			return 0;
		size_t got = z_.read(buf, n);
		if (!got)
			die("loose object shorter than its header says");
		pos_ += got;
		return got;
	}

private:
	Fd fd_;
	Inflater z_;
};

class MemReader : public ObjectReader {
public:
	explicit MemReader(GitOdbObject o) : o_(std::move(o))
	{
		type_ = (ObjType)git_odb_object_type(o_.get());
		size_ = git_odb_object_size(o_.get());
	}
	size_t read(void *buf, size_t n) override
	{
		n = (size_t)std::min<uint64_t>(n, size_ - pos_);
		std::memcpy(buf, static_cast<const char *>(git_odb_object_data(o_.get())) + pos_, n);
		pos_ += n;
		return n;
	}
	void skip(uint64_t n) override { pos_ = std::min(size_, pos_ + n); }
	bool seek(uint64_t pos) override
	{
		pos_ = std::min(size_, pos);
		return true;
	}

private:
	GitOdbObject o_;
};

} // namespace

ObjectDb::ObjectDb(const std::string &objects_dir, std::function<git_odb *(bool)> lg2)
	: dir_(objects_dir), lg2_(std::move(lg2))
{
	refresh();
}

void ObjectDb::refresh()
{
	std::vector<std::shared_ptr<Pack>> fresh;
	std::string pd = pack_dir();
	{
		for (auto &n : dir_names(pd)) {
			if (n.size() < 10 || n.compare(0, 5, "pack-") || n.compare(n.size() - 4, 4, ".idx"))
				continue;
			std::string base = n.substr(0, n.size() - 4);
			std::shared_ptr<Pack> keep;
			{
				std::lock_guard<std::mutex> g(mu_);
				for (auto &p : *packs_)
					if (p->name == base)
						keep = p;
			}
			if (!keep) {
				if (!path_exists(pd + "/" + base + ".pack"))
					continue;
				keep = std::make_shared<Pack>();
				keep->name = base;
				keep->pack_path = pd + "/" + base + ".pack";
				keep->idx = std::make_unique<PackIndex>(pd + "/" + n);
			}
			fresh.push_back(keep);
		}
	}
	// Largest packs first: most lookups in a big store hit them.
	std::sort(fresh.begin(), fresh.end(),
		  [](auto &a, auto &b) { return a->idx->count() > b->idx->count(); });
	bool dirs[256] = {};
	bool any = false;
	for (auto &n : dir_names(dir_)) {
		auto v = Oid::from_hex(n + std::string(38, '0'));
		if (n.size() == 2 && v) {
			dirs[v->b[0]] = true;
			any = true;
		}
	}
	if (git_odb *o = lg2_(false))
		git_odb_refresh(o);
	std::lock_guard<std::mutex> g(mu_);
	packs_ = std::make_shared<const PackList>(std::move(fresh));
	std::memcpy(loose_dirs_, dirs, sizeof dirs);
	any_loose_ = any;
}

std::shared_ptr<const ObjectDb::PackList> ObjectDb::pack_list() const
{
	std::lock_guard<std::mutex> g(mu_);
	return packs_;
}

std::string ObjectDb::loose_path(const Oid &o) const
{
	std::string h = o.hex();
	return dir_ + "/" + h.substr(0, 2) + "/" + h.substr(2);
}

bool ObjectDb::contains_packed(const Oid &o) const
{
	auto list = pack_list();
	for (auto &p : *list)
		if (p->idx->find(o))
			return true;
	return false;
}

std::optional<std::pair<std::shared_ptr<Pack>, uint64_t>> ObjectDb::locate(const Oid &o) const
{
	auto list = pack_list();
	for (auto &p : *list)
		if (auto off = p->idx->find(o))
			if (p->get_fd() >= 0)
				return std::make_pair(p, *off);
	return std::nullopt;
}

bool ObjectDb::contains(const Oid &o) const
{
	if (contains_packed(o))
		return true;
	if (!any_loose_ || !loose_dirs_[o.b[0]])
		return false;
	struct stat st;
	return ::stat(loose_path(o).c_str(), &st) == 0;
}

std::unique_ptr<ObjectReader> open_pack_entry(const std::shared_ptr<Pack> &p, uint64_t data_off, ObjType t,
					      uint64_t size)
{
	return std::make_unique<PackedReader>(p, data_off, t, size);
}

std::optional<DeltaBase> delta_base(const std::shared_ptr<Pack> &p, uint64_t off, int type, uint64_t *data)
{
	int fd = p->get_fd();
	DeltaBase b;
	if (type == 7) {
		if (pread(fd, b.id.b.data(), 20, (off_t)*data) != 20)
			die("unexpected end of '{}'", p->pack_path);
		*data += 20;
		auto at = p->idx->find(b.id);
		if (!at)
			return std::nullopt; // not in this pack: a thin pack's
		b.off = *at;
		return b;
	}
	if (type != 6)
		die("object at offset {} in '{}' has unknown type {}", off, p->pack_path, type);
	unsigned char h[10];
	ssize_t r = pread(fd, h, sizeof h, (off_t)*data);
	uint64_t rel = 0;
	size_t i = 0;
	for (;; i++) {
		if ((ssize_t)i >= r || i >= sizeof h)
			die("corrupt delta offset at {} in '{}'", off, p->pack_path);
		if (i)
			rel += 1;
		rel = (rel << 7) | (h[i] & 0x7f);
		if (!(h[i] & 0x80))
			break;
	}
	*data += i + 1;
	if (!rel || rel > off - 12)
		die("corrupt delta offset at {} in '{}'", off, p->pack_path);
	b.off = off - rel;
	return b;
}

// The size of what a delta makes: the second number of its instructions.
static uint64_t delta_result_size(const std::shared_ptr<Pack> &p, uint64_t data, uint64_t size)
{
	PackedReader r(p, data, ObjType::blob, size);
	unsigned char b[20];
	size_t n = r.read(b, std::min<uint64_t>(sizeof b, size));
	uint64_t v[2] = {0, 0};
	size_t i = 0;
	for (int k = 0; k < 2; k++)
		for (int shift = 0; i < n && shift < 64; shift += 7) {
			v[k] |= (uint64_t)(b[i] & 0x7f) << shift;
			if (!(b[i++] & 0x80))
				break;
		}
	return v[1];
}

std::unique_ptr<ObjectReader> ObjectDb::open_delta(const std::shared_ptr<Pack> &p, uint64_t off, int type,
						   uint64_t size, uint64_t data) const
{
	std::vector<DeltaLink> chain;
	for (;;) {
		if ((int)chain.size() >= kMaxDeltaDepth)
			return nullptr;
		auto base = delta_base(p, off, type, &data);
		if (!base)
			return nullptr;
		// Small objects (git's deltified trees and commits) go to libgit2,
		// whose cache of delta bases serves a walk of many of them better
		// than composing each chain anew.
		if (chain.empty() && delta_result_size(p, data, size) < kComposeMin)
			return nullptr;
		chain.push_back({p, data, size});
		off = base->off;
		data = pack_entry_header(p->get_fd(), off, &type, &size, p->pack_path);
		if (type >= 1 && type <= 4)
			return open_delta_chain(chain, p, data, (ObjType)type, size, open_pack_entry);
	}
}

std::unique_ptr<ObjectReader> ObjectDb::open(const Oid &o) const
{
	for (int attempt = 0; attempt < 2; attempt++) {
		bool vanished = false;
		auto list = pack_list();
		for (auto &p : *list) {
			auto off = p->idx->find(o);
			if (!off)
				continue;
			if (p->get_fd() < 0) {
				vanished = true;
				continue;
			}
			int type;
			uint64_t size;
			uint64_t data = pack_entry_header(p->get_fd(), *off, &type, &size, p->pack_path);
			if (type >= 1 && type <= 4)
				return std::make_unique<PackedReader>(p, data, (ObjType)type, size);
			if (auto r = open_delta(p, *off, type, size, data))
				return r;
			// A chain too long or too fragmented to compose: libgit2
			// materialises it (git itself deltifies only objects below
			// core.bigFileThreshold).
			goto libgit2;
		}
		{
			Fd fd(::open(loose_path(o).c_str(), O_RDONLY | O_CLOEXEC));
			if (fd)
				return std::make_unique<LooseReader>(std::move(fd), loose_path(o));
		}
		if (!vanished)
			break;
		// A pack went away under us (gc repacked): look again.
		const_cast<ObjectDb *>(this)->refresh();
	}
libgit2:
	git_odb_object *obj = nullptr;
	git_oid id;
	std::memcpy(id.id, o.b.data(), 20);
	if (git_odb_read(&obj, lg2_(true), &id) < 0)
		return nullptr;
	return std::make_unique<MemReader>(GitOdbObject(obj));
}

std::string ObjectDb::read_small(const Oid &o, ObjType *type) const
{
	auto r = open(o);
	if (!r)
		die("object {} is missing", o.hex());
	std::string s;
	s.resize(r->size());
	size_t got = 0;
	while (got < s.size()) {
		size_t n = r->read(s.data() + got, s.size() - got);
		if (!n)
			die("object {} is truncated", o.hex());
		got += n;
	}
	if (type)
		*type = r->type();
	return s;
}

} // namespace pach
