// Work tree commands: checkout, status, add, restore (and the work tree
// forms of commit, diff and log, which live with their commands).
#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "plumbing/address.h"
#include "plumbing/config.h"
#include "plumbing/progress.h"
#include "porcelain/repo.h"
#include "porcelain/worktree.h"

#include <unistd.h>

#include <set>

namespace pach::cmd {

std::string user_cwd(const Args &args)
{
	return absolute_path(args.c_dir.empty() ? "." : args.c_dir);
}

std::string worktree_root(const Args &args)
{
	return porcelain::find_worktree(user_cwd(args));
}

std::unique_ptr<porcelain::Worktree> open_worktree(Args &args, const char *what)
{
	std::string root = worktree_root(args);
	if (root.empty())
		die("not in a work tree (or any of the parent directories); '{}' needs one: "
		    "pach checkout <repo>@<branch> [<dir>]",
		    what);
	auto wt = std::make_unique<porcelain::Worktree>(args.store(), root);
	if (!wt->state().pending.empty())
		warning("a checkout of '" + wt->state().pending + "' was interrupted; 'pach checkout " +
			wt->state().pending + "' finishes it");
	return wt;
}

static std::vector<std::string> rel_paths(const porcelain::Worktree &wt, const Args &args,
					  const std::vector<std::string> &user)
{
	std::vector<std::string> out;
	for (auto &p : user)
		out.push_back(wt.rel_path(p, user_cwd(args)));
	return out;
}

extern const char *const kUsage_checkout =
	"usage: pach checkout <repo>[@<branch>] [<dir>] [--link <mode>] [--json]\n"
	"   or: pach checkout [<branch>] [--link <mode>]\n"
	"   or: pach checkout -b <new-branch> [<start>] [--link <mode>]\n\n"
	"The first form writes the branch's files into <dir> (default: ./<repo>)\n"
	"and makes it a work tree: status, add, commit, diff, restore and log\n"
	"then work there without naming the repo.  Inside a work tree, the second\n"
	"form switches to another branch of the same repo (or, with no branch,\n"
	"brings the current one up to date), keeping local changes to files the\n"
	"switch does not touch and refusing to overwrite any other.  With -b it\n"
	"first creates the branch at <start> (default: the work tree's commit).\n\n"
	"    --link <mode>   auto (default), copy, reflink or hardlink: how files of\n"
	"                    1 MiB or more are materialised (config: checkout.link)\n";

int cmd_checkout(Args &args)
{
	auto link = args.value(0, "link");
	auto create = args.value('b', nullptr);
	auto r = args.rest(0, 2);
	std::string mode = link ? *link : "";
	auto pick_mode = [&](Store &s) {
		if (mode.empty())
			mode = config_get(&s, "checkout.link").value_or("auto");
		return parse_link_mode(mode);
	};
	if (create) {
		// git's checkout -b: a new branch where the work tree is (or at
		// <start>), then the switch, which keeps every local change.
		if (r.size() > 1)
			args.usage_error("checkout -b takes <new-branch> [<start>]");
		auto wt = open_worktree(args, "checkout -b");
		Store &s = args.store();
		std::string start = !r.empty() ? r[0] : wt->state().head ? wt->state().head->hex() : "";
		if (start.empty())
			die("the work tree's branch has no commits yet: name a <start>");
		porcelain::branch_create(s, wt->state().repo, *create, start);
		wt->switch_to(*create, pick_mode(s));
		fmt::print(stderr, "Switched to a new branch '{}'\n", *create);
		return 0;
	}
	bool new_tree = !r.empty() && (r[0].find('@') != std::string::npos || r.size() == 2 || worktree_root(args).empty());
	if (new_tree) {
		Address a = parse_address(r[0]);
		if (a.has_path)
			die("'{}': a work tree holds a whole repo; name <repo>[@<branch>]", r[0]);
		Store &s = args.store();
		LinkMode m = pick_mode(s);
		std::string dir = r.size() == 2 ? r[1] : a.repo;
		std::string branch = a.branch_or_default();
		if (!names_branch(s, a))
			die("'{}' is not a branch of repo '{}'; a work tree follows a branch", branch, a.repo);
		porcelain::Worktree::create(s, a.repo, branch, dir, m);
		if (args.json)
			fmt::print("{}\n", Json().begin_object().field("path", absolute_path(dir)).field("repo", a.repo)
						    .field("branch", branch).end_object().text());
		else if (!Progress::quiet())
			fmt::print(stderr, "Checked out {}@{} into '{}'\n", a.repo, branch, dir);
		return 0;
	}
	if (r.empty() && worktree_root(args).empty())
		args.usage_error("outside a work tree, checkout needs <repo>[@<branch>] [<dir>]");
	auto wt = open_worktree(args, "checkout <branch>");
	LinkMode m = pick_mode(args.store());
	std::string target = r.empty() ? wt->state().branch : r[0];
	std::string from = wt->state().branch;
	auto before = wt->state().head;
	wt->switch_to(target, m);
	if (target != from)
		fmt::print(stderr, "Switched to branch '{}'\n", target);
	else if (before != wt->state().head)
		fmt::print(stderr, "Updated '{}' to {}\n", target, short_oid(*wt->state().head));
	else
		fmt::print(stderr, "Already up to date.\n");
	return 0;
}

extern const char *const kUsage_status =
	"usage: pach status [-s | --short] [--json] [<path>...]\n\n"
	"In a work tree: staged changes (index against the last commit), changes\n"
	"not staged (files against the index) and untracked files.\n";

int cmd_status(Args &args)
{
	bool shrt = args.flag('s', "short");
	auto r = args.rest();
	auto wt = open_worktree(args, "status");
	auto filter = rel_paths(*wt, args, r);
	auto all = wt->status();
	std::vector<porcelain::StatusEntry> v;
	for (auto &e : all) {
		bool keep = filter.empty();
		for (auto &f : filter)
			keep = keep || f.empty() || e.path == f || e.path.compare(0, f.size() + 1, f + "/") == 0;
		if (keep)
			v.push_back(e);
	}
	auto &st = wt->state();
	// Other commands may have moved the branch since the checkout.
	auto branch_head = args.store().ref(branch_ref(st.repo, st.branch));
	bool moved = branch_head != st.head;
	if (args.json) {
		Json o;
		o.begin_object().field("repo", st.repo).field("branch", st.branch).field("head", st.head);
		o.field("branch_head", branch_head).key("files").begin_array();
		for (auto &e : v)
			o.begin_object().field("path", e.path).field("staged", std::string(1, e.staged))
				.field("unstaged", std::string(1, e.unstaged)).end_object();
		fmt::print("{}\n", o.end_array().end_object().text());
		return 0;
	}
	if (shrt) {
		for (auto &e : v) {
			// A staged deletion of a file that is back untracked: two
			// lines, as git prints them.
			if (e.staged == 'D' && e.unstaged == '?')
				fmt::print("D  {}\n?? {}\n", quote_path(e.path), quote_path(e.path));
			else
				fmt::print("{}{} {}\n", e.staged, e.unstaged, quote_path(e.path));
		}
		return 0;
	}
	fmt::print("On branch {}@{}\n", st.repo, st.branch);
	if (moved)
		fmt::print("The branch moved since this work tree's commit {}: it is at {} now\n"
			   "  (use \"pach checkout\" to bring the work tree up to date)\n",
			   st.head ? short_oid(*st.head) : "(none)", branch_head ? short_oid(*branch_head) : "(deleted)");
	if (!st.head)
		fmt::print("\nNo commits yet\n");
	auto word = [](char c) {
		return c == 'A' ? "new file:   " : c == 'D' ? "deleted:    " : c == 'T' ? "typechange: " : "modified:   ";
	};
	bool any_staged = false, any_unstaged = false, any_untracked = false;
	for (auto &e : v) {
		any_staged |= e.staged != ' ' && e.staged != '?';
		any_unstaged |= e.unstaged != ' ' && e.unstaged != '?';
		any_untracked |= e.unstaged == '?';
	}
	if (any_staged) {
		fmt::print("\nChanges to be committed:\n  (use \"pach restore --staged <file>...\" to unstage)\n");
		for (auto &e : v)
			if (e.staged != ' ' && e.staged != '?')
				fmt::print("\t{}{}\n", word(e.staged), quote_path(e.path));
	}
	if (any_unstaged) {
		fmt::print("\nChanges not staged for commit:\n  (use \"pach add <file>...\" to stage, \"pach restore "
			   "<file>...\" to discard)\n");
		for (auto &e : v)
			if (e.unstaged != ' ' && e.unstaged != '?')
				fmt::print("\t{}{}\n", word(e.unstaged), quote_path(e.path));
	}
	if (any_untracked) {
		// Whole untracked directories are shown once, as git does.
		fmt::print("\nUntracked files:\n  (use \"pach add <file>...\" to include in what will be committed)\n");
		std::string last;
		for (auto &e : v) {
			if (e.unstaged != '?')
				continue;
			std::string shown = e.path;
			for (auto s = e.path.find('/'); s != std::string::npos; s = e.path.find('/', s + 1))
				if (!wt->tracks_under(e.path.substr(0, s))) {
					shown = e.path.substr(0, s + 1);
					break;
				}
			if (shown != last)
				fmt::print("\t{}\n", quote_path(shown));
			last = shown;
		}
	}
	if (!any_staged && !any_unstaged && !any_untracked)
		fmt::print("nothing to commit, working tree clean\n");
	else if (!any_staged)
		fmt::print("\nno changes added to commit (use \"pach add\" and/or \"pach commit -a\")\n");
	return 0;
}

extern const char *const kUsage_add =
	"usage: pach add <path>...\n"
	"   or: pach add -A | --all\n\n"
	"In a work tree: stage the files under each path (new, modified and\n"
	"deleted) for the next commit; with -A, every file of the work tree.\n";

int cmd_add(Args &args)
{
	bool all = args.flag('A', "all");
	auto r = args.rest(all ? 0 : 1, all ? 0 : SIZE_MAX);
	auto wt = open_worktree(args, "add");
	wt->add(all ? std::vector<std::string>{""} : rel_paths(*wt, args, r));
	return 0;
}

extern const char *const kUsage_restore =
	"usage: pach restore [--staged] <path>...\n\n"
	"In a work tree: put back the staged version of each path's files\n"
	"(discarding changes to them), or with --staged unstage them (the index\n"
	"takes the last commit's version; the files are left alone).\n";

int cmd_restore(Args &args)
{
	bool staged = args.flag('S', "staged");
	auto r = args.rest(1);
	auto wt = open_worktree(args, "restore");
	wt->restore(rel_paths(*wt, args, r), staged);
	return 0;
}

} // namespace pach::cmd
