#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/address.h"
#include "porcelain/repo.h"

namespace pach::cmd {

extern const char *const kUsage_branch =
	"usage: pach branch <repo> [--json]                 list branches\n"
	"   or: pach branch <repo> <name> [<start>]         create (default start: master)\n"
	"   or: pach branch -d <repo> <name>                delete\n";

int cmd_branch(Args &args)
{
	bool del = args.flag('d', "delete");
	auto r = args.rest(1, 3);
	check_repo_name(r[0]);
	Store &s = args.store();
	if (del) {
		if (r.size() != 2)
			args.usage_error("'branch -d' takes a repo and a branch");
		porcelain::branch_delete(s, r[0], r[1]);
		fmt::print("deleted branch '{}' of repo '{}'\n", r[1], r[0]);
		return 0;
	}
	if (r.size() >= 2) {
		Oid at = porcelain::branch_create(s, r[0], r[1], r.size() == 3 ? r[2] : "");
		fmt::print("created branch '{}' at {}\n", r[1], at.hex());
		return 0;
	}
	auto d = porcelain::repo_inspect(s, r[0]);
	if (args.json) {
		Json o;
		o.begin_array();
		for (auto &b : d.branches)
			o.begin_object().field("name", b.name).field("head", b.head).field("date", iso_time(b.time)).end_object();
		fmt::print("{}\n", o.end_array().text());
		return 0;
	}
	for (auto &b : d.branches)
		fmt::print("{:<24} {} {}\n", b.name, short_oid(b.head), iso_time(b.time));
	return 0;
}

} // namespace pach::cmd
