#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/lg2.h"
#include "plumbing/version.h"

namespace pach::cmd {

extern const char *const kUsage_version = "usage: pach version [--json]\n";

int cmd_version(Args &args)
{
	args.rest(0, 0);
	if (args.json)
		fmt::print("{}\n", Json().begin_object().field("version", kPachVersion).field("libgit2", libgit2_version()).end_object().text());
	else
		fmt::print("pach version {} (libgit2 {})\n", kPachVersion, libgit2_version());
	return 0;
}

} // namespace pach::cmd
