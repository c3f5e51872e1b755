// Jobs: bringing one pipeline's output up to date with its inputs.
//
// Every datum is keyed by its hash (the matched entries' object ids and
// the transform hash).  A datum whose hash succeeded in the previous job
// reuses that job's output tree without running; others run.  The output
// commit is the union of all datums' trees and records its provenance.
// A job with a failed datum moves no branch; the next job retries only
// what failed or changed.  Job records live in refs/pach/meta under
// jobs/<pipeline>/<job id>/{record, outputs/<datum>, logs/<datum>} (the
// trees and logs linked, so gc keeps them), the last job's id in
// pipelines/<name>/last_job.
#pragma once

#include "plumbing/store.h"
#include "runner/datum.h"
#include "runner/runtime.h"
#include "runner/spec.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pach::runner {

struct DatumRecord {
	std::string id, hash;
	std::string state;            // success, skipped, failed
	std::optional<Oid> out_tree;  // nullopt: wrote nothing
	std::optional<Oid> log;       // blob with stdout+stderr
	double secs = 0;
	int attempts = 0;
	std::vector<std::string> files;   // "input:/path"
};

struct JobRecord {
	std::string id, pipeline, state;  // success, failure, up-to-date
	std::string salt, spec_version, error;
	int64_t started = 0, finished = 0;
	std::vector<std::pair<std::string, std::string>> inputs;   // repo@branch -> commit hex or "-"
	std::optional<Oid> output;
	std::vector<DatumRecord> datums;
	size_t count(const std::string &state) const;
};

std::string format_job(const JobRecord &j);
JobRecord parse_job(const std::string &text);

std::optional<JobRecord> load_job(const Store &s, const std::string &pipeline, const std::string &id);
std::optional<JobRecord> last_job(const Store &s, const std::string &pipeline);
std::vector<JobRecord> list_jobs(const Store &s, const std::string &pipeline);
// Every job of every pipeline, newest first.
std::vector<JobRecord> list_all_jobs(const Store &s);
// A job by id or unique id prefix (>= 4 characters); dies if not found.
JobRecord find_job(const Store &s, const std::string &prefix);

struct RunOptions {
	int jobs = 0;             // parallel datums; 0 = the spec's parallelism
	bool reprocess = false;
	bool dry_run = false;
	std::string runtime;      // override the spec's runtime
};

// Run one pipeline (its spec and transform hash as stored).  Returns the
// job record (also stored unless dry_run).
JobRecord run_pipeline(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o);

} // namespace pach::runner
