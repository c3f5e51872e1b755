// The CRCs S3 clients send as x-amz-checksum-crc32, -crc32c and
// -crc64nvme, computed as the body streams (slicing by 8, a few GB/s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pach::serve {

class Crc {
public:
	enum Kind { crc32, crc32c, crc64nvme };
	explicit Crc(Kind k);
	void update(const void *p, size_t n);
	// The value as S3 has it: big-endian bytes (4, or 8 for crc64nvme),
	// to be base64-encoded.
	std::string bytes() const;
	uint64_t value() const;
	// "crc32", "crc32c", "crc64nvme" -> a kind; false for other names.
	static bool kind_of(const std::string &name, Kind &k);

private:
	Kind k_;
	uint64_t v_;
};

} // namespace pach::serve
