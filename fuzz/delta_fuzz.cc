// A delta as hostile as a remote can make it: the input is cut into a
// base object and a delta's instruction stream, framed in a sound pack
// (right count, zlib streams, checksum) so every run reaches the delta
// reader (plumbing/delta.h) through index_pack, which composes the chain
// and hashes its result.  Bad instructions must be one error, never a
// crash, an overread or a hang.
#include "fuzz/fuzz.h"
#include "plumbing/oid.h"
#include "remote/packfile.h"

#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

void entry_header(std::string &out, int type, uint64_t size)
{
	unsigned char c = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		out += (char)(c | 0x80);
		c = size & 0x7f;
		size >>= 7;
	}
	out += (char)c;
}

void deflated(std::string &out, const uint8_t *p, size_t n)
{
	uLongf len = compressBound((uLong)n);
	std::vector<unsigned char> z(len);
	compress2(z.data(), &len, p, (uLong)n, 1);
	out.append((const char *)z.data(), len);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	// First two bytes: the base's length; the rest after it: the delta.
	size_t base_len = std::min<size_t>(size - 2, (size_t)data[0] << 8 | data[1]);
	const uint8_t *base = data + 2, *delta = data + 2 + base_len;
	size_t delta_len = size - 2 - base_len;
	std::string pack = std::string("PACK\0\0\0\2\0\0\0\2", 12);
	entry_header(pack, 3, base_len);
	deflated(pack, base, base_len);
	uint64_t delta_off = pack.size();
	entry_header(pack, 6, delta_len);
	pack += (char)(delta_off - 12); // OFS_DELTA: the base is 12 bytes in
	if (delta_off - 12 >= 128)
		return 0;
	deflated(pack, delta, delta_len);
	pach::Sha1 h;
	h.update(pack.data(), pack.size());
	pach::Oid sum = h.final();
	pack.append((const char *)sum.b.data(), 20);
	pach::fuzz::MemFile f((const uint8_t *)pack.data(), pack.size());
	char idx[] = "/tmp/pach-fuzz-idx-XXXXXX";
	int fd = mkstemp(idx);
	if (fd < 0)
		return 0;
	close(fd);
	pach::fuzz::expect_errors_only([&] { pach::remote::index_pack(f.path, pack.size(), idx, "fuzz"); });
	unlink(idx);
	return 0;
}
