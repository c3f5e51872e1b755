#include "plumbing/pack_writer.h"

#include "plumbing/error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <cstring>

namespace pach {

static constexpr size_t kBufSize = 1 << 20;
// Blobs at least this big are read and written by two threads.
static constexpr uint64_t kPipelineMin = 16u << 20;


static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void LevelGovernor::observe(int level, size_t in, size_t out)
{
	if (level == 0) {
		since_probe_++;
		return;
	}
	since_probe_ = 0;
	// Worth compressing only if it saves at least 10%.
	incompressible_ = in > 0 && out * 10 > in * 9;
}

PackWriter::PackWriter(const std::string &pack_dir, uint32_t count)
	: dir_(pack_dir), file_(pack_dir, "tmp_pack_"), declared_(count)
{
	buf_.reserve(kBufSize);
	zout_.resize(kBufSize + 1024);
	unsigned char hdr[12] = {'P', 'A', 'C', 'K'};
	put_be32(hdr + 4, 2);
	put_be32(hdr + 8, count);
	put(hdr, sizeof hdr);
}

PackWriter::~PackWriter()
{
	if (z_init_)
		deflateEnd(&z_);
}

// Start writeback of every 8 MiB as it is written, so the disk works
// while we hash and the final fsync has little left to wait for.
void PackWriter::raw_write(const void *p, size_t n)
{
	write_full(file_.fd(), p, n, file_.path());
	flushed_ += n;
	if (flushed_ - kicked_ >= (8u << 20)) {
		sync_file_range(file_.fd(), (off_t)kicked_, (off_t)(flushed_ - kicked_), SYNC_FILE_RANGE_WRITE);
		kicked_ = flushed_;
	}
}

void PackWriter::flush()
{
	if (!buf_.empty())
		raw_write(buf_.data(), buf_.size());
	buf_.clear();
}

void PackWriter::put(const void *p, size_t n)
{
	if (declared_)
		pack_sha_.update(p, n);
	crc_ = (uint32_t)crc32(crc_, static_cast<const Bytef *>(p), (uInt)n);
	offset_ += n;
	if (n >= kBufSize) {
		flush();
		raw_write(p, n);
		return;
	}
	if (buf_.size() + n > kBufSize)
		flush();
	auto c = static_cast<const unsigned char *>(p);
	buf_.insert(buf_.end(), c, c + n);
}

void PackWriter::entry_header(int type, uint64_t size)
{
	unsigned char h[16];
	size_t i = 0;
	unsigned char c = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		h[i++] = c | 0x80;
		c = size & 0x7f;
		size >>= 7;
	}
	h[i++] = c;
	put(h, i);
}

void PackWriter::start_deflate(int level)
{
	if (!z_init_) {
		if (deflateInit(&z_, level) != Z_OK)
			die("unable to initialise zlib");
		z_init_ = true;
	} else if (level != z_level_) {
		deflateEnd(&z_);
		z_ = z_stream{};
		if (deflateInit(&z_, level) != Z_OK)
			die("unable to initialise zlib");
	} else {
		deflateReset(&z_);
	}
	z_level_ = level;
}

void PackWriter::deflate_chunk(const void *p, size_t n, bool last)
{
	z_.next_in = (Bytef *)p;
	z_.avail_in = (uInt)n;
	int flush = last ? Z_FINISH : Z_NO_FLUSH;
	for (;;) {
		z_.next_out = zout_.data();
		z_.avail_out = (uInt)zout_.size();
		int rc = deflate(&z_, flush);
		if (rc == Z_STREAM_ERROR)
			die("zlib deflate failed");
		size_t got = zout_.size() - z_.avail_out;
		if (got)
			put(zout_.data(), got);
		if (last ? rc == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0)
			break;
	}
}

void PackWriter::add(ObjType t, const void *data, size_t n, const Oid &oid, LevelGovernor *gov)
{
	Entry e{oid, offset_, 0};
	crc_ = 0;
	entry_header((int)t, n);
	int level = gov ? gov->level() : 1;
	start_deflate(level);
	uint64_t start = offset_;
	if (level == 0) {
		stored_begin();
		stored_chunk(static_cast<const unsigned char *>(data), n, true);
		stored_end();
	} else {
		deflate_chunk(data, n, true);
	}
	if (gov)
		gov->observe(level, n, offset_ - start);
	e.crc = crc_;
	entries_.push_back(e);
}

