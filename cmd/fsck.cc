#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/progress.h"
#include "porcelain/maint.h"

namespace pach::cmd {

extern const char *const kUsage_fsck =
	"usage: pach fsck [--json]\n\n"
	"Verify every pack's checksum and every reachable object's content.\n"
	"Exits 1 when anything is wrong.\n";

int cmd_fsck(Args &args)
{
	args.rest(0, 0);
	auto rep = porcelain::fsck(args.store());
	if (args.json) {
		Json o;
		o.begin_object().field("ok", rep.errors.empty()).field("objects", (uint64_t)rep.objects);
		o.field("packs", (uint64_t)rep.packs).field("bytes", (uint64_t)rep.bytes).key("errors").begin_array();
		for (auto &e : rep.errors)
			o.str(e);
		fmt::print("{}\n", o.end_array().end_object().text());
	} else {
		for (auto &e : rep.errors)
			fmt::print(stderr, "error: {}\n", e);
		fmt::print("checked {} objects ({}) in {} packs: {}\n", rep.objects, human_bytes(rep.bytes), rep.packs,
			   rep.errors.empty() ? "ok" : fmt::format("{} error(s)", rep.errors.size()));
	}
	return rep.errors.empty() ? 0 : 1;
}

} // namespace pach::cmd
