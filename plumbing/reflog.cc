#include "plumbing/reflog.h"
#include "plumbing/number.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/git.h"
#include "plumbing/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace pach {

static std::string log_path(const Store &s, const std::string &ref)
{
	return s.path("logs/" + ref);
}

static std::optional<Oid> parse_side(const std::string &hex)
{
	auto o = Oid::from_hex(hex);
	if (!o || o->is_zero())
		return std::nullopt;
	return o;
}

std::vector<ReflogEntry> read_reflog(const Store &s, const std::string &ref)
{
	std::vector<ReflogEntry> out;
	std::string p = log_path(s, ref);
	if (!path_exists(p))
		return out;
	std::ifstream in(p);
	std::string line;
	while (std::getline(in, line)) {
		if (line.size() < 83 || line[40] != ' ' || line[81] != ' ')
			continue;   // not a reflog line: skip, as git does
		ReflogEntry e;
		e.old_oid = parse_side(line.substr(0, 40));
		e.new_oid = parse_side(line.substr(41, 40));
		auto tab = line.find('\t', 82);
		std::string id = line.substr(82, tab == std::string::npos ? std::string::npos : tab - 82);
		if (tab != std::string::npos)
			e.message = line.substr(tab + 1);
		// "Name <email> 1234567890 +0100": the last two fields are the date.
		auto gt = id.rfind('>');
		if (gt == std::string::npos)
			continue;
		e.who = id.substr(0, gt + 1);
		std::istringstream d(id.substr(gt + 1));
		std::string tz;
		d >> e.when >> tz;
		if (tz.size() == 5) {
			int v = atoi(tz.c_str() + 1);
			e.tz_minutes = (tz[0] == '-' ? -1 : 1) * (v / 100 * 60 + v % 100);
		}
		out.push_back(std::move(e));
	}
	return out;
}

static void walk_logs(const std::string &dir, const std::string &prefix, std::vector<std::string> &out)
{
	for (auto &n : dir_names(dir)) {
		if (n[0] == '.')
			continue;
		std::string p = dir + "/" + n;
		if (is_dir(p))
			walk_logs(p, prefix + n + "/", out);
		else if (n.size() < 5 || n.compare(n.size() - 5, 5, ".lock") != 0)
			out.push_back(prefix + n);
	}
}

std::vector<std::string> logged_refs(const Store &s)
{
	std::vector<std::string> out;
	walk_logs(s.path("logs/refs"), "refs/", out);
	std::sort(out.begin(), out.end());
	return out;
}

static std::string format_entry(const ReflogEntry &e)
{
	int tz = std::abs(e.tz_minutes);
	return fmt::format("{} {} {} {} {}{:02}{:02}\t{}\n", e.old_oid ? e.old_oid->hex() : std::string(40, '0'),
			   e.new_oid ? e.new_oid->hex() : std::string(40, '0'), e.who, e.when,
			   e.tz_minutes < 0 ? '-' : '+', tz / 60, tz % 60, e.message);
}

void append_reflog(const Store &s, const std::string &ref, const ReflogEntry &e)
{
	std::string p = log_path(s, ref);
	mkdir_p(dirname_of(p));
	Fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666));
	if (!fd)
		die_errno("unable to append to '" + p + "'");
	std::string line = format_entry(e);
	write_full(fd.get(), line.data(), line.size(), p);
}

size_t expire_reflog(const Store &s, const std::string &ref, int64_t cutoff, bool ref_exists)
{
	auto log = read_reflog(s, ref);
	std::string keep;
	size_t dropped = 0;
	for (auto &e : log) {
		if (e.when < cutoff) {
			dropped++;
			continue;
		}
		keep += format_entry(e);
	}
	if (!dropped)
		return 0;
	std::string p = log_path(s, ref);
	if (keep.empty() && !ref_exists)
		unlink(p.c_str());
	else
		write_file_atomic(p, keep);
	return dropped;
}

std::optional<std::optional<Oid>> ref_at(const std::vector<ReflogEntry> &log, int64_t t)
{
	if (log.empty())
		return std::nullopt;
	const ReflogEntry *best = nullptr;
	for (auto &e : log)
		if (e.when <= t)
			best = &e;   // oldest first: the last one at or before t
	if (best)
		return best->new_oid;
	return log.front().old_oid;
}

static std::optional<int64_t> unit_seconds(std::string u)
{
	if (u.size() > 1 && u.back() == 's')
		u.pop_back();
	if (u == "second" || u == "sec")
		return 1;
	if (u == "minute" || u == "min")
		return 60;
	if (u == "hour")
		return 3600;
	if (u == "day")
		return 86400;
	if (u == "week")
		return 7 * 86400;
	if (u == "month")
		return 30 * 86400;
	if (u == "year")
		return 365 * 86400;
	return std::nullopt;
}

