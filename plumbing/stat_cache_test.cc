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

TEST_CASE("stat cache stream: one pass reads the old cache and writes the new one in path order")
{
	char t[] = "/tmp/pach-scs-XXXXXX";
	std::string dir = mkdtemp(t);
	std::string file = dir + "/cache";
	Oid a = hash_object(ObjType::blob, "a", 1), b = hash_object(ObjType::blob, "b", 1);
	int64_t now = now_ns();
	int64_t old_s = now / 1'000'000'000 - 100;
	auto key = [&](uint64_t size) { return StatKey::of(fake(old_s, size)); };
	{
		// Written by the in-memory cache: the same format.
		StatCache c(file);
		c.update("/a/x", fake(old_s, 1), a, now);
		c.update("/d/x", fake(old_s, 10), a, now);
		c.update("/d/y", fake(old_s, 20), b, now);
		c.update("/d/z/w", fake(old_s, 30), b, now);
		c.update("/e/z", fake(old_s, 1), a, now);
		c.save();
	}
	{
		StatCacheStream s(file);
		s.begin("/d", now);
		CHECK_FALSE(s.lookup("/d/w", key(5)));       // not cached
		const Oid *o = s.lookup("/d/x", key(10));
		REQUIRE(o);
		CHECK(*o == a);
		s.keep("/d/w", key(5), b);
		s.keep("/d/x", key(10), a);
		CHECK_FALSE(s.lookup("/d/z/w", key(31)));    // changed
		s.keep("/d/z/w", key(31), a);
		// A racy entry is not kept.
		int64_t recent = now - 10'000'000;
		s.keep("/d/zz", StatKey::of(fake(recent / 1'000'000'000, 5, recent % 1'000'000'000)), b);
		s.end();
		// Not saved yet: the old cache is still what a reader finds.
		StatCache before(file);
		before.load();
		CHECK(before.size() == 5);
		s.save();
	}
	{
		StatCache c(file);
		c.load();
		// /d/y was not met under /d: gone.  /a and /e went through.
		CHECK(c.size() == 5);
		CHECK(c.lookup("/a/x", fake(old_s, 1)));
		CHECK(c.lookup("/d/w", fake(old_s, 5)));
		CHECK(c.lookup("/d/x", fake(old_s, 10)));
		CHECK_FALSE(c.lookup("/d/y", fake(old_s, 20)));
		CHECK(c.lookup("/d/z/w", fake(old_s, 31)));
		CHECK(c.lookup("/e/z", fake(old_s, 1)));
	}
	{
		// Two passes before one save (put of two directories); a pass that
		// keeps everything (one file).
		StatCacheStream s(file);
		s.begin("/a", now);
		s.end();   // /a/x was not met: dropped
		s.begin("", now);
		CHECK(s.lookup("/e/z", key(1)));
		s.keep("/e/z", key(1), a);
		s.keep("/f", key(2), b);
		s.end();
		s.save();
		StatCache c(file);
		c.load();
		CHECK(c.size() == 5);
		CHECK_FALSE(c.lookup("/a/x", fake(old_s, 1)));
		CHECK(c.lookup("/f", fake(old_s, 2)));
		CHECK(c.lookup("/d/x", fake(old_s, 10)));
	}
	{
		// Out of order keeps are left out rather than unsorting the file,
		// a keep without a lookup passes what comes before it, and an
		// unsaved pass changes nothing.
		StatCacheStream s(file);
		s.begin("/zz", now);
		s.keep("/zz/b", key(1), a);
		s.keep("/zz/a", key(1), a);
		s.end();
		s.save();
		StatCache c(file);
		c.load();
		CHECK(c.lookup("/zz/b", fake(old_s, 1)));
		CHECK_FALSE(c.lookup("/zz/a", fake(old_s, 1)));
		StatCacheStream u(file);
		u.begin("/d", now);
		u.end();
	}
	{
		StatCache c(file);
		c.load();
		CHECK(c.lookup("/d/x", fake(old_s, 10)));
	}
	{
		// A damaged cache is an empty one, never an error.
		FILE *f = fopen(file.c_str(), "r+");
		fseek(f, 9, SEEK_SET);
		fputc(0x7f, f);   // a path length past the end
		fclose(f);
		StatCacheStream s(file);
		s.begin("/d", now);
		CHECK_FALSE(s.lookup("/d/x", key(10)));
		s.end();
	}
	{
		// No file: nothing found, nothing written.
		StatCacheStream s("");
		s.begin("/d", now);
		CHECK_FALSE(s.lookup("/d/x", key(10)));
		s.keep("/d/x", key(10), a);
		s.end();
		s.save();
	}
	std::system(("rm -rf '" + dir + "'").c_str());
}
