#include "cmd/cmd.h"
#include "serve/stats.h"

namespace pach::cmd {

extern const char *const kUsage_stats =
	"usage: pach stats [--json]\n"
	"   or: pach stats --usage-payload\n\n"
	"Show the store's figures: storage per repo, and per pipeline its jobs,\n"
	"datums by state and datum throughput by day.  `pach serve` exports the\n"
	"same at /metrics.\n\n"
	"    --json            as one JSON object\n"
	"    --usage-payload   print the usage report that would be sent to\n"
	"                      metrics.url, and whether it would be sent\n";

int cmd_stats(Args &args)
{
	bool payload = args.flag(0, "usage-payload");
	args.rest(0, 0);
	Store &s = args.store();
	serve::StatsCollector c(s);
	serve::StoreStats st = c.collect();
	if (payload) {
		std::string why;
		std::string url = serve::usage_url(s, &why);
		fmt::print("{}\n", serve::usage_payload(s, st));
		if (url.empty())
			fmt::print(stderr, "not sent: {}\n", why);
		else
			fmt::print(stderr, "sent by 'pach serve' to {} at start and every 24 hours\n", url);
		return 0;
	}
	if (args.json)
		fmt::print("{}\n", serve::stats_json(st));
	else
		fmt::print("{}", serve::stats_text(st));
	return 0;
}

} // namespace pach::cmd
