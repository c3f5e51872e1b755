#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "plumbing/config.h"

namespace pach::cmd {

extern const char *const kUsage_config =
	"usage: pach config get <key> [--global]\n"
	"   or: pach config set <key> <value> [--global]\n"
	"   or: pach config unset <key> [--global]\n"
	"   or: pach config list [--global] [--json]\n\n"
	"Settings in git-config format: the store's .pach/config, or with --global\n"
	"the user's ~/.config/pach/config.  'get' and 'list' without --global see\n"
	"both, the store's winning.  Keys are section.name, e.g. pach.runtime.\n";

int cmd_config(Args &args)
{
	bool global = args.flag(0, "global");
	auto r = args.rest(1, 3);
	const std::string &verb = r[0];
	auto path = [&] {
		if (global) {
			std::string p = user_config_path();
			if (p.empty())
				die("no home directory for --global");
			return p;
		}
		return args.store().path("config");
	};
	if (verb == "get") {
		if (r.size() != 2)
			args.usage_error("'config get' takes a key");
		std::optional<std::string> v;
		if (global) {
			for (auto &[k, val] : config_list_file(path()))
				if (k == r[1])
					v = val;
		} else {
			v = config_get(&args.store(), r[1]);
		}
		if (!v)
			return 1;   // as git config: not set
		fmt::print("{}\n", redact_url(*v));
		return 0;
	}
	if (verb == "set") {
		if (r.size() != 3)
			args.usage_error("'config set' takes a key and a value");
		config_set_file(path(), r[1], r[2]);
		return 0;
	}
	if (verb == "unset") {
		if (r.size() != 2)
			args.usage_error("'config unset' takes a key");
		if (!config_unset_file(path(), r[1]))
			die("'{}' is not set", r[1]);
		return 0;
	}
	if (verb == "list") {
		if (r.size() != 1)
			args.usage_error("'config list' takes no more arguments");
		std::vector<std::pair<std::string, std::string>> all;
		std::vector<std::string> files;
		if (global) {
			files = {path()};
		} else {
			files = {user_config_path(), args.store().path("config")};
		}
		for (auto &f : files)
			if (!f.empty())
				for (auto &e : config_list_file(f))
					all.push_back({e.first, redact_url(e.second)});   // never echo a typed secret
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &[k, v] : all)
				o.begin_object().field("key", k).field("value", v).end_object();
			fmt::print("{}\n", o.end_array().text());
			return 0;
		}
		for (auto &[k, v] : all)
			fmt::print("{}={}\n", k, v);
		return 0;
	}
	args.usage_error("unknown subcommand '" + verb + "'");
}

} // namespace pach::cmd
