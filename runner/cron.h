// Cron inputs: `pach run` commits one tick file (named by its RFC 3339
// time) to the cron repo for every tick that is due, so a system cron
// calling `pach run` every minute drives "@every 5m" or "0 * * * *".
#pragma once

#include "plumbing/store.h"
#include "runner/spec.h"

#include <ctime>
#include <optional>
#include <string>

namespace pach::runner {

// The first tick strictly after `after` (unix seconds); dies on a bad spec.
int64_t next_tick(const std::string &spec, int64_t after);
// Validate a cron spec ("@every 5m", "@hourly", "*/15 * * * *").
void check_cron_spec(const std::string &spec);
std::string rfc3339(int64_t t);

// Commit the due ticks of every cron input of `spec` (at most `max`);
// returns how many were committed.
int commit_due_ticks(Store &s, const PipelineSpec &spec, int64_t now, int max = 1000);

} // namespace pach::runner
