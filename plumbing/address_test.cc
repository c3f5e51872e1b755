#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/git.h"
#include "plumbing/tree.h"

#include <doctest/doctest.h>

using namespace pach;

TEST_CASE("addresses: repo, ref and path")
{
	Address a = parse_address("images");
	CHECK(a.repo == "images");
	CHECK(a.branch_or_default() == "master");
	CHECK_FALSE(a.has_path);

	a = parse_address("images@dev~2:/a/./b/");
	CHECK(a.ref == "dev~2");
	CHECK(a.has_path);
	CHECK(a.trailing_slash);
	CHECK(a.path == std::vector<std::string>{"a", "b"});
	CHECK(a.path_str() == "/a/b");

	a = parse_address("r:/");
	CHECK(a.has_path);
	CHECK(a.path.empty());
	CHECK(a.path_str() == "/");
}

TEST_CASE("addresses: malformed input is refused")
{
	CHECK_THROWS_AS(parse_address(""), Error);
	CHECK_THROWS_AS(parse_address("@master"), Error);
	CHECK_THROWS_AS(parse_address("r@"), Error);
	CHECK_THROWS_AS(parse_address("bad name"), Error);
	CHECK_THROWS_AS(parse_address("r:/a/../../x"), Error);
	CHECK_THROWS_AS(parse_address("r:/.git/x"), Error);
}

TEST_CASE("branch names follow git's ref rules")
{
	CHECK(valid_branch_name("master"));
	CHECK(valid_branch_name("feature/x"));
	CHECK_FALSE(valid_branch_name("a..b"));
	CHECK_FALSE(valid_branch_name("x.lock"));
	CHECK_FALSE(valid_branch_name("-x"));
	CHECK_FALSE(valid_branch_name("a@b"));
	CHECK_FALSE(valid_branch_name("a b"));
}

TEST_CASE("branch-name rules agree with libgit2's ref rules")
{
	git_global_setup();
	const char *names[] = {"master", "a/b/c", "v1.0", "x_y-z", "a..b", "a/.b", ".a", "a.lock", "a/b.lock/c",
			       "a//b", "a/", "a.", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a\tb",
			       "ü", "a.lock.b", "-a/b.c", "a/-b"};
	for (const char *n : names) {
		int valid = 0;
		std::string full = std::string("refs/heads/r/") + n;
		git_reference_name_is_valid(&valid, full.c_str());
		bool lg2 = valid && n[0] != '-';
		CAPTURE(n);
		CHECK(valid_branch_name(n) == lg2);
	}
}

TEST_CASE("trees sort as git does: directories as if followed by '/'")
{
	std::vector<TreeEntry> v = {{"a.b", kModeFile, {}}, {"a", kModeDir, {}}, {"a-", kModeFile, {}}};
	sort_tree(v);
	CHECK(v[0].name == "a-");
	CHECK(v[1].name == "a.b");
	CHECK(v[2].name == "a");
	auto raw = serialize_tree(v);
	auto back = parse_tree_unchecked(raw, "t");   // null ids: fsck would refuse them
	REQUIRE(back.size() == 3);
	CHECK(back[2].mode == kModeDir);
	CHECK(hash_object(ObjType::tree, "", 0) == empty_tree_oid());
}
