#include "cmd/cmd.h"
#include "mount/mount.h"

#include <unistd.h>

namespace pach::cmd {

extern const char *const kUsage_mount =
	"usage: pach mount <dir> [<repo>[@<branch>|@<commit>]...] [-w] [--foreground]\n"
	"   or: pach mount --commit <dir> [-m <message>]\n\n"
	"Show every repo, branch and commit as files: <dir>/<repo>/<branch>/...\n"
	"(following the branch) and <dir>/<repo>/@<commit>/... (any commit id\n"
	"prefix of 4+ digits).  Read-only unless -w: then branches take writes,\n"
	"staged on disk, committed by 'pach unmount' or 'pach mount --commit'.\n"
	"Runs in the background until 'pach unmount <dir>'.\n\n"
	"    -w, --write       branches are writable\n"
	"    --commit          commit what a writable mount staged, and stay mounted\n"
	"    -m <message>      the commit message (with --commit)\n"
	"    --foreground      stay in the foreground (Ctrl-C unmounts)\n";

extern const char *const kUsage_unmount =
	"usage: pach unmount <dir> [-m <message>]\n\n"
	"Unmount a pach mount (also one whose process died) and commit what a\n"
	"writable mount staged, one commit per branch.  A mount still in use is\n"
	"reported and left alone.\n";

static void report(const mount::CommitReport &rep)
{
	for (auto &w : rep.warnings)
		fmt::print(stderr, "warning: {}\n", w);
	for (auto &l : rep.committed)
		fmt::print("committed {}\n", l);
}

int cmd_mount(Args &args)
{
	mount::Options o;
	o.foreground = args.flag('f', "foreground");
	o.writable = args.flag('w', "write");
	bool commit = args.flag(0, "commit");
	std::string msg = args.value('m', "message").value_or("");
	if (commit) {
		auto r = args.rest(1, 1);
		std::string gd = mount::mounted_store(r[0]);
		Store s(gd.empty() ? args.store().git_dir() : gd);
		auto rep = mount::commit_staged(s, r[0], msg);
		report(rep);
		if (rep.committed.empty())
			fmt::print("nothing staged under '{}'\n", r[0]);
		return 0;
	}
	if (!msg.empty())
		args.usage_error("-m goes with --commit");
	auto r = args.rest(1);
	// The mount outlives this command: it must not keep the descriptors
	// it inherited (a caller's pipe would never see end-of-file).
	if (!o.foreground)
		close_range(3, ~0U, 0);
	o.dir = r[0];
	o.only.assign(r.begin() + 1, r.end());
	return mount::serve(args.store(), o);
}

int cmd_unmount(Args &args)
{
	std::string msg = args.value('m', "message").value_or("");
	auto r = args.rest(1, 1);
	std::string gd = mount::mounted_store(r[0]);
	mount::unmount(r[0]);
	// What a writable mount staged becomes commits once nothing writes.
	std::unique_ptr<Store> s;
	if (!gd.empty())
		s = std::make_unique<Store>(gd);
	else if (!args.c_dir.empty() || getenv("PACH_DIR"))
		s = std::make_unique<Store>(args.store().git_dir());
	if (s)
		report(mount::commit_staged(*s, r[0], msg));
	return 0;
}

} // namespace pach::cmd
