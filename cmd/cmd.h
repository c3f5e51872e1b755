// The command layer: argv in, text out, errors to exit codes.  Every
// command is `int cmd_x(Args &)`, listed once in the table in pach.cc.
#pragma once

#include "plumbing/error.h"
#include "plumbing/store.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pach::porcelain {
class Worktree;
}

namespace pach::cmd {

// git's parse-options in miniature.  Options may come anywhere before
// "--"; "-n5", "-n 5", "--max-count=5" and "--max-count 5" all work.
class Args {
public:
	Args(std::vector<std::string> argv, const char *usage);
	bool flag(char s, const char *l);
	// The option's value; given several times, the last one wins (as git).
	std::optional<std::string> value(char s, const char *l);
	// Every value of a repeatable option, in order.
	std::vector<std::string> values(char s, const char *l);
	int int_value(char s, const char *l, int dflt);
	// What is left; dies on unknown options.  `min`/`max` positionals.
	std::vector<std::string> rest(size_t min = 0, size_t max = SIZE_MAX);
	[[noreturn]] void usage_error(const std::string &msg) const;
	Store &store();   // opened on first use (-C, $PACH_DIR, or walking up)
	std::string c_dir;
	bool json = false;

private:
	std::vector<std::string> a_;
	size_t dashdash_;
	const char *usage_;
	std::unique_ptr<Store> store_;
};

std::string short_oid(const Oid &o);
std::string format_time(int64_t when, int tz_minutes);
std::string iso_time(int64_t when);

// The work tree around the current directory (or -C); dies if none.
std::unique_ptr<porcelain::Worktree> open_worktree(Args &args, const char *what);
std::string worktree_root(const Args &args);   // "" outside a work tree
std::string user_cwd(const Args &args);

// Every command, from Documentation/command-list.txt (the one list):
// X(id, "name", category, "one-line description").
#include "command-list.h"

#define DECLARE(id, name, category, desc) \
	int cmd_##id(Args &args);         \
	extern const char *const kUsage_##id;
PACH_COMMAND_LIST(DECLARE)
#undef DECLARE

enum class Category { porcelain, plumbing };

struct CommandInfo {
	const char *name;
	int (*fn)(Args &);
	const char *usage;
	Category category;
	const char *description;
};
// The table, in command-list.txt's order.
const std::vector<CommandInfo> &commands();

} // namespace pach::cmd
