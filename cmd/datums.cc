#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/meta.h"
#include "runner/datum.h"

namespace pach::cmd {

extern const char *const kUsage_datums =
	"usage: pach datums -f <file> [--json]\n\n"
	"Preview the datums of a pipeline spec against the current heads of its\n"
	"input branches, without running anything.\n";

int cmd_datums(Args &args)
{
	auto f = args.value('f', "file");
	args.rest(0, 0);
	if (!f)
		args.usage_error("'datums' needs -f <file>");
	auto pr = runner::parse_spec_file(*f);
	for (auto &w : pr.warnings)
		fmt::print(stderr, "{}\n", w);
	Store &s = args.store();
	bool first_spec = true;
	Json o;
	o.begin_array();
	for (auto &spec : pr.specs) {
		// A preview over a repo that is not there says so, rather than
		// showing no datums as if the repo were empty.
		for (auto &[input, repo] : runner::input_repos(spec))
			if (!repo_exists(s, repo))
				warning(fmt::format("pipeline '{}': input repo '{}' does not exist (no datums from it)", spec.name,
						    repo));
		auto commits = runner::resolve_inputs(s, spec);
		// Printed as they are found: a glob over millions of files
		// lists in the memory of a tree walk (runner/datum.h).
		size_t n = 0;
		if (args.json)
			o.begin_object().field("pipeline", spec.name).key("datums").begin_array();
		else if (pr.specs.size() > 1)
			fmt::print("{}{}:\n", first_spec ? "" : "\n", spec.name);
		runner::for_each_datum(s, spec.input, commits, [&](runner::Datum &&d) {
			n++;
			if (args.json) {
				o.begin_object().field("id", d.id()).key("files").begin_array();
				for (auto &df : d.files)
					o.begin_object().field("input", df.input).field("repo", df.repo).field("path", df.path)
						.field("oid", df.entry.oid).end_object();
				o.end_array().end_object();
				o.flush(stdout);
				return;
			}
			std::string files;
			for (auto &df : d.files)
				files += (files.empty() ? "" : " ") + df.input + ":" + df.path +
					 (df.entry.is_dir() && df.path != "/" ? "/" : "");
			fmt::print("{} {}\n", d.id().substr(0, 12), files);
		});
		if (args.json)
			o.end_array().end_object();
		else
			fmt::print("{} datum{}\n", n, n == 1 ? "" : "s");
		first_spec = false;
	}
	if (args.json) {
		o.end_array().flush(stdout);
		putchar('\n');
	}
	return 0;
}

} // namespace pach::cmd
