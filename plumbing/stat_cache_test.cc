#include "plumbing/stat_cache.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace pach;

static struct stat fake(int64_t mtime_s, uint64_t size, long nsec = 123)
{
	struct stat st {};
	st.st_size = (off_t)size;
	st.st_ino = 42;
	st.st_mode = 0100644;
	st.st_mtim.tv_sec = mtime_s;
	st.st_ctim.tv_sec = mtime_s;
	st.st_mtim.tv_nsec = nsec;
	st.st_ctim.tv_nsec = nsec;
	return st;
}

TEST_CASE("stat cache: hits, misses, racy entries, pruning, persistence")
{
	char t[] = "/tmp/pach-sc-XXXXXX";
	std::string dir = mkdtemp(t);
	std::string file = dir + "/cache";
	Oid a = hash_object(ObjType::blob, "a", 1), b = hash_object(ObjType::blob, "b", 1);
	int64_t now = now_ns();
	int64_t old_s = now / 1'000'000'000 - 100;
	{
		StatCache c(file);
		c.load();
		c.update("/d/x", fake(old_s, 10), a, now);
		c.update("/d/y", fake(old_s, 20), b, now);
		// Modified just now: racy, so not saved.
		int64_t recent = now - 10'000'000;
		c.update("/d/racy", fake(recent / 1'000'000'000, 5, recent % 1'000'000'000), b, now);
		// Whole-second stamp of this second: may be rewritten unnoticed.
		c.update("/d/coarse", fake(now / 1'000'000'000, 5, 0), b, now);
		c.update("/e/z", fake(old_s, 1), a, now);
		c.save();
	}
	{
		StatCache c(file);
		c.load();
		CHECK(c.size() == 3);
		const Oid *o = c.lookup("/d/x", fake(old_s, 10));
		REQUIRE(o);
		CHECK(*o == a);
		CHECK_FALSE(c.lookup("/d/x", fake(old_s, 11)));     // size changed
		CHECK_FALSE(c.lookup("/d/x", fake(old_s + 1, 10))); // mtime changed
		int64_t recent = now - 10'000'000;
		CHECK_FALSE(c.lookup("/d/racy", fake(recent / 1'000'000'000, 5, recent % 1'000'000'000)));
		CHECK_FALSE(c.lookup("/d/coarse", fake(now / 1'000'000'000, 5, 0)));
		// /d/y was not seen: pruning /d forgets it, /e is untouched.
		c.prune_under("/d");
		c.save();
	}
	{
		StatCache c(file);
		c.load();
		CHECK(c.size() == 2);
		CHECK_FALSE(c.lookup("/d/y", fake(old_s, 20)));
		CHECK(c.lookup("/e/z", fake(old_s, 1)));
	}
	std::system(("rm -rf '" + dir + "'").c_str());
}
