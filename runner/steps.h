// The steps of a job, and what passes between them:
//
//   plan_job       inputs, datums, image and runtime, the previous job:
//                  which datums run and which are reused   -> JobPlan
//   run_datums     each datum to run, in parallel            -> DatumRecords
//   commit_output  the union of the datums' outputs, committed and the
//                  output branch moved (compare-and-swap)    -> JobRecord
//   record_job     the job's record into refs/pach/meta
//
// run_pipeline (job.h) runs them in order; a datum is the unit a worker
// elsewhere could run (run_datum).
#pragma once

#include "runner/batch.h"
#include "runner/image.h"
#include "runner/job.h"

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pach::runner {

struct JobPlan {
	explicit JobPlan(const PipelineSpec &s) : spec(s) {}
	const PipelineSpec &spec;
	std::string salt;                 // the datums' salt: the spec's and the image digest
	std::vector<Datum> datums;        // parallel to job.datums: the files of those that run (others empty)
	std::string missing_inputs;       // "'a', 'b'": input repos that do not exist
	std::string image_ref;            // "" = none (the local runtime)
	std::string runtime;              // local, bwrap, runc, crun, podman, docker
	std::optional<Image> image;       // resolved (not yet unpacked) unless local
	std::optional<JobRecord> prev;    // the last job of this pipeline
	std::vector<size_t> to_run;       // indices into datums
	std::vector<long> from_prev;      // per datum: its index in prev->datums, or -1
	std::string out_ref;
	std::optional<Oid> head;          // the output branch when planned
};

// Fills job.datums (state pending, would-run or skipped).  Sets
// job.state to up_to_date or dry_run when there is nothing to run.
JobPlan plan_job(Store &s, const PipelineSpec &spec, const std::string &salt, const RunOptions &o, JobRecord &job);

class LazyMount;

// What every datum of one job shares.
struct DatumEnv {
	explicit DatumEnv(const PipelineSpec &s) : spec(s) {}
	const PipelineSpec &spec;
	std::string job_id, work, runtime, user;
	std::string pfs_dir;              // RunOptions.pfs_dir
	// Per slot (each slot's own: no lock): the empty directories its /pfs
	// was left with (runner/execute.cc, ready_datum_dir).
	mutable std::vector<std::optional<std::set<std::string>>> slot_dirs;
	// Per slot, with transform.datum_batching: its batch process.
	mutable std::vector<std::unique_ptr<Batch>> batches;
	std::optional<Image> image;       // unpacked
	Runtime *rt = nullptr;
	LazyMount *lazy = nullptr;
	double datum_timeout = 0, job_timeout = 0;
	std::chrono::steady_clock::time_point job_start;
};

// One datum: inputs placed, user code run (with retries and err_cmd),
// its output snapshotted; r gets state, output tree, log and timings.
void run_datum(Store &s, ObjectWriter &w, const DatumEnv &env, const Datum &d, DatumRecord &r, int slot);
void run_datums(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job, const RunOptions &o);

// Merges, commits and moves the output branch; job.state and error say
// how it went (a clash of two datums' paths is a failed job, not a throw).
void commit_output(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job);
void record_job(Store &s, const JobPlan &plan, JobRecord &job);

} // namespace pach::runner
