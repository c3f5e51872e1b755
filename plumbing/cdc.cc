// Content-defined chunking: a gear rolling hash with FastCDC's normalised
// cut (a stricter mask below the average size, a looser one above), and
// the on-disk cache of chunk lists.
#include "plumbing/cdc.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/odb.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace pach {

namespace {

// 256 fixed pseudo-random words (splitmix64 from a fixed seed): part of the
// chunk-list format, so they never change (ChunkCache's header names the
// version).
struct Gear {
	uint64_t t[256];
	Gear()
	{
		uint64_t x = 0x70616368u; // "pach"
		for (auto &v : t) {
			uint64_t z = (x += 0x9e3779b97f4a7c15ull);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			v = z ^ (z >> 31);
		}
	}
};
const Gear kGear;

// The gear hash's high bits depend on the last 64 bytes, its low bits on
// fewer: masks take the top bits.  bits + 2 of them below the average
// (cuts are rarer), bits - 2 above (more frequent).
constexpr uint32_t kWindow = 64;

EVP_MD_CTX *ctx(void *p) { return static_cast<EVP_MD_CTX *>(p); }

} // namespace

int chunk_bits_for(uint64_t size)
{
	int b = kMinChunkBits;
	while (b < kMaxChunkBits && (size >> 15) >= (2ull << b))
		b++;
	return b;
}

Chunker::Chunker(int bits)
	: min_(1u << bits >> 2), avg_(1u << bits), max_(1u << bits << 2), mask_s_(~0ull << (64 - (bits + 2))),
	  mask_l_(~0ull << (64 - (bits - 2))), sha_(EVP_MD_CTX_new())
{
	if (bits < kMinChunkBits || bits > kMaxChunkBits)
		die("internal error: chunk bits {}", bits);
	if (!sha_ || !EVP_DigestInit_ex(ctx(sha_), EVP_sha256(), nullptr))
		die("out of memory");
}

Chunker::~Chunker()
{
	EVP_MD_CTX_free(ctx(sha_));
}

void Chunker::cut()
{
	Chunk c;
	c.off = start_;
	c.len = (uint32_t)(pos_ - start_);
	unsigned int n = 32;
	EVP_DigestFinal_ex(ctx(sha_), c.sha.data(), &n);
	EVP_DigestInit_ex(ctx(sha_), EVP_sha256(), nullptr);
	out_.push_back(c);
	start_ = pos_;
	h_ = 0;
}

void Chunker::feed(const unsigned char *p, size_t n)
{
	const uint64_t *g = kGear.t;
	size_t i = 0;
	while (i < n) {
		uint64_t len = pos_ - start_;
		size_t from = i;
		if (len < min_ - kWindow) {
			// Too short to cut, and too far from kMin to matter to the hash.
			size_t take = (size_t)std::min<uint64_t>(n - i, min_ - kWindow - len);
			i += take;
		} else {
			uint64_t h = h_;
			bool at_cut = false;
			// Hash up to the next size threshold with that threshold's mask.
			uint64_t until = len < min_ ? min_ : len < avg_ ? avg_ : max_;
			uint64_t mask = len < min_ ? 0 : len < avg_ ? mask_s_ : mask_l_;
			size_t stop = (size_t)std::min<uint64_t>(n, i + (until - len));
			if (!mask) {
				for (; i < stop; i++)
					h = (h << 1) + g[p[i]];
			} else {
				for (; i < stop; i++) {
					h = (h << 1) + g[p[i]];
					if (!(h & mask)) {
						i++;
						at_cut = true;
						break;
					}
				}
			}
			h_ = h;
			if (!at_cut && pos_ + (i - from) - start_ == max_)
				at_cut = true;
			if (at_cut) {
				EVP_DigestUpdate(ctx(sha_), p + from, i - from);
				pos_ += i - from;
				cut();
				continue;
			}
		}
		EVP_DigestUpdate(ctx(sha_), p + from, i - from);
		pos_ += i - from;
	}
}

void Chunker::finish()
{
	if (pos_ > start_)
		cut();
}

struct ThreadedChunker::Impl {
	static constexpr size_t kSlots = 8;
	Chunker c;
	explicit Impl(int bits) : c(bits), t([this] { run(); }) {}
	std::mutex mu;
	std::condition_variable cv;
	std::deque<std::vector<unsigned char>> full, spare;
	bool done = false;
	std::exception_ptr err;
	std::thread t;
	size_t in_flight = 0;

	void run()
	{
		for (;;) {
			std::vector<unsigned char> b;
			{
				std::unique_lock<std::mutex> g(mu);
				cv.wait(g, [&] { return !full.empty() || done; });
				if (full.empty())
					return;
				b = std::move(full.front());
				full.pop_front();
			}
			try {
				if (!err)
					c.feed(b.data(), b.size());
			} catch (...) {
				err = std::current_exception();
			}
			std::lock_guard<std::mutex> g(mu);
			spare.push_back(std::move(b));
			in_flight--;
			cv.notify_all();
		}
	}
};

ThreadedChunker::ThreadedChunker(int bits) : impl_(std::make_unique<Impl>(bits)) {}

