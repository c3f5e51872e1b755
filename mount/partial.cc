#include "mount/partial.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace pach::mount {

namespace {

constexpr char kMagic[8] = {'p', 'a', 'c', 'h', 'p', 'a', 'r', '1'};
constexpr size_t kHeader = sizeof kMagic + 20 + 8 + 1;

uint64_t chunks_of(uint64_t len, unsigned shift) { return (len + (1ull << shift) - 1) >> shift; }

void write_at(int fd, const char *buf, size_t n, uint64_t at)
{
	while (n) {
		ssize_t k = ::pwrite(fd, buf, n, (off_t)at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die_errno("unable to write a staged file");
		buf += k, n -= (size_t)k, at += (uint64_t)k;
	}
}

} // namespace

Partial Partial::fresh(const Oid &blob, uint64_t size)
{
	Partial p;
	p.base = blob;
	p.base_len = size;
	while (chunks_of(size, p.shift) > kMaxChunks)
		p.shift++;
	p.bits.assign((size_t)((chunks_of(size, p.shift) + 7) / 8), 0);
	return p;
}

std::optional<Partial> Partial::load(int fd)
{
	unsigned char b[kHeader + kMaxChunks / 8];
	ssize_t n = fgetxattr(fd, kXattr, b, sizeof b);
	if (n < (ssize_t)kHeader || memcmp(b, kMagic, sizeof kMagic) != 0)
		return std::nullopt;   // none (or not ours): the file is whole
	Partial p;
	memcpy(p.base.b.data(), b + 8, 20);
	for (int i = 7; i >= 0; i--)
		p.base_len = p.base_len << 8 | b[28 + i];
	p.shift = b[36];
	p.bits.assign(b + kHeader, b + n);
	if (p.shift < 12 || p.shift > 62 || chunks_of(p.base_len, p.shift) > p.bits.size() * 8)
		return std::nullopt;
	struct stat st;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < p.base_len)
		p.base_len = (uint64_t)st.st_size;   // cut short by a truncate that was not recorded
	if (p.complete())
		return std::nullopt;
	return p;
}

bool Partial::complete() const
{
	uint64_t n = chunks_of(base_len, shift);
	for (uint64_t c = 0; c < n; c++)
		if (!present(c))
			return false;
	return true;
}

bool Partial::save(int fd) const
{
	if (complete())
		return fremovexattr(fd, kXattr) == 0 || errno == ENODATA;
	std::vector<unsigned char> b(kHeader + bits.size());
	memcpy(b.data(), kMagic, sizeof kMagic);
	memcpy(b.data() + 8, base.b.data(), 20);
	for (int i = 0; i < 8; i++)
		b[28 + i] = (unsigned char)(base_len >> (8 * i));
	b[36] = (unsigned char)shift;
	std::copy(bits.begin(), bits.end(), b.begin() + kHeader);
	return fsetxattr(fd, kXattr, b.data(), b.size(), 0) == 0;
}

size_t blob_pread(const Store &s, const Oid &blob, std::unique_ptr<ObjectReader> &r, char *buf, size_t n,
		  uint64_t pos)
{
	if (!r)
		r = s.odb().open(blob);
	if (!r)
		die("object {} is missing", blob.hex());
	if (pos >= r->size())
		return 0;
	n = (size_t)std::min<uint64_t>(n, r->size() - pos);
	std::vector<std::pair<uint64_t, size_t>> ranges;
	int fd = -1;
	if (r->file_ranges(pos, n, ranges, &fd)) {
		size_t want = 0;
		for (auto &rg : ranges)
			want += rg.second;
		ssize_t k = pread_ranges(fd, ranges, buf);
		if (k < 0)
			die_errno("unable to read object " + blob.hex());
		if (k != (ssize_t)want)
			die("object {} is shorter in its pack than its header says", blob.hex());
		return want;
	}
	if (r->position() != pos && !r->seek(pos)) {
		if (pos < r->position())
			r = s.odb().open(blob);
		r->skip(pos - r->position());
	}
	size_t got = 0;
	while (got < n) {
		size_t k = r->read(buf + got, n - got);
		if (!k)
			break;
		got += k;
	}
	return got;
}

