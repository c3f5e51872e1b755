#include "serve/checksum.h"

#include <array>

namespace pach::serve {

namespace {

// Reflected CRCs (all three are): table[j][b] is the CRC of byte b
// followed by j zero bytes, so eight bytes go in one step.
template <typename T> struct Tables {
	std::array<std::array<T, 256>, 8> t;
	explicit Tables(T poly)
	{
		for (unsigned b = 0; b < 256; b++) {
			T c = (T)b;
			for (int i = 0; i < 8; i++)
				c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
			t[0][b] = c;
		}
		for (unsigned b = 0; b < 256; b++)
			for (int j = 1; j < 8; j++)
				t[j][b] = (t[j - 1][b] >> 8) ^ t[0][t[j - 1][b] & 0xff];
	}
	T update(T crc, const unsigned char *p, size_t n) const
	{
		while (n >= 8) {
			uint64_t w = 0;
			for (int i = 0; i < 8; i++)
				w |= (uint64_t)p[i] << (8 * i);
			w ^= (uint64_t)crc;
			crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
			      t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
			p += 8;
			n -= 8;
		}
		while (n--)
			crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
		return crc;
	}
};

const Tables<uint32_t> &t32()
{
	static const Tables<uint32_t> t(0xEDB88320u);
	return t;
}
const Tables<uint32_t> &t32c()
{
	static const Tables<uint32_t> t(0x82F63B78u);
	return t;
}
const Tables<uint64_t> &t64()
{
	static const Tables<uint64_t> t(0x9A6C9329AC4BC9B5ull);
	return t;
}

} // namespace

Crc::Crc(Kind k) : k_(k), v_(k == crc64nvme ? ~0ull : 0xffffffffull)
{
}

void Crc::update(const void *p, size_t n)
{
	auto *b = static_cast<const unsigned char *>(p);
	switch (k_) {
	case crc32:
		v_ = t32().update((uint32_t)v_, b, n);
		break;
	case crc32c:
		v_ = t32c().update((uint32_t)v_, b, n);
		break;
	case crc64nvme:
		v_ = t64().update(v_, b, n);
		break;
	}
}

uint64_t Crc::value() const
{
	return k_ == crc64nvme ? ~v_ : (~v_ & 0xffffffffull);
}

std::string Crc::bytes() const
{
	int n = k_ == crc64nvme ? 8 : 4;
	uint64_t v = value();
	std::string out((size_t)n, '\0');
	for (int i = 0; i < n; i++)
		out[(size_t)i] = (char)(v >> (8 * (n - 1 - i)));
	return out;
}

bool Crc::kind_of(const std::string &name, Kind &k)
{
	if (name == "crc32")
		k = crc32;
	else if (name == "crc32c")
		k = crc32c;
	else if (name == "crc64nvme")
		k = crc64nvme;
	else
		return false;
	return true;
}

} // namespace pach::serve
