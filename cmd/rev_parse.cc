#include "cmd/cmd.h"

namespace pach::cmd {

Oid resolve_object(Store &s, const std::string &spec);

extern const char *const kUsage_rev_parse =
	"usage: pach rev-parse <object>...\n\n"
	"Print the full id of each pach address (repo@ref[:/path]) or git revision.\n";

int cmd_rev_parse(Args &args)
{
	auto r = args.rest(1);
	for (auto &x : r)
		fmt::print("{}\n", resolve_object(args.store(), x).hex());
	return 0;
}

} // namespace pach::cmd
