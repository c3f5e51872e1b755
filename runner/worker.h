// `pach worker`: one task of a job an executor (Slurm, Kubernetes) handed
// to a cluster, run on whatever node the engine chose.  Everything comes
// from the remote (runner/manifest.h): the job, the task's datums and the
// objects they read (ranged reads through the remote packs' idx); the
// datums run exactly as `pach run` runs them locally (run_datums); the
// outputs and logs go back as one pack, then the result, written last.
// The node's cache (a pach store of its own) keeps fetched objects for the
// next task.  The coordinator's store is never touched.
#pragma once

#include "remote/backend.h"

#include <string>

namespace pach::runner {

struct WorkerOptions {
	remote::RemoteConfig remote;
	std::string key;      // the job's key on the remote
	size_t task = 0;
	std::string cache;    // the node's cache directory
	int jobs = 1;         // datums at once
	bool in_container = false;   // inside the pipeline's container (a Kubernetes pod):
				     // user code is our child, each datum at /pfs itself
};

struct WorkerReport {
	bool already_done = false;
	size_t datums = 0, failed = 0;
	uint64_t fetched_bytes = 0, fetched_objects = 0, idx_bytes = 0, uploaded_bytes = 0;
};

// Dies when the machinery fails (after leaving jobs/<key>/errors/<task>
// on the remote when it can); datum failures are part of the result.
WorkerReport run_worker(const WorkerOptions &o);

// The init container of a Kubernetes pod: the bundle (bin/pach, lib/)
// in `from` copied into `to` (an emptyDir the user's container mounts).
void install_bundle(const std::string &from, const std::string &to);

// The default cache: $PACH_WORKER_CACHE, else $XDG_CACHE_HOME/pach/worker,
// else ~/.cache/pach/worker.
std::string default_worker_cache();

} // namespace pach::runner