// "2 hours", "2.hours", "30 days" -> seconds.
static std::optional<int64_t> parse_span(std::string s)
{
	for (auto &c : s)
		if (c == '.' || c == '_')
			c = ' ';
	std::istringstream in(s);
	long long n;
	std::string unit, extra;
	if (!(in >> n) || n < 0 || !(in >> unit) || (in >> extra))
		return std::nullopt;
	auto u = unit_seconds(unit);
	if (!u)
		return std::nullopt;
	return n * *u;
}

std::optional<int64_t> parse_time(const std::string &in, int64_t now)
{
	std::string s = in;
	while (!s.empty() && isspace((unsigned char)s.back()))
		s.pop_back();
	if (s.empty())
		return std::nullopt;
	if (s == "now")
		return now;
	if (s == "yesterday")
		return now - 86400;
	if (s[0] == '@' && s.size() > 1 && std::all_of(s.begin() + 1, s.end(), ::isdigit))
		return parse_int64(s.substr(1));   // nullopt past INT64_MAX
	// "<n> <unit> ago" / "<n>.<unit>.ago"
	for (const char *ago : {" ago", ".ago", "_ago"}) {
		size_t n = strlen(ago);
		if (s.size() > n && s.compare(s.size() - n, n, ago) == 0) {
			auto span = parse_span(s.substr(0, s.size() - n));
			if (!span)
				return std::nullopt;
			return now - *span;
		}
	}
	// Dates: YYYY-MM-DD[( |T)HH:MM[:SS]][Z|(+|-)HH[:]MM]
	struct tm tm {};
	int y, mo, d, h = 0, mi = 0, sec = 0, consumed = 0;
	if (sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10)
		return std::nullopt;
	size_t i = 10;
	bool has_time = false;
	if (i < s.size() && (s[i] == ' ' || s[i] == 'T')) {
		int c2 = 0;
		if (sscanf(s.c_str() + i + 1, "%2d:%2d%n", &h, &mi, &c2) != 2 || c2 != 5)
			return std::nullopt;
		i += 1 + (size_t)c2;
		if (i < s.size() && s[i] == ':') {
			int c3 = 0;
			if (sscanf(s.c_str() + i + 1, "%2d%n", &sec, &c3) != 1 || c3 != 2)
				return std::nullopt;
			i += 3;
		}
		has_time = true;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return std::nullopt;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	std::string zone = s.substr(i);
	if (zone.empty()) {
		tm.tm_isdst = -1;
		time_t t = mktime(&tm);   // local time, as git
		return (int64_t)t;
	}
	if (!has_time)
		return std::nullopt;
	int64_t base = (int64_t)timegm(&tm);
	if (zone == "Z" || zone == "z")
		return base;
	if ((zone[0] == '+' || zone[0] == '-') && (zone.size() == 5 || zone.size() == 6)) {
		std::string digits = zone.size() == 6 && zone[3] == ':' ? zone.substr(1, 2) + zone.substr(4) : zone.substr(1);
		if (digits.size() != 4 || !std::all_of(digits.begin(), digits.end(), ::isdigit))
			return std::nullopt;
		int off = std::stoi(digits.substr(0, 2)) * 3600 + std::stoi(digits.substr(2)) * 60;
		return zone[0] == '+' ? base - off : base + off;
	}
	return std::nullopt;
}

std::optional<int64_t> parse_duration(const std::string &s)
{
	if (s == "never" || s == "false")
		return INT64_MAX;
	if (s == "now" || s == "all")
		return 0;
	if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit))
	{
		auto d = parse_int64(s);
		if (!d || *d > INT64_MAX / 86400)
			return std::nullopt;
		return *d * 86400;
	}
	std::string t = s;
	if (t.size() > 4 && (t.compare(t.size() - 4, 4, " ago") == 0 || t.compare(t.size() - 4, 4, ".ago") == 0))
		t = t.substr(0, t.size() - 4);
	return parse_span(t);
}

void ensure_reflogs_enabled(const Store &s)
{
	git_config *c = nullptr;
	if (git_repository_config(&c, lg2_repo(s)) < 0)
		return;
	GitConfig cfg(c);
	git_buf b = GIT_BUF_INIT;
	bool set = git_config_get_string_buf(&b, c, "core.logAllRefUpdates") == 0 && std::string(b.ptr) == "always";
	git_buf_dispose(&b);
	if (!set)
		git_config_set_string(c, "core.logAllRefUpdates", "always");
}

} // namespace pach
