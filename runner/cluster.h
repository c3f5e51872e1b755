// Executors other than `local`: the datums of a job run as tasks on a
// cluster engine the site already runs (Slurm job arrays; Kubernetes
// Indexed Jobs), the remote being the only data plane.  The coordinator
// (this process) pushes the inputs, writes the job's manifest and tasks
// to the remote (runner/manifest.h), submits, polls, and collects each
// task's result and output pack into the store; run_pipeline then commits
// as for a local run, so the output tree is the same.
#pragma once

#include "runner/steps.h"

#include <string>

namespace pach::runner {

// "local", "slurm" or "kubernetes": --executor, else the spec's
// `executor`, else config run.executor, else local.  Dies on another name.
std::string pipeline_executor(const Store &s, const PipelineSpec &spec, const std::string &override_name);

// Runs plan.to_run on the cluster; fills job.datums like run_datums.
// Resumes a job whose manifest is already on the remote (a killed
// coordinator): finished tasks are collected, tasks still queued or
// running are waited for, only the rest are submitted.
void run_datums_on_cluster(Store &s, ObjectWriter &w, const JobPlan &plan, JobRecord &job, const RunOptions &o);

// --dry-run on a cluster: what would be submitted for plan.to_run (sbatch
// commands and scripts; Kubernetes manifests, credentials redacted),
// nothing written anywhere.
std::string describe_cluster_job(Store &s, const JobPlan &plan, JobRecord &job, const RunOptions &o);

} // namespace pach::runner
