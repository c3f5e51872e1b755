#include "runner/runtime.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <unistd.h>

using namespace pach;
using namespace pach::runner;

TEST_CASE("resource quantities as Kubernetes writes them")
{
	CHECK(parse_memory("") == 0);
	CHECK(parse_memory("1024") == 1024);
	CHECK(parse_memory("512Mi") == 512ll << 20);
	CHECK(parse_memory("1G") == 1000000000ll);
	CHECK(parse_memory("100M") == 100000000ll);
	CHECK(parse_memory("2Gi") == 2ll << 30);
	CHECK(parse_memory("lots") == -1);
	CHECK(parse_memory("-5") == -1);
	CHECK(parse_cpu("") == 0);
	CHECK(parse_cpu("2") == 2);
	CHECK(parse_cpu("0.5") == 0.5);
	CHECK(parse_cpu("500m") == 0.5);
	CHECK(parse_cpu("fast") == -1);
}

TEST_CASE("users by id or name, in the image's /etc/passwd and /etc/group")
{
	char tmpl[] = "/tmp/pach-user-XXXXXX";
	REQUIRE(mkdtemp(tmpl));
	std::string root = tmpl;
	mkdir_p(root + "/etc");
	write_file_atomic(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1234:4321::/:/bin/sh\n");
	write_file_atomic(root + "/etc/group", "root:x:0:\nstaff:x:50:\napp:x:4321:\n");
	auto ids = resolve_user("app", root);
	CHECK(ids.uid == 1234);
	CHECK(ids.gid == 4321);
	ids = resolve_user("app:staff", root);
	CHECK(ids.gid == 50);
	ids = resolve_user("1000:100", root);
	CHECK(ids.uid == 1000);
	CHECK(ids.gid == 100);
	CHECK_THROWS_AS(resolve_user("nobody-here", root), Error);
	CHECK_THROWS_AS(resolve_user("app:nogroup", root), Error);
	std::string cmd = "rm -rf " + root;
	CHECK(system(cmd.c_str()) == 0);
}
