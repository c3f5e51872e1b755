#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/address.h"
#include "porcelain/history.h"

namespace pach::cmd {

Json &commit_json(Json &o, const CommitInfo &c);
void print_commit_header(const CommitInfo &c);

extern const char *const kUsage_show =
	"usage: pach show <repo>[@<ref>] [--json]\n\n"
	"Show a commit: id, parents, author, date, message and the paths it changed.\n";

int cmd_show(Args &args)
{
	auto r = args.rest(1, 1);
	Address a = parse_address(r[0]);
	Store &s = args.store();
	CommitInfo c = s.read_commit(resolve_commit(s, a));
	Oid base = c.parents.empty() ? empty_tree_oid() : s.read_commit(c.parents[0]).tree;
	auto changes = porcelain::diff_trees(s, base, c.tree);
	if (args.json) {
		Json o;
		commit_json(o.begin_object(), c).key("changes").begin_array();
		for (auto &ch : changes)
			o.begin_object().field("status", std::string(1, ch.status)).field("path", "/" + ch.path).end_object();
		fmt::print("{}\n", o.end_array().end_object().text());
		return 0;
	}
	print_commit_header(c);
	if (!c.parents.empty()) {
		fmt::print("\nParents:");
		for (auto &p : c.parents)
			fmt::print(" {}", p.hex());
		fmt::print("\n");
	}
	fmt::print("\n");
	for (auto &x : changes)
		fmt::print("{}\t/{}\n", x.status, x.path);
	fmt::print(" {} path{} changed\n", changes.size(), changes.size() == 1 ? "" : "s");
	return 0;
}

} // namespace pach::cmd
