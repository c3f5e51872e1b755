#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/address.h"
#include "porcelain/history.h"
#include "porcelain/worktree.h"

namespace pach::cmd {

extern const char *const kUsage_log =
	"usage: pach log [<repo>[@<ref>]] [-n <n>] [--oneline] [--json]\n\n"
	"History from <ref> (default: the branch's head), newest first.  In a work\n"
	"tree the repo may be left out: the log starts at the work tree's commit.\n";

// A commit's fields, into an object the caller opened (and closes).
Json &commit_json(Json &o, const CommitInfo &c)
{
	o.field("id", c.id).field("tree", c.tree).key("parents").begin_array();
	for (auto &p : c.parents)
		o.str(p.hex());
	o.end_array();
	for (auto [name, sig] : {std::pair{"author", &c.author}, std::pair{"committer", &c.committer}})
		o.key(name).begin_object().field("name", sig->name).field("email", sig->email)
			.field("date", iso_time(sig->when)).end_object();
	return o.field("message", c.message);
}

void print_commit_header(const CommitInfo &c)
{
	fmt::print("commit {}\n", c.id.hex());
	if (c.parents.size() > 1) {
		fmt::print("Merge:");
		for (auto &p : c.parents)
			fmt::print(" {}", short_oid(p));
		fmt::print("\n");
	}
	fmt::print("Author: {} <{}>\nDate:   {}\n\n", c.author.name, c.author.email,
		   format_time(c.author.when, c.author.tz_minutes));
	size_t i = 0;
	while (i < c.message.size()) {
		size_t nl = c.message.find('\n', i);
		if (nl == std::string::npos)
			nl = c.message.size();
		fmt::print("    {}\n", c.message.substr(i, nl - i));
		i = nl + 1;
	}
}

int cmd_log(Args &args)
{
	int n = args.int_value('n', "max-count", -1);
	bool oneline = args.flag(0, "oneline");
	auto r = args.rest(0, 1);
	Store &s = args.store();
	Oid start;
	if (r.empty()) {
		auto wt = open_worktree(args, "log");
		if (!wt->state().head) {
			if (args.json)
				fmt::print("[]\n");
			return 0;
		}
		start = *wt->state().head;
	} else {
		Address a = parse_address(r[0]);
		if (a.has_path)
			args.usage_error("log takes repo[@ref], not a path");
		start = resolve_commit(s, a);
	}
	auto commits = porcelain::log(s, start, n);
	if (args.json) {
		Json o;
		o.begin_array();
		for (auto &c : commits)
			commit_json(o.begin_object(), c).end_object();
		fmt::print("{}\n", o.end_array().text());
		return 0;
	}
	for (size_t i = 0; i < commits.size(); i++) {
		auto &c = commits[i];
		if (oneline) {
			fmt::print("{} {}\n", short_oid(c.id), first_line(c.message));
			continue;
		}
		if (i)
			fmt::print("\n");
		print_commit_header(c);
	}
	return 0;
}

} // namespace pach::cmd
