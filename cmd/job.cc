#include "cmd/cmd.h"
#include "porcelain/files.h"
#include "runner/job.h"

#include <cstdio>

namespace pach::cmd {

extern const char *const kUsage_job =
	"usage: pach job list [<pipeline>] [--json]\n"
	"   or: pach job inspect <job> [--json]\n\n"
	"Jobs are the runs of a pipeline; <job> is an id or a unique prefix.\n";

extern const char *const kUsage_datum =
	"usage: pach datum list <job> [--state <state>] [--json]\n\n"
	"The datums of a job: id, state (success, skipped, failed, recovered),\n"
	"attempts, time and files.\n";

extern const char *const kUsage_logs =
	"usage: pach logs (--job <job> | --pipeline <pipeline> | <pipeline>) [--datum <datum>]\n\n"
	"Print what user code wrote to stdout and stderr, per datum.  With\n"
	"--pipeline (-p, as pachctl), or a pipeline named alone, the logs of its\n"
	"last job; -j is --job.\n";

static std::string job_json(const runner::JobRecord &j, bool with_datums)
{
	std::string s = fmt::format("{{\"id\":\"{}\",\"pipeline\":{},\"state\":\"{}\",\"started\":\"{}\",\"finished\":\"{}\","
				    "\"datums\":{},\"processed\":{},\"skipped\":{},\"failed\":{},\"output\":{},\"error\":{}",
				    j.id, json_str(j.pipeline), runner::state_name(j.state), iso_time(j.started), iso_time(j.finished),
				    j.datum_count(), j.ran(), j.count(runner::DatumState::skipped),
				    j.count(runner::DatumState::failed), j.output ? json_str(j.output->hex()) : "null", json_str(j.error));
	std::string in = ",\"inputs\":{";
	for (size_t i = 0; i < j.inputs.size(); i++)
		in += fmt::format("{}{}:{}", i ? "," : "", json_str(j.inputs[i].first), json_str(j.inputs[i].second));
	s += in + "}";
	if (with_datums) {
		s += ",\"datum_list\":[";
		for (size_t i = 0; i < j.datums.size(); i++) {
			auto &d = j.datums[i];
			std::string files;
			for (size_t k = 0; k < d.files.size(); k++)
				files += (k ? "," : "") + json_str(d.files[k]);
			s += fmt::format("{}{{\"id\":\"{}\",\"hash\":\"{}\",\"state\":\"{}\",\"attempts\":{},\"seconds\":{:.3f},"
					 "\"output_tree\":{},\"files\":[{}]}}",
					 i ? "," : "", d.id, d.hash, runner::state_name(d.state), d.attempts, d.secs,
					 d.out_tree ? json_str(d.out_tree->hex()) : "null", files);
		}
		s += "]";
	}
	return s + "}";
}

int cmd_job(Args &args)
{
	auto r = args.rest(1, 2);
	Store &s = args.store();
	if (r[0] == "list") {
		auto jobs = r.size() > 1 ? runner::list_jobs(s, r[1]) : runner::list_all_jobs(s);
		if (args.json) {
			fmt::print("[");
			for (size_t i = 0; i < jobs.size(); i++)
				fmt::print("{}{}", i ? "," : "", job_json(jobs[i], false));
			fmt::print("]\n");
			return 0;
		}
		fmt::print("{:<14} {:<16} {:<10} {:<20} {:>8} {:>10} {:>7}\n", "JOB", "PIPELINE", "STATE", "STARTED",
			   "SECONDS", "DATUMS", "FAILED");
		for (auto &j : jobs)
			fmt::print("{:<14} {:<16} {:<10} {:<20} {:>8} {:>10} {:>7}\n", j.id.substr(0, 12), j.pipeline, runner::state_name(j.state),
				   iso_time(j.started), j.finished - j.started,
				   fmt::format("{}+{}/{}", j.ran(), j.count(runner::DatumState::skipped),
					       j.datum_count()),
				   j.count(runner::DatumState::failed));
		return 0;
	}
	if (r[0] == "inspect") {
		if (r.size() < 2)
			args.usage_error("'job inspect' needs a job id");
		auto j = runner::find_job(s, r[1]);
		if (args.json) {
			fmt::print("{}\n", job_json(j, true));
			return 0;
		}
		fmt::print("Job: {}\nPipeline: {}\nState: {}\nStarted: {}\nFinished: {}\n", j.id, j.pipeline, runner::state_name(j.state),
			   iso_time(j.started), iso_time(j.finished));
		for (auto &[k, v] : j.inputs)
			fmt::print("Input: {} {}\n", k, v);
		fmt::print("Output: {}\n", j.output ? j.output->hex() : "(none)");
		fmt::print("Datums: {} processed, {} skipped, {} failed, {} total\n", j.ran(),
			   j.count(runner::DatumState::skipped), j.count(runner::DatumState::failed), j.datum_count());
		if (!j.error.empty())
			fmt::print("Error: {}\n", j.error);
		return 0;
	}
	args.usage_error("unknown subcommand '" + r[0] + "'");
}

int cmd_datum(Args &args)
{
	auto state_arg = args.value(0, "state");
	std::optional<runner::DatumState> state;
	if (state_arg) {
		state = runner::parse_datum_state(*state_arg);
		if (!state || *state == runner::DatumState::pending || *state == runner::DatumState::would_run)
			die("unknown datum state '{}' (expected success, skipped, failed or recovered)", *state_arg);
	}
	auto r = args.rest(2, 2);
	if (r[0] != "list")
		args.usage_error("unknown subcommand '" + r[0] + "'");
	auto j = runner::find_job(args.store(), r[1]);
	if (state)
		std::erase_if(j.datums, [&](auto &d) { return d.state != *state; });
	if (args.json) {
		std::string all = job_json(j, true);
		auto k = all.find("\"datum_list\":");
		fmt::print("{}\n", all.substr(k + 13, all.size() - k - 14));
		return 0;
	}
	for (auto &d : j.datums) {
		std::string files;
		for (auto &f : d.files)
			files += " " + f;
		fmt::print("{}  {:<8} {} {:>8.3f}s {}\n", d.id.substr(0, 12), runner::state_name(d.state), d.attempts, d.secs, files);
	}
	return 0;
}

int cmd_logs(Args &args)
{
	auto job = args.value('j', "job");
	auto pipeline = args.value('p', "pipeline");
	auto datum = args.value(0, "datum");
	auto r = args.rest(0, 1);
	if (!r.empty()) {
		if (job || pipeline)
			args.usage_error("name the pipeline once: pach logs <pipeline> or --pipeline <pipeline>");
		pipeline = r[0];
	}
	Store &s = args.store();
	runner::JobRecord j;
	if (job) {
		j = runner::find_job(s, *job);
	} else if (pipeline) {
		auto l = runner::last_job(s, *pipeline);
		if (!l)
			die("pipeline '{}' has no jobs yet", *pipeline);
		j = *l;
	} else {
		args.usage_error("give --job or --pipeline");
	}
	bool any = false;
	for (auto &d : j.datums) {
		if (datum && d.id.compare(0, datum->size(), *datum) != 0)
			continue;
		any = true;
		if (!d.log)
			continue;
		if (!datum)
			fmt::print("==> datum {} ({}) <==\n", d.id.substr(0, 12), runner::state_name(d.state));
		fflush(stdout);
		porcelain::cat_blob(s, *d.log, 1, "standard output");
	}
	if (datum && !any)
		die("datum '{}' not found in job {}", *datum, j.id.substr(0, 12));
	return 0;
}

} // namespace pach::cmd
