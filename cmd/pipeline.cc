#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "porcelain/pipeline.h"

#include <cstdio>
#include <functional>

namespace pach::cmd {

extern const char *const kUsage_pipeline =
	"usage: pach pipeline create -f <file>...\n"
	"   or: pach pipeline update -f <file>... [--keep-outputs]\n"
	"   or: pach pipeline list [--json]\n"
	"   or: pach pipeline inspect <name> [--json]\n"
	"   or: pach pipeline delete <name>\n"
	"   or: pach pipeline draw\n\n"
	"Pipeline specs use Pachyderm's field names (YAML or JSON, several\n"
	"documents per file; '-' reads standard input).\n\n"
	"    -f, --file <file>   spec file (repeatable)\n"
	"    --keep-outputs      on update: keep the outputs of unchanged datums\n"
	"                        even though the transform changed\n";

static std::string input_desc(const runner::Input &in)
{
	switch (in.kind) {
	case runner::Input::pfs: return in.pfs_in.repo + "@" + in.pfs_in.branch + ":" + in.pfs_in.glob;
	case runner::Input::cron: return "cron(" + in.cron_in.spec + ")";
	default: {
		const char *k = in.kind == runner::Input::cross ? "cross" : in.kind == runner::Input::union_ ? "union"
								       : in.kind == runner::Input::join    ? "join"
													     : "group";
		std::string s = std::string(k) + "(";
		for (size_t i = 0; i < in.children.size(); i++)
			s += (i ? ", " : "") + input_desc(in.children[i]);
		return s + ")";
	}
	}
}

int cmd_pipeline(Args &args)
{
	std::vector<std::string> files = args.values('f', "file");
	bool keep = args.flag(0, "keep-outputs");
	auto r = args.rest(1, 2);
	const std::string &sub = r[0];
	Store &s = args.store();
	if (sub == "create" || sub == "update") {
		if (files.empty())
			args.usage_error("'pipeline " + sub + "' needs -f <file>");
		if (keep && sub == "create")
			args.usage_error("--keep-outputs is for 'pipeline update'");
		std::vector<runner::PipelineSpec> specs;
		std::vector<std::string> warnings;
		for (auto &f : files) {
			auto pr = runner::parse_spec_file(f);
			warnings.insert(warnings.end(), pr.warnings.begin(), pr.warnings.end());
			specs.insert(specs.end(), pr.specs.begin(), pr.specs.end());
		}
		porcelain::pipeline_save(s, specs, sub == "update", keep);
		// Only once the specs are in: a refused spec gets its one error line.
		for (auto &w : warnings)
			fmt::print(stderr, "{}\n", w);
		for (auto &sp : specs)
			fmt::print("{} pipeline '{}'\n", sub == "create" ? "created" : "updated", sp.name);
		return 0;
	}
	if (sub == "list") {
		auto ps = porcelain::pipeline_list(s);
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &p : ps)
				o.begin_object().field("name", p.spec.name).field("input", input_desc(p.spec.input))
					.field("output_branch", p.spec.output_branch).field("description", p.spec.description)
					.end_object();
			fmt::print("{}\n", o.end_array().text());
			return 0;
		}
		fmt::print("{:<24} {:<40} {}\n", "NAME", "INPUT", "DESCRIPTION");
		for (auto &p : ps)
			fmt::print("{:<24} {:<40} {}\n", p.spec.name, input_desc(p.spec.input), p.spec.description);
		return 0;
	}
	if (sub == "inspect") {
		if (r.size() < 2)
			args.usage_error("'pipeline inspect' needs a name");
		auto p = porcelain::pipeline_get(s, r[1]);
		if (!p)
			die("pipeline '{}' not found", r[1]);
		auto hist = porcelain::pipeline_history(s, r[1]);
		if (args.json) {
			Json o;
			o.begin_object().field("name", p->spec.name).field("input", input_desc(p->spec.input));
			o.field("transform_hash", p->salt).field("spec", p->spec.source).key("history").begin_array();
			for (size_t i = 0; i < hist.size(); i++)
				o.begin_object().field("version", (uint64_t)(hist.size() - i)).field("meta_commit", hist[i].meta_commit)
					.field("date", iso_time(hist[i].when)).end_object();
			fmt::print("{}\n", o.end_array().end_object().text());
			return 0;
		}
		fmt::print("Name: {}\n", p->spec.name);
		if (!p->spec.description.empty())
			fmt::print("Description: {}\n", p->spec.description);
		fmt::print("Input: {}\nOutput: {}@{}\nTransform hash: {}\nVersions:\n", input_desc(p->spec.input),
			   p->spec.name, p->spec.output_branch, p->salt);
		for (size_t i = 0; i < hist.size(); i++)
			fmt::print("  v{}  {}  {}  {}\n", hist.size() - i, iso_time(hist[i].when),
				   short_oid(hist[i].meta_commit), first_line(hist[i].message));
		fmt::print("Spec:\n{}", runner::readable_yaml(p->spec.source));
		return 0;
	}
	if (sub == "delete") {
		if (r.size() < 2)
			args.usage_error("'pipeline delete' needs a name");
		porcelain::pipeline_delete(s, r[1]);
		fmt::print("deleted pipeline '{}' (its output repo '{}' is kept)\n", r[1], r[1]);
		return 0;
	}
	if (sub == "draw") {
		auto ps = porcelain::pipelines_in_dag_order(s);
		if (ps.empty()) {
			fmt::print("no pipelines\n");
			return 0;
		}
		for (auto &p : ps) {
			std::string ins;
			for (auto &[input, repo] : runner::input_repos(p.spec))
				ins += (ins.empty() ? "" : ", ") + repo;
			fmt::print("{} --> [{}] --> {}@{}\n", ins, p.spec.name, p.spec.name, p.spec.output_branch);
		}
		return 0;
	}
	args.usage_error("unknown subcommand '" + sub + "'");
}

} // namespace pach::cmd
