#include "mount/partial.h"

#include "plumbing/fs.h"
#include "plumbing/store.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

using namespace pach;
using namespace pach::mount;

namespace {

struct Tmp {
	std::string dir;
	std::unique_ptr<Store> s;
	Tmp()
	{
		char t[] = "/tmp/pach-partial-XXXXXX";
		dir = mkdtemp(t);
		s = std::make_unique<Store>(Store::init(dir + "/.pach"));
	}
	~Tmp() { std::system(("rm -rf '" + dir + "'").c_str()); }
	bool xattrs()
	{
		Fd f(::open((dir + "/probe").c_str(), O_RDWR | O_CREAT, 0644));
		return fsetxattr(f.get(), "user.probe", "1", 1, 0) == 0;
	}
};

std::string random_bytes(size_t n, unsigned seed)
{
	std::mt19937 g(seed);
	std::string s(n, '\0');
	for (auto &c : s)
		c = (char)(g() & 0xff);
	return s;
}

} // namespace

TEST_CASE("a chunk map: at most 16,384 chunks of at least 1 MiB")
{
	Oid o{};
	CHECK(Partial::fresh(o, 5 << 20).shift == 20);
	CHECK(Partial::fresh(o, 5 << 20).bits.size() == 1);
	Partial big = Partial::fresh(o, 1ull << 40);   // 1 TiB
	uint64_t chunks = (1ull << 40) >> big.shift;
	CHECK(chunks <= Partial::kMaxChunks);
	CHECK(big.bits.size() <= Partial::kMaxChunks / 8);
	Partial p = Partial::fresh(o, 3 << 20);
	CHECK(!p.complete());
	p.mark(0), p.mark(1), p.mark(2);
	CHECK(p.complete());
	p = Partial::fresh(o, 3 << 20);
	p.base_len = 0;
	CHECK(p.complete());
}

TEST_CASE("a staged file holds only what was written; reads merge it with the blob")
{
	Tmp t;
	if (!t.xattrs()) {
		MESSAGE("skipped: /tmp has no user extended attributes");
		return;
	}
	std::string blob = random_bytes(3 << 20 | 12345, 1);
	Oid oid;
	{
		ObjectWriter w(*t.s);
		oid = w.blob(blob.data(), blob.size());
		w.finish();
	}
	Fd f(::open((t.dir + "/staged").c_str(), O_RDWR | O_CREAT, 0644));
	REQUIRE(Partial::fresh(oid, blob.size()).save(f.get()));
	REQUIRE(ftruncate(f.get(), (off_t)blob.size()) == 0);
	PartialFile pf;
	pf.map = Partial::load(f.get());
	REQUIRE(pf.map);

	// A write across a chunk boundary: both chunks are copied in first.
	std::string data = "written here";
	REQUIRE(pf.pwrite(*t.s, f.get(), data.data(), data.size(), (1 << 20) - 4) == (ssize_t)data.size());
	blob.replace((1 << 20) - 4, data.size(), data);
	CHECK(pf.map->present(0));
	CHECK(pf.map->present(1));
	CHECK(!pf.map->present(2));
	// The map is on the file: another reader sees the same.
	auto again = Partial::load(f.get());
	REQUIRE(again);
	CHECK(again->present(1));
	CHECK(!again->present(3));

	std::string got(blob.size(), '\0');
	REQUIRE(pf.pread(*t.s, f.get(), got.data(), got.size(), 0) == (ssize_t)blob.size());
	CHECK(got == blob);

	// Through the stream a commit reads.
	{
		auto map = Partial::load(f.get());
		REQUIRE(map);
		MergedStream m(*t.s, f.get(), *map, blob.size());
		std::string streamed;
		char b[65536];
		for (ssize_t k; (k = ::read(m.fd(), b, sizeof b)) > 0;)
			streamed.append(b, (size_t)k);
		CHECK(streamed == blob);
	}

	// Truncate, then extend: what the blob had past the cut is gone; what
	// is left of it is all in the file, so the map goes.
	REQUIRE(pf.truncate(f.get(), 2 << 20) == 0);
	REQUIRE(pf.truncate(f.get(), 3 << 20) == 0);
	blob.resize(2 << 20);
	blob.resize(3 << 20, '\0');
	got.assign(blob.size(), '\0');
	REQUIRE(pf.pread(*t.s, f.get(), got.data(), got.size(), 0) == (ssize_t)blob.size());
	CHECK(got == blob);
	CHECK(!pf.map);
	CHECK(!Partial::load(f.get()));
	char probe[8];
	CHECK(fgetxattr(f.get(), Partial::kXattr, probe, sizeof probe) < 0);
}

TEST_CASE("a chunk map that is not ours, or says more than the file holds")
{
	Tmp t;
	if (!t.xattrs()) {
		MESSAGE("skipped: /tmp has no user extended attributes");
		return;
	}
	Fd f(::open((t.dir + "/x").c_str(), O_RDWR | O_CREAT, 0644));
	REQUIRE(fsetxattr(f.get(), Partial::kXattr, "garbage!garbage!garbage!garbage!garbage!", 40, 0) == 0);
	CHECK(!Partial::load(f.get()));
	Oid o{};
	o.b[0] = 1;
	REQUIRE(Partial::fresh(o, 4 << 20).save(f.get()));
	REQUIRE(ftruncate(f.get(), 1 << 20) == 0);   // a truncate whose map update was lost
	auto p = Partial::load(f.get());
	REQUIRE(p);
	CHECK(p->base_len == (1u << 20));
}
