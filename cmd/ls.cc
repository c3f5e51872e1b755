#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "porcelain/files.h"

#include <cmath>

namespace pach::cmd {

extern const char *const kUsage_ls =
	"usage: pach ls <repo>[@<ref>][:/<path>] [-r] [-l] [-h] [--json]\n\n"
	"    -r, --recursive   list every file below the path\n"
	"    -l, --long        mode, type, object id and size\n"
	"    -h, --human-readable  the long listing, sizes as 1.5K, 20M, 3.1G\n";

// 1023, 1.5K, 20M, 3.1G: as ls -h (powers of 1024, one decimal under 10).
static std::string human(uint64_t n)
{
	const char *units = "KMGTPE";
	if (n < 1024)
		return std::to_string(n);
	double v = (double)n;
	int u = -1;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	return v < 10 ? fmt::format("{:.1f}{}", std::ceil(v * 10) / 10, units[u])
		      : fmt::format("{:.0f}{}", std::ceil(v), units[u]);
}

static const char *kind(const TreeEntry &e)
{
	return e.is_dir() ? "dir" : e.mode == kModeLink ? "symlink" : "file";
}

int cmd_ls(Args &args)
{
	bool rec = args.flag('r', "recursive");
	bool hum = args.flag('h', "human-readable");
	bool lng = args.flag('l', "long") || hum;
	auto r = args.rest(1, 1);
	Address a = parse_address(r[0]);
	auto entries = porcelain::ls(args.store(), a, rec, lng || args.json);
	if (args.json) {
		Json o;
		o.begin_array();
		for (auto &f : entries) {
			o.begin_object().field("path", f.path).field("type", kind(f.e)).field("mode", fmt::format("{:06o}", f.e.mode));
			o.field("oid", f.e.oid).field("size", (uint64_t)f.size).end_object();
			if (o.text().size() > (1 << 16))
				o.flush(stdout);
		}
		o.end_array().flush(stdout);
		putchar('\n');
		return 0;
	}
	for (auto &f : entries) {
		std::string shown = quote_path(f.path + (f.e.is_dir() ? "/" : ""));
		if (lng)
			fmt::print("{:06o} {:<7} {} {:>12} {}\n", f.e.mode, kind(f.e), f.e.oid.hex(),
				   f.e.is_dir() ? std::string("-") : hum ? human(f.size) : std::to_string(f.size), shown);
		else
			fmt::print("{}\n", shown);
	}
	return 0;
}

} // namespace pach::cmd
