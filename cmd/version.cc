#include "cmd/cmd.h"
#include "plumbing/lg2.h"

namespace pach::cmd {

extern const char *const kUsage_version = "usage: pach version [--json]\n";

int cmd_version(Args &args)
{
	args.rest(0, 0);
	if (args.json)
		fmt::print("{{\"version\":\"0.1.0\",\"libgit2\":\"{}\"}}\n", libgit2_version());
	else
		fmt::print("pach version 0.1.0 (libgit2 {})\n", libgit2_version());
	return 0;
}

} // namespace pach::cmd
