// Shared by the libFuzzer targets (fuzz/*_fuzz.cc, built by `make fuzz`).
// pach reports bad input by throwing pach::Error (a "fatal: ..." line in
// the binary): that is the expected outcome for hostile bytes.  Anything
// else -- a crash, a sanitizer report, another exception, a hang -- is a
// finding.
#pragma once

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace pach::fuzz {

// The bytes as a file (memfd), for readers that take a path or an fd.
struct MemFile {
	Fd fd;
	std::string path;
	MemFile(const uint8_t *data, size_t size)
	{
		fd = Fd(memfd_create("fuzz", MFD_CLOEXEC));
		if (size)
			write_full(fd.get(), data, size, "memfd");
		path = "/proc/self/fd/" + std::to_string(fd.get());
	}
};

template <class F> void expect_errors_only(F f)
{
	try {
		f();
	} catch (const pach::Error &) {
	}
}

} // namespace pach::fuzz
