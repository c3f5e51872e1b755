// Job records: their text form (a header, and datum lines sharded by
// datum id), and reading them back from the metadata ref.
#include "runner/job.h"
#include "plumbing/number.h"
#include "plumbing/quote.h"

#include "plumbing/error.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string_view>

namespace pach::runner {

namespace {
constexpr const char *kDatumStateNames[kDatumStates] = {"pending", "would-run", "success",
							"skipped", "failed",	"recovered"};
constexpr const char *kJobStateNames[] = {"", "success", "failure", "up-to-date", "dry-run"};
} // namespace

const char *state_name(DatumState s) { return kDatumStateNames[(size_t)s]; }
const char *state_name(JobState s) { return kJobStateNames[(size_t)s]; }

std::optional<DatumState> parse_datum_state(std::string_view name)
{
	for (size_t i = 0; i < kDatumStates; i++)
		if (name == kDatumStateNames[i])
			return (DatumState)i;
	return std::nullopt;
}

std::optional<JobState> parse_job_state(std::string_view name)
{
	for (size_t i = 1; i < std::size(kJobStateNames); i++)
		if (name == kJobStateNames[i])
			return (JobState)i;
	return std::nullopt;
}

size_t JobRecord::count(DatumState st) const
{
	if (datums.empty())
		return counts[(size_t)st];
	return (size_t)std::count_if(datums.begin(), datums.end(), [&](auto &d) { return d.state == st; });
}

size_t JobRecord::ran() const
{
	return count(DatumState::success) + count(DatumState::failed) + count(DatumState::recovered);
}

static std::string esc(const std::string &s)
{
	std::string o;
	for (char c : s) {
		if (c == '\\')
			o += "\\\\";
		else if (c == '\t')
			o += "\\t";
		else if (c == '\n')
			o += "\\n";
		else
			o += c;
	}
	return o;
}

static std::string unesc(std::string_view s)
{
	std::string o;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] == '\\' && i + 1 < s.size()) {
			char n = s[++i];
			o += n == 't' ? '\t' : n == 'n' ? '\n' : n;
		} else {
			o += s[i];
		}
	}
	return o;
}

static std::vector<std::string_view> split(std::string_view s, char sep)
{
	std::vector<std::string_view> out;
	size_t i = 0;
	for (;;) {
		size_t j = s.find(sep, i);
		out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
		if (j == std::string_view::npos)
			return out;
		i = j + 1;
	}
}

static std::string opt_hex(const std::optional<Oid> &o)
{
	return o ? o->hex() : "-";
}

static std::optional<Oid> parse_opt(std::string_view s)
{
	return s == "-" ? std::nullopt : Oid::from_hex(std::string(s));
}

std::string format_datum(const DatumRecord &d, const std::string &origin)
{
	std::string o = fmt::format("d\t{}\t{}\t{}\t{}\t{}\t{:.3f}\t{}\t{}", d.id, d.hash, state_name(d.state), opt_hex(d.out_tree),
				    opt_hex(d.log), d.secs, d.attempts, origin);
	for (auto &f : d.files)
		o += "\t" + esc(f);
	return o + "\n";
}

std::string format_job_header(const JobRecord &j)
{
	std::string o;
	o += "job " + j.id + "\n";
	o += "pipeline " + j.pipeline + "\n";
	o += std::string("state ") + state_name(j.state) + "\n";
	o += "started " + std::to_string(j.started) + "\n";
	o += "finished " + std::to_string(j.finished) + "\n";
	o += "salt " + j.salt + "\n";
	o += "spec " + j.spec_version + "\n";
	for (auto &[k, v] : j.inputs)
		o += "input " + k + " " + v + "\n";
	o += "output " + opt_hex(j.output) + "\n";
	if (!j.error.empty())
		o += "error " + esc(j.error) + "\n";
	o += "datums " + std::to_string(j.datums.size()) + "\n";
	// By name, as the map that wrote them first ordered them.
	std::map<std::string, size_t> counts;
	for (auto &d : j.datums)
		counts[state_name(d.state)]++;
	for (auto &[st, n] : counts)
		o += "count " + st + " " + std::to_string(n) + "\n";
	return o;
}

