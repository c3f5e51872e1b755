// Jobs: bringing one pipeline's output up to date with its inputs.
//
// Every datum is keyed by its hash (the matched entries' object ids and
// the transform hash).  A datum whose hash succeeded in the previous job
// reuses that job's output tree without running; others run.  The output
// commit is the union of all datums' trees and records its provenance.
// A job with a failed datum moves no branch; the next job retries only
// what failed or changed.  Job records live in refs/pach/meta under
// jobs/<pipeline>/<job id>/{record, datums/<xx>, outputs/<xx>/<datum>,
// logs/<xx>/<datum>} (xx: the datum id's first two hex digits; the trees
// and logs linked, so gc keeps them), the last job's id in
// pipelines/<name>/last_job.  A job that changed few datums rewrites few
// shards: the cost of a run follows the change, not the input size.
#pragma once

#include "plumbing/store.h"
#include "runner/datum.h"
#include "runner/runtime.h"
#include "runner/spec.h"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pach::runner {

// A datum's state.  pending and would_run never reach a record.
enum class DatumState { pending, would_run, success, skipped, failed, recovered };
constexpr size_t kDatumStates = 6;
// A job's state.  up_to_date and dry_run are never recorded.
enum class JobState { none, success, failure, up_to_date, dry_run };

// Their names in records, listings and JSON ("would-run", "up-to-date").
const char *state_name(DatumState s);
const char *state_name(JobState s);
std::optional<DatumState> parse_datum_state(std::string_view name);
std::optional<JobState> parse_job_state(std::string_view name);

struct DatumRecord {
	std::string id, hash;
	DatumState state = DatumState::pending;
	std::optional<Oid> out_tree;  // nullopt: wrote nothing
	std::optional<Oid> log;       // blob with stdout+stderr
	double secs = 0;
	int attempts = 0;
	std::vector<std::string> files;   // "input:/path"
	// A skipped datum's line is the one of the job that ran it (origin),
	// kept byte for byte, so unchanged shards of a record are unchanged
	// objects.
	std::string origin;           // the job that ran it
	std::string line;             // as stored ("" when made here)
};

struct JobRecord {
	std::string id, pipeline;
	JobState state = JobState::none;
	std::string salt, spec_version, error;
	int64_t started = 0, finished = 0;
	std::vector<std::pair<std::string, std::string>> inputs;   // repo@branch -> commit hex or "-"
	std::optional<Oid> output;
	std::vector<DatumRecord> datums;  // empty when only the header was read
	size_t n_datums = 0;
	std::array<size_t, kDatumStates> counts{};   // by state, from the header
	size_t count(DatumState state) const;
	// Datums that ran in this job (success, failed or recovered).
	size_t ran() const;
	size_t datum_count() const { return datums.empty() ? n_datums : datums.size(); }
	// A dry run on a cluster executor: what would be submitted (never
	// recorded).
	std::string submission;
};

// The header (id, state, inputs, counts...); datums are stored apart,
// in shards by the first two hex digits of their id.
std::string format_job_header(const JobRecord &j);
// One datum's line (origin = the job that ran it).
std::string format_datum(const DatumRecord &d, const std::string &origin);
// A header, or a whole record of the old single-blob format.
JobRecord parse_job(const std::string &text);
// Datum lines of one shard, appended to j.datums.
// Without `files`, the datums' file lists are left out (running needs
// only ids, hashes, outputs and the lines themselves).
void parse_datums(JobRecord &j, const std::string &text, bool files = true);

// with_datums = false reads the header only (listing many jobs).
std::optional<JobRecord> load_job(const Store &s, const std::string &pipeline, const std::string &id,
				  bool with_datums = true);
std::optional<JobRecord> last_job(const Store &s, const std::string &pipeline, bool files = true);
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
	std::string executor;     // override the spec's executor (runner/cluster.h)
	std::string remote;       // cluster executors: the remote ("" = run.remote, else the only one)
	std::string work_dir;     // where datums run ("" = the store's pach/work/<job id>)
	std::string pfs_dir;      // a worker in a pod: each datum laid out in this directory
				  // itself (/pfs), one at a time
};

// Pachyderm's default user image, for a transform without one.
inline constexpr const char *kPachydermDefaultImage = "ubuntu:20.04";
// The image a pipeline runs: its transform's, else the config key
// pach.defaultImage; "" when neither is set (it then runs on the host).
std::string pipeline_image(const Store &s, const PipelineSpec &spec);
// The runtime it runs with: --runtime, the spec's, pach.runtime, else the
// first that works here; "local" for no image (dies if one was asked for).
std::string pipeline_runtime(const Store &s, const PipelineSpec &spec, const std::string &image,
			     const std::string &override_name);

// Run one pipeline (its spec and transform hash as stored).  Returns the
// job record (also stored unless dry_run).
JobRecord run_pipeline(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o);

} // namespace pach::runner
