#include "plumbing/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
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

struct TaskPool::State {
	std::mutex mu;
	std::condition_variable cv;
	std::deque<std::function<void(int)>> q;
	bool stop = false;
	FirstError err;
	std::vector<std::thread> threads;

	void run(int slot)
	{
		for (;;) {
			std::function<void(int)> t;
			{
				std::unique_lock<std::mutex> g(mu);
				cv.wait(g, [&] { return stop || !q.empty(); });
				if (q.empty())
					return;
				t = std::move(q.front());
				q.pop_front();
			}
			try {
				t(slot);
			} catch (...) {
				err.set(std::current_exception());
			}
		}
	}
};

TaskPool::TaskPool(int workers) : st_(std::make_unique<State>()), workers_(std::max(1, workers))
{
	if (workers_ == 1)
		return;
	try {
		for (int i = 0; i < workers_; i++)
			st_->threads.emplace_back([this, i] { st_->run(i); });
	} catch (const std::system_error &) {
		// No thread to spare: those started do the work, or the caller.
		if (st_->threads.empty())
			workers_ = 1;
	}
}

TaskPool::~TaskPool()
{
	{
		std::lock_guard<std::mutex> g(st_->mu);
		st_->stop = true;
	}
	st_->cv.notify_all();
	for (auto &t : st_->threads)
		t.join();
}

void TaskPool::submit(std::function<void(int slot)> task)
{
	if (st_->threads.empty()) {
		try {
			task(0);
		} catch (...) {
			st_->err.set(std::current_exception());
		}
		return;
	}
	{
		std::lock_guard<std::mutex> g(st_->mu);
		st_->q.push_back(std::move(task));
	}
	st_->cv.notify_one();
}

bool TaskPool::failed() const
{
	return st_->err.failed();
}

void TaskPool::rethrow_if_failed()
{
	st_->err.rethrow();
}

} // namespace pach
