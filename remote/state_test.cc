#include "remote/sync.h"
#include "plumbing/error.h"

#include <doctest/doctest.h>

using namespace pach;
using namespace pach::remote;

static const std::string kPack = "0123456789abcdef0123456789abcdef01234567";
static const std::string kOid = "89abcdef0123456789abcdef0123456789abcdef";

TEST_CASE("remote state: exactly what pach writes")
{
	auto st = parse_state("pach-remote 1\npack " + kPack + " 1234\nref " + kOid + " refs/heads/r/master\n", "t");
	CHECK(st.exists);
	CHECK(st.packs.at(kPack) == 1234);
	CHECK(st.refs.at("refs/heads/r/master").hex() == kOid);
	CHECK(parse_state("pach-remote 1\n", "t").packs.empty());
}

TEST_CASE("remote state: anything else is refused")
{
	auto bad = [](const std::string &s) {
		INFO(s);
		CHECK_THROWS_AS(parse_state(s, "t"), Error);
	};
	bad("");
	bad("pach-remote 2\n");
	bad("pach-remote 1\npack " + kPack + "\n");                                // no size
	bad("pach-remote 1\npack " + kPack.substr(1) + " 100\n");                  // short name
	bad("pach-remote 1\npack ../../etc/passwd0000000000000000000000000 100\n");
	bad("pach-remote 1\npack " + kPack + " 12\n");                             // smaller than a pack
	bad("pach-remote 1\npack " + kPack + " -5\n");
	bad("pach-remote 1\npack " + kPack + " 100\npack " + kPack + " 100\n");    // twice
	bad("pach-remote 1\nref " + kOid + " refs/heads/../x\n");
	bad("pach-remote 1\nref " + kOid + " HEAD\n");
	bad("pach-remote 1\nref " + kOid.substr(0, 39) + "G refs/heads/r/master\n");
	bad("pach-remote 1\nref " + kOid + " refs/heads/r/master\nref " + kOid + " refs/heads/r/master\n");
	bad("pach-remote 1\nsomething else\n");
	bad("pach-remote 1\nref " + kOid + " refs/heads/r/ma" + std::string(1, '\0') + "ster\n");
}
