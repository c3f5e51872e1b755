#include "runner/cron.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/progress.h"
#include "plumbing/tree_edit.h"

#include <functional>
#include <set>
#include <sstream>
#include <vector>

namespace pach::runner {

std::string rfc3339(int64_t t)
{
	return utc_timestamp(t);
}

static int64_t parse_rfc3339(const std::string &s)
{
	struct tm tm = {};
	if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (int64_t)timegm(&tm);
}

namespace {

// One field of a 5-field cron line, as the set of values it allows.
std::set<int> field(const std::string &f, int lo, int hi, const std::string &spec)
{
	std::set<int> out;
	std::stringstream ss(f);
	std::string part;
	while (std::getline(ss, part, ',')) {
		int step = 1;
		auto slash = part.find('/');
		if (slash != std::string::npos) {
			step = atoi(part.c_str() + slash + 1);
			part = part.substr(0, slash);
			if (step < 1)
				die("bad cron spec '{}': step must be at least 1", spec);
		}
		int a = lo, b = hi;
		if (part != "*") {
			auto dash = part.find('-');
			char *end;
			a = (int)strtol(part.c_str(), &end, 10);
			if (end == part.c_str())
				die("bad cron spec '{}': '{}' is not a number", spec, part);
			b = dash == std::string::npos ? (slash != std::string::npos ? hi : a) : atoi(part.c_str() + dash + 1);
		}
		if (a < lo || b > hi || a > b)
			die("bad cron spec '{}': '{}' is out of range {}-{}", spec, f, lo, hi);
		for (int v = a; v <= b; v += step)
			out.insert(v);
	}
	return out;
}

struct Cron {
	std::set<int> min, hour, dom, mon, dow;
	bool dom_any, dow_any;
};

Cron parse_cron(const std::string &spec)
{
	std::string s = spec;
	if (s == "@hourly")
		s = "0 * * * *";
	else if (s == "@daily" || s == "@midnight")
		s = "0 0 * * *";
	else if (s == "@weekly")
		s = "0 0 * * 0";
	else if (s == "@monthly")
		s = "0 0 1 * *";
	else if (s == "@yearly" || s == "@annually")
		s = "0 0 1 1 *";
	std::stringstream ss(s);
	std::vector<std::string> f;
	std::string x;
	while (ss >> x)
		f.push_back(x);
	if (f.size() != 5)
		die("bad cron spec '{}': expected 5 fields (minute hour day month weekday) or @every <duration>", spec);
	Cron c;
	c.min = field(f[0], 0, 59, spec);
	c.hour = field(f[1], 0, 23, spec);
	c.dom = field(f[2], 1, 31, spec);
	c.mon = field(f[3], 1, 12, spec);
	c.dow = field(f[4], 0, 7, spec);
	if (c.dow.count(7))
		c.dow.insert(0);
	c.dom_any = f[2] == "*";
	c.dow_any = f[4] == "*";
	return c;
}

} // namespace

void check_cron_spec(const std::string &spec)
{
	next_tick(spec, 0);
}

int64_t next_tick(const std::string &spec, int64_t after)
{
	if (spec.compare(0, 7, "@every ") == 0) {
		double d = parse_duration(spec.substr(7));
		if (d < 1)
			die("bad cron spec '{}': '@every' needs a duration of at least 1s", spec);
		return after + (int64_t)d; // Pachyderm: the previous tick plus the duration
	}
	Cron c = parse_cron(spec);
	int64_t t = (after / 60 + 1) * 60;
	for (int i = 0; i < 366 * 24 * 60 * 5; i++, t += 60) {
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		if (!c.min.count(tm.tm_min) || !c.hour.count(tm.tm_hour) || !c.mon.count(tm.tm_mon + 1))
			continue;
		bool dom = c.dom.count(tm.tm_mday) > 0, dow = c.dow.count(tm.tm_wday) > 0;
		// As cron: when both day fields are restricted, either matches.
		bool day = c.dom_any && c.dow_any ? true : c.dom_any ? dow : c.dow_any ? dom : (dom || dow);
		if (day)
			return t;
	}
	die("cron spec '{}' never fires", spec);
}

int commit_due_ticks(Store &s, const PipelineSpec &spec, int64_t now, int max)
{
	int made = 0;
	std::function<void(const Input &)> rec = [&](const Input &in) {
		for (auto &ch : in.children)
			rec(ch);
		if (in.kind != Input::cron)
			return;
		const CronInput &c = in.cron_in;
		std::string ref = branch_ref(c.repo, "master");
		for (int n = 0; n < max; n++) {
			auto head = s.ref(ref);
			int64_t last = -1;
			std::optional<Oid> tree;
			if (head) {
				tree = s.read_commit(*head).tree;
				for (auto &e : s.read_tree(*tree))
					last = std::max(last, parse_rfc3339(e.name));
			}
			int64_t due;
			if (last < 0)
				due = c.start.empty() ? now : parse_rfc3339(c.start);
			else
				due = next_tick(c.spec, last);
			if (due < 0)
				die("pipeline '{}': cron input '{}': bad start '{}'", spec.name, c.name, c.start);
			if (due > now)
				break;
			ObjectWriter w(s, 1);
			std::string name = rfc3339(due);
			Oid blob = w.blob(name.data(), 0);
			std::optional<Oid> base = c.overwrite ? std::nullopt : tree;
			Oid nt = edit_tree(s, w, base, {name}, TreeEntry{name, kModeFile, blob});
			std::vector<Oid> parents;
			if (head)
				parents.push_back(*head);
			Oid commit = w.commit(nt, parents, s.committer(), s.committer(), "cron tick " + name + "\n");
			w.finish();
			if (!s.cas_ref(ref, commit, head, "cron tick " + name))
				die("cron repo '{}' moved while pach was ticking; run again", c.repo);
			made++;
		}
	};
	rec(spec.input);
	return made;
}

} // namespace pach::runner
