#include "cmd/cmd.h"
#include "plumbing/fs.h"
#include "plumbing/json.h"
#include "plumbing/monitor.h"

#include <sys/stat.h>

namespace pach::cmd {

extern const char *const kUsage_monitor =
	"usage: pach monitor start <dir> [--json]\n"
	"   or: pach monitor stop <dir>\n"
	"   or: pach monitor status <dir> [--json]\n\n"
	"Watch a directory with inotify so that `pach commit <repo> <dir>` reads\n"
	"only the files that changed since its last commit of <dir>, instead of\n"
	"a stat of every file.  Off unless started; nothing else changes.\n";

static std::string watched_dir(Args &args, const std::string &d)
{
	struct stat st;
	if (stat(d.c_str(), &st) < 0)
		die_errno("unable to read '" + d + "'");
	if (!S_ISDIR(st.st_mode))
		die("'{}' is not a directory", d);
	std::string abs = absolute_path(d);
	if (abs == args.store().git_dir() || abs.compare(0, args.store().git_dir().size() + 1, args.store().git_dir() + "/") == 0)
		die("'{}' is inside the store itself", d);
	return abs;
}

int cmd_monitor(Args &args)
{
	auto pos = args.rest(2, 2);
	const std::string &sub = pos[0];
	if (sub != "start" && sub != "stop" && sub != "status")
		args.usage_error("unknown subcommand '" + sub + "'");
	std::string dir = watched_dir(args, pos[1]);
	Store &s = args.store();
	std::string addr = monitor_address(s.git_dir(), dir);
	if (sub == "start") {
		if (monitor_info(addr))
			die("a monitor already watches '{}' for this store", dir);
		pid_t pid = monitor_start(addr, dir);
		auto i = monitor_info(addr);
		if (args.json) {
			Json o;
			o.begin_object().field("dir", dir).field("pid", (uint64_t)pid);
			fmt::print("{}\n", o.field("watches", (uint64_t)(i ? i->watches : 0)).end_object().text());
		} else {
			fmt::print("monitoring '{}' (pid {}, {} directories)\n", dir, (long)pid, i ? i->watches : 0);
		}
		return 0;
	}
	if (sub == "stop") {
		if (!monitor_stop(addr))
			die("no monitor watches '{}' for this store", dir);
		if (!args.json)
			fmt::print("stopped monitoring '{}'\n", dir);
		return 0;
	}
	auto i = monitor_info(addr);
	if (args.json) {
		Json o;
		o.begin_object().field("dir", dir).field("running", i.has_value());
		if (i)
			o.field("pid", (uint64_t)i->pid).field("watches", i->watches).field("changed_paths", i->paths)
				.field("degraded", i->degraded);
		fmt::print("{}\n", o.end_object().text());
		return i ? 0 : 1;
	}
	if (!i) {
		fmt::print("no monitor watches '{}'\n", dir);
		return 1;
	}
	fmt::print("monitoring '{}' (pid {}, {} directories, {} paths changed since it started or forgot){}\n", dir,
		   (long)i->pid, i->watches, i->paths,
		   i->degraded ? "; degraded: too many directories to watch, every commit walks everything" : "");
	return 0;
}

} // namespace pach::cmd
