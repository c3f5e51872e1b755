// Image layers (tar, possibly gzip): unpacked into a scratch root, which
// nothing may leave.
#include "fuzz/fuzz.h"
#include "runner/image.h"

#include <cassert>
#include <cstdlib>
#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// The scratch directory lives as long as the fuzzer, removed at exit
	// (libFuzzer ends with exit() when its time is up).
	// (A plain array: the handler runs after static strings are gone.)
	static char dir[] = "/tmp/pach-fuzz-tar-XXXXXX";
	static std::string base = [] {
		std::string b = mkdtemp(dir);
		std::filesystem::create_directories(b + "/outside");
		atexit([] {
			std::error_code ec;
			std::filesystem::remove_all(dir, ec);
		});
		return b;
	}();
	std::string root = base + "/root";
	std::error_code ec;
	std::filesystem::remove_all(root, ec);
	std::filesystem::create_directories(root);
	pach::fuzz::MemFile f(data, size);
	pach::fuzz::expect_errors_only([&] { pach::runner::apply_layer(f.fd.get(), 0, size, root, "fuzz"); });
	// Nothing may appear beside the root.
	size_t n = 0;
	for (auto &x : std::filesystem::directory_iterator(base + "/outside"))
		(void)x, n++;
	assert(n == 0);
	for (auto &x : std::filesystem::directory_iterator(base))
		assert(x.path().filename() == "root" || x.path().filename() == "outside");
	return 0;
}
