#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/config.h"
#include "plumbing/quote.h"
#include "runner/session.h"

#include <cstdlib>
#include <ctime>


namespace pach::cmd {

extern const char *const kUsage_run =
	"usage: pach run [<pipeline>...] [--dry-run] [-j <n>] [--reprocess] [--runtime <name>]\n"
	"                [--executor <name>] [--remote <name>] [--json]\n\n"
	"Bring pipelines up to date, in DAG order: run each over the datums whose\n"
	"input changed, reuse the output of the others.  Exit codes: 0 all\n"
	"succeeded (or were up to date), 1 some datum failed, 128 error.\n\n"
	"    --dry-run       show what would run, change nothing\n"
	"    -j, --jobs <n>  datums in parallel (default: config run.jobs, else parallelism_spec, else one per core)\n"
	"    --reprocess     run every datum again\n"
	"    --runtime <name>  local, bwrap, runc, crun, podman or docker, instead of the spec's\n"
	"                      or the config's (pach.runtime) choice\n"
	"    --executor <name>  local (this machine), slurm (a Slurm job array) or kubernetes,\n"
	"                      instead of the spec's or the config's (run.executor) choice\n"
	"    --remote <name>   the remote cluster workers read from and write to\n"
	"                      (default: run.remote, else the only remote)\n"
	"    --json          a machine-readable summary\n";

int cmd_run(Args &args)
{
	bool dry = args.flag(0, "dry-run");
	bool reprocess = args.flag(0, "reprocess");
	int jobs = args.int_value('j', "jobs", 0);
	std::string runtime = args.value(0, "runtime").value_or("");
	std::string executor = args.value(0, "executor").value_or("");
	std::string remote = args.value(0, "remote").value_or("");
	if (!executor.empty() && executor != "local" && executor != "slurm" && executor != "kubernetes")
		args.usage_error("unknown executor '" + executor + "' (expected local, slurm or kubernetes)");
	auto names = args.rest(0);
	Store &s = args.store();
	if (jobs <= 0)
		if (auto v = config_get(&s, "run.jobs"))
			jobs = atoi(v->c_str());
	runner::SessionOptions o;
	o.pipelines = names;
	o.run.jobs = jobs;
	o.run.reprocess = reprocess;
	o.run.dry_run = dry;
	o.run.runtime = runtime;
	o.run.executor = executor;
	o.run.remote = remote;
	// PACH_NOW (unix seconds) stands in for the clock, for tests.
	const char *fake = getenv("PACH_NOW");
	o.now = fake && *fake ? atoll(fake) : (int64_t)time(nullptr);
	Json json;
	json.begin_array();
	bool failed = runner::run_session(s, o, [&](const runner::PipelineSpec &spec, const runner::JobRecord &job) {
		size_t ran = job.ran();
		if (args.json) {
			// "id" as in every other job listing; "job" kept for scripts.
			json.begin_object().field("pipeline", spec.name).field("id", job.id).field("job", job.id);
			json.field("state", runner::state_name(job.state)).field("datums", (uint64_t)job.datums.size());
			json.field("processed", (uint64_t)ran).field("skipped", (uint64_t)job.count(runner::DatumState::skipped));
			json.field("failed", (uint64_t)job.count(runner::DatumState::failed));
			json.field("output", job.output ? std::optional<std::string>(job.output->hex()) : std::nullopt);
			json.field("error", job.error);
			if (!job.submission.empty())
				json.field("submission", job.submission);
			json.end_object();
			return;
		}
		if (dry) {
			// On a cluster the listing is a comment of what would be
			// submitted (a shell script for Slurm, manifests for kubectl).
			const char *c = job.submission.empty() ? "" : "# ";
			fmt::print("{}{}: {} datums: {} would run, {} unchanged\n", c, spec.name, job.datums.size(),
				   job.count(runner::DatumState::would_run), job.count(runner::DatumState::skipped));
			for (auto &d : job.datums)
				if (d.state == runner::DatumState::would_run) {
					std::string files;
					for (auto &f : d.files)
						files += " " + (*c ? quote_path(f) : f);
					fmt::print("{}  run {}{}\n", c, d.id.substr(0, 12), files);
				}
			fmt::print("{}", job.submission);
			return;
		}
		if (job.state == runner::JobState::up_to_date) {
			fmt::print("{}: up to date ({} datums)\n", spec.name, job.datums.size());
			return;
		}
		fmt::print("{}: job {}: {} datums: {} processed, {} skipped, {} failed", spec.name, job.id.substr(0, 12),
			   job.datums.size(), ran, job.count(runner::DatumState::skipped), job.count(runner::DatumState::failed));
		if (job.count(runner::DatumState::recovered))
			fmt::print(" ({} recovered by err_cmd)", job.count(runner::DatumState::recovered));
		if (job.state == runner::JobState::success)
			fmt::print(" -> {}@{} {}\n", spec.name, spec.output_branch, short_oid(*job.output));
		else
			fmt::print("\n");
		if (!job.error.empty())
			fmt::print(stderr, "error: {}: {}\n", spec.name, job.error);
	});
	if (args.json)
		fmt::print("{}\n", json.end_array().text());
	return failed ? 1 : 0;
}

} // namespace pach::cmd
