// Pipeline specs with Pachyderm's field names, so a Pachyderm spec (YAML
// or JSON, several documents per file) loads unchanged.  Parsing reports
// errors as "FILE:LINE: field 'x': ..." and collects a warning for every
// field pach does not support yet.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pach::runner {

struct PfsInput {
	std::string name;     // defaults to repo
	std::string repo;
	std::string branch = "master";
	std::string glob;
	bool lazy = false, empty_files = false, outer_join = false;
	std::string join_on, group_by;
};

struct CronInput {
	std::string name;
	std::string repo;     // defaults to <pipeline>_<name>
	std::string spec;     // "@every 5m", "0 * * * *"
	std::string start;    // RFC 3339, optional
	bool overwrite = false;
};

struct Input {
	enum Kind { pfs, cross, union_, join, group, cron } kind = pfs;
	PfsInput pfs_in;
	CronInput cron_in;
	std::vector<Input> children;
	int line = 0;
};

struct Transform {
	std::string image;
	std::vector<std::string> cmd, stdin_lines, err_cmd, err_stdin;
	std::map<std::string, std::string> env;
	bool datum_batching = false;             // one process serves many datums (runner/batch.h)
	std::string working_dir, user;
	std::vector<int> accept_return_code;
};

struct PipelineSpec {
	std::string name, description;
	Transform transform;
	Input input;
	int parallelism = 0;                      // parallelism_spec.constant; 0: not set (all cores)
	int datum_tries = 3;
	std::string datum_timeout, job_timeout;   // Go durations: "30s", "1h5m"
	std::string output_branch = "master";
	std::string memory, cpu;                  // resource_limits
	struct Resources {
		std::string memory, cpu, disk, gpu_type;
		int64_t gpu = 0;                  // gpu.number; 0: none
		bool given = false;               // the field was in the spec (even empty)
	};
	Resources requests, limits;               // resource_requests, resource_limits (memory and cpu
						  // as above): what a cluster executor asks for
	std::string reprocess_spec = "until_success";
	struct {
		int64_t number = 0, size_bytes = 0, per_worker = 0;   // 0: not set
	} datum_set;                              // datum_set_spec (read; used by scale-out)
	// pach's own additions
	std::string runtime;                      // runc, crun, bwrap, docker, podman, local
	std::string executor;                     // local, slurm, kubernetes ("" = config's choice)
	bool network = false;

	std::string file;                         // where it was read from
	int line = 0;
	std::string source;                       // the document, re-emitted as YAML
};

struct ParseResult {
	std::vector<PipelineSpec> specs;
	std::vector<std::string> warnings;        // "FILE:LINE: warning: ..."
};

// Parse every document of `text` (read from `file`).  Dies with
// "FILE:LINE: ..." on the first error.
ParseResult parse_specs(const std::string &text, const std::string &file);
ParseResult parse_spec_file(const std::string &path);

// A spec's text in YAML block style (JSON specs are stored re-emitted).
std::string readable_yaml(const std::string &text);

// Every input repo of a spec (pfs and cron), in order, with its input name.
std::vector<std::pair<std::string, std::string>> input_repos(const PipelineSpec &s);

// Go-style duration ("1h30m", "45s", "500ms") in seconds; -1 if empty.
double parse_duration(const std::string &d);

} // namespace pach::runner
