// Inflating a compressed stream read from a file at an offset: pack
// objects (zlib) and image layers (gzip).  The one inflate reader.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>

namespace pach {

class Inflater {
public:
	enum Format { zlib, gzip };
	// size_hint: the inflated size if known, to size the read-ahead (a
	// 200-byte object reads a few hundred bytes, not 256 KiB); the stream
	// may be longer, reading just goes on.  end: where the compressed
	// bytes stop (a layer inside a tar), else the end of the file.
	Inflater(int fd, uint64_t off, std::string what, uint64_t size_hint = 1 << 18, Format f = zlib,
		 uint64_t end = UINT64_MAX);
	~Inflater();
	Inflater(const Inflater &) = delete;
	Inflater &operator=(const Inflater &) = delete;
	// Bytes produced; 0 only at the end of the stream.  Dies on corrupt
	// data or input that ends before the stream does.
	size_t read(void *buf, size_t n);
	bool done() const { return done_; }

private:
	int fd_;
	uint64_t off_, end_;
	std::string what_;
	z_stream z_{};
	size_t cap_;
	std::unique_ptr<unsigned char[]> in_;
	bool done_ = false;
};

} // namespace pach
