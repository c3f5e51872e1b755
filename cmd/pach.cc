// pach's entry point: global options, the command table, and the one
// place where errors become messages and exit codes.
#include "cmd/cmd.h"
#include "cmd/manpages.h"
#include "plumbing/fs.h"

#include <algorithm>
#include "plumbing/progress.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <signal.h>
#include <system_error>
#include <unistd.h>

namespace pach::cmd {

const std::vector<CommandInfo> &commands()
{
#define ENTRY(id, name, category, desc) {name, cmd_##id, kUsage_##id, Category::category, desc},
	static const std::vector<CommandInfo> table = {PACH_COMMAND_LIST(ENTRY)};
#undef ENTRY
	return table;
}

int complete_main(const std::vector<std::string> &words);

static const char kMainUsage[] =
	"usage: pach [-C <dir>] [-q | --no-progress | --progress] <command> [<args>]\n"
	"\n"
	"Version control for data, git-compatible. Common commands:\n"
	"   init       create a store (.pach) in a directory\n"
	"   repo       create, list, inspect and delete repos\n"
	"   commit     make a repo path exactly a directory's content\n"
	"   put        add files to a repo (never deletes)\n"
	"   rm         delete paths from a repo\n"
	"   checkout   a branch as a work tree; then status, add, commit, diff,\n"
	"              restore and log work there, as in git\n"
	"   log, show  history and one commit\n"
	"   branch     list, create and delete branches\n"
	"   ls, cat, get, glob   look at and export content\n"
	"   diff       changes between commits\n"
	"   fsck, gc   verify the store; repack and free space\n"
	"   pipeline   create, update, list, inspect, delete and draw pipelines\n"
	"   datums     preview the datums of a pipeline spec\n"
	"   run        bring pipelines up to date (only changed datums run)\n"
	"   job, datum, logs   what runs did, per datum\n"
	"   remote     manage remotes (S3 buckets, shared directories)\n"
	"   push, fetch, pull, clone   share a store through a remote\n"
	"   mount, unmount   every repo, branch and commit as files (FUSE)\n"
	"   config     get and set options (store and user level)\n"
	"   reflog, reset, revert   every branch update; move a branch back; undo a commit\n"
	"   rollback, snapshot      the whole store back to a time or a named state\n"
	"   completion shell completion for bash, zsh and fish\n"
	"\n"
	"'pach help -a' lists every command; 'pach <command> -h' shows its options.\n";

// pachctl's verb-noun commands: most are pach commands under another
// name (their arguments pass through unchanged); the rest get the pach
// command that does the job, as a hint.
struct PachctlForm {
	const char *verb, *noun;
	std::vector<const char *> pach;   // the pach command it runs, or empty
	const char *hint;                 // what to type instead, when not run
};
static const PachctlForm kPachctl[] = {
	{"create", "repo", {"repo", "create"}, nullptr},
	{"list", "repo", {"repo", "list"}, nullptr},
	{"inspect", "repo", {"repo", "inspect"}, nullptr},
	{"delete", "repo", {"repo", "delete"}, nullptr},
	{"create", "pipeline", {"pipeline", "create"}, nullptr},
	{"update", "pipeline", {"pipeline", "update"}, nullptr},
	{"list", "pipeline", {"pipeline", "list"}, nullptr},
	{"inspect", "pipeline", {"pipeline", "inspect"}, nullptr},
	{"delete", "pipeline", {"pipeline", "delete"}, nullptr},
	{"list", "job", {"job", "list"}, nullptr},
	{"inspect", "job", {"job", "inspect"}, nullptr},
	{"list", "datum", {"datum", "list"}, nullptr},
	{"list", "commit", {"log"}, nullptr},
	{"inspect", "commit", {"show"}, nullptr},
	{"list", "file", {"ls"}, nullptr},
	{"list", "branch", {"branch"}, nullptr},
	{"glob", "file", {}, "pach glob <repo>[@<ref>] <pattern>"},
	{"get", "file", {}, "pach cat <repo>[@<ref>]:/<path>' (or 'pach get <repo>[@<ref>]:/<path> <dest>"},
	{"put", "file", {}, "pach put <repo>[@<branch>]:/<path> <file>...' ('-' reads standard input"},
	{"inspect", "file", {}, "pach ls -l <repo>[@<ref>]:/<path>"},
	{"delete", "file", {}, "pach rm <repo>[@<branch>]:/<path>"},
	{"diff", "file", {}, "pach diff <repo>@<a> <repo>@<b> [-- <path>]"},
	{"create", "branch", {}, "pach branch <repo> <name> [<start>]"},
	{"delete", "branch", {}, "pach branch -d <repo> <name>"},
	{"restart", "datum", {}, "pach run <pipeline>' (failed datums run again on every run; 'pach run --reprocess' reruns all"},
	{"delete", "commit", {}, "pach reset <repo>@<branch> <commit>^' (or 'pach revert"},
};

// The command nearest to a mistyped one (edit distance, as git's
// help.autocorrect), or "" when none is close.
static std::string nearest_command(const std::string &n)
{
	std::string best;
	size_t best_d = SIZE_MAX;
	for (auto &c : commands()) {
		std::string m = c.name;
		std::vector<size_t> prev(m.size() + 1), cur(m.size() + 1);
		for (size_t j = 0; j <= m.size(); j++)
			prev[j] = j;
		for (size_t i = 1; i <= n.size(); i++) {
			cur[0] = i;
			for (size_t j = 1; j <= m.size(); j++)
				cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (n[i - 1] != m[j - 1])});
			std::swap(prev, cur);
		}
		size_t d = prev[m.size()];
		// A prefix of a longer name counts as close ("pipe" -> "pipeline").
		if (m.compare(0, n.size(), n) == 0 && n.size() >= 3)
			d = std::min<size_t>(d, 1);
		if (d < best_d) {
			best_d = d;
			best = m;
		}
	}
	return best_d <= std::max<size_t>(1, n.size() / 3) ? best : "";
}

