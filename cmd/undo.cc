// Undo commands: reflog, reset, revert, rollback, snapshot.
#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/address.h"
#include "plumbing/meta.h"
#include "plumbing/reflog.h"
#include "porcelain/undo.h"

#include <ctime>

namespace pach::cmd {

extern const char *const kUsage_reflog =
	"usage: pach reflog [<repo>[@<branch>]] [-n <n>] [--json]\n\n"
	"Every update of branches (and of the metadata: repos, pipelines, jobs),\n"
	"newest first: <id> <repo>@<branch>@{N}: <what did it>.  A repo alone lists\n"
	"its branches; nothing lists the whole store.  Entries address old\n"
	"states: pach cat images@master@{2}:/x, pach reset images@master @{1}.\n";

int cmd_reflog(Args &args)
{
	int n = args.int_value('n', "max-count", -1);
	auto r = args.rest(0, 1);
	Store &s = args.store();
	std::string repo, branch;
	if (!r.empty()) {
		Address a = parse_address(r[0]);
		if (a.has_path)
			args.usage_error("reflog takes <repo>[@<branch>], not a path");
		require_repo(s, a.repo);
		repo = a.repo;
		branch = a.ref;
		if (!branch.empty())
			check_branch_name(branch);
	}
	auto lines = porcelain::reflog(s, repo, branch);
	if (n >= 0 && lines.size() > (size_t)n)
		lines.resize((size_t)n);
	if (args.json) {
		Json o;
		o.begin_array();
		for (auto &l : lines) {
			o.begin_object().field("ref", l.ref).field("label", l.label).field("index", (int64_t)l.index);
			o.field("old", l.e.old_oid).field("new", l.e.new_oid).field("who", l.e.who);
			o.field("date", iso_time(l.e.when)).field("message", l.e.message).end_object();
		}
		fmt::print("{}\n", o.end_array().text());
		return 0;
	}
	for (auto &l : lines)
		fmt::print("{} {}@{{{}}}: {}\n", l.e.new_oid ? short_oid(*l.e.new_oid) : std::string("(deleted)   "),
			   l.label, l.index, l.e.message);
	return 0;
}

// The branch a command works on, and a commit named relative to it: an
// id, <branch>~N, @{N} / @{time} of that branch, or <repo>@<ref>.
static Address branch_arg(Args &args, const std::string &arg, const char *cmd)
{
	Address a = parse_address(arg);
	if (a.has_path || a.ref.empty())
		args.usage_error(std::string(cmd) + " needs <repo>@<branch>");
	require_repo(args.store(), a.repo);
	check_branch_name(a.ref);
	return a;
}

static Oid commit_arg(Store &s, const Address &a, const std::string &arg)
{
	Address c;
	if (arg.compare(0, 2, "@{") == 0)
		c = parse_address(a.repo + "@" + a.ref + arg);
	else if (arg.find('@') != std::string::npos && arg[0] != '@')
		c = parse_address(arg);
	else
		c = parse_address(a.repo + "@" + arg);
	if (c.repo != a.repo)
		die("'{}' is not a commit of repo '{}'", arg, a.repo);
	if (c.has_path)
		die("'{}' names a path, not a commit", arg);
	return resolve_commit(s, c);
}

extern const char *const kUsage_reset =
	"usage: pach reset <repo>@<branch> <ref> [--force]\n\n"
	"Move a branch to <ref>: a commit id, <branch>~N, or a reflog entry\n"
	"(@{N}, @{yesterday}, @{2026-11-27 10:00}, or <repo>@<branch>@{N}).\n"
	"Nothing is deleted: the commits left behind stay in the reflog.\n"
	"Refused when the branch feeds pipelines, unless --force.\n\n"
	"    -f, --force   reset a branch that feeds pipelines (they rerun on the\n"
	"                  next pach run)\n";

int cmd_reset(Args &args)
{
	bool force = args.flag('f', "force");
	auto r = args.rest(2, 2);
	Address a = branch_arg(args, r[0], "reset");
	Store &s = args.store();
	Oid target = commit_arg(s, a, r[1]);
	auto before = s.ref(branch_ref(a.repo, a.ref));
	porcelain::reset_branch(s, a.repo, a.ref, target, force);
	auto fed = porcelain::pipelines_fed_by(s, a.repo, a.ref);
	if (before && *before != target) {
		fmt::print("{}@{} is now at {}\n", a.repo, a.ref, short_oid(target));
		if (!fed.empty()) {
			std::string list;
			for (auto &p : fed)
				list += (list.empty() ? "" : ", ") + p;
			fmt::print(stderr, "warning: pipelines {} will rerun on the next 'pach run'\n", list);
		}
	} else {
		fmt::print("{}@{} is already at {}\n", a.repo, a.ref, short_oid(target));
	}
	return 0;
}

extern const char *const kUsage_revert =
	"usage: pach revert <repo>@<branch> <commit> [--json]\n\n"
	"Make a new commit on the branch that undoes <commit>'s changes.  Files\n"
	"changed since are merged line by line; if that conflicts, nothing is\n"
	"committed and the paths are named.\n";

int cmd_revert(Args &args)
{
	auto r = args.rest(2, 2);
	Address a = branch_arg(args, r[0], "revert");
	Store &s = args.store();
	Oid commit = commit_arg(s, a, r[1]);
	Oid made = porcelain::revert_commit(s, a.repo, a.ref, commit);
	if (args.json)
		fmt::print("{}\n", Json().begin_object().field("commit", made).field("reverted", commit).end_object().text());
	else
		fmt::print("{}\n", made.hex());
	return 0;
}

extern const char *const kUsage_rollback =
	"usage: pach rollback --to <time>|<snapshot> [<repo>...] [--dry-run] [--json]\n"
	"   or: pach rollback --undo [--dry-run] [--json]\n\n"
	"Return every branch of every repo, and the metadata (repos, pipelines,\n"
	"job records), to where it was at <time> or in <snapshot> -- or only the\n"
	"branches of the named repos.  Branches created since are deleted and\n"
	"deleted ones come back; no commit is lost.  The state before is saved as\n"
	"a snapshot first, and --undo restores what the last rollback moved.\n"
	"Times: 2026-11-27 10:00, 2026-11-27T10:00:00Z, 2 hours ago, yesterday, @<unix>.\n\n"
	"    --dry-run   only show what would move\n";

int cmd_rollback(Args &args)
{
	bool undo = args.flag(0, "undo");
	bool dry = args.flag('n', "dry-run");
	auto to = args.value(0, "to");
	auto repos = args.rest(0);
	if (undo == to.has_value())
		args.usage_error("give either --to <time>|<snapshot> or --undo");
	if (undo && !repos.empty())
		args.usage_error("--undo restores what the last rollback moved; it takes no repos");
	Store &s = args.store();
	porcelain::RollbackTarget t;
	t.undo = undo;
	if (to) {
		if (porcelain::snapshot_get(s, *to))
			t.snapshot = *to;
		else if (auto tm = parse_time(*to, time(nullptr)))
			t.time = *tm;
		else
			die("'{}' is neither a time (e.g. '2026-11-27 10:00', '2 hours ago') nor a snapshot", *to);
		if (t.time && *t.time > time(nullptr))
			die("'{}' is in the future", *to);
	}
	auto res = porcelain::rollback(s, t, repos, dry);
	auto label = [](const std::string &ref) {
		if (ref == kMetaRef)
			return std::string("(metadata)");
		std::string rest = ref.substr(11);
		auto sl = rest.find('/');
		return rest.substr(0, sl) + "@" + rest.substr(sl + 1);
	};
	if (args.json) {
		Json o;
		o.begin_object().field("dry_run", dry);
		o.field("saved", res.saved.empty() ? std::nullopt : std::optional<std::string>(res.saved));
		o.key("changes").begin_array();
		for (auto &c : res.changes)
			o.begin_object().field("ref", c.ref).field("from", c.from).field("to", c.to).end_object();
		fmt::print("{}\n", o.end_array().end_object().text());
		return 0;
	}
	for (auto &u : res.unknown)
		fmt::print(stderr, "warning: {} has no reflog (older than reflogs in this store); left alone\n", label(u));
	if (res.changes.empty()) {
		fmt::print("nothing to roll back: everything is already there\n");
		return 0;
	}
	for (auto &c : res.changes)
		fmt::print("  {:<28} {} -> {}\n", label(c.ref), c.from ? short_oid(*c.from) : std::string("(none)"),
			   c.to ? short_oid(*c.to) : std::string("(deleted)"));
	if (dry)
		fmt::print("(dry run: nothing was changed)\n");
	else
		fmt::print("The state before is saved as snapshot '{}'; 'pach rollback --undo' restores it.\n", res.saved);
	return 0;
}

extern const char *const kUsage_snapshot =
	"usage: pach snapshot [<name>] [--json]\n"
	"   or: pach snapshot list [--json]\n\n"
	"Name the current state of every branch (and of the metadata), for\n"
	"'pach rollback --to <name>'.  Without a name, the time is the name.\n"
	"Snapshots travel with push and pull.\n";

int cmd_snapshot(Args &args)
{
	auto r = args.rest(0, 1);
	Store &s = args.store();
	if (!r.empty() && r[0] == "list") {
		auto all = porcelain::snapshot_list(s);
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &sn : all)
				o.begin_object().field("name", sn.name).field("commit", sn.commit).field("date", iso_time(sn.when))
					.field("refs", (uint64_t)sn.refs.size()).field("note", sn.note).end_object();
			fmt::print("{}\n", o.end_array().text());
			return 0;
		}
		for (auto &sn : all) {
			size_t n = 0;
			for (auto &[ref, o] : sn.refs)
				n += ref.compare(0, 11, "refs/heads/") == 0;
			fmt::print("{:<36} {}  {} branch{}{}\n", sn.name, iso_time(sn.when), n, n == 1 ? "" : "es",
				   sn.note.empty() ? "" : "  (" + sn.note + ")");
		}
		return 0;
	}
	auto sn = porcelain::snapshot_create(s, r.empty() ? "" : r[0]);
	if (args.json)
		fmt::print("{}\n", Json().begin_object().field("name", sn.name).field("commit", sn.commit)
					    .field("date", iso_time(sn.when)).field("refs", (uint64_t)sn.refs.size())
					    .field("note", "").end_object().text());
	else
	{
		size_t n = 0;
		for (auto &[ref, o] : sn.refs)
			n += ref.compare(0, 11, "refs/heads/") == 0;
		fmt::print("snapshot '{}': {} branch{} and the metadata\n", sn.name, n, n == 1 ? "" : "es");
	}
	return 0;
}

} // namespace pach::cmd
