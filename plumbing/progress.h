// Progress on long operations, git style: on a terminal only (unless
// --progress), to stderr, after PACH_PROGRESS_DELAY ms (500), redrawn at
// most ten times a second, with a final "done" line.  -q and
// --no-progress turn it off.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace pach {

class Progress {
public:
	// total 0 = unknown.  Shown only when stderr is a TTY and quiet is off.
	Progress(std::string title, uint64_t total, bool bytes_too = false);
	~Progress();
	void add(uint64_t n, uint64_t bytes = 0);
	void set_total(uint64_t t) { total_ = t; }
	// With a byte total, the percentage follows bytes (one big file moves it too).
	void set_total_bytes(uint64_t b) { total_bytes_ = b; }
	void done();
	static void set_quiet(bool q);
	static bool quiet();
	// --progress: show it even when stderr is not a terminal (as git).
	static void set_forced(bool f);

private:
	void draw(bool final);
	std::string title_;
	uint64_t total_, n_ = 0, bytes_ = 0, total_bytes_ = 0;
	bool bytes_too_, enabled_, finished_ = false;
	std::chrono::steady_clock::time_point start_, last_;
	std::mutex mu_;
};

std::string human_bytes(uint64_t b);
// "2026-01-01T00:00:00Z": RFC 3339 / ISO 8601 in UTC.
std::string utc_timestamp(int64_t unix_seconds);

// With PACH_TRACE_PERFORMANCE set (as git's GIT_TRACE_PERFORMANCE), print
// the time since the process started at each named point, to stderr.
void trace_point(const char *what);

} // namespace pach
