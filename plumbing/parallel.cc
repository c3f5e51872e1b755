#include "plumbing/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace pach {

int cpu_workers(int cap)
{
	unsigned hc = std::thread::hardware_concurrency();
	return std::max(1, std::min((int)(hc ? hc : 1), cap));
}

namespace {

// The first exception of a group of threads; later ones are dropped.
class FirstError {
public:
	void set(std::exception_ptr e)
	{
		std::lock_guard<std::mutex> g(mu_);
		if (!err_)
			err_ = std::move(e);
		failed_ = true;
	}
	bool failed() const { return failed_.load(std::memory_order_relaxed); }
	void rethrow()
	{
		if (err_)
			std::rethrow_exception(err_);
	}

private:
	std::mutex mu_;
	std::exception_ptr err_;
	std::atomic<bool> failed_{false};
};

void run_on_threads(int workers, FirstError &err, const std::function<void(int)> &fn)
{
	auto guarded = [&](int slot) {
		try {
			fn(slot);
		} catch (...) {
			err.set(std::current_exception());
		}
	};
	std::vector<std::thread> ts;
	try {
		for (int i = 1; i < workers; i++)
			ts.emplace_back(guarded, i);
	} catch (const std::system_error &) {
		// No thread to spare (EAGAIN): those started do the work.
	}
	guarded(0);
	for (auto &t : ts)
		t.join();
	err.rethrow();
}

} // namespace

void parallel_run(int workers, const std::function<void(int slot)> &fn)
{
	FirstError err;
	run_on_threads(std::max(1, workers), err, fn);
}

void parallel_for(size_t n, int workers, const std::function<void(size_t i, int slot)> &fn)
{
	if (n == 0)
		return;
	std::atomic<size_t> next{0};
	FirstError err;
	run_on_threads((int)std::min<size_t>(n, (size_t)std::max(1, workers)), err, [&](int slot) {
		for (;;) {
			if (err.failed())
				return;
			size_t i = next.fetch_add(1);
			if (i >= n)
				return;
			fn(i, slot);
		}
	});
}

} // namespace pach
