// The Slurm side of the cluster executor: job arrays submitted with
// sbatch, watched with squeue (one call per poll) and scontrol (only for
// a task that ended without a result), cancelled with scancel.  Which
// arrays were submitted for a job is kept on the remote
// (jobs/<key>/submitted), so a coordinator started again waits for what
// is still queued instead of submitting it twice.
#pragma once

#include "remote/backend.h"
#include "runner/spec.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pach {
class Store;
}

namespace pach::runner {

class SlurmEngine {
public:
	SlurmEngine(const Store &s, const PipelineSpec &spec, const remote::RemoteConfig &rc, remote::Backend &b,
		    const std::string &key);
	// How many tasks can run at once: the partition's CPUs over the
	// CPUs a task asks for (0 when sinfo does not say).
	size_t slots();
	// Tasks of earlier submissions of this job still queued or running.
	std::set<size_t> resume();
	// One array (or several, past the site's MaxArraySize) for `tasks`;
	// `most` datums in the largest (for the time limit).  Dies when
	// sbatch fails, with what it said.
	void submit(const std::vector<size_t> &tasks, size_t most);
	// Tasks that ended (by Slurm's account) since the last call, with
	// how; false when Slurm did not answer.
	bool poll(std::map<size_t, std::string> &ended);
	// scancel of every array submitted; says what was cancelled.
	std::string cancel();
	const std::string &last_error() const { return err_; }
	void set_key(const std::string &key) { key_ = key; }

private:
	struct Array {
		std::string id;
		size_t offset = 0;
	};
	std::string script(size_t offset) const;
	std::optional<size_t> offset_of(const std::string &array) const;   // of a submitted array
	void save();

	const Store &s_;
	const PipelineSpec &spec_;
	remote::RemoteConfig rc_;
	remote::Backend &b_;
	std::string key_, err_;
	std::vector<Array> arrays_;
	std::map<size_t, std::string> where_;   // task -> the array it was last submitted in
	std::map<size_t, int> absent_;          // polls a submitted task was not shown
	size_t max_array_ = 0;
};

// "0-3,7,9-10" for sorted indices.
std::string array_ranges(const std::vector<size_t> &sorted);

} // namespace pach::runner