ssize_t PartialFile::pread(const Store &s, int fd, char *buf, size_t n, uint64_t pos)
{
	std::lock_guard<std::mutex> g(mu);
	if (!map) {
		ssize_t k = ::pread(fd, buf, n, (off_t)pos);
		return k < 0 ? -errno : k;
	}
	size_t got = 0;
	while (got < n) {
		uint64_t at = pos + got;
		uint64_t c = at >> map->shift;
		uint64_t end = std::min<uint64_t>((c + 1) << map->shift, pos + n);
		size_t want = (size_t)(end - at);
		ssize_t k;
		if (at >= map->base_len || map->present(c)) {
			if (at < map->base_len)
				want = (size_t)std::min<uint64_t>(want, map->base_len - at);
			k = ::pread(fd, buf + got, want, (off_t)at);
			if (k < 0)
				return -errno;
		} else {
			want = (size_t)std::min<uint64_t>(want, map->base_len - at);
			k = (ssize_t)blob_pread(s, map->base, r, buf + got, want, at);
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

ssize_t PartialFile::pwrite(const Store &s, int fd, const char *buf, size_t n, uint64_t pos)
{
	std::lock_guard<std::mutex> g(mu);
	if (map && n) {
		std::vector<char> tmp;
		// The blob's bytes around the write, for each chunk it starts.
		auto copy_in = [&](uint64_t from, uint64_t to) {
			while (from < to) {
				size_t len = (size_t)std::min<uint64_t>(to - from, 1 << 20);
				tmp.resize(len);
				size_t k = blob_pread(s, map->base, r, tmp.data(), len, from);
				if (k != len)
					die("object {} is shorter than its staged copy", map->base.hex());
				write_at(fd, tmp.data(), len, from);
				from += len;
			}
		};
		bool changed = false;
		uint64_t last = std::min<uint64_t>(pos + n, map->base_len);
		for (uint64_t c = pos >> map->shift; (c << map->shift) < last; c++) {
			if (map->present(c))
				continue;
			uint64_t cs = c << map->shift, ce = std::min<uint64_t>(cs + map->chunk_size(), map->base_len);
			copy_in(cs, std::min(pos, ce));
			copy_in(std::max(pos + n, cs), ce);
			map->mark(c);
			changed = true;
		}
		// Marked before the write lands: a crash in between leaves a
		// chunk that holds the blob's bytes, never one read from the blob
		// that was written to.
		if (changed) {
			if (!map->save(fd))
				return -errno;
			if (map->complete())
				map.reset();
		}
	}
	ssize_t k = ::pwrite(fd, buf, n, (off_t)pos);
	return k < 0 ? -errno : k;
}

int PartialFile::truncate(int fd, uint64_t size)
{
	std::lock_guard<std::mutex> g(mu);
	if (::ftruncate(fd, (off_t)size) < 0)
		return -errno;
	if (map && size < map->base_len) {
		map->base_len = size;
		if (!map->save(fd))
			return -errno;
		if (map->complete())
			map.reset();
	}
	return 0;
}

struct MergedStream::Impl {
	PartialFile pf;
	std::thread feeder;
	int wr = -1;
};

MergedStream::MergedStream(const Store &s, int fd, const Partial &p, uint64_t size) : impl_(std::make_unique<Impl>())
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die_errno("unable to make a pipe");
	rd_ = pipefd[0];
	impl_->wr = pipefd[1];
	impl_->pf.map = p;
	Impl *im = impl_.get();
	impl_->feeder = std::thread([&s, fd, size, im] {
		// A reader that stops early closes its end: EPIPE, not a signal.
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &set, nullptr);
		std::vector<char> buf(1 << 20);
		try {
			bool open = true;
			for (uint64_t at = 0; open && at < size;) {
				ssize_t k = im->pf.pread(s, fd, buf.data(), (size_t)std::min<uint64_t>(buf.size(), size - at), at);
				if (k <= 0)
					break;
				for (ssize_t w = 0; open && w < k;) {
					ssize_t x = ::write(im->wr, buf.data() + w, (size_t)(k - w));
					if (x < 0 && errno == EINTR)
						continue;
					open = x > 0;   // else the reader stopped
					w += x;
				}
				at += (uint64_t)k;
			}
		} catch (const std::exception &e) {
			// The reader sees the stream end short and says so.
			fprintf(stderr, "pach: reading a staged file: %s\n", e.what());
		}
		::close(im->wr);
		im->wr = -1;
	});
}

MergedStream::~MergedStream()
{
	::close(rd_);
	if (impl_->feeder.joinable())
		impl_->feeder.join();
}

} // namespace pach::mount
