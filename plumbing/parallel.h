// Running work on several threads: the one place threads are started,
// joined and their exceptions carried back.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace pach {

// Threads for CPU-bound work: one per core, at most `cap`, at least one.
int cpu_workers(int cap = 8);

// Runs fn(slot) on `workers` threads, the calling thread being slot 0
// (slots name threads, for per-thread state such as a pack writer).
// Every thread is joined before it returns, also when one throws; then
// the first exception thrown is rethrown.  Threads that cannot be
// started are done without: fn must not count on every slot running.
void parallel_run(int workers, const std::function<void(int slot)> &fn);

// Calls fn(i, slot) for every i in [0, n) on up to `workers` threads.
// After a throw no new item is started; items already running finish,
// and the first exception is rethrown once all threads are joined.
void parallel_for(size_t n, int workers, const std::function<void(size_t i, int slot)> &fn);

// A fixed set of threads serving a queue of tasks, for pipelines whose
// work is found as they go (plumbing/snapshot.cc).  Tasks get the slot of
// the thread running them (0 .. workers-1).  workers <= 1 starts no
// thread: submit() runs the task at once on the caller, as slot 0.  A task
// that throws does not stop the others; the first exception is kept for
// rethrow_if_failed() and the destructor's caller.  The destructor waits
// for the tasks already queued.
class TaskPool {
public:
	explicit TaskPool(int workers);
	~TaskPool();
	TaskPool(const TaskPool &) = delete;
	void submit(std::function<void(int slot)> task);
	bool failed() const;
	void rethrow_if_failed();
	int workers() const { return workers_; }

private:
	struct State;
	std::unique_ptr<State> st_;
	int workers_;
};

} // namespace pach