const CommandInfo *find_command(const std::string &n)
{
	for (auto &c : commands())
		if (n == c.name)
			return &c;
	return nullptr;
}

int cmd_help(Args &args)
{
	bool all = args.flag('a', "all");
	auto r = args.rest(0, 1);
	if (r.empty()) {
		fmt::print("{}", kMainUsage);
		if (all) {
			// Porcelain first, then git-style plumbing (objects and refs).
			for (Category cat : {Category::porcelain, Category::plumbing}) {
				fmt::print("{}", cat == Category::plumbing ? "\nPlumbing commands (objects and refs, as git's):\n"
									   : "\nAll commands:\n");
				for (auto &c : commands())
					if (c.category == cat)
						fmt::print("   {:<14} {}\n", c.name, c.description);
			}
		}
		return 0;
	}
	const CommandInfo *c = find_command(r[0]);
	if (!c)
		die("'{}' is not a pach command. See 'pach help -a'", r[0]);
	// Prefer the man page, like git: the one built beside this binary
	// (a source tree), else installed next to it (PREFIX/share/man), else
	// man's own search; fall back to the usage text.
	if (isatty(1)) {
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		std::string dir = n > 0 ? dirname_of(std::string(exe, (size_t)n)) : ".";
		std::string page = "pach-" + r[0] + ".1";
		std::string man = "man pach-" + r[0];
		for (auto &p : {dir + "/build/man/" + page, dir + "/man/" + page, dir + "/../share/man/man1/" + page})
			if (path_exists(p)) {
				man = "man -l '" + p + "'";
				break;
			}
		if (system((man + " 2>/dev/null").c_str()) == 0)
			return 0;
	}
	// No man page at hand (or not a terminal): the page built into this
	// binary, as plain text, through a pager on a terminal.
	if (const char *page = find_manpage("pach-" + r[0])) {
		std::string text = render_manpage(page);
		FILE *pager = isatty(1) ? popen("${PAGER:-less -FRX} 2>/dev/null || cat", "w") : nullptr;
		fputs(text.c_str(), pager ? pager : stdout);
		if (pager)
			pclose(pager);
		return 0;
	}
	fmt::print("{}", c->usage);
	return 0;
}

const char *const kUsage_help = "usage: pach help [-a] [<command>]\n";

} // namespace pach::cmd

