#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "porcelain/pipeline.h"
#include "porcelain/repo.h"

namespace pach::cmd {

extern const char *const kUsage_repo =
	"usage: pach repo create <name> [-d <description>]\n"
	"   or: pach repo list [--json]\n"
	"   or: pach repo inspect <name> [--json]\n"
	"   or: pach repo delete <name> [--force]\n";

static void repo_json(Json &o, const porcelain::RepoDetails &d)
{
	o.begin_object().field("name", d.info.name).field("created", iso_time(d.info.created));
	o.field("description", d.info.description).key("branches").begin_array();
	for (auto &b : d.branches)
		o.begin_object().field("name", b.name).field("head", b.head).end_object();
	o.end_array().end_object();
}

int cmd_repo(Args &args)
{
	auto desc = args.value('d', "description");
	bool force = args.flag('f', "force");
	auto r = args.rest(1, 2);
	const std::string &sub = r[0];
	auto name = [&]() -> const std::string & {
		if (r.size() < 2)
			args.usage_error("'repo " + sub + "' needs a repo name");
		return r[1];
	};
	if (sub == "create") {
		porcelain::repo_create(args.store(), name(), desc.value_or(""));
		if (!args.json)
			fmt::print("created repo '{}'\n", r[1]);
		return 0;
	}
	if (sub == "list") {
		if (r.size() > 1)
			args.usage_error("too many arguments");
		auto repos = porcelain::repo_list(args.store());
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &d : repos)
				repo_json(o, d);
			fmt::print("{}\n", o.end_array().text());
			return 0;
		}
		fmt::print("{:<24} {:<20} {:>8}  {}\n", "NAME", "CREATED", "BRANCHES", "DESCRIPTION");
		for (auto &d : repos)
			fmt::print("{:<24} {:<20} {:>8}  {}\n", d.info.name, iso_time(d.info.created), d.branches.size(),
				   d.info.description);
		return 0;
	}
	if (sub == "inspect") {
		auto d = porcelain::repo_inspect(args.store(), name());
		if (args.json) {
			Json o;
			repo_json(o, d);
			fmt::print("{}\n", o.text());
			return 0;
		}
		fmt::print("Name: {}\nCreated: {}\n", d.info.name, iso_time(d.info.created));
		if (!d.info.description.empty())
			fmt::print("Description: {}\n", d.info.description);
		fmt::print("Branches:\n");
		for (auto &b : d.branches)
			fmt::print("  {:<20} {}\n", b.name, b.head.hex());
		return 0;
	}
	if (sub == "delete") {
		// Pipelines reading it are named: without --force the delete is
		// refused; with it, their next run fails until it is back.
		std::string readers;
		for (auto &p : porcelain::pipeline_list(args.store()))
			for (auto &[input, repo] : runner::input_repos(p.spec))
				if (repo == name() && readers.find("'" + p.spec.name + "'") == std::string::npos)
					readers += (readers.empty() ? "'" : ", '") + p.spec.name + "'";
		if (!readers.empty() && !force)
			die("repo '{}' is read by pipeline(s) {}: delete or update them first, or use --force", name(), readers);
		porcelain::repo_delete(args.store(), name(), force);
		if (!readers.empty())
			warning(fmt::format("pipeline(s) {} read repo '{}': their runs fail until it exists again", readers, name()));
		fmt::print("deleted repo '{}'\n", r[1]);
		return 0;
	}
	args.usage_error("unknown subcommand '" + sub + "'");
}

} // namespace pach::cmd
