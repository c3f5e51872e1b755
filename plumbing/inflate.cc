#include "plumbing/inflate.h"

#include "plumbing/error.h"

#include <unistd.h>

#include <algorithm>

namespace pach {

Inflater::Inflater(int fd, uint64_t off, std::string what, uint64_t size_hint, Format f, uint64_t end)
	: fd_(fd), off_(off), end_(end), what_(std::move(what)),
	  cap_((size_t)std::min<uint64_t>(1 << 18, size_hint + size_hint / 512 + 64)), in_(new unsigned char[cap_])
{
	// 15 + 32: zlib or gzip, told by the header.
	if (inflateInit2(&z_, f == gzip ? 15 + 32 : 15) != Z_OK)
		die("unable to initialise zlib");
}

Inflater::~Inflater()
{
	inflateEnd(&z_);
}

size_t Inflater::read(void *buf, size_t n)
{
	if (done_ || n == 0)
		return 0;
	size_t want = std::min<size_t>(n, 1u << 30);
	z_.next_out = static_cast<Bytef *>(buf);
	z_.avail_out = (uInt)want;
	while (z_.avail_out) {
		if (z_.avail_in == 0) {
			size_t k = (size_t)std::min<uint64_t>(cap_, end_ - off_);
			ssize_t r = k ? pread(fd_, in_.get(), k, (off_t)off_) : 0;
			if (r < 0)
				die_errno("unable to read '" + what_ + "'");
			if (r == 0)
				die("unexpected end of '{}'", what_);
			off_ += (uint64_t)r;
			z_.next_in = in_.get();
			z_.avail_in = (uInt)r;
		}
		int rc = inflate(&z_, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			done_ = true;
			break;
		}
		if (rc != Z_OK)
			die("corrupt compressed data in '{}'", what_);
	}
	return want - z_.avail_out;
}

} // namespace pach
