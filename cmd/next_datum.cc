#include "cmd/cmd.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <unistd.h>

namespace pach::cmd {

extern const char *const kUsage_next_datum =
	"usage: pach next-datum [--error <message>]\n\n"
	"In user code of a pipeline with transform.datum_batching: say the datum\n"
	"at /pfs is done (or failed, with --error), wait until the next one is\n"
	"there, and print its environment as export lines for the shell:\n\n"
	"    while eval \"$(pach next-datum)\"; do ...; done\n\n"
	"    --error <message>  the datum failed; <message> goes to its log\n";

int cmd_next_datum(Args &args)
{
	auto err = args.value(0, "error");
	args.rest(0, 0);
	const char *dir = getenv("PACH_NEXT_DATUM");
	if (!dir || !*dir)
		die("not in a datum batch: $PACH_NEXT_DATUM is not set (see transform.datum_batching in pach-pipeline(1))");
	std::string msg = "ok\n";
	if (err) {
		std::string m = *err;
		for (char &c : m)
			if (c == '\n' || c == '\r')
				c = ' ';
		msg = "error " + m.substr(0, 4096) + "\n";
	}
	std::string next = std::string(dir) + "/next", ready = std::string(dir) + "/ready";
	{
		Fd w(::open(next.c_str(), O_WRONLY | O_CLOEXEC));
		if (!w)
			die_errno("unable to open '" + next + "'");
		write_full(w.get(), msg.data(), msg.size(), next);
	}
	// Blocks until pach has laid the next datum out (or stops us).
	Fd r(::open(ready.c_str(), O_RDONLY | O_CLOEXEC));
	if (!r)
		die_errno("unable to open '" + ready + "'");
	char buf[1 << 16];
	for (;;) {
		ssize_t n = ::read(r.get(), buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("unable to read '" + ready + "'");
		if (n == 0)
			break;
		write_full(1, buf, (size_t)n, "standard output");
	}
	return 0;
}

} // namespace pach::cmd
