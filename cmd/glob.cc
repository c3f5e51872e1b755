#include "cmd/cmd.h"
#include "plumbing/json.h"
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
		Json o;
		o.begin_array();
		for (auto &f : m)
			o.begin_object().field("path", f.path).field("type", f.e.is_dir() ? "dir" : "file").field("oid", f.e.oid)
				.end_object();
		fmt::print("{}\n", o.end_array().text());
		return 0;
	}
	for (auto &f : m)
		fmt::print("{}\n", quote_path(f.path));
	return 0;
}

} // namespace pach::cmd
