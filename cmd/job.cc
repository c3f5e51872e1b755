#include "cmd/cmd.h"
#include "plumbing/json.h"
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

static void datum_json(Json &o, const runner::DatumRecord &d)
{
	o.begin_object().field("id", d.id).field("hash", d.hash).field("state", runner::state_name(d.state));
	o.field("attempts", d.attempts).key("seconds").fixed(d.secs, 3);
	o.field("output_tree", d.out_tree ? std::optional<std::string>(d.out_tree->hex()) : std::nullopt);
	o.key("files").begin_array();
	for (auto &f : d.files)
		o.str(f);
	o.end_array().end_object();
}

static void job_json(Json &o, const runner::JobRecord &j, bool with_datums)
{
	o.begin_object().field("id", j.id).field("pipeline", j.pipeline).field("state", runner::state_name(j.state));
	o.field("started", iso_time(j.started)).field("finished", iso_time(j.finished));
	o.field("datums", (uint64_t)j.datum_count()).field("processed", (uint64_t)j.ran());
	o.field("skipped", (uint64_t)j.count(runner::DatumState::skipped));
	o.field("failed", (uint64_t)j.count(runner::DatumState::failed));
	o.field("output", j.output ? std::optional<std::string>(j.output->hex()) : std::nullopt).field("error", j.error);
	o.key("inputs").begin_object();
	for (auto &[k, v] : j.inputs)
		o.field(k, v);
	o.end_object();
	if (with_datums) {
		o.key("datum_list").begin_array();
		for (auto &d : j.datums)
			datum_json(o, d);
		o.end_array();
	}
	o.end_object();
}

int cmd_job(Args &args)
{
	auto r = args.rest(1, 2);
	Store &s = args.store();
	if (r[0] == "list") {
		auto jobs = r.size() > 1 ? runner::list_jobs(s, r[1]) : runner::list_all_jobs(s);
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &j : jobs)
				job_json(o, j, false);
			fmt::print("{}\n", o.end_array().text());
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
			Json o;
			job_json(o, j, true);
			fmt::print("{}\n", o.text());
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
		Json o;
		o.begin_array();
		for (auto &d : j.datums)
			datum_json(o, d);
		fmt::print("{}\n", o.end_array().text());
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
