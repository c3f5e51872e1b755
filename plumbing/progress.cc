#include "plumbing/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace pach {

static std::atomic<bool> g_quiet{false};
static std::atomic<bool> g_force{false};

std::string utc_timestamp(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char buf[64];
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void trace_point(const char *what)
{
	static const bool on = getenv("PACH_TRACE_PERFORMANCE") != nullptr;
	static const auto start = std::chrono::steady_clock::now();
	if (!on)
		return;
	double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
	fprintf(stderr, "trace: %8.3f ms  %s\n", ms, what);
}

void Progress::set_quiet(bool q)
{
	g_quiet = q;
}

bool Progress::quiet()
{
	return g_quiet;
}

void Progress::set_forced(bool f)
{
	g_force = f;
}

// As git's GIT_PROGRESS_DELAY: how long an operation runs before its
// progress shows (fast ones print nothing).
static std::chrono::milliseconds delay()
{
	static const long ms = [] {
		const char *e = getenv("PACH_PROGRESS_DELAY");
		return e && *e ? std::max(0L, strtol(e, nullptr, 10)) : 500L;
	}();
	return std::chrono::milliseconds(ms);
}

std::string human_bytes(uint64_t b)
{
	const char *u[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	return i == 0 ? fmt::format("{} bytes", b) : fmt::format("{:.2f} {}", v, u[i]);
}

Progress::Progress(std::string title, uint64_t total, bool bytes_too)
	: title_(std::move(title)), total_(total), bytes_too_(bytes_too),
	  enabled_(!g_quiet && (g_force || isatty(2))), start_(std::chrono::steady_clock::now()), last_(start_)
{
}

Progress::~Progress()
{
	done();
}

void Progress::add(uint64_t n, uint64_t bytes)
{
	if (!enabled_)
		return;
	std::lock_guard<std::mutex> g(mu_);
	n_ += n;
	bytes_ += bytes;
	auto now = std::chrono::steady_clock::now();
	// Stay quiet for the first half second: fast operations print nothing.
	if (now - start_ < delay() || (now - last_ < std::chrono::milliseconds(100) && last_ != start_))
		return;
	last_ = now;
	draw(false);
}

void Progress::draw(bool final)
{
	std::string s = title_ + ": ";
	if (total_bytes_ && bytes_too_) {
		s += fmt::format("{:3}%", std::min<uint64_t>(100, bytes_ * 100 / total_bytes_));
		if (total_)
			s += fmt::format(" ({}/{})", n_, total_);
	}
	else if (total_)
		s += fmt::format("{:3}% ({}/{})", n_ * 100 / total_, n_, total_);
	else
		s += fmt::format("{}", n_);
	if (bytes_too_) {
		double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
		s += ", " + human_bytes(bytes_);
		if (secs > 0)
			s += " | " + human_bytes((uint64_t)((double)bytes_ / secs)) + "/s";
	}
	if (final)
		s += ", done.";
	fprintf(stderr, "\r%s\033[K%s", s.c_str(), final ? "\n" : "");
	fflush(stderr);
}

void Progress::done()
{
	if (!enabled_ || finished_)
		return;
	finished_ = true;
	std::lock_guard<std::mutex> g(mu_);
	if (std::chrono::steady_clock::now() - start_ >= delay())
		draw(true);
}

} // namespace pach
