#include "cmd/cmd.h"

#include <git2.h>

namespace pach::cmd {

extern const char *const kUsage_version = "usage: pach version [--json]\n";

int cmd_version(Args &args)
{
	args.rest(0, 0);
	int maj, min, rev;
	git_libgit2_version(&maj, &min, &rev);
	if (args.json)
		fmt::print("{{\"version\":\"0.1.0\",\"libgit2\":\"{}.{}.{}\"}}\n", maj, min, rev);
	else
		fmt::print("pach version 0.1.0 (libgit2 {}.{}.{})\n", maj, min, rev);
	return 0;
}

} // namespace pach::cmd