Oid PackWriter::add(ObjType t, const void *data, size_t n)
{
	Oid o = hash_object(t, data, n);
	add(t, data, n, o);
	return o;
}

void PackWriter::stored_begin()
{
	static const unsigned char hdr[2] = {0x78, 0x01};
	put(hdr, 2);
	adler_ = (uint32_t)adler32(0, nullptr, 0);
}

void PackWriter::stored_chunk(const unsigned char *p, size_t n, bool last)
{
	adler_ = (uint32_t)adler32(adler_, p, (uInt)n);
	stored_blocks(p, n, last);
}

void PackWriter::stored_blocks(const unsigned char *p, size_t n, bool last)
{
	auto block = [&](const unsigned char *d, size_t len, bool fin) {
		unsigned char h[5] = {(unsigned char)(fin ? 1 : 0), (unsigned char)(len & 0xff), (unsigned char)(len >> 8),
				      (unsigned char)(~len & 0xff), (unsigned char)((~len >> 8) & 0xff)};
		put(h, 5);
		put(d, len);
	};
	size_t done = 0;
	if (!carry_.empty()) {
		size_t take = std::min<size_t>(65535 - carry_.size(), n);
		carry_.insert(carry_.end(), p, p + take);
		done = take;
		if (carry_.size() < 65535 && !last)
			return;
		bool fin = last && done == n;
		block(carry_.data(), carry_.size(), fin);
		carry_.clear();
		if (fin)
			return;
	}
	while (n - done >= 65535) {
		bool fin = last && done + 65535 == n;
		block(p + done, 65535, fin);
		done += 65535;
		if (fin)
			return;
	}
	if (last)
		block(p + done, n - done, true);   // the final one (empty for an empty blob)
	else
		carry_.assign(p + done, p + n);
}

void PackWriter::stored_end()
{
	unsigned char t[4];
	put_be32(t, adler_);
	put(t, 4);
}

// Two stages for big blobs, so two cores share the work: this thread reads
// and computes the object's SHA-1 (and adler32); a second one compresses
// or frames the data, computes the pack's SHA-1 and CRC, and writes.  The
// first chunk was already read (to choose the level): it comes in first_data.
void PackWriter::pipeline(int fd, uint64_t size, const unsigned char *first_data, size_t first,
			  const std::string &what, int level, Sha1 &osha, const OnBytes &progress, const Tap &tap)
{
	constexpr int kSlots = 8;
	std::vector<std::vector<unsigned char>> bufs(kSlots, std::vector<unsigned char>(kBufSize));
	struct Full {
		int slot;
		size_t n;
		bool last;
	};
	std::mutex mu;
	std::condition_variable cv;
	std::deque<Full> full;
	std::deque<int> free_slots;
	for (int i = 1; i < kSlots; i++)
		free_slots.push_back(i);
	bool failed = false;
	std::exception_ptr err;

	std::thread writer([&] {
		try {
			for (;;) {
				Full f;
				{
					std::unique_lock<std::mutex> g(mu);
					cv.wait(g, [&] { return !full.empty() || failed; });
					if (failed)
						return;
					f = full.front();
					full.pop_front();
				}
				const unsigned char *p = bufs[(size_t)f.slot].data();
				if (level == 0)
					stored_blocks(p, f.n, f.last);
				else
					deflate_chunk(p, f.n, f.last);
				if (progress)
					progress(f.n);
				std::lock_guard<std::mutex> g(mu);
				free_slots.push_back(f.slot);
				cv.notify_all();
				if (f.last)
					return;
			}
		} catch (...) {
			std::lock_guard<std::mutex> g(mu);
			err = std::current_exception();
			failed = true;
			cv.notify_all();
		}
	});
	auto hand_over = [&](int slot, size_t n, bool last) {
		osha.update(bufs[(size_t)slot].data(), n);
		if (tap)
			tap(bufs[(size_t)slot].data(), n);
		if (level == 0)
			adler_ = (uint32_t)adler32(adler_, bufs[(size_t)slot].data(), (uInt)n);
		std::lock_guard<std::mutex> g(mu);
		full.push_back({slot, n, last});
		cv.notify_all();
	};
	try {
		uint64_t left = size;
		std::memcpy(bufs[0].data(), first_data, first);
		left -= first;
		hand_over(0, first, left == 0);
		while (left) {
			int slot;
			{
				std::unique_lock<std::mutex> g(mu);
				cv.wait(g, [&] { return !free_slots.empty() || failed; });
				if (failed)
					break;
				slot = free_slots.front();
				free_slots.pop_front();
			}
			size_t want = (size_t)std::min<uint64_t>(left, kBufSize);
			size_t got = read_full(fd, bufs[(size_t)slot].data(), want, what);
			if (got != want)
				die("'{}' changed while pach was reading it", what);
			left -= got;
			hand_over(slot, got, left == 0);
		}
	} catch (...) {
		std::lock_guard<std::mutex> g(mu);
		if (!err)
			err = std::current_exception();
		failed = true;
		cv.notify_all();
	}
	writer.join();
	if (err)
		std::rethrow_exception(err);
}

