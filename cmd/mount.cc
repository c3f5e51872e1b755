#include "cmd/cmd.h"
#include "mount/mount.h"

#include <unistd.h>

namespace pach::cmd {

extern const char *const kUsage_mount =
	"usage: pach mount <dir> [<repo>[@<branch>|@<commit>]...] [--foreground]\n\n"
	"Show every repo, branch and commit as files: <dir>/<repo>/<branch>/...\n"
	"(following the branch) and <dir>/<repo>/@<commit>/... (any commit id\n"
	"prefix of 4+ digits).  Read-only.  Runs in the background until\n"
	"'pach unmount <dir>'.\n\n"
	"    --foreground    stay in the foreground (Ctrl-C unmounts)\n";

extern const char *const kUsage_unmount =
	"usage: pach unmount <dir>\n\n"
	"Unmount a pach mount (also one whose process died).  A mount still in\n"
	"use is reported and left alone.\n";

int cmd_mount(Args &args)
{
	mount::Options o;
	o.foreground = args.flag('f', "foreground");
	if (args.flag('w', "write"))
		die("writable mounts (-w) are not available yet; the mount is read-only");
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
	auto r = args.rest(1, 1);
	mount::unmount(r[0]);
	return 0;
}

} // namespace pach::cmd
