#include "serve/md5cache.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "serve/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace pach::serve {

namespace {
constexpr size_t kRecord = 36;

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
	return hex_of(std::string((const char *)it->second.data(), 16));
}

void Md5Cache::put(const Oid &blob, const std::string &hex)
{
	if (hex.size() != 32)
		return;
	std::string raw;
	if (!unhex(hex, raw))
		return;
	std::array<unsigned char, 16> md;
	std::memcpy(md.data(), raw.data(), 16);
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
