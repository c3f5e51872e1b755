#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "porcelain/files.h"

namespace pach::cmd {

extern const char *const kUsage_get =
	"usage: pach get <repo>[@<ref>][:/<path>] <dest> [--json]\n\n"
	"Export a file or a directory tree to <dest>, keeping executable bits\n"
	"and symlinks.  Existing files are overwritten; nothing is deleted.\n";

int cmd_get(Args &args)
{
	auto r = args.rest(2, 2);
	Address a = parse_address(r[0]);
	auto st = porcelain::get(args.store(), a, r[1]);
	if (args.json)
		fmt::print("{}\n", Json().begin_object().field("files", (uint64_t)st.files).field("bytes", (uint64_t)st.bytes)
					    .end_object().text());
	return 0;
}

} // namespace pach::cmd
