#include "plumbing/parallel.h"
#include "plumbing/error.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace pach;

TEST_CASE("parallel_for: every item once, slots within the worker count")
{
	std::vector<std::atomic<int>> hits(1000);
	std::mutex mu;
	std::set<int> slots;
	parallel_for(hits.size(), 4, [&](size_t i, int slot) {
		hits[i]++;
		std::lock_guard<std::mutex> g(mu);
		slots.insert(slot);
	});
	for (auto &h : hits)
		CHECK(h.load() == 1);
	CHECK(*slots.begin() >= 0);
	CHECK(*slots.rbegin() < 4);
	parallel_for(0, 4, [&](size_t, int) { FAIL("no item"); });
}

TEST_CASE("parallel_for: the first exception comes back after every thread is joined; no new item after it")
{
	std::atomic<int> started{0}, running{0};
	bool threw = false;
	try {
		parallel_for(10000, 4, [&](size_t i, int) {
			started++;
			running++;
			std::this_thread::sleep_for(std::chrono::microseconds(200));
			running--;
			if (i == 3)
				throw Error(Exit::fatal, "item 3");
		});
	} catch (const Error &e) {
		threw = true;
		CHECK(std::string(e.what()) == "item 3");
	}
	CHECK(threw);
	CHECK(running.load() == 0);      // all joined before the rethrow
	CHECK(started.load() < 100);     // stopped handing out items
}

TEST_CASE("parallel_run: each slot runs once; several throwing, one exception")
{
	std::atomic<int> n{0};
	parallel_run(3, [&](int) { n++; });
	CHECK(n.load() == 3);
	CHECK_THROWS_AS(parallel_run(3, [&](int slot) { throw Error(Exit::fatal, "slot " + std::to_string(slot)); }),
			Error);
	CHECK(cpu_workers(1) == 1);
	CHECK(cpu_workers() >= 1);
}
