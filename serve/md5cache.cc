#include "serve/md5cache.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace pach::serve {

namespace {
constexpr size_t kRecord = 36;

int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
} // namespace

Md5Cache::Md5Cache(const std::string &path) : path_(path)
{
	if (path.empty())
		return;
	fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd_ < 0) {
		warning(fmt::format("unable to open '{}': {}; ETags of unknown MD5 use blob ids", path, strerror(errno)));
		return;
	}
	// Records are whole or ignored: a torn last record (a crash while
	// appending) is skipped, and the next append starts on a boundary.
	unsigned char buf[kRecord * 1024];
	size_t carry = 0;
	for (;;) {
		ssize_t n = read(fd_, buf + carry, sizeof buf - carry);
		if (n <= 0)
			break;
		size_t have = carry + (size_t)n, i = 0;
		for (; i + kRecord <= have && m_.size() < kMaxHeld; i += kRecord) {
			Oid o;
			std::memcpy(o.b.data(), buf + i, 20);
			std::array<unsigned char, 16> md;
			std::memcpy(md.data(), buf + i + 20, 16);
			m_[o] = md;
		}
		carry = have - i;
		if (m_.size() >= kMaxHeld)
			break;
		std::memmove(buf, buf + i, carry);
	}
	off_t end = lseek(fd_, 0, SEEK_END);
	if (end > 0 && end % (off_t)kRecord)
		if (ftruncate(fd_, end - end % (off_t)kRecord) < 0)
			warning(fmt::format("unable to trim '{}': {}", path, strerror(errno)));
}

Md5Cache::~Md5Cache()
{
	if (fd_ >= 0)
		::close(fd_);
}

std::optional<std::string> Md5Cache::get(const Oid &blob)
{
	std::lock_guard<std::mutex> g(mu_);
	auto it = m_.find(blob);
	if (it == m_.end())
		return std::nullopt;
	static const char d[] = "0123456789abcdef";
	std::string h(32, '0');
	for (int i = 0; i < 16; i++) {
		h[2 * i] = d[it->second[i] >> 4];
		h[2 * i + 1] = d[it->second[i] & 15];
	}
	return h;
}

void Md5Cache::put(const Oid &blob, const std::string &hex)
{
	if (hex.size() != 32)
		return;
	std::array<unsigned char, 16> md;
	for (int i = 0; i < 16; i++) {
		int a = unhex(hex[2 * i]), b = unhex(hex[2 * i + 1]);
		if (a < 0 || b < 0)
			return;
		md[i] = (unsigned char)(a * 16 + b);
	}
	std::lock_guard<std::mutex> g(mu_);
	if (m_.size() >= kMaxHeld || m_.count(blob))
		return;
	m_[blob] = md;
	if (fd_ < 0)
		return;
	unsigned char rec[kRecord];
	std::memcpy(rec, blob.b.data(), 20);
	std::memcpy(rec + 20, md.data(), 16);
	// One write of a whole record with O_APPEND: never interleaved.
	if (write(fd_, rec, kRecord) != (ssize_t)kRecord)
		warning(fmt::format("unable to append to '{}': {}", path_, strerror(errno)));
}

size_t Md5Cache::size()
{
	std::lock_guard<std::mutex> g(mu_);
	return m_.size();
}

} // namespace pach::serve
