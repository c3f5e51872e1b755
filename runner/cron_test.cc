#include "plumbing/error.h"
#include "runner/cron.h"

#include <doctest/doctest.h>

using namespace pach::runner;

TEST_CASE("cron: next ticks")
{
	const int64_t jan1 = 1767225600; // 2026-01-01T00:00:00Z, a Thursday
	CHECK(next_tick("@every 5m", jan1) == jan1 + 300);
	CHECK(next_tick("0 * * * *", jan1) == jan1 + 3600);
	CHECK(next_tick("*/15 * * * *", jan1 + 1) == jan1 + 900);
	CHECK(next_tick("30 2 * * *", jan1) == jan1 + 2 * 3600 + 1800);
	CHECK(next_tick("0 0 * * 1", jan1) == jan1 + 4 * 86400); // next Monday
	CHECK(next_tick("@daily", jan1) == jan1 + 86400);
	CHECK(rfc3339(jan1) == "2026-01-01T00:00:00Z");
	CHECK_THROWS_AS(check_cron_spec("61 * * * *"), pach::Error);
	CHECK_THROWS_AS(check_cron_spec("* * *"), pach::Error);
	CHECK_THROWS_AS(check_cron_spec("@every soon"), pach::Error);
}
