// Argument parsing as every command sees it (git's parse-options rules).
#include "cmd/cmd.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

using namespace pach;
using pach::cmd::Args;

namespace {

const char kUsage[] = "usage: pach x [-a] [-m <msg>] [-n <count>] [--json]\n";
const char kNoJson[] = "usage: pach y [-a]\n";

Args make(std::vector<std::string> v, const char *usage = kUsage)
{
	return Args(std::move(v), usage);
}

// The exit code a usage error throws with, or -1.  The message and usage
// it prints go to /dev/null, not into the test's output.
int usage_exit(const std::function<void()> &f)
{
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	close(null);
	int code = -1;
	try {
		f();
	} catch (const Error &e) {
		code = (int)e.code;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return code;
}

} // namespace

TEST_CASE("args: a value in each of git's four spellings, the last one wins")
{
	for (auto v : std::vector<std::vector<std::string>>{
		     {"-m", "hi"}, {"-mhi"}, {"--message=hi"}, {"--message", "hi"}, {"-m", "no", "--message", "hi"}}) {
		Args a = make(v);
		CHECK(a.value('m', "message") == "hi");
		CHECK(a.rest().empty());
	}
	Args a = make({"--message="});
	CHECK(a.value('m', "message") == "");
}

TEST_CASE("args: repeated values in order; positionals keep their order around options")
{
	Args a = make({"one", "-i", "x", "two", "--input=y", "three", "-iz"});
	CHECK(a.values('i', "input") == std::vector<std::string>{"x", "y", "z"});
	CHECK(a.rest() == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("args: bundled short flags, the flag taken before the value")
{
	Args a = make({"-am", "msg"});
	CHECK(a.flag('a', "all"));
	CHECK(a.value('m', "message") == "msg");
	CHECK(a.rest().empty());

	Args b = make({"--no-all"});
	CHECK_FALSE(b.flag('a', "all"));
	CHECK(b.rest().empty());

	// "-a5" is not a bundle of flags: -a does not take it.
	Args c = make({"-n5"});
	CHECK_FALSE(c.flag('n', "dry-run"));
	CHECK(c.int_value('n', "max-count", 1) == 5);
}

TEST_CASE("args: everything after -- is a positional, even when it looks like an option")
{
	Args a = make({"-a", "--", "-m", "--all", "--json"});
	CHECK(a.flag('a', "all"));
	CHECK_FALSE(a.json);
	CHECK(a.value('m', "message") == std::nullopt);
	CHECK(a.rest() == std::vector<std::string>{"-m", "--all", "--json"});
}

TEST_CASE("args: usage errors exit 129 and name the problem")
{
	CHECK(usage_exit([] { make({"-m"}).value('m', "message"); }) == 129);
	CHECK(usage_exit([] { make({"-m", "--", "x"}).value('m', "message"); }) == 129);
	CHECK(usage_exit([] { make({"--bogus"}).rest(); }) == 129);
	CHECK(usage_exit([] { make({"a", "b"}).rest(0, 1); }) == 129);
	CHECK(usage_exit([] { make({}).rest(1); }) == 129);
	CHECK(usage_exit([] { make({"-n", "x"}).int_value('n', "max-count", 0); }) == 129);
	CHECK(usage_exit([] { make({"-n", ""}).int_value('n', "max-count", 0); }) == 129);
	CHECK(usage_exit([] { make({"-n", "5x"}).int_value('n', "max-count", 0); }) == 129);
	// Out of int's range is not a number for us either (no silent wrap).
	CHECK(usage_exit([] { make({"-n", "4294967297"}).int_value('n', "max-count", 0); }) == 129);
	CHECK(usage_exit([] { make({"-n", "-99999999999"}).int_value('n', "max-count", 0); }) == 129);
	// A command without JSON output refuses --json instead of printing text.
	CHECK(usage_exit([] { make({"--json"}, kNoJson); }) == 129);
	// "-" alone is a positional (stdin), not an option.
	CHECK(make({"-"}).rest() == std::vector<std::string>{"-"});
}

TEST_CASE("args: --json only where the usage documents it; -n with a default")
{
	CHECK(make({"--json"}).json);
	CHECK(make({"-n", "-3"}).int_value('n', "max-count", 7) == -3);
	CHECK(make({}).int_value('n', "max-count", 7) == 7);
}