ThreadedChunker::~ThreadedChunker()
{
	if (impl_->t.joinable()) {
		{
			std::lock_guard<std::mutex> g(impl_->mu);
			impl_->done = true;
			impl_->cv.notify_all();
		}
		impl_->t.join();
	}
}

void ThreadedChunker::feed(const unsigned char *p, size_t n)
{
	std::vector<unsigned char> b;
	{
		std::unique_lock<std::mutex> g(impl_->mu);
		impl_->cv.wait(g, [&] { return impl_->in_flight < Impl::kSlots; });
		impl_->in_flight++;
		if (!impl_->spare.empty()) {
			b = std::move(impl_->spare.front());
			impl_->spare.pop_front();
		}
	}
	b.assign(p, p + n);
	std::lock_guard<std::mutex> g(impl_->mu);
	impl_->full.push_back(std::move(b));
	impl_->cv.notify_all();
}

std::vector<Chunk> ThreadedChunker::finish()
{
	{
		std::lock_guard<std::mutex> g(impl_->mu);
		impl_->done = true;
		impl_->cv.notify_all();
	}
	impl_->t.join();
	if (impl_->err)
		std::rethrow_exception(impl_->err);
	impl_->c.finish();
	return std::move(impl_->c.out());
}

std::vector<Chunk> chunk_stream(ObjectReader &r, int bits)
{
	Chunker c(bits);
	std::vector<unsigned char> buf(1 << 20);
	for (;;) {
		size_t n = r.read(buf.data(), buf.size());
		if (!n)
			break;
		c.feed(buf.data(), n);
	}
	c.finish();
	return std::move(c.out());
}

// File: "pach-chunks 2\n", the chunk bits (u64), count (u64), entries
// (off u64, len u32, sha 32), then the SHA-256 of everything before it.
static constexpr char kMagic[] = "pach-chunks 2\n";
static constexpr size_t kEntry = 8 + 4 + 32;

std::string ChunkCache::path(const Oid &blob) const
{
	return dir_ + "/" + blob.hex();
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void ChunkCache::save(const Oid &blob, const ChunkList &list) const
{
	auto &chunks = list.chunks;
	std::vector<unsigned char> b(sizeof kMagic - 1 + 16 + chunks.size() * kEntry + 32);
	unsigned char *p = b.data();
	std::memcpy(p, kMagic, sizeof kMagic - 1);
	p += sizeof kMagic - 1;
	put64(p, (uint64_t)list.bits);
	p += 8;
	put64(p, chunks.size());
	p += 8;
	for (auto &c : chunks) {
		put64(p, c.off);
		put64(p + 8, c.len); // 4 bytes used; the next 4 are overwritten
		std::memcpy(p + 12, c.sha.data(), 32);
		p += kEntry;
	}
	unsigned int n = 32;
	EVP_Digest(b.data(), (size_t)(p - b.data()), p, &n, EVP_sha256(), nullptr);
	mkdir_p(dir_);
	TempFile t(dir_, "tmp_chunks_");
	write_full(t.fd(), b.data(), b.size(), t.path());
	t.rename_to(path(blob), false);   // no fsync: a lost list is recomputed
}

std::optional<ChunkList> ChunkCache::load(const Oid &blob, uint64_t size) const
{
	Fd f(::open(path(blob).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!f)
		return std::nullopt;
	struct stat st;
	size_t head = sizeof kMagic - 1 + 16;
	if (fstat(f.get(), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < head + 32 ||
	    ((uint64_t)st.st_size - head - 32) % kEntry || (uint64_t)st.st_size > (64u << 20))
		return std::nullopt;
	std::vector<unsigned char> b((size_t)st.st_size);
	if (read_full(f.get(), b.data(), b.size(), path(blob)) != b.size())
		return std::nullopt;
	unsigned char sum[32];
	unsigned int n = 32;
	EVP_Digest(b.data(), b.size() - 32, sum, &n, EVP_sha256(), nullptr);
	if (std::memcmp(b.data(), kMagic, sizeof kMagic - 1) || std::memcmp(sum, b.data() + b.size() - 32, 32))
		return std::nullopt;
	uint64_t bits = get64(b.data() + sizeof kMagic - 1), count = get64(b.data() + sizeof kMagic - 1 + 8);
	if (count != (b.size() - head - 32) / kEntry || bits < kMinChunkBits || bits > kMaxChunkBits)
		return std::nullopt;
	ChunkList list;
	list.bits = (int)bits;
	auto &out = list.chunks;
	out.resize((size_t)count);
	const unsigned char *p = b.data() + head;
	uint64_t at = 0;
	for (auto &c : out) {
		c.off = get64(p);
		c.len = (uint32_t)(get64(p + 8) & 0xffffffffu);
		std::memcpy(c.sha.data(), p + 12, 32);
		if (c.off != at || !c.len || c.len > (4u << bits))
			return std::nullopt;
		at += c.len;
		p += kEntry;
	}
	if (at != size)
		return std::nullopt;
	return list;
}

void ChunkCache::remove(const Oid &blob) const
{
	::unlink(path(blob).c_str());
}

} // namespace pach
