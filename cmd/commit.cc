#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "porcelain/commit.h"
#include "porcelain/worktree.h"

namespace pach::cmd {

extern const char *const kUsage_commit =
	"usage: pach commit <repo>[@<branch>][:/<path>] <dir> [-m <msg>] [-j <n>] [--json]\n"
	"   or: pach commit [-a] [-m <msg>] [--json]\n\n"
	"Make <path> (default: the whole repo) exactly the content of <dir>:\n"
	"files are added, modified and deleted.  Prints the new commit id.\n"
	"In a work tree (see pach checkout), the second form commits what is\n"
	"staged; -a first stages every change to tracked files.\n\n"
	"    -a, --all             (work tree) stage modified and deleted files first\n"
	"    -m, --message <msg>   commit message\n"
	"    -j, --jobs <n>        hashing threads (default: one per core)\n"
	"    --json                print a JSON summary\n";

void print_commit_result(Args &args, const porcelain::CommitResult &r)
{
	if (args.json) {
		fmt::print("{}\n", Json().begin_object().field("commit", r.commit).field("files", (uint64_t)r.stats.files)
					    .field("hashed", (uint64_t)r.stats.hashed)
					    .field("bytes_hashed", (uint64_t)r.stats.bytes_hashed).end_object().text());
		return;
	}
	if (!r.commit) {
		fmt::print("nothing to commit\n");
		return;
	}
	fmt::print("{}\n", r.commit->hex());
}

int cmd_commit(Args &args)
{
	porcelain::CommitOptions o;
	bool all = args.flag('a', "all");
	o.message = args.value('m', "message").value_or("");
	o.jobs = args.int_value('j', "jobs", 0);
	auto r = args.rest(0, 2);
	if (r.empty()) {
		auto wt = open_worktree(args, "commit");
		auto c = wt->commit(o.message, all);
		porcelain::CommitResult res;
		res.commit = c;
		print_commit_result(args, res);
		return 0;
	}
	if (all)
		args.usage_error("-a is for work trees: pach commit -a [-m <msg>]");
	if (r.size() != 2)
		args.usage_error("commit needs <repo>[@<branch>][:/<path>] and <dir>");
	Address a = parse_address(r[0]);
	auto res = porcelain::commit_dir(args.store(), a, r[1], o);
	print_commit_result(args, res);
	return 0;
}

} // namespace pach::cmd
