#include "cmd/cmd.h"
#include "plumbing/progress.h"
#include "porcelain/maint.h"

namespace pach::cmd {

extern const char *const kUsage_gc =
	"usage: pach gc [--json]\n\n"
	"Repack reachable objects, delete unreachable ones and temporary files,\n"
	"and report the disk space freed.\n";

int cmd_gc(Args &args)
{
	args.rest(0, 0);
	auto rep = porcelain::gc(args.store());
	uint64_t freed = rep.before > rep.after ? rep.before - rep.after : 0;
	if (args.json) {
		fmt::print("{{\"bytes_before\":{},\"bytes_after\":{},\"bytes_freed\":{},\"objects_kept\":{},"
			   "\"objects_removed\":{},\"packs_before\":{},\"packs_after\":{}}}\n",
			   rep.before, rep.after, freed, rep.kept, rep.removed, rep.packs_before, rep.packs_after);
		return 0;
	}
	fmt::print("kept {} objects in {} pack(s) (was {}); removed {} unreachable or duplicate; freed {}\n", rep.kept,
		   rep.packs_after, rep.packs_before, rep.removed, human_bytes(freed));
	return 0;
}

} // namespace pach::cmd
