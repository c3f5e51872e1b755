// The Slurm side of the cluster executor: job arrays submitted with
// sbatch, watched with squeue (one call per poll) and scontrol (only for
// a task that ended without a result), cancelled with scancel.
#pragma once

#include "runner/engine.h"

#include <optional>

namespace pach::runner {

class SlurmEngine : public Engine {
public:
	SlurmEngine(const Store &s, const PipelineSpec &spec, const remote::RemoteConfig &rc, remote::Backend &b);
	std::string name() const override { return "Slurm"; }
	// The partition's CPUs over the CPUs a task asks for.
	size_t slots() override;
	std::set<size_t> resume() override;
	// One array (or several, past the site's MaxArraySize).
	void submit(const std::vector<size_t> &tasks, size_t most) override;
	std::string describe(const std::vector<size_t> &tasks, size_t most) override;
	bool poll(std::map<size_t, std::string> &ended) override;
	std::string cancel() override;

private:
	struct Array {
		std::string id;
		size_t offset = 0;
	};
	std::string script(size_t offset) const;
	std::vector<std::string> sbatch_args(size_t most) const;
	// The arrays for `tasks` as (offset, indices below it).
	std::vector<std::pair<size_t, std::vector<size_t>>> split(std::vector<size_t> tasks);
	std::optional<size_t> offset_of(const std::string &array) const;   // of a submitted array
	void save();

	const Store &s_;
	const PipelineSpec &spec_;
	remote::RemoteConfig rc_;
	remote::Backend &b_;
	std::vector<Array> arrays_;
	std::map<size_t, std::string> where_;   // task -> the array it was last submitted in
	std::map<size_t, int> absent_;          // polls a submitted task was not shown
	size_t max_array_ = 0;
};

} // namespace pach::runner
