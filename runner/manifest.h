// What a coordinator and its workers exchange through the remote, for
// executors other than `local` (Documentation/pach-worker.adoc):
//
//   jobs/<key>/job             the job: id, pipeline, spec, image, tasks,
//                              the job's input packs
//   jobs/<key>/inputs/<sum>.pack, .idx  objects the tasks read that the
//                              remote's own packs lack
//   jobs/<key>/tasks/<n>       task n: its datums and every object they read
//   jobs/<key>/packs/<sum>.pack  a task's outputs and logs (a git pack)
//   jobs/<key>/results/<n>     task n's result, written after its pack
//   jobs/<key>/errors/<n>      why task n's machinery failed (best effort)
//   jobs/<key>/submitted       the cluster jobs submitted for it
//
// <key> is the hash of what the job runs (not its random id), so a run
// killed and started again over the same inputs finds its tasks, results
// and submissions.  Everything read back is hostile: the parsers accept
// exactly what the formatters write and die, naming `where`, otherwise.
#pragma once

#include "plumbing/oid.h"
#include "runner/datum.h"
#include "runner/job.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pach::runner {

struct JobManifest {
	std::string id, pipeline, image, runtime;   // runtime "": the node chooses
	size_t tasks = 0, datums = 0;
	std::vector<std::pair<std::string, uint64_t>> packs;   // inputs/<name>.pack, its size
	std::string spec;                            // the spec's document, as stored
};

struct TaskManifest {
	std::vector<Oid> objects;                    // blobs and trees its datums read
	std::vector<std::pair<std::string, Datum>> datums;   // (datum id, datum)
};

struct TaskResult {
	std::optional<Oid> pack;                     // nullopt: nothing written
	std::vector<DatumRecord> datums;             // id, state, out_tree, log, secs, attempts
};

std::string format_job_manifest(const JobManifest &m);
JobManifest parse_job_manifest(std::string_view text, const std::string &where);
std::string format_task(const TaskManifest &t);
TaskManifest parse_task(std::string_view text, const std::string &where);
std::string format_result(const TaskResult &r);
TaskResult parse_result(std::string_view text, const std::string &where);

// The job's key: the hash of its manifest without the id and the packs,
// and of its tasks.
std::string job_key(const JobManifest &m, const std::vector<std::string> &task_texts);

// Datums (indices into `sizes`) grouped into tasks of consecutive datums:
// datum_set_spec's number / size_bytes when set, else about `per_task`
// datums each (at least one).
std::vector<std::vector<size_t>> group_tasks(const std::vector<uint64_t> &sizes, int64_t number,
					     int64_t size_bytes, size_t per_task);

// A field as one token: bytes other than [A-Za-z0-9._/@:+=,~-] as %XX;
// "" as "%".
std::string manifest_field(std::string_view s);
std::optional<std::string> parse_manifest_field(std::string_view s);

} // namespace pach::runner