using namespace pach;
using namespace pach::cmd;

// A last message to standard error, which may be closed too: never throws.
static void say(const std::string &line)
{
	std::string l = line + "\n";
	(void)!::write(STDERR_FILENO, l.data(), l.size());
}

int main(int argc, char **argv)
{
	trace_point("start");
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	std::vector<std::string> a(argv + 1, argv + argc);
	std::string c_dir;
	size_t i = 0;
	try {
		for (; i < a.size() && a[i].size() > 1 && a[i][0] == '-'; i++) {
			if (a[i] == "-C") {
				if (i + 1 >= a.size())
					die_usage("option '-C' requires a directory");
				c_dir = a[++i];
			} else if (a[i] == "-q" || a[i] == "--quiet" || a[i] == "--no-progress") {
				Progress::set_quiet(true);
			} else if (a[i] == "--progress") {
				Progress::set_forced(true);
			} else if (a[i] == "-h" || a[i] == "--help") {
				fmt::print("{}", kMainUsage);
				return 0;
			} else if (a[i] == "--version") {
				a[i] = "version";
				break;
			} else {
				fmt::print(stderr, "unknown option: {}\n{}", a[i], kMainUsage);
				return 129;
			}
		}
		if (i >= a.size()) {
			fmt::print(stderr, "{}", kMainUsage);
			return 1;
		}
		if (a[i] == "__complete")
			return complete_main(std::vector<std::string>(a.begin() + (long)i + 1, a.end()));
		// put, get, glob and diff are pach commands too: "file" there is
		// pachctl's only when an address follows (`put file r@b:/p`).
		bool is_pach = find_command(a[i]) != nullptr;
		if (!is_pach || (i + 2 < a.size() && a[i + 1] == "file" &&
				 (a[i + 2].find('@') != std::string::npos || a[i + 2].find(":/") != std::string::npos)))
			for (auto &f : kPachctl) {
				bool with_noun = *f.noun && i + 1 < a.size() && a[i + 1] == f.noun;
				if (a[i] != f.verb || (*f.noun && !with_noun))
					continue;
				if (f.pach.empty())
					die("'{}{}{}' is pachctl's; did you mean '{}'?", f.verb, *f.noun ? " " : "", f.noun, f.hint);
				a.erase(a.begin() + (long)i, a.begin() + (long)i + 2);
				a.insert(a.begin() + (long)i, f.pach.begin(), f.pach.end());
				break;
			}
		const CommandInfo *c = find_command(a[i]);
		for (const char *verb : {"create", "list", "inspect", "delete", "update", "restart"})
			if (!c && a[i] == verb)
				die("'{}' is a pachctl verb; pach puts the noun first: 'pach repo {}', 'pach pipeline {}', "
				    "'pach job {}'... (see 'pach help -a')",
				    verb, verb, verb, verb);
		if (!c) {
			std::string near = nearest_command(a[i]);
			if (!near.empty())
				die("'{}' is not a pach command; did you mean '{}'? See 'pach help -a'", a[i], near);
			die("'{}' is not a pach command. See 'pach help -a'", a[i]);
		}
		Args args(std::vector<std::string>(a.begin() + (long)i + 1, a.end()), c->usage);
		args.c_dir = c_dir;
		int rc = c->fn(args);
		trace_point("done");
		if (fflush(stdout) != 0)
			return errno == EPIPE ? (int)Exit::pipe : (say("fatal: unable to write to standard output"), 128);
		return rc;
	} catch (const Error &e) {
		if (fflush(stdout) != 0 && errno == EPIPE && e.code != Exit::usage)
			return (int)Exit::pipe;
		if (*e.what())
			say((e.code == Exit::usage ? "usage: " : "fatal: ") + std::string(e.what()));
		return (int)e.code;
	} catch (const std::bad_alloc &) {
		say("fatal: out of memory");
		return 128;
	} catch (const std::system_error &e) {
		// fmt::print's write to a closed standard output.
		if (e.code().value() == EPIPE)
			return (int)Exit::pipe;
		say(std::string("fatal: ") + e.what());
		return 128;
	} catch (const std::exception &e) {
		say(std::string("fatal: ") + e.what());
		return 128;
	}
}
