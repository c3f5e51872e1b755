// A pack as fetched from a remote: index_pack inflates and hashes every
// object and writes the idx; a bad pack must be refused, never trusted.
#include "fuzz/fuzz.h"
#include "remote/packfile.h"

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pach::fuzz::MemFile f(data, size);
	char idx[] = "/tmp/pach-fuzz-idx-XXXXXX";
	int fd = mkstemp(idx);
	if (fd < 0)
		return 0;
	close(fd);
	pach::fuzz::expect_errors_only([&] { pach::remote::index_pack(f.path, size, idx, "fuzz"); });
	unlink(idx);
	return 0;
}
