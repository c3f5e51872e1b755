// A cluster engine as the cluster executor sees it (runner/cluster.h):
// tasks submitted by index, asked which ended without a result, cancelled.
// The results on the remote are the truth; an engine only says which
// tasks are still queued or running and why one ended.  What was
// submitted for a job is kept on the remote (jobs/<key>/submitted), so a
// coordinator started again waits for it instead of submitting it twice.
#pragma once

#include "remote/backend.h"
#include "runner/spec.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace pach {
class Store;
}

namespace pach::runner {

class Engine {
public:
	virtual ~Engine() = default;
	virtual std::string name() const = 0;   // "Slurm", "Kubernetes"
	// How many tasks can run at once (0 when the engine does not say).
	virtual size_t slots() = 0;
	// Tasks of earlier submissions of this job still queued or running.
	virtual std::set<size_t> resume() = 0;
	// Submits `tasks` (indices into the job's tasks); `most` datums in the
	// largest (for time limits).  Dies when the engine refuses.
	virtual void submit(const std::vector<size_t> &tasks, size_t most) = 0;
	// --dry-run: what submit would hand the engine, as text, changing
	// nothing.
	virtual std::string describe(const std::vector<size_t> &tasks, size_t most) = 0;
	// Tasks that ended (by the engine's account) since the last call,
	// with how; false when the engine did not answer.
	virtual bool poll(std::map<size_t, std::string> &ended) = 0;
	// Cancels everything submitted; says what.
	virtual std::string cancel() = 0;
	// Tries a submission gives a task (Kubernetes retries failed pods
	// itself, up to datum_tries; Slurm runs a task once).
	virtual int tries_per_submit() const { return 1; }
	const std::string &last_error() const { return err_; }
	// The job's key on the remote, and the image its tasks run (as the
	// plan resolved it: the spec's or pach.defaultImage).
	void set_job(const std::string &key, const std::string &image)
	{
		key_ = key;
		image_ = image;
	}

protected:
	std::string key_, image_, err_;
};

// "slurm" or "kubernetes".
std::unique_ptr<Engine> make_engine(const std::string &executor, const Store &s, const PipelineSpec &spec,
				    const remote::RemoteConfig &rc, remote::Backend &b);

// A client command of an engine (sbatch, kubectl, ...) with pach's whole
// environment, `input` on its standard input, up to a minute.  err: the
// last line it wrote to stderr (or why it did not run).
struct EngineCmd {
	int exit = -1;
	std::string out, err;
};
EngineCmd run_engine_cmd(const Store &s, const std::vector<std::string> &argv, const std::string &input = "");

// "0-3,7,9-10" for sorted indices.
std::string array_ranges(const std::vector<size_t> &sorted);
// The inverse, for indices below `limit` (others are dropped); nullopt
// when `s` is not of that form.  Bounded by `limit`, not by the numbers.
std::optional<std::vector<size_t>> parse_ranges(std::string_view s, size_t limit);

// The pach binary as a node runs it: config `key`, else this process's.
std::string own_binary(const Store &s, const std::string &key);

} // namespace pach::runner
