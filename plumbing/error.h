// Errors, the git way: one exception type carrying the exit code, thrown by
// die() and caught once in main.  Messages are lowercase, without a full
// stop, and quote their subject: "unable to open 'x.png'".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pach {

enum class Exit : int {
	ok = 0,
	failed = 1,     // the operation ran and reports a negative result
	conflict = 2,   // a concurrent update won; retry after fetching/rereading
	fatal = 128,    // git's die()
	usage = 129,    // git's usage_with_options()
	pipe = 141,     // standard output was closed (`pach log | head`): as a
			// process killed by SIGPIPE, quietly, as git ends
};

struct Error : std::runtime_error {
	Exit code;
	Error(Exit c, const std::string &msg) : std::runtime_error(msg), code(c) {}
};

template <typename... A>
[[noreturn]] void die(fmt::format_string<A...> f, A &&...a)
{
	throw Error(Exit::fatal, fmt::format(f, std::forward<A>(a)...));
}

template <typename... A>
[[noreturn]] void die_usage(fmt::format_string<A...> f, A &&...a)
{
	throw Error(Exit::usage, fmt::format(f, std::forward<A>(a)...));
}

template <typename... A>
[[noreturn]] void die_conflict(fmt::format_string<A...> f, A &&...a)
{
	throw Error(Exit::conflict, fmt::format(f, std::forward<A>(a)...));
}

// die() with strerror(errno) appended, as git's die_errno().
[[noreturn]] void die_errno(const std::string &msg);
[[noreturn]] void die_errno(int err, const std::string &msg);

void warning(const std::string &msg);

} // namespace pach
