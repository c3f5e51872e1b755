// Pack index files (from a remote, before the pack is verified, or in a
// damaged store): opening and every lookup must stay in bounds.
#include "fuzz/fuzz.h"
#include "plumbing/odb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pach::fuzz::MemFile f(data, size);
	pach::fuzz::expect_errors_only([&] {
		pach::PackIndex idx(f.path);
		uint32_t n = std::min<uint32_t>(idx.count(), 4096);
		for (uint32_t i = 0; i < n; i++) {
			pach::Oid o = idx.oid_at(i);
			(void)idx.offset_at(i);
			(void)idx.crc_at(i);
			(void)idx.find(o);
		}
		pach::Oid z{};
		(void)idx.find(z);
		(void)idx.pack_checksum();
	});
	return 0;
}