Oid PackWriter::add_blob_stream(int fd, uint64_t size, const std::string &what, LevelGovernor &gov,
				const OnBytes &progress, const Tap &tap)
{
	Entry e{Oid{}, offset_, 0};
	crc_ = 0;
	Sha1 osha;
	auto hdr = object_header(ObjType::blob, size);
	osha.update(hdr.data(), hdr.size());
	entry_header((int)ObjType::blob, size);

	static thread_local std::vector<unsigned char> in;
	in.resize(kBufSize);
	uint64_t left = size;
	size_t first = (size_t)std::min<uint64_t>(left, kBufSize);
	if (read_full(fd, in.data(), first, what) != first)
		die("'{}' changed while pach was reading it", what);
	int level = gov.level();
	if (first >= (64u << 10)) {
		// Big enough to judge by itself: try level 1 on the first chunk.
		static thread_local std::vector<unsigned char> probe;
		uLongf plen = compressBound((uLong)first);
		probe.resize(plen);
		if (compress2(probe.data(), &plen, in.data(), (uLong)first, 1) == Z_OK) {
			gov.observe(1, first, plen);
			level = gov.level();
		}
	}
	uint64_t zstart = offset_;
	size_t got = first;
	if (level == 0)
		stored_begin();
	else
		start_deflate(level);
	bool piped = size >= kPipelineMin;
	if (piped)
		pipeline(fd, size, in.data(), first, what, level, osha, progress, tap);
	// An empty blob still needs its one (final, empty) block.
	while (!piped) {
		osha.update(in.data(), got);
		if (tap)
			tap(in.data(), got);
		left -= got;
		if (level == 0)
			stored_chunk(in.data(), got, left == 0);
		else
			deflate_chunk(in.data(), got, left == 0);
		if (progress)
			progress(got);
		if (!left)
			break;
		size_t want = (size_t)std::min<uint64_t>(left, kBufSize);
		got = read_full(fd, in.data(), want, what);
		if (got != want)
			die("'{}' changed while pach was reading it", what);
	}
	if (level == 0)
		stored_end();
	else if (first < (64u << 10))
		gov.observe(level, size, offset_ - zstart);
	e.oid = osha.final();
	e.crc = crc_;
	entries_.push_back(e);
	return e.oid;
}

