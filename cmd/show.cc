#include "cmd/cmd.h"
#include "plumbing/address.h"
#include "porcelain/history.h"

namespace pach::cmd {

std::string commit_json(const CommitInfo &c);
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
		std::string ch = "[";
		for (size_t i = 0; i < changes.size(); i++)
			ch += fmt::format("{}{{\"status\":\"{}\",\"path\":{}}}", i ? "," : "", changes[i].status,
					  json_str("/" + changes[i].path));
		ch += "]";
		std::string cj = commit_json(c);
		cj.pop_back();
		fmt::print("{},\"changes\":{}}}\n", cj, ch);
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
