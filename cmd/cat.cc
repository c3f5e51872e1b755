#include "cmd/cmd.h"
#include "porcelain/files.h"

#include <cstdio>

namespace pach::cmd {

extern const char *const kUsage_cat =
	"usage: pach cat <repo>[@<ref>]:/<path>\n\nWrite a file's content to standard output (streamed).\n";

int cmd_cat(Args &args)
{
	auto r = args.rest(1, 1);
	Address a = parse_address(r[0]);
	if (!a.has_path)
		die("'{}' names no file; use {}@{}:/path", r[0], a.repo, a.branch_or_default());
	fflush(stdout);
	porcelain::cat(args.store(), a, 1);
	return 0;
}

} // namespace pach::cmd
