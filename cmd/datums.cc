#include "cmd/cmd.h"
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
	if (args.json)
		fmt::print("[");
	for (auto &spec : pr.specs) {
		// A preview over a repo that is not there says so, rather than
		// showing no datums as if the repo were empty.
		for (auto &[input, repo] : runner::input_repos(spec))
			if (!repo_exists(s, repo))
				warning(fmt::format("pipeline '{}': input repo '{}' does not exist (no datums from it)", spec.name,
						    repo));
		auto commits = runner::resolve_inputs(s, spec);
		auto datums = runner::compute_datums(s, spec.input, commits);
		if (args.json) {
			fmt::print("{}{{\"pipeline\":{},\"datums\":[", first_spec ? "" : ",", json_str(spec.name));
			for (size_t i = 0; i < datums.size(); i++) {
				fmt::print("{}{{\"id\":\"{}\",\"files\":[", i ? "," : "", datums[i].id());
				for (size_t j = 0; j < datums[i].files.size(); j++) {
					auto &df = datums[i].files[j];
					fmt::print("{}{{\"input\":{},\"repo\":{},\"path\":{},\"oid\":\"{}\"}}", j ? "," : "",
						   json_str(df.input), json_str(df.repo), json_str(df.path), df.entry.oid.hex());
				}
				fmt::print("]}}");
			}
			fmt::print("]}}");
		} else {
			if (pr.specs.size() > 1)
				fmt::print("{}{}:\n", first_spec ? "" : "\n", spec.name);
			for (auto &d : datums) {
				std::string files;
				for (auto &df : d.files)
					files += (files.empty() ? "" : " ") + df.input + ":" + df.path +
						 (df.entry.is_dir() && df.path != "/" ? "/" : "");
				fmt::print("{} {}\n", d.id().substr(0, 12), files);
			}
			fmt::print("{} datum{}\n", datums.size(), datums.size() == 1 ? "" : "s");
		}
		first_spec = false;
	}
	if (args.json)
		fmt::print("]\n");
	return 0;
}

} // namespace pach::cmd
