#include "cmd/cmd.h"
#include "plumbing/json.h"
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
		Json o;
		o.begin_object().field("bytes_before", (uint64_t)rep.before).field("bytes_after", (uint64_t)rep.after);
		o.field("bytes_freed", freed).field("objects_kept", (uint64_t)rep.kept);
		o.field("objects_removed", (uint64_t)rep.removed).field("packs_before", (uint64_t)rep.packs_before);
		fmt::print("{}\n", o.field("packs_after", (uint64_t)rep.packs_after).end_object().text());
		return 0;
	}
	fmt::print("kept {} objects in {} pack(s) (was {}); removed {} unreachable or duplicate; freed {}\n", rep.kept,
		   rep.packs_after, rep.packs_before, rep.removed, human_bytes(freed));
	return 0;
}

} // namespace pach::cmd
