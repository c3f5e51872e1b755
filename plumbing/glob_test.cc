#include "plumbing/glob.h"

#include <doctest/doctest.h>

using pach::Glob;

TEST_CASE("glob patterns are cleaned like paths")
{
	CHECK(pach::clean_glob("*") == "/*");
	CHECK(pach::clean_glob("") == "/");
	CHECK(pach::clean_glob("/(*)/") == "/(*)");
	CHECK(pach::clean_glob("/a/./b/../c") == "/a/c");
}

TEST_CASE("star, question mark and globstar")
{
	Glob star("/*");
	CHECK(star.match("/a"));
	CHECK(star.match("/dir1"));
	CHECK_FALSE(star.match("/a/b"));
	CHECK_FALSE(star.match("/"));
	CHECK(star.max_depth() == 1);
	Glob q("/?.txt");
	CHECK(q.match("/a.txt"));
	CHECK_FALSE(q.match("/ab.txt"));
	Glob gs("**.2");
	CHECK(gs.match("/x.2"));
	CHECK(gs.match("/a/b/c.2"));
	CHECK(gs.max_depth() == -1);
	Glob all("/**");
	CHECK_FALSE(all.match("/"));
	CHECK(all.match("/a/b"));
	Glob root("/");
	CHECK(root.match("/"));
	CHECK_FALSE(root.match("/a"));
}

TEST_CASE("classes and braces stay within a component")
{
	Glob c("/[a-c]*");
	CHECK(c.match("/apple"));
	CHECK_FALSE(c.match("/dog"));
	Glob n("/[!a]*");
	CHECK(n.match("/dog"));
	CHECK_FALSE(n.match("/apple"));
	Glob b("/{foo,bar}.csv");
	CHECK(b.match("/foo.csv"));
	CHECK(b.match("/bar.csv"));
	CHECK_FALSE(b.match("/baz.csv"));
}

TEST_CASE("capture groups and expansion")
{
	Glob g("/(*)-(*).csv");
	std::vector<std::string> m;
	REQUIRE(g.match("/2024-jan.csv", &m));
	REQUIRE(m.size() == 3);
	CHECK(m[0] == "/2024-jan.csv");
	CHECK(m[1] == "2024");
	CHECK(m[2] == "jan");
	CHECK(Glob::expand("$1/${2}$$x$9", m) == "2024/jan$x");
	Glob e("/@(a|b)*");
	CHECK(e.match("/apple"));
	CHECK_FALSE(e.match("/cat"));
	Glob none("/!(**)");
	CHECK_FALSE(none.match("/anything"));
	Glob notfoo("/!(foo)");
	CHECK(notfoo.match("/bar"));
	CHECK_FALSE(notfoo.match("/foo"));
}

TEST_CASE("malformed patterns are refused")
{
	CHECK_THROWS(Glob("/[abc"));
	CHECK_THROWS(Glob("/(abc"));
	CHECK_THROWS(Glob("/{a,b"));
}
