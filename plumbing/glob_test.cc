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

TEST_CASE("leftmost-first captures, as a regex would give them")
{
	std::vector<std::string> m;
	REQUIRE(Glob("/(a|ab)(c|bcd)(*)").match("/abcd", &m));
	CHECK(m == std::vector<std::string>{"/abcd", "a", "bcd", ""});
	REQUIRE(Glob("/(*)(*)").match("/xyz", &m));
	CHECK(m == std::vector<std::string>{"/xyz", "xyz", ""});
	REQUIRE(Glob("/(**)/(*).(csv|tsv)").match("/a/b/c.d.tsv", &m));
	CHECK(m == std::vector<std::string>{"/a/b/c.d.tsv", "a/b", "c.d", "tsv"});
	REQUIRE(Glob("/*(ab)+(c)?(d)").match("/ababccd", &m));
	CHECK(m == std::vector<std::string>{"/ababccd", "abab", "cc", "d"});
	REQUIRE(Glob("/@(x|y)-{1,2}-!(tmp)").match("/y-2-data", &m));
	CHECK(m == std::vector<std::string>{"/y-2-data", "y", "data"});
	CHECK_FALSE(Glob("/@(x|y)-{1,2}-!(tmp)").match("/y-2-tmp"));
	CHECK(Glob("/[[:digit:]][a-c\\]]?").match("/7]z"));
	CHECK_FALSE(Glob("/[[:digit:]]").match("//"));
	CHECK(Glob("/a\\*b").match("/a*b"));
	CHECK_FALSE(Glob("/a\\*b").match("/axb"));
}

TEST_CASE("matching takes time linear in the path, whatever the pattern")
{
	// Each of these backtracks for hours in a regex engine (or overflows
	// its stack); here each is program size x path length.
	std::string as(20000, 'a');
	CHECK_FALSE(Glob("/**a**a**a**a**a**a**a**a**a**a**a**a**b").match("/" + as));
	CHECK_FALSE(Glob("/*(*(a))b").match("/" + as));
	CHECK_FALSE(Glob("/+(a|aa|aaa)b").match("/" + as));
	std::string deep;
	for (int i = 0; i < 2048; i++)
		deep += "/" + std::string(200, 'x');
	CHECK(Glob("/**").match(deep));
	std::vector<std::string> m;
	CHECK(Glob("/(**)/(*)").match(deep, &m));
	CHECK(m[2].size() == 200);
}

TEST_CASE("patterns are bounded")
{
	CHECK_THROWS(Glob(std::string(5000, 'a')));
	std::string nest;
	for (int i = 0; i < 40; i++)
		nest += "@(";
	CHECK_THROWS(Glob("/" + nest));
	CHECK_THROWS(Glob("/[z-a]"));
	CHECK_THROWS(Glob("/[[:nope:]]"));
	CHECK_THROWS(Glob("/a)"));
}
