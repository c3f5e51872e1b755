#include "cmd/cmd.h"
#include "porcelain/commit.h"

namespace pach::cmd {

void print_commit_result(Args &args, const porcelain::CommitResult &r);

extern const char *const kUsage_rm =
	"usage: pach rm <repo>[@<branch>]:/<path>... [-r] [-m <msg>] [--json]\n\n"
	"Delete paths from a branch, in one commit.\n\n"
	"    -r, --recursive   allow removing directories\n";

int cmd_rm(Args &args)
{
	porcelain::CommitOptions o;
	o.message = args.value('m', "message").value_or("");
	bool rec = args.flag('r', "recursive");
	auto r = args.rest(1);
	std::vector<Address> paths;
	for (auto &x : r)
		paths.push_back(parse_address(x));
	print_commit_result(args, porcelain::rm_paths(args.store(), paths, rec, o));
	return 0;
}

} // namespace pach::cmd