// One datum line: "d\t..." (sharded records) or "datum\t..." (the old
// single-blob records, whose skipped datums say so themselves).
static void parse_datum_line(JobRecord &j, std::string_view line, bool files = true)
{
	bool sharded = line.compare(0, 2, "d\t") == 0;
	auto f = split(line.substr(0, line.size() - (line.back() == '\n')), '\t');
	size_t first_file = sharded ? 9 : 8;
	if (f.size() < first_file)
		return;
	// Job records travel with pull: a datum id is hex (it names shards
	// and scratch directories), a state one pach writes.
	auto hex = [](std::string_view x) {
		return x.size() >= 2 && x.size() <= 64 && x.find_first_not_of("0123456789abcdef") == std::string_view::npos;
	};
	auto state = parse_datum_state(f[3]);
	if (!hex(f[1]) || !state || *state == DatumState::pending || *state == DatumState::would_run)
		die("job record {} has a bad datum line", quote_path(j.id));
	DatumRecord d;
	d.id = f[1];
	d.hash = f[2];
	d.state = *state;
	d.out_tree = parse_opt(f[4]);
	d.log = parse_opt(f[5]);
	d.secs = atof(std::string(f[6]).c_str());
	d.attempts = (int)std::min<uint64_t>(parse_uint64(f[7]).value_or(0), 1000000);
	if (sharded) {
		d.origin = f[8];
		d.line = line;
		if (d.origin != j.id && d.state != DatumState::failed)
			d.state = DatumState::skipped;
	}
	for (size_t i = first_file; files && i < f.size(); i++)
		d.files.push_back(unesc(f[i]));
	j.datums.push_back(std::move(d));
}

void parse_datums(JobRecord &j, const std::string &text, bool files)
{
	size_t i = 0;
	while (i < text.size()) {
		size_t e = text.find('\n', i);
		e = e == std::string::npos ? text.size() : e + 1;
		if (e - i > 2)
			parse_datum_line(j, std::string_view(text).substr(i, e - i), files);
		i = e;
	}
}

JobRecord parse_job(const std::string &text)
{
	JobRecord j;
	for (auto line : split(text, '\n')) {
		if (line.empty())
			continue;
		if (line.compare(0, 6, "datum\t") == 0) {
			parse_datum_line(j, line);
			continue;
		}
		auto sp = line.find(' ');
		std::string k(line.substr(0, sp));
		std::string v(sp == std::string_view::npos ? "" : line.substr(sp + 1));
		if (k == "job")
			j.id = v;
		else if (k == "pipeline")
			j.pipeline = v;
		else if (k == "state") {
			auto st = parse_job_state(v);
			if (!st || *st == JobState::up_to_date || *st == JobState::dry_run)
				die("job record {} has a bad state", quote_path(j.id));
			j.state = *st;
		}
		else if (k == "started")
			j.started = parse_int64(v).value_or(0);
		else if (k == "finished")
			j.finished = parse_int64(v).value_or(0);
		else if (k == "salt")
			j.salt = v;
		else if (k == "spec")
			j.spec_version = v;
		else if (k == "input") {
			auto s2 = v.find(' ');
			j.inputs.push_back({v.substr(0, s2), s2 == std::string::npos ? "-" : v.substr(s2 + 1)});
		} else if (k == "output")
			j.output = parse_opt(v);
		else if (k == "error")
			j.error = unesc(v);
		else if (k == "datums")
			j.n_datums = (size_t)parse_uint64(v).value_or(0);
		else if (k == "count") {
			auto s2 = v.find(' ');
			auto st = parse_datum_state(v.substr(0, s2 == std::string::npos ? v.size() : s2));
			if (st && s2 != std::string::npos)
				j.counts[(size_t)*st] = (size_t)parse_uint64(v.substr(s2 + 1)).value_or(0);
		}
	}
	if (!j.datums.empty()) {
		j.n_datums = j.datums.size();
		for (auto &d : j.datums)
			j.counts[(size_t)d.state]++;
	}
	return j;
}

