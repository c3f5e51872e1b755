// `pach run` as a whole: the store's run lock, what a killed run left
// behind, cron ticks, every pipeline in DAG order, the repack after.
#pragma once

#include "runner/job.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pach::runner {

// One `pach run` at a time per store: a second waits (and says so on
// stderr).  Holding it, no job runs, so what pach/work holds was left by
// a killed run: its mounts (lazy inputs) are detached, then it goes.
class RunLock {
public:
	explicit RunLock(Store &s);

private:
	std::unique_ptr<FileLock> lock_;
};

struct SessionOptions {
	std::vector<std::string> pipelines;   // none: all
	RunOptions run;
	int64_t now = 0;                      // cron ticks are due by this time (unix seconds)
};

// Runs the pipelines (each brought up to date in DAG order; cron inputs
// ticked first), calling report after each.  Returns whether any job
// failed.  Dies, before running anything, on an unknown pipeline name.
bool run_session(Store &s, const SessionOptions &o,
		 const std::function<void(const PipelineSpec &, const JobRecord &)> &report);

} // namespace pach::runner
