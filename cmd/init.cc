#include "cmd/cmd.h"

namespace pach::cmd {

extern const char *const kUsage_init =
	"usage: pach init [<dir>]\n\n"
	"Create an empty store, <dir>/.pach (default: the current directory).\n";

int cmd_init(Args &args)
{
	auto r = args.rest(0, 1);
	std::string dir = r.empty() ? (args.c_dir.empty() ? "." : args.c_dir) : r[0];
	std::string gd = Store::init(dir);
	fmt::print("Initialized empty pach store in {}\n", gd);
	return 0;
}

} // namespace pach::cmd
