#include "cmd/cmd.h"
#include "plumbing/quote.h"
#include "porcelain/files.h"

namespace pach::cmd {

extern const char *const kUsage_glob =
	"usage: pach glob <repo>[@<ref>] <pattern> [--json]\n\n"
	"List the paths a Pachyderm glob pattern matches (each is one datum).\n";

int cmd_glob(Args &args)
{
	auto r = args.rest(2, 2);
	Address a = parse_address(r[0]);
	auto m = porcelain::glob(args.store(), a, r[1]);
	if (args.json) {
		fmt::print("[");
		for (size_t i = 0; i < m.size(); i++)
			fmt::print("{}{{\"path\":{},\"type\":\"{}\",\"oid\":\"{}\"}}", i ? "," : "", json_str(m[i].path),
				   m[i].e.is_dir() ? "dir" : "file", m[i].e.oid.hex());
		fmt::print("]\n");
		return 0;
	}
	for (auto &f : m)
		fmt::print("{}\n", quote_path(f.path));
	return 0;
}

} // namespace pach::cmd
