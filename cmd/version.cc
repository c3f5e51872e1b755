#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/lg2.h"

namespace pach::cmd {

extern const char *const kUsage_version = "usage: pach version [--json]\n";

int cmd_version(Args &args)
{
	args.rest(0, 0);
	if (args.json)
		fmt::print("{}\n", Json().begin_object().field("version", "0.1.0").field("libgit2", libgit2_version()).end_object().text());
	else
		fmt::print("pach version 0.1.0 (libgit2 {})\n", libgit2_version());
	return 0;
}

} // namespace pach::cmd
