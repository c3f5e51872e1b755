#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "plumbing/address.h"
#include "porcelain/history.h"
#include "porcelain/worktree.h"
#include "plumbing/tree_edit.h"

#include <algorithm>

namespace pach::cmd {

extern const char *const kUsage_diff =
	"usage: pach diff <repo>@<a> [<repo>@<b>] [--name-status | --name-only | --stat | --json] [-- <path>...]\n"
	"   or: pach diff [--staged | --head] [--name-status | --name-only | --stat | --json] [<path>...]\n\n"
	"Changes from commit <a> to commit <b>; with one commit, the changes it\n"
	"made (against its first parent).  In a work tree, the second form shows\n"
	"changes to tracked files not yet staged (files against the index, as\n"
	"git diff), with --staged what the next commit will change, with --head\n"
	"the files against the work tree's commit (staged or not, as git diff HEAD).\n";

static int print_changes(Args &args, Store &s, const std::vector<porcelain::Change> &changes, bool ns, bool names,
			 bool stat);

int cmd_diff(Args &args)
{
	bool ns = args.flag(0, "name-status");
	bool stat = args.flag(0, "stat");
	bool names = args.flag(0, "name-only");
	bool staged = args.flag(0, "staged") || args.flag(0, "cached");
	bool head = args.flag(0, "head");
	auto r = args.rest(0);
	bool has_rev = false;
	for (auto &x : r)
		has_rev |= x.find('@') != std::string::npos;
	if (staged || head || (!has_rev && !worktree_root(args).empty())) {
		if (staged && head)
			args.usage_error("--staged and --head compare different things; give one");
		if (has_rev)
			args.usage_error("--staged compares the work tree's index with its commit; name no <repo>@<ref>");
		auto wt = open_worktree(args, "diff");
		Store &s = args.store();
		std::vector<std::string> ps;
		for (auto &p : r)
			ps.push_back(wt->rel_path(p, user_cwd(args)));
		using D = porcelain::Worktree::DiffOf;
		auto changes = wt->diff(staged ? D::staged : head ? D::against_head : D::unstaged, ps);
		return print_changes(args, s, changes, ns, names, stat);
	}
	if (r.empty())
		args.usage_error("diff needs <repo>@<ref> outside a work tree");
	std::vector<std::string> revs, paths;
	bool after = false;
	// rest() drops "--"; everything that parses as repo@ref before paths.
	for (auto &x : r) {
		if (!after && revs.size() < 2 && (x.find('@') != std::string::npos || revs.empty()))
			revs.push_back(x);
		else {
			after = true;
			paths.push_back(x);
		}
	}
	Store &s = args.store();
	Address a = parse_address(revs[0]);
	if (a.has_path)
		paths.push_back(a.path_str());
	Oid ca = resolve_commit(s, a);
	Oid ta, tb;
	if (revs.size() == 2) {
		Address b = parse_address(revs[1]);
		if (b.repo != a.repo)
			die("cannot diff across repos ('{}' and '{}')", a.repo, b.repo);
		// A path on either side (A B:/dir, as pachctl diff file) restricts
		// the diff to it.
		if (b.has_path && !(a.has_path && a.path_str() == b.path_str()))
			paths.push_back(b.path_str());
		ta = s.read_commit(ca).tree;
		tb = s.read_commit(resolve_commit(s, b)).tree;
	} else {
		CommitInfo c = s.read_commit(ca);
		ta = c.parents.empty() ? empty_tree_oid() : s.read_commit(c.parents[0]).tree;
		tb = c.tree;
	}
	std::vector<std::string> ps;
	for (auto &p : paths) {
		auto comps = split_path(p, p);
		std::string j;
		for (auto &c : comps)
			j += (j.empty() ? "" : "/") + c;
		if (!j.empty())
			ps.push_back(j);
	}
	auto changes = porcelain::diff_trees(s, ta, tb, ps);
	return print_changes(args, s, changes, ns, names, stat);
}

static int print_changes(Args &args, Store &s, const std::vector<porcelain::Change> &changes, bool ns, bool names,
			 bool stat)
{
	if (args.json) {
		Json o;
		o.begin_array();
		for (auto &c : changes)
			o.begin_object().field("status", std::string(1, c.status)).field("path", "/" + c.path).end_object();
		fmt::print("{}\n", o.end_array().text());
		return 0;
	}
	if (ns || names) {
		for (auto &c : changes) {
			if (ns)
				fmt::print("{}\t{}\n", c.status, quote_path(c.path));
			else
				fmt::print("{}\n", quote_path(c.path));
		}
		return 0;
	}
	if (stat) {
		size_t width = 0, add = 0, del = 0;
		for (auto &c : changes)
			width = std::max(width, c.path.size());
		for (auto &c : changes) {
			auto ls = porcelain::line_stat(s, c);
			if (ls.binary) {
				fmt::print(" {:<{}} | Bin {} -> {} bytes\n", quote_path(c.path), width, ls.old_size, ls.new_size);
				continue;
			}
			add += ls.added;
			del += ls.removed;
			size_t n = ls.added + ls.removed;
			std::string bar = std::string(std::min<size_t>(ls.added, 40), '+') +
					  std::string(std::min<size_t>(ls.removed, 40), '-');
			fmt::print(" {:<{}} | {:>4} {}\n", quote_path(c.path), width, n, bar);
		}
		fmt::print(" {} file{} changed, {} insertion{}(+), {} deletion{}(-)\n", changes.size(),
			   changes.size() == 1 ? "" : "s", add, add == 1 ? "" : "s", del, del == 1 ? "" : "s");
		return 0;
	}
	for (auto &c : changes)
		fmt::print("{}", porcelain::patch_text(s, c));
	return 0;
}

} // namespace pach::cmd
