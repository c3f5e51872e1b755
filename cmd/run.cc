#include "cmd/cmd.h"
#include "plumbing/config.h"
#include "plumbing/fs.h"
#include "porcelain/maint.h"
#include "porcelain/pipeline.h"
#include "runner/cron.h"
#include "runner/job.h"

#include <sys/mount.h>

#include <cstdlib>
#include <fstream>
#include <ctime>

#include <set>

namespace pach::cmd {

extern const char *const kUsage_run =
	"usage: pach run [<pipeline>...] [--dry-run] [-j <n>] [--reprocess] [--runtime <name>] [--json]\n\n"
	"Bring pipelines up to date, in DAG order: run each over the datums whose\n"
	"input changed, reuse the output of the others.  Exit codes: 0 all\n"
	"succeeded (or were up to date), 1 some datum failed, 128 error.\n\n"
	"    --dry-run       show what would run, change nothing\n"
	"    -j, --jobs <n>  datums in parallel (default: config run.jobs, else parallelism_spec, else one per core)\n"
	"    --reprocess     run every datum again\n"
	"    --runtime <name>  local, bwrap, runc, crun, podman or docker, instead of the spec's\n"
	"                      or the config's (pach.runtime) choice\n"
	"    --json          a machine-readable summary\n";

int cmd_run(Args &args)
{
	bool dry = args.flag(0, "dry-run");
	bool reprocess = args.flag(0, "reprocess");
	int jobs = args.int_value('j', "jobs", 0);
	std::string runtime = args.value(0, "runtime").value_or("");
	auto names = args.rest(0);
	Store &s = args.store();
	if (jobs <= 0)
		if (auto v = config_get(&s, "run.jobs"))
			jobs = atoi(v->c_str());
	auto all = porcelain::pipelines_in_dag_order(s);
	std::set<std::string> want(names.begin(), names.end());
	for (auto &n : want) {
		bool found = false;
		for (auto &p : all)
			found |= p.spec.name == n;
		if (!found)
			die("pipeline '{}' not found", n);
	}
	// One `pach run` at a time per store; a second one waits.
	mkdir_p(s.path("pach"));
	std::unique_ptr<FileLock> lock;
	if (!dry) {
		lock = std::make_unique<FileLock>(s.path("pach/run.lock"), FileLock::exclusive, false);
		if (!lock->held()) {
			fmt::print(stderr, "waiting for another 'pach run' in this store to finish...\n");
			lock = std::make_unique<FileLock>(s.path("pach/run.lock"), FileLock::exclusive, true);
		}
	}
	// Holding the run lock, no other job is running: what is left in the
	// work area was left by a killed run.
	if (!dry) {
		// A killed run may have left mounts there (lazy inputs): detach
		// them first, so removing the area never walks into one.
		std::string work = s.path("pach/work");
		std::ifstream mounts("/proc/self/mounts");
		std::string src, at, rest;
		std::vector<std::string> under;
		while (mounts >> src >> at && std::getline(mounts, rest)) {
			std::string path;   // the table escapes spaces and such as \ooo
			for (size_t i = 0; i < at.size(); i++) {
				if (at[i] == '\\' && i + 3 < at.size()) {
					path += (char)std::stoi(at.substr(i + 1, 3), nullptr, 8);
					i += 3;
				} else {
					path += at[i];
				}
			}
			if (path.compare(0, work.size() + 1, work + "/") == 0)
				under.push_back(path);
		}
		for (auto it = under.rbegin(); it != under.rend(); ++it)
			umount2(it->c_str(), MNT_DETACH);
		remove_tree(work);
	}
	bool failed = false;
	std::string json = "[";
	for (auto &p : all) {
		if (!want.empty() && !want.count(p.spec.name))
			continue;
		if (!dry) {
			// PACH_NOW (unix seconds) stands in for the clock, for tests.
			const char *fake = getenv("PACH_NOW");
			int64_t now = fake && *fake ? atoll(fake) : (int64_t)time(nullptr);
			runner::commit_due_ticks(s, p.spec, now);
		}
		runner::RunOptions o;
		o.jobs = jobs;
		o.reprocess = reprocess;
		o.dry_run = dry;
		o.runtime = runtime;
		auto job = runner::run_pipeline(s, p.spec, p.salt, o);
		size_t ran = job.ran();
		failed |= job.state == runner::JobState::failure;
		if (args.json) {
			// "id" as in every other job listing; "job" kept for scripts.
			json += fmt::format("{}{{\"pipeline\":{},\"id\":\"{}\",\"job\":\"{}\",\"state\":\"{}\",\"datums\":{},"
					    "\"processed\":{},\"skipped\":{},\"failed\":{},\"output\":{},\"error\":{}}}",
					    json.size() > 1 ? "," : "", json_str(p.spec.name), job.id, job.id, runner::state_name(job.state),
					    job.datums.size(), ran, job.count(runner::DatumState::skipped), job.count(runner::DatumState::failed),
					    job.output ? json_str(job.output->hex()) : "null", json_str(job.error));
			continue;
		}
		if (dry) {
			fmt::print("{}: {} datums: {} would run, {} unchanged\n", p.spec.name, job.datums.size(),
				   job.count(runner::DatumState::would_run), job.count(runner::DatumState::skipped));
			for (auto &d : job.datums)
				if (d.state == runner::DatumState::would_run) {
					std::string files;
					for (auto &f : d.files)
						files += " " + f;
					fmt::print("  run {}{}\n", d.id.substr(0, 12), files);
				}
			continue;
		}
		if (job.state == runner::JobState::up_to_date) {
			fmt::print("{}: up to date ({} datums)\n", p.spec.name, job.datums.size());
			continue;
		}
		fmt::print("{}: job {}: {} datums: {} processed, {} skipped, {} failed", p.spec.name, job.id.substr(0, 12),
			   job.datums.size(), ran, job.count(runner::DatumState::skipped), job.count(runner::DatumState::failed));
		if (job.count(runner::DatumState::recovered))
			fmt::print(" ({} recovered by err_cmd)", job.count(runner::DatumState::recovered));
		if (job.state == runner::JobState::success)
			fmt::print(" -> {}@{} {}\n", p.spec.name, p.spec.output_branch, short_oid(*job.output));
		else
			fmt::print("\n");
		if (!job.error.empty())
			fmt::print(stderr, "error: {}: {}\n", p.spec.name, job.error);
	}
	if (args.json)
		fmt::print("{}]\n", json);
	if (!dry) {
		try {
			porcelain::auto_repack(s);
		} catch (const Error &e) {
			warning(std::string("automatic repack failed: ") + e.what());
		}
	}
	return failed ? 1 : 0;
}

} // namespace pach::cmd
