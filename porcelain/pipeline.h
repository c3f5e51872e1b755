// Pipelines as stored: each spec lives in the metadata ref as
//   pipelines/<name>/spec   the document as given (re-emitted YAML)
//   pipelines/<name>/salt   the transform hash datums are keyed with
// so every create/update is a commit there (history, and it travels).
#pragma once

#include "plumbing/store.h"
#include "runner/datum.h"
#include "runner/spec.h"

#include <optional>
#include <string>
#include <vector>

namespace pach::porcelain {

struct StoredPipeline {
	runner::PipelineSpec spec;
	std::string salt;
};

struct PipelineVersion {
	Oid meta_commit;
	int64_t when = 0;
	std::string message;
};

// The transform's hash: image, cmd, stdin, env, working_dir, user.
std::string transform_hash(const runner::PipelineSpec &s);

// Check every spec against the store and each other (input repos exist or
// are outputs of pipelines, no cycle, output repo free) and store them.
// update: the pipelines must exist; keep_outputs keeps the old salt.
void pipeline_save(Store &s, const std::vector<runner::PipelineSpec> &specs, bool update, bool keep_outputs);
std::vector<StoredPipeline> pipeline_list(const Store &s);
std::optional<StoredPipeline> pipeline_get(const Store &s, const std::string &name);
std::vector<PipelineVersion> pipeline_history(const Store &s, const std::string &name);
void pipeline_delete(Store &s, const std::string &name);
// Pipelines in the order their inputs are ready (inputs first).
std::vector<StoredPipeline> pipelines_in_dag_order(const Store &s);

} // namespace pach::porcelain
