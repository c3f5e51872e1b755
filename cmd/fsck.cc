#include "cmd/cmd.h"
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
		std::string errs = "[";
		for (size_t i = 0; i < rep.errors.size(); i++)
			errs += (i ? "," : "") + json_str(rep.errors[i]);
		fmt::print("{{\"ok\":{},\"objects\":{},\"packs\":{},\"bytes\":{},\"errors\":{}]}}\n",
			   rep.errors.empty() ? "true" : "false", rep.objects, rep.packs, rep.bytes, errs);
	} else {
		for (auto &e : rep.errors)
			fmt::print(stderr, "error: {}\n", e);
		fmt::print("checked {} objects ({}) in {} packs: {}\n", rep.objects, human_bytes(rep.bytes), rep.packs,
			   rep.errors.empty() ? "ok" : fmt::format("{} error(s)", rep.errors.size()));
	}
	return rep.errors.empty() ? 0 : 1;
}

} // namespace pach::cmd
