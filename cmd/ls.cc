#include "cmd/cmd.h"
#include "plumbing/quote.h"
#include "porcelain/files.h"

namespace pach::cmd {

extern const char *const kUsage_ls =
	"usage: pach ls <repo>[@<ref>][:/<path>] [-r] [-l] [--json]\n\n"
	"    -r, --recursive   list every file below the path\n"
	"    -l, --long        mode, type, object id and size\n";

static const char *kind(const TreeEntry &e)
{
	return e.is_dir() ? "dir" : e.mode == kModeLink ? "symlink" : "file";
}

int cmd_ls(Args &args)
{
	bool rec = args.flag('r', "recursive");
	bool lng = args.flag('l', "long");
	auto r = args.rest(1, 1);
	Address a = parse_address(r[0]);
	auto entries = porcelain::ls(args.store(), a, rec, lng || args.json);
	if (args.json) {
		fmt::print("[");
		for (size_t i = 0; i < entries.size(); i++) {
			auto &f = entries[i];
			fmt::print("{}{{\"path\":{},\"type\":\"{}\",\"mode\":\"{:06o}\",\"oid\":\"{}\",\"size\":{}}}", i ? "," : "",
				   json_str(f.path), kind(f.e), f.e.mode, f.e.oid.hex(), f.size);
		}
		fmt::print("]\n");
		return 0;
	}
	for (auto &f : entries) {
		std::string shown = quote_path(f.path + (f.e.is_dir() ? "/" : ""));
		if (lng)
			fmt::print("{:06o} {:<7} {} {:>12} {}\n", f.e.mode, kind(f.e), f.e.oid.hex(),
				   f.e.is_dir() ? std::string("-") : std::to_string(f.size), shown);
		else
			fmt::print("{}\n", shown);
	}
	return 0;
}

} // namespace pach::cmd