void PackWriter::copy_raw(int src_fd, uint64_t off, uint64_t len, const Oid &oid, const std::string &what)
{
	Entry e{oid, offset_, 0};
	crc_ = 0;
	std::vector<unsigned char> b((size_t)std::min<uint64_t>(len, kBufSize));
	while (len) {
		size_t want = (size_t)std::min<uint64_t>(len, b.size());
		ssize_t r = pread(src_fd, b.data(), want, (off_t)off);
		if (r <= 0)
			die("unable to read '{}' at offset {}", what, off);
		put(b.data(), (size_t)r);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	e.crc = crc_;
	entries_.push_back(e);
}

void PackWriter::add_stream(ObjType t, uint64_t size, const Oid &oid,
			    const std::function<size_t(void *, size_t)> &read, LevelGovernor &gov)
{
	Entry e{oid, offset_, 0};
	crc_ = 0;
	entry_header((int)t, size);
	deflate_from(size, oid.hex(), read, gov);
	e.crc = crc_;
	entries_.push_back(e);
}

void PackWriter::add_ref_delta(const Oid &base, const Oid &oid, uint64_t size,
			       const std::function<size_t(void *, size_t)> &read, LevelGovernor &gov)
{
	Entry e{oid, offset_, 0};
	crc_ = 0;
	entry_header(7, size);
	put(base.b.data(), 20);
	deflate_from(size, "delta of " + oid.hex(), read, gov);
	e.crc = crc_;
	entries_.push_back(e);
}

void PackWriter::deflate_from(uint64_t size, const std::string &what,
			      const std::function<size_t(void *, size_t)> &read, LevelGovernor &gov)
{
	int level = gov.level();
	start_deflate(level);
	uint64_t start = offset_;
	std::vector<unsigned char> in(kBufSize);
	uint64_t left = size;
	if (!size)
		deflate_chunk(nullptr, 0, true);
	while (left) {
		size_t want = (size_t)std::min<uint64_t>(left, in.size());
		size_t got = 0;
		while (got < want) {
			size_t n = read(in.data() + got, want - got);
			if (!n)
				die("object {} is shorter than its size", what);
			got += n;
		}
		left -= got;
		deflate_chunk(in.data(), got, left == 0);
	}
	gov.observe(level, size, offset_ - start);
}

void PackWriter::drop_last()
{
	if (declared_)
		die("internal error: drop_last on a pack of known count");
	uint64_t start = entries_.back().offset;
	entries_.pop_back();
	uint64_t buffered_from = offset_ - buf_.size();
	if (start >= buffered_from) {
		buf_.resize(start - buffered_from);
	} else {
		buf_.clear();
		flushed_ = kicked_ = start;
		if (ftruncate(file_.fd(), (off_t)start) < 0 || lseek(file_.fd(), (off_t)start, SEEK_SET) < 0)
			die_errno("unable to truncate '" + file_.path() + "'");
	}
	offset_ = start;
}

bool PackWriter::has(const Oid &o, size_t upto)
{
	upto = std::min(upto, entries_.size());
	if (indexed_ > entries_.size()) {   // drop_last took an indexed one
		table_.clear();
		indexed_ = 0;
	}
	auto slot_of = [](const Oid &x, size_t mask) {
		uint64_t h;
		std::memcpy(&h, x.b.data(), 8);
		return (size_t)h & mask;
	};
	if (table_.size() < 2 * (upto + 1)) {
		size_t n = 1024;
		while (n < 4 * (upto + 1))
			n *= 2;
		table_.assign(n, 0);
		for (size_t i = 0; i < indexed_; i++) {
			size_t h = slot_of(entries_[i].oid, n - 1);
			while (table_[h])
				h = (h + 1) & (n - 1);
			table_[h] = (uint32_t)i + 1;
		}
	}
	size_t mask = table_.size() - 1;
	for (; indexed_ < upto; indexed_++) {
		size_t h = slot_of(entries_[indexed_].oid, mask);
		while (table_[h])
			h = (h + 1) & mask;
		table_[h] = (uint32_t)indexed_ + 1;
	}
	for (size_t h = slot_of(o, mask); table_[h]; h = (h + 1) & mask)
		if (table_[h] - 1 < upto && entries_[table_[h] - 1].oid == o)
			return true;
	return false;
}

void PackWriter::abandon()
{
	finished_ = true;
	file_.discard();
}

void PackWriter::seal()
{
	if (finished_)
		die("internal error: pack finished twice");
	finished_ = true;
	if (z_init_) {
		deflateEnd(&z_);
		z_init_ = false;
	}
	if (entries_.empty()) {
		file_.discard();
		return;
	}
	flush();
	Oid checksum;
	if (declared_) {
		if (declared_ != entries_.size())
			die("internal error: pack declared {} objects, wrote {}", declared_, entries_.size());
		checksum = pack_sha_.final();
	} else {
		unsigned char cnt[4];
		put_be32(cnt, (uint32_t)entries_.size());
		if (pwrite(file_.fd(), cnt, 4, 8) != 4)
			die_errno("unable to write '" + file_.path() + "'");
		Sha1 s;
		std::vector<unsigned char> b(kBufSize);
		uint64_t pos = 0;
		while (pos < offset_) {
			ssize_t r = pread(file_.fd(), b.data(), (size_t)std::min<uint64_t>(b.size(), offset_ - pos), (off_t)pos);
			if (r <= 0)
				die_errno("unable to reread '" + file_.path() + "'");
			s.update(b.data(), (size_t)r);
			pos += (uint64_t)r;
		}
		checksum = s.final();
	}
	write_full(file_.fd(), checksum.b.data(), 20, file_.path());
	fsync_or_die(file_.fd(), file_.path());
	file_.close_fd();

	idx_ = std::make_unique<TempFile>(dir_, "tmp_idx_");
	write_idx(idx_->fd(), idx_->path(), entries_, checksum);   // sorts entries_
	std::vector<Entry>().swap(entries_);
	std::vector<uint32_t>().swap(table_);
	indexed_ = 0;
	fsync_or_die(idx_->fd(), idx_->path());
	idx_->close_fd();
	checksum_ = checksum;
	// Nothing of the data stays in memory while the pack waits.
	std::vector<unsigned char>().swap(buf_);
	std::vector<unsigned char>().swap(zout_);
}

std::optional<Oid> PackWriter::publish()
{
	if (!checksum_)
		return std::nullopt;
	std::string base = dir_ + "/pack-" + checksum_->hex();
	// Pack, then idx (design.adoc, "Durability"): readers find packs by
	// their idx, so the idx is what publishes a complete pack.
	file_.rename_to(base + ".pack", false);
	idx_->rename_to(base + ".idx", false);
	fsync_dir(dir_);
	auto c = checksum_;
	checksum_.reset();
	return c;
}

std::optional<Oid> PackWriter::finish()
{
	seal();
	return publish();
}

void write_idx(int fd, const std::string &path, std::vector<IdxEntry> &entries, const Oid &pack_checksum)
{
	std::sort(entries.begin(), entries.end(), [](auto &a, auto &b) { return a.oid < b.oid; });
	std::string out;
	Sha1 sha;
	auto emit = [&](const void *p, size_t n) {
		out.append(static_cast<const char *>(p), n);
	};
	unsigned char b4[4];
	emit("\377tOc", 4);
	put_be32(b4, 2);
	emit(b4, 4);
	uint32_t fan[256] = {};
	for (auto &e : entries)
		fan[e.oid.b[0]]++;
	uint32_t acc = 0;
	for (int i = 0; i < 256; i++) {
		acc += fan[i];
		put_be32(b4, acc);
		emit(b4, 4);
	}
	for (auto &e : entries)
		emit(e.oid.b.data(), 20);
	for (auto &e : entries) {
		put_be32(b4, e.crc);
		emit(b4, 4);
	}
	std::vector<uint64_t> large;
	for (auto &e : entries) {
		uint64_t off = e.offset;
		if (off < 0x80000000u) {
			put_be32(b4, (uint32_t)off);
		} else {
			put_be32(b4, 0x80000000u | (uint32_t)large.size());
			large.push_back(off);
		}
		emit(b4, 4);
	}
	for (auto off : large) {
		put_be32(b4, (uint32_t)(off >> 32));
		emit(b4, 4);
		put_be32(b4, (uint32_t)off);
		emit(b4, 4);
	}
	emit(pack_checksum.b.data(), 20);
	sha.update(out.data(), out.size());
	Oid idx_sum = sha.final();
	emit(idx_sum.b.data(), 20);

	write_full(fd, out.data(), out.size(), path);
}

} // namespace pach