static std::optional<Oid> meta_tree(const Store &s)
{
	auto c = s.ref(kMetaRef);
	if (!c)
		return std::nullopt;
	return s.read_commit(*c).tree;
}

static std::optional<JobRecord> load_job_at(const Store &s, const Oid &dir, bool with_datums, bool files = true)
{
	auto e = lookup_path(s, dir, {"record"});
	if (!e || e->is_dir())
		return std::nullopt;
	JobRecord j = parse_job(s.odb().read_small(e->oid));
	if (with_datums)
		if (auto d = lookup_path(s, dir, {"datums"}); d && d->is_dir())
			for (auto &shard : s.read_tree(d->oid))
				parse_datums(j, s.odb().read_small(shard.oid), files);
	return j;
}

static std::optional<JobRecord> load_job_files(const Store &s, const std::string &pipeline, const std::string &id,
					       bool with_datums, bool files)
{
	auto t = meta_tree(s);
	if (!t)
		return std::nullopt;
	auto e = lookup_path(s, *t, {"jobs", pipeline, id});
	if (!e || !e->is_dir())
		return std::nullopt;
	return load_job_at(s, e->oid, with_datums, files);
}

std::optional<JobRecord> load_job(const Store &s, const std::string &pipeline, const std::string &id, bool with_datums)
{
	return load_job_files(s, pipeline, id, with_datums, true);
}

std::optional<JobRecord> last_job(const Store &s, const std::string &pipeline, bool files)
{
	auto t = meta_tree(s);
	if (!t)
		return std::nullopt;
	auto e = lookup_path(s, *t, {"pipelines", pipeline, "last_job"});
	if (!e)
		return std::nullopt;
	return load_job_files(s, pipeline, s.odb().read_small(e->oid), true, files);
}

std::vector<JobRecord> list_jobs(const Store &s, const std::string &pipeline)
{
	std::vector<JobRecord> out;
	auto t = meta_tree(s);
	if (!t)
		return out;
	auto e = lookup_path(s, *t, {"jobs", pipeline});
	if (!e || !e->is_dir())
		return out;
	for (auto &j : s.read_tree(e->oid))
		if (auto r = load_job_at(s, j.oid, false))
			out.push_back(std::move(*r));
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.started > b.started; });
	return out;
}

std::vector<JobRecord> list_all_jobs(const Store &s)
{
	std::vector<JobRecord> out;
	auto t = meta_tree(s);
	if (!t)
		return out;
	auto e = lookup_path(s, *t, {"jobs"});
	if (!e || !e->is_dir())
		return out;
	for (auto &p : s.read_tree(e->oid)) {
		auto j = list_jobs(s, p.name);
		out.insert(out.end(), j.begin(), j.end());
	}
	std::stable_sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.started > b.started; });
	return out;
}

JobRecord find_job(const Store &s, const std::string &prefix)
{
	if (prefix.size() < 4)
		die("job id '{}' is too short (give at least 4 characters)", prefix);
	std::vector<JobRecord> hits;
	for (auto &j : list_all_jobs(s))
		if (j.id.compare(0, prefix.size(), prefix) == 0)
			hits.push_back(j);
	if (hits.empty())
		die("job '{}' not found", prefix);
	if (hits.size() > 1)
		die("job id '{}' is ambiguous", prefix);
	auto full = load_job(s, hits[0].pipeline, hits[0].id, true);
	return full ? *full : hits[0];
}


} // namespace pach::runner
