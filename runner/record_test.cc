#include "runner/job.h"
#include "plumbing/error.h"

#include <doctest/doctest.h>

using namespace pach;
using namespace pach::runner;

TEST_CASE("job records: a header and datum lines read back as written")
{
	JobRecord j;
	j.id = "0123456789abcdef0123456789abcdef";
	j.pipeline = "edges";
	j.state = JobState::failure;
	j.started = 100;
	j.finished = 160;
	j.inputs = {{"images@master", "89abcdef0123456789abcdef0123456789abcdef"}};
	j.error = "1 datum(s) failed\nsecond line";
	DatumRecord a, b;
	a.id = "aa01";
	a.hash = "h1";
	a.state = DatumState::success;
	a.secs = 1.5;
	a.attempts = 1;
	a.files = {"images:/a b.png"};
	b.id = "bb02";
	b.hash = "h2";
	b.state = DatumState::failed;
	b.attempts = 3;
	j.datums = {a, b};
	JobRecord r = parse_job(format_job_header(j));
	CHECK(r.id == j.id);
	CHECK(r.pipeline == "edges");
	CHECK(r.state == JobState::failure);
	CHECK(r.error == j.error);
	CHECK(r.inputs == j.inputs);
	CHECK(r.datum_count() == 2);
	CHECK(r.count(DatumState::failed) == 1);
	CHECK(r.ran() == 2);
	parse_datums(r, format_datum(a, j.id) + format_datum(b, j.id));
	REQUIRE(r.datums.size() == 2);
	CHECK(r.datums[0].files == a.files);
	CHECK(r.datums[1].state == DatumState::failed);
	CHECK(r.datums[1].attempts == 3);
}

TEST_CASE("job records: a datum made by an earlier job reads as skipped; bad lines are refused")
{
	JobRecord r;
	r.id = "cafe";
	DatumRecord d;
	d.id = "ab";
	d.hash = "h";
	d.state = DatumState::success;
	parse_datums(r, format_datum(d, "beef"));
	REQUIRE(r.datums.size() == 1);
	CHECK(r.datums[0].state == DatumState::skipped);
	JobRecord x;
	CHECK_THROWS_AS(parse_datums(x, "d\tab\th\tpending\t-\t-\t0\t1\tcafe\n"), Error);
	CHECK_THROWS_AS(parse_datums(x, "d\t../..\th\tsuccess\t-\t-\t0\t1\tcafe\n"), Error);
	CHECK_THROWS_AS(parse_job("job x\nstate exploded\n"), Error);
	CHECK(state_name(DatumState::would_run) == std::string("would-run"));
	CHECK(parse_job_state("up-to-date") == JobState::up_to_date);
}
