#include "cmd/cmd.h"
#include "plumbing/quote.h"

#include "plumbing/progress.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace pach::cmd {

Args::Args(std::vector<std::string> argv, const char *usage) : a_(std::move(argv)), usage_(usage)
{
	dashdash_ = a_.size();
	for (size_t i = 0; i < a_.size(); i++)
		if (a_[i] == "--") {
			dashdash_ = i;
			break;
		}
	for (size_t i = 0; i < dashdash_; i++) {
		// -h is help, except for a command whose usage makes it an
		// option of its own (ls -h: human sizes, as GNU ls).
		if ((a_[i] == "-h" && !std::strstr(usage_, "-h, --human-readable")) || a_[i] == "--help") {
			fmt::print("{}", usage_);
			fflush(stdout);
			throw Error(Exit::usage, "");
		}
	}
	json = flag(0, "json");
	// Only commands that document --json accept it: a script asking for
	// JSON must not silently get text.
	if (json && !std::strstr(usage_, "--json"))
		usage_error("unknown option '--json' (this command has no JSON output)");
	if (flag('q', "quiet"))
		Progress::set_quiet(true);
	// --progress / --no-progress (flag() reads the --no- form as false).
	for (size_t i = 0; i < dashdash_; i++)
		if (a_[i] == "--no-progress" || a_[i] == "--progress") {
			Progress::set_quiet(a_[i] == "--no-progress");
			Progress::set_forced(a_[i] == "--progress");
			a_.erase(a_.begin() + (long)i--);
			dashdash_--;
		}
}

void Args::usage_error(const std::string &msg) const
{
	fmt::print(stderr, "error: {}\n\n{}", msg, usage_);
	throw Error(Exit::usage, "");
}

bool Args::flag(char s, const char *l)
{
	for (size_t i = 0; i < dashdash_; i++) {
		const std::string &x = a_[i];
		if ((l && x == std::string("--") + l) || (s && x == std::string("-") + s)) {
			a_.erase(a_.begin() + (long)i);
			dashdash_--;
			return true;
		}
		// Bundled short options, as git: "-am msg" is "-a -m msg".  Flags
		// are taken before values, so what remains ("-m") is a value's.
		if (s && x.size() > 2 && x[0] == '-' && x[1] == s && std::isalpha((unsigned char)x[2])) {
			a_[i] = "-" + x.substr(2);
			return true;
		}
		if (l && x == std::string("--no-") + l) {
			a_.erase(a_.begin() + (long)i);
			dashdash_--;
			return false;
		}
	}
	return false;
}

std::optional<std::string> Args::value(char s, const char *l)
{
	auto all = values(s, l);
	if (all.empty())
		return std::nullopt;
	return all.back();
}

std::vector<std::string> Args::values(char s, const char *l)
{
	std::vector<std::string> out;
	for (size_t i = 0; i < dashdash_;) {
		const std::string &x = a_[i];
		std::string lo = l ? std::string("--") + l : "", so = s ? std::string("-") + s : "";
		size_t take = 0;
		if ((l && x == lo) || (s && x == so)) {
			if (i + 1 >= dashdash_)
				usage_error("option '" + x + "' requires a value");
			out.push_back(a_[i + 1]);
			take = 2;
		} else if (l && x.compare(0, lo.size() + 1, lo + "=") == 0) {
			out.push_back(x.substr(lo.size() + 1));
			take = 1;
		} else if (s && x.size() > 2 && x.compare(0, 2, so) == 0 && x[1] != '-') {
			out.push_back(x.substr(2));
			take = 1;
		}
		if (take) {
			a_.erase(a_.begin() + (long)i, a_.begin() + (long)(i + take));
			dashdash_ -= take;
		} else {
			i++;
		}
	}
	return out;
}

int Args::int_value(char s, const char *l, int dflt)
{
	auto v = value(s, l);
	if (!v)
		return dflt;
	char *end;
	errno = 0;
	long n = strtol(v->c_str(), &end, 10);
	if (v->empty() || *end || errno == ERANGE || n < INT_MIN || n > INT_MAX)
		usage_error("option '" + std::string(l ? l : std::string(1, s)) + "' expects a number, not '" + *v + "'");
	return (int)n;
}

std::vector<std::string> Args::rest(size_t min, size_t max)
{
	std::vector<std::string> out;
	for (size_t i = 0; i < a_.size(); i++) {
		if (i == dashdash_)
			continue;
		if (i < dashdash_ && a_[i].size() > 1 && a_[i][0] == '-')
			usage_error("unknown option '" + a_[i] + "'");
		out.push_back(a_[i]);
	}
	if (out.size() < min)
		usage_error("too few arguments");
	if (out.size() > max)
		usage_error("too many arguments");
	return out;
}

Store &Args::store()
{
	if (!store_)
		store_ = std::make_unique<Store>(Store::discover(c_dir));
	return *store_;
}

std::string short_oid(const Oid &o)
{
	return o.hex().substr(0, 12);
}

std::string format_time(int64_t when, int tz)
{
	time_t t = (time_t)(when + tz * 60);
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[64];
	strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
	int m = tz < 0 ? -tz : tz;
	return fmt::format("{} {}{:02}{:02}", buf, tz < 0 ? '-' : '+', m / 60, m % 60);
}

std::string iso_time(int64_t when)
{
	return utc_timestamp(when);
}

} // namespace pach::cmd
