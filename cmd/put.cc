#include "cmd/cmd.h"
#include "porcelain/commit.h"

namespace pach::cmd {

void print_commit_result(Args &args, const porcelain::CommitResult &r);

extern const char *const kUsage_put =
	"usage: pach put <repo>[@<branch>][:/<path>] <src>... [-m <msg>] [--json]\n"
	"   or: pach put <repo>[@<branch>]:/<file> - [-m <msg>] [--json]\n\n"
	"Add or overwrite files and directories (never deletes), in one commit.\n"
	"One directory source is merged into <path>; one file source is stored at\n"
	"<path>, or inside it when <path> is an existing directory.  With several\n"
	"sources, or a <path> ending in '/', each goes into <path> under its own\n"
	"name.  '-' reads standard input into <file>.\n";

int cmd_put(Args &args)
{
	porcelain::CommitOptions o;
	o.message = args.value('m', "message").value_or("");
	o.jobs = args.int_value('j', "jobs", 0);
	auto r = args.rest(2);
	Address a = parse_address(r[0]);
	std::vector<std::string> srcs(r.begin() + 1, r.end());
	print_commit_result(args, porcelain::put_paths(args.store(), a, srcs, o));
	return 0;
}

} // namespace pach::cmd
