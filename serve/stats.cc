#include "serve/stats.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/json.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"
#include "plumbing/version.h"
#include "remote/http.h"
#include "remote/sync.h"
#include "runner/job.h"
#include "serve/auth.h"
#include "serve/s3.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <unordered_set>

namespace pach::serve {

namespace {

std::string day_of(int64_t t)
{
	return utc_time(t, "%Y-%m-%d");
}

RepoStats repo_size(const Store &s, const std::string &repo,
		    const std::vector<std::pair<std::string, Oid>> &branches)
{
	RepoStats r;
	r.name = repo;
	r.branches = branches.size();
	std::unordered_set<Oid, OidHash> seen;
	for (auto &[ref, head] : branches) {
		Oid tree = s.read_commit(head).tree;
		for (TreeFiles f(s, tree); !f.done(); f.next()) {
			const TreeEntry &e = f.entry();
			if (e.mode == kModeGitlink || !seen.insert(e.oid).second)
				continue;
			r.files++;
			if (auto rd = s.odb().open(e.oid))
				r.bytes += rd->size();
		}
	}
	return r;
}

} // namespace

void StatsCollector::read_transfers()
{
	Fd fd(::open(remote::transfers_path(s_).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	struct stat sb;
	if (!fd || fstat(fd.get(), &sb) < 0)
		return;
	if ((uint64_t)sb.st_size < transfers_read_) {   // replaced by a shorter one: start again
		transfers_read_ = 0;
		remotes_.clear();
	}
	std::string carry;
	char buf[65536];
	for (;;) {
		ssize_t n = pread(fd.get(), buf, sizeof buf, (off_t)transfers_read_);
		if (n <= 0)
			break;
		transfers_read_ += (uint64_t)n;
		carry.append(buf, (size_t)n);
		size_t start = 0, nl;
		while ((nl = carry.find('\n', start)) != std::string::npos) {
			char op[16], remote[256];
			long long t;
			unsigned long long bytes, objects, packs, requests;
			std::string line = carry.substr(start, nl - start);
			start = nl + 1;
			if (sscanf(line.c_str(), "%lld %15s %255s %llu %llu %llu %llu", &t, op, remote, &bytes, &objects, &packs,
				   &requests) != 7)
				continue;   // a line this version does not know
			RemoteStats &r = remotes_[{remote, op}];
			r.transfers++;
			r.bytes += bytes;
			r.objects += objects;
			r.requests += requests;
		}
		carry.erase(0, start);
		// A last line still being written is read again next time.
		if (carry.size() > 4096)
			carry.clear();
	}
	transfers_read_ -= carry.size();
}

StoreStats StatsCollector::collect()
{
	StoreStats st;
	for (auto &p : s_.odb().packs()) {
		struct stat sb;
		if (stat(p->pack_path.c_str(), &sb) == 0)
			st.pack_bytes += (uint64_t)sb.st_size;
		st.packs++;
	}
	std::lock_guard<std::mutex> g(mu_);
	for (auto &info : list_repos(s_)) {
		auto branches = s_.refs("refs/heads/" + info.name + "/");
		std::string heads;
		for (auto &[ref, oid] : branches)
			heads += ref + " " + oid.hex() + "\n";
		auto &slot = repos_[info.name];
		if (slot.heads != heads || slot.stats.name.empty()) {
			slot.stats = repo_size(s_, info.name, branches);
			slot.heads = heads;
		}
		st.repos.push_back(slot.stats);
	}
	std::map<std::string, PipelineStats> by_pipeline;
	for (auto &j : runner::list_all_jobs(s_)) {
		std::string key = j.pipeline + "/" + j.id;
		auto it = jobs_.find(key);
		if (it == jobs_.end()) {
			JobSummary sum;
			sum.pipeline = j.pipeline;
			sum.state = runner::state_name(j.state);
			sum.day = day_of(j.started);
			sum.job_seconds = j.finished > j.started ? (double)(j.finished - j.started) : 0;
			if (auto full = runner::load_job(s_, j.pipeline, j.id, true)) {
				for (auto &d : full->datums) {
					sum.datums[runner::state_name(d.state)]++;
					// A skipped datum's time is its origin job's.
					if (d.state != runner::DatumState::skipped)
						sum.ran_seconds.push_back(d.secs);
				}
			}
			it = jobs_.emplace(key, std::move(sum)).first;
		}
		const JobSummary &sum = it->second;
		PipelineStats &p = by_pipeline[sum.pipeline];
		p.name = sum.pipeline;
		p.jobs[sum.state]++;
		for (auto &[state, n] : sum.datums)
			p.datums[state] += n;
		DayStats &d = p.by_day[sum.day];
		d.jobs++;
		d.job_seconds += sum.job_seconds;
		for (double secs : sum.ran_seconds) {
			p.durations.observe(secs);
			d.datums_ran++;
			d.datum_seconds += secs;
		}
	}
	for (auto &[name, p] : by_pipeline)
		st.pipelines.push_back(std::move(p));
	read_transfers();
	st.remotes = remotes_;
	return st;
}

static std::string human(uint64_t b)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	return u ? fmt::format("{:.1f} {}", v, units[u]) : fmt::format("{} B", b);
}

std::string stats_text(const StoreStats &st)
{
	std::string o = fmt::format("store: {} in {} pack{}\n", human(st.pack_bytes), st.packs, st.packs == 1 ? "" : "s");
	if (!st.repos.empty())
		o += fmt::format("\n{:<24} {:>8} {:>10} {:>12}\n", "REPO", "BRANCHES", "FILES", "SIZE");
	for (auto &r : st.repos)
		o += fmt::format("{:<24} {:>8} {:>10} {:>12}\n", r.name, r.branches, r.files, human(r.bytes));
	if (!st.remotes.empty())
		o += fmt::format("\n{:<16} {:<6} {:>9} {:>12} {:>10} {:>9}\n", "REMOTE", "OP", "TRANSFERS", "BYTES", "OBJECTS",
				 "REQUESTS");
	for (auto &[k, r] : st.remotes)
		o += fmt::format("{:<16} {:<6} {:>9} {:>12} {:>10} {:>9}\n", k.first, k.second, r.transfers, human(r.bytes),
				 r.objects, r.requests);
	for (auto &p : st.pipelines) {
		size_t jobs = 0;
		for (auto &[s, n] : p.jobs)
			jobs += n;
		o += fmt::format("\npipeline {}: {} job{}", p.name, jobs, jobs == 1 ? "" : "s");
		for (auto &[s, n] : p.jobs)
			o += fmt::format(", {} {}", n, s);
		o += "\n  datums:";
		for (auto &[s, n] : p.datums)
			o += fmt::format(" {} {}", n, s);
		o += fmt::format("\n  {:<12} {:>6} {:>8} {:>12} {:>12}\n", "DAY", "JOBS", "DATUMS", "DATUM TIME", "DATUMS/S");
		for (auto &[day, d] : p.by_day)
			o += fmt::format("  {:<12} {:>6} {:>8} {:>11.1f}s {:>12}\n", day, d.jobs, d.datums_ran, d.datum_seconds,
					 d.job_seconds > 0 ? fmt::format("{:.2f}", (double)d.datums_ran / d.job_seconds) : "-");
	}
	return o;
}

std::string stats_json(const StoreStats &st)
{
	Json j;
	j.begin_object().field("pack_bytes", st.pack_bytes).field("packs", (uint64_t)st.packs);
	j.key("repos").begin_array();
	for (auto &r : st.repos)
		j.begin_object()
			.field("name", r.name)
			.field("branches", (uint64_t)r.branches)
			.field("files", r.files)
			.field("bytes", r.bytes)
			.end_object();
	j.end_array().key("pipelines").begin_array();
	for (auto &p : st.pipelines) {
		j.begin_object().field("name", p.name).key("jobs").begin_object();
		for (auto &[s, n] : p.jobs)
			j.field(s, (uint64_t)n);
		j.end_object().key("datums").begin_object();
		for (auto &[s, n] : p.datums)
			j.field(s, (uint64_t)n);
		j.end_object().key("datum_seconds").fixed(p.durations.sum, 3);
		j.key("by_day").begin_array();
		for (auto &[day, d] : p.by_day) {
			j.begin_object().field("day", day).field("jobs", (uint64_t)d.jobs).field("datums_ran", (uint64_t)d.datums_ran);
			j.key("datum_seconds").fixed(d.datum_seconds, 3).key("job_seconds").fixed(d.job_seconds, 3).end_object();
		}
		j.end_array().end_object();
	}
	j.end_array().key("remotes").begin_array();
	for (auto &[k, r] : st.remotes)
		j.begin_object()
			.field("remote", k.first)
			.field("op", k.second)
			.field("transfers", r.transfers)
			.field("bytes", r.bytes)
			.field("objects", r.objects)
			.field("requests", r.requests)
			.end_object();
	j.end_array().end_object();
	return j.text();
}

std::string stats_metrics(const StoreStats &st)
{
	std::string o = "# HELP pach_store_pack_bytes Bytes in the store's packs.\n# TYPE pach_store_pack_bytes gauge\n";
	o += fmt::format("pach_store_pack_bytes {}\n", st.pack_bytes);
	o += "# HELP pach_store_packs Packs in the store.\n# TYPE pach_store_packs gauge\n";
	o += fmt::format("pach_store_packs {}\n", st.packs);
	o += "# HELP pach_store_repos Repos in the store.\n# TYPE pach_store_repos gauge\n";
	o += fmt::format("pach_store_repos {}\n", st.repos.size());
	o += "# HELP pach_repo_files Distinct files over a repo's branch heads.\n# TYPE pach_repo_files gauge\n";
	for (auto &r : st.repos)
		o += fmt::format("pach_repo_files{{repo=\"{}\"}} {}\n", prom_label(r.name), r.files);
	o += "# HELP pach_repo_bytes Bytes of those files, uncompressed.\n# TYPE pach_repo_bytes gauge\n";
	for (auto &r : st.repos)
		o += fmt::format("pach_repo_bytes{{repo=\"{}\"}} {}\n", prom_label(r.name), r.bytes);
	o += "# HELP pach_jobs Recorded jobs, by pipeline and state.\n# TYPE pach_jobs gauge\n";
	for (auto &p : st.pipelines)
		for (auto &[s, n] : p.jobs)
			o += fmt::format("pach_jobs{{pipeline=\"{}\",state=\"{}\"}} {}\n", prom_label(p.name), s, n);
	o += "# HELP pach_datums_total Datums of recorded jobs, by pipeline and state.\n# TYPE pach_datums_total counter\n";
	for (auto &p : st.pipelines)
		for (auto &[s, n] : p.datums)
			o += fmt::format("pach_datums_total{{pipeline=\"{}\",state=\"{}\"}} {}\n", prom_label(p.name), s, n);
	o += "# HELP pach_datum_seconds How long datums that ran took, by pipeline.\n# TYPE pach_datum_seconds histogram\n";
	for (auto &p : st.pipelines)
		o += p.durations.text("pach_datum_seconds", "pipeline=\"" + prom_label(p.name) + "\"");
	o += "# HELP pach_remote_transfers_total Pushes and fetches, by remote.\n# TYPE pach_remote_transfers_total counter\n";
	for (auto &[k, r] : st.remotes)
		o += fmt::format("pach_remote_transfers_total{{remote=\"{}\",op=\"{}\"}} {}\n", prom_label(k.first), k.second,
				 r.transfers);
	o += "# HELP pach_remote_bytes_total Pack bytes sent (push) or received (fetch).\n# TYPE pach_remote_bytes_total counter\n";
	for (auto &[k, r] : st.remotes)
		o += fmt::format("pach_remote_bytes_total{{remote=\"{}\",op=\"{}\"}} {}\n", prom_label(k.first), k.second, r.bytes);
	o += "# HELP pach_remote_requests_total Requests made to remotes.\n# TYPE pach_remote_requests_total counter\n";
	for (auto &[k, r] : st.remotes)
		o += fmt::format("pach_remote_requests_total{{remote=\"{}\",op=\"{}\"}} {}\n", prom_label(k.first), k.second,
				 r.requests);
	return o;
}

static std::string install_id(Store &s)
{
	std::string path = s.git_dir();
	path += "/pach/install-id";
	if (path_exists(path)) {
		std::string raw = read_file_small(path);
		if (raw.size() == 33 && raw[32] == '\n' && is_lower_hex(raw.substr(0, 32), 32))
			return raw.substr(0, 32);
	}
	std::string id = random_hex(16);
	write_file_atomic(path, id + "\n");
	return id;
}

std::string usage_payload(Store &s, const StoreStats &st)
{
	size_t branches = 0, jobs = 0, datums = 0;
	uint64_t bytes = 0, files = 0;
	for (auto &r : st.repos)
		branches += r.branches, bytes += r.bytes, files += r.files;
	for (auto &p : st.pipelines) {
		for (auto &[state, n] : p.jobs)
			jobs += n;
		for (auto &[state, n] : p.datums)
			datums += n;
	}
	utsname u{};
	uname(&u);
	const std::string id = install_id(s);
	Json j;
	j.begin_object()
		.field("payload_version", 1)
		.field("install_id", id)
		.field("pach_version", kPachVersion)
		.field("os", u.sysname)
		.field("arch", u.machine)
		.field("repos", (uint64_t)st.repos.size())
		.field("branches", (uint64_t)branches)
		.field("files", files)
		.field("bytes", bytes)
		.field("pack_bytes", st.pack_bytes)
		.field("pipelines", (uint64_t)st.pipelines.size())
		.field("jobs", (uint64_t)jobs)
		.field("datums", (uint64_t)datums)
		.end_object();
	return j.text();
}

std::string usage_url(const Store &s, std::string *why)
{
	const char *env = getenv("METRICS");
	if (env && (!strcasecmp(env, "false") || !strcmp(env, "0") || !strcasecmp(env, "no") || !strcasecmp(env, "off"))) {
		*why = "METRICS=false";
		return "";
	}
	auto url = config_get(&s, "metrics.url");
	if (!url || url->empty()) {
		*why = "metrics.url is not set";
		return "";
	}
	if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
		die("metrics.url must be an http:// or https:// URL, not '{}'", *url);
	return *url;
}

bool send_usage(const std::string &url, const std::string &payload)
{
	remote::Body body;
	body.data = &payload;
	body.len = payload.size();
	remote::Sink sink;
	sink.limit = 64 << 10;
	auto r = remote::http_request("POST", url, {"Content-Type: application/json"}, &body, sink);
	if (!r.transport.empty() || r.status < 200 || r.status > 299) {
		warning(fmt::format("usage report to '{}' not taken: {}", url,
				    r.transport.empty() ? "HTTP " + std::to_string(r.status) : r.transport));
		return false;
	}
	return true;
}

} // namespace pach::serve
