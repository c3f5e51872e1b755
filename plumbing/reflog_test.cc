#include "plumbing/reflog.h"

#include <doctest/doctest.h>

#include <climits>

using namespace pach;

TEST_CASE("time selectors as people type them")
{
	const int64_t now = 1800000000;
	CHECK(parse_time("now", now) == now);
	CHECK(parse_time("2 hours ago", now) == now - 7200);
	CHECK(parse_time("2.hours.ago", now) == now - 7200);
	CHECK(parse_time("yesterday", now) == now - 86400);
	CHECK(parse_time("@1700000000", now) == 1700000000);
	CHECK(parse_time("2026-11-27T10:00:00Z", now) == 1795773600);
	CHECK(parse_time("2026-11-27T10:00:00+01:00", now) == 1795773600 - 3600);
	CHECK_FALSE(parse_time("", now));
	CHECK_FALSE(parse_time("next tuesday-ish", now));
	CHECK_FALSE(parse_time("@12abc", now));
}

TEST_CASE("expiry durations")
{
	CHECK(parse_duration("30 days") == 30 * 86400);
	CHECK(parse_duration("30.days") == 30 * 86400);
	CHECK(parse_duration("2 weeks") == 14 * 86400);
	CHECK(parse_duration("never") == INT64_MAX);
	CHECK(parse_duration("now") == 0);
	CHECK(parse_duration("7") == 7 * 86400);
	CHECK_FALSE(parse_duration("soon"));
}
