#include "serve/console.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/json.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"
#include "porcelain/history.h"
#include "porcelain/pipeline.h"
#include "porcelain/repo.h"
#include "runner/job.h"
#include "runner/spec.h"
#include "serve/auth.h"
#include "serve/s3.h"

#include "console_assets.h"

#include <openssl/crypto.h>

#include <chrono>
#include <thread>

namespace pach::serve {

namespace {

struct ApiError : std::runtime_error {
	int status;
	ApiError(int st, const std::string &m) : std::runtime_error(m), status(st) {}
};

Response json_response(const std::string &body, int status = 200)
{
	Response r;
	r.status = status;
	r.body = body;
	r.header("Content-Type", "application/json");
	r.header("Cache-Control", "no-store");
	return r;
}

Response asset(const char *body, const char *type)
{
	Response r;
	r.body = body;
	r.header("Content-Type", type);
	r.header("Cache-Control", "no-cache");
	// Nothing from elsewhere: scripts, styles and images of this origin.
	r.header("Content-Security-Policy",
		 "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
	r.header("X-Content-Type-Options", "nosniff");
	return r;
}

std::string param(const Request &r, const char *name, const std::string &dflt = "")
{
	auto *v = r.param(name);
	return v ? *v : dflt;
}

size_t num_param(const Request &r, const char *name, size_t dflt, size_t max)
{
	auto *v = r.param(name);
	if (!v)
		return dflt;
	char *end = nullptr;
	unsigned long long n = strtoull(v->c_str(), &end, 10);
	if (v->empty() || *end)
		throw ApiError(400, fmt::format("'{}' must be a number", name));
	return (size_t)std::min<unsigned long long>(n, max);
}

// repo + ref (branch, commit id, branch~N) -> the commit; 404 if none.
Oid commit_of(const Store &s, const std::string &repo, const std::string &ref)
{
	if (!valid_repo_name(repo) || !repo_exists(s, repo))
		throw ApiError(404, "no repo '" + repo + "'");
	try {
		Address a = parse_address(repo + (ref.empty() ? "" : "@" + ref));
		return resolve_commit(s, a);
	} catch (const Error &e) {
		throw ApiError(404, e.what());
	}
}

std::vector<std::string> path_of(const std::string &p)
{
	std::vector<std::string> v;
	for (auto &c : path_components(p)) {
		if (!valid_tree_name(c))
			throw ApiError(400, "bad path '" + p + "'");
		v.push_back(c);
	}
	return v;
}

const char *kind_of(const TreeEntry &e)
{
	return e.is_dir() ? "dir" : e.mode == kModeLink ? "link" : e.mode == kModeGitlink ? "submodule" : "file";
}

void commit_json(Json &j, const CommitInfo &c)
{
	j.begin_object().field("id", c.id).key("parents").begin_array();
	for (auto &p : c.parents)
		j.str(p.hex());
	j.end_array()
		.field("author", c.author.name)
		.field("time", c.committer.when)
		.field("subject", first_line(c.message))
		.field("message", c.message)
		.end_object();
}

void job_json(Json &j, const runner::JobRecord &job)
{
	j.begin_object()
		.field("pipeline", job.pipeline)
		.field("id", job.id)
		.field("state", runner::state_name(job.state))
		.field("started", job.started)
		.field("finished", job.finished)
		.field("error", job.error)
		.field("output", job.output)
		.field("datums", (uint64_t)job.datum_count());
	j.key("counts").begin_object();
	for (size_t i = 0; i < runner::kDatumStates; i++)
		if (job.counts[i])
			j.field(runner::state_name((runner::DatumState)i), (uint64_t)job.counts[i]);
	j.end_object().key("inputs").begin_array();
	for (auto &[in, c] : job.inputs)
		j.begin_object().field("input", in).field("commit", c).end_object();
	j.end_array().end_object();
}

// The first len bytes of a blob as a streamed body.
Response blob_body(std::unique_ptr<ObjectReader> rd, uint64_t len)
{
	Response resp;
	resp.size = len;
	auto shared = std::shared_ptr<ObjectReader>(std::move(rd));
	resp.reader = [shared, len](uint64_t pos, char *buf, size_t max) -> size_t {
		if (pos >= len)
			return 0;
		return shared->read(buf, (size_t)std::min<uint64_t>(max, len - pos));
	};
	return resp;
}

runner::JobRecord job_of(const Store &s, const std::string &pipeline, const std::string &id)
{
	auto j = runner::load_job(s, pipeline, id, true);
	if (!j)
		throw ApiError(404, "no job '" + id + "' of pipeline '" + pipeline + "'");
	return *j;
}

} // namespace

bool Console::owns(const std::string &path)
{
	return path == "/console" || path.rfind("/console/", 0) == 0 || path.rfind("/api/v1/", 0) == 0;
}

std::string Console::op_of(const Request &r)
{
	if (r.path.rfind("/api/v1/", 0) == 0)
		return "console-api";
	return "console";
}

std::unique_ptr<Exchange> Console::start(const Request &r)
{
	if (r.method != "GET" && r.method != "HEAD")
		return answered(json_response("{\"error\":\"the console only reads\"}", 405));
	if (!anonymous_) {
		bool ok = false;
		const std::string *h = r.header("authorization");
		if (h && creds_ && h->rfind("Basic ", 0) == 0) {
			std::string want = base64(creds_->access_key + ":" + creds_->secret_key);
			std::string got = h->substr(6);
			ok = got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
		}
		if (!ok) {
			Response d = json_response("{\"error\":\"sign in with the server's access key and secret key\"}", 401);
			d.header("WWW-Authenticate", "Basic realm=\"pach\", charset=\"UTF-8\"");
			return answered(std::move(d));
		}
	}
	{
		Response moved;
		moved.status = 302;
		moved.header("Location", "/console/");
		if (r.path == "/console")
			return answered(std::move(moved));
	}
	if (r.path == "/console/" || r.path == "/console/index.html")
		return answered(asset(kConsoleIndexHtml, "text/html; charset=utf-8"));
	if (r.path == "/console/app.js")
		return answered(asset(kConsoleAppJs, "text/javascript; charset=utf-8"));
	if (r.path == "/console/style.css")
		return answered(asset(kConsoleStyleCss, "text/css; charset=utf-8"));
	if (r.path == "/api/v1/events")
		return answered(events(r));
	if (r.path.rfind("/api/v1/", 0) == 0) {
		try {
			return answered(api(r));
		} catch (const ApiError &e) {
			Json j;
			j.begin_object().field("error", e.what()).end_object();
			return answered(json_response(j.text(), e.status));
		} catch (const Error &e) {
			Json j;
			j.begin_object().field("error", e.what()).end_object();
			return answered(json_response(j.text(), 400));
		}
	}
	return answered(json_response("{\"error\":\"no such page\"}", 404));
}

Response Console::api(const Request &r)
{
	std::string what = r.path.substr(8);
	Json j;
	if (what == "repos") {
		j.begin_array();
		for (auto &d : porcelain::repo_list(s_)) {
			j.begin_object()
				.field("name", d.info.name)
				.field("description", d.info.description)
				.field("created", d.info.created)
				.key("branches")
				.begin_array();
			for (auto &b : d.branches)
				j.begin_object().field("name", b.name).field("head", b.head).field("time", b.time).end_object();
			j.end_array().end_object();
		}
		j.end_array();
		return json_response(j.text());
	}
	if (what == "log") {
		Oid c = commit_of(s_, param(r, "repo"), param(r, "ref"));
		j.begin_array();
		for (auto &ci : porcelain::log(s_, c, (int)num_param(r, "n", 50, 1000)))
			commit_json(j, ci);
		j.end_array();
		return json_response(j.text());
	}
	if (what == "commit") {
		Oid c = commit_of(s_, param(r, "repo"), param(r, "ref"));
		CommitInfo ci = s_.read_commit(c);
		Oid base = ci.parents.empty() ? empty_tree_oid() : s_.read_commit(ci.parents[0]).tree;
		auto path = path_of(param(r, "path"));
		std::string joined;
		for (auto &p : path)
			joined += (joined.empty() ? "" : "/") + p;
		auto changes = porcelain::diff_trees(s_, base, ci.tree, joined.empty() ? std::vector<std::string>{}
										      : std::vector<std::string>{joined});
		j.begin_object().key("commit");
		commit_json(j, ci);
		j.key("changes").begin_array();
		size_t n = 0, max = num_param(r, "n", 1000, 10000);
		for (auto &ch : changes) {
			if (n++ >= max)
				break;
			j.begin_object().field("status", std::string(1, ch.status)).field("path", ch.path);
			// The patch itself for one path asked for by name.
			if (!joined.empty() && ch.path == joined)
				j.field("patch", porcelain::patch_text(s_, ch));
			j.end_object();
		}
		j.end_array().field("total", (uint64_t)changes.size()).end_object();
		return json_response(j.text());
	}
	if (what == "tree") {
		Oid c = commit_of(s_, param(r, "repo"), param(r, "ref"));
		auto path = path_of(param(r, "path"));
		Oid tree = s_.read_commit(c).tree;
		if (!path.empty()) {
			auto e = lookup_path(s_, tree, path);
			if (!e)
				throw ApiError(404, "no file or directory '" + param(r, "path") + "'");
			if (!e->is_dir()) {   // a file: the page shows it instead
				j.begin_object().field("commit", c).field("type", kind_of(*e)).end_object();
				return json_response(j.text());
			}
			tree = e->oid;
		}
		j.begin_object().field("commit", c).field("type", "dir").key("entries").begin_array();
		auto kids = s_.read_tree(tree);
		size_t max = num_param(r, "n", 5000, 100000), n = 0;
		for (auto &e : kids) {
			if (n++ >= max)
				break;
			j.begin_object().field("name", e.name).field("type", kind_of(e));
			if (!e.is_dir() && e.mode != kModeGitlink)
				if (auto rd = s_.odb().open(e.oid))
					j.field("size", rd->size());
			j.end_object();
		}
		j.end_array().field("total", (uint64_t)kids.size()).end_object();
		return json_response(j.text());
	}
	if (what == "file") {
		Oid c = commit_of(s_, param(r, "repo"), param(r, "ref"));
		auto path = path_of(param(r, "path"));
		auto e = path.empty() ? std::nullopt : lookup_path(s_, s_.read_commit(c).tree, path);
		if (!e || e->is_dir() || e->mode == kModeGitlink)
			throw ApiError(404, "no file '" + param(r, "path") + "'");
		auto rd = s_.odb().open(e->oid);
		if (!rd)
			throw ApiError(500, "object " + e->oid.hex() + " is missing");
		uint64_t size = rd->size();
		uint64_t len = std::min<uint64_t>(size, num_param(r, "head", size, UINT64_MAX));
		Response resp = blob_body(std::move(rd), len);
		std::string type = content_type_of(path.back());
		// Text and images are shown; anything else is only downloaded.
		bool inline_ok = type.rfind("text/", 0) == 0 || type.rfind("image/", 0) == 0 || type == "application/json";
		if (type == "image/svg+xml")
			inline_ok = false;   // scripts in SVG
		if (type.rfind("text/html", 0) == 0)
			type = "text/plain; charset=utf-8";   // shown as its source
		resp.header("Content-Type", inline_ok ? type : "application/octet-stream");
		resp.header("X-Content-Type-Options", "nosniff");
		resp.header("Content-Security-Policy", "default-src 'none'; sandbox");
		resp.header("X-Pach-Size", std::to_string(size));
		std::string name = path.back();
		for (auto &ch : name)
			if (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20)
				ch = '_';
		if (r.has_param("download") || !inline_ok)
			resp.header("Content-Disposition", "attachment; filename=\"" + name + "\"");
		return resp;
	}
	if (what == "pipelines") {
		std::map<std::string, runner::JobRecord> last;
		for (auto &jr : runner::list_all_jobs(s_))
			if (!last.count(jr.pipeline))
				last[jr.pipeline] = jr;
		j.begin_array();
		for (auto &p : porcelain::pipeline_list(s_)) {
			j.begin_object()
				.field("name", p.spec.name)
				.field("description", p.spec.description)
				.field("output_branch", p.spec.output_branch)
				.key("inputs")
				.begin_array();
			for (auto &[name, repo] : runner::input_repos(p.spec))
				j.begin_object().field("name", name).field("repo", repo).end_object();
			j.end_array().key("last_job");
			if (last.count(p.spec.name))
				job_json(j, last[p.spec.name]);
			else
				j.null();
			j.end_object();
		}
		j.end_array();
		return json_response(j.text());
	}
	if (what == "jobs") {
		std::string p = param(r, "pipeline");
		auto jobs = p.empty() ? runner::list_all_jobs(s_) : runner::list_jobs(s_, p);
		size_t max = num_param(r, "n", 100, 10000), n = 0;
		j.begin_array();
		for (auto &jr : jobs) {
			if (n++ >= max)
				break;
			job_json(j, jr);
		}
		j.end_array();
		return json_response(j.text());
	}
	if (what == "job") {
		auto job = job_of(s_, param(r, "pipeline"), param(r, "id"));
		size_t off = num_param(r, "offset", 0, SIZE_MAX), max = num_param(r, "n", 200, 10000);
		j.begin_object().key("job");
		job_json(j, job);
		j.key("datums").begin_array();
		for (size_t i = off; i < job.datums.size() && i < off + max; i++) {
			auto &d = job.datums[i];
			j.begin_object()
				.field("id", d.id)
				.field("state", runner::state_name(d.state))
				.key("seconds")
				.fixed(d.secs, 3)
				.field("attempts", d.attempts)
				.field("origin", d.origin)
				.field("log", d.log.has_value())
				.key("files")
				.begin_array();
			for (auto &f : d.files)
				j.str(f);
			j.end_array().end_object();
		}
		j.end_array().end_object();
		return json_response(j.text());
	}
	if (what == "datum-log") {
		auto job = job_of(s_, param(r, "pipeline"), param(r, "id"));
		std::string want = param(r, "datum");
		for (auto &d : job.datums)
			if (d.id == want) {
				if (!d.log)
					throw ApiError(404, "datum '" + want + "' left no log");
				auto rd = s_.odb().open(*d.log);
				if (!rd)
					throw ApiError(404, "the log of datum '" + want + "' is gone");
				uint64_t size = rd->size();
				Response resp = blob_body(std::move(rd), size);
				resp.header("Content-Type", "text/plain; charset=utf-8");
				resp.header("X-Content-Type-Options", "nosniff");
				return resp;
			}
		throw ApiError(404, "no datum '" + want + "' in job '" + job.id + "'");
	}
	if (what == "provenance") {
		// An output file -> the job whose output commit holds it, the
		// datum that wrote it, that datum's input files and the job's
		// input commits.
		std::string repo = param(r, "repo");
		Oid c = commit_of(s_, repo, param(r, "ref"));
		auto path = path_of(param(r, "path"));
		if (path.empty())
			throw ApiError(400, "provenance needs a file's path");
		for (auto &jr : runner::list_jobs(s_, repo)) {
			if (!jr.output || *jr.output != c)
				continue;
			auto job = job_of(s_, repo, jr.id);
			j.begin_object().key("job");
			job_json(j, job);
			j.key("datum");
			bool found = false;
			for (auto &d : job.datums) {
				if (!d.out_tree || !lookup_path(s_, *d.out_tree, path))
					continue;
				j.begin_object().field("id", d.id).field("state", runner::state_name(d.state)).field("origin", d.origin);
				j.key("files").begin_array();
				for (auto &f : d.files)
					j.str(f);
				j.end_array().end_object();
				found = true;
				break;
			}
			if (!found)
				j.null();
			j.end_object();
			return json_response(j.text());
		}
		// Not a job's output: nothing to say (a 200, so a page asking
		// about any file does not log an error).
		return json_response("{\"job\":null}");
	}
	throw ApiError(404, "no API '" + what + "'");
}

// What the pages show, as one string: the branches and the metadata ref
// (repos, pipelines and job records all live in its tree, so a job
// recorded moves it).  Reading refs costs a directory listing.
std::string Console::state_version()
{
	std::string v;
	for (auto &[ref, oid] : s_.refs("refs/heads/"))
		v += ref + oid.hex();
	if (auto m = s_.ref("refs/pach/meta"))
		v += m->hex();
	return remote::sha256_hex(v.data(), v.size());
}

Response Console::events(const Request &)
{
	// Server-sent events: "change" whenever the state moved, a comment
	// every 15 s to keep proxies from closing, the stream ended after
	// 10 minutes (EventSource reconnects).  One thread per connection
	// makes a sleeping reader harmless to others.
	struct Stream {
		Console *c;
		std::string last;
		std::string pending;
		std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
		int quiet = 0;
	};
	auto st = std::make_shared<Stream>();
	st->c = this;
	st->last = state_version();
	st->pending = "retry: 2000\nevent: hello\ndata: " + st->last + "\n\n";
	Response resp;
	resp.chunked = true;
	resp.header("Content-Type", "text/event-stream");
	resp.header("Cache-Control", "no-store");
	resp.reader = [st](uint64_t, char *buf, size_t max) -> size_t {
		while (st->pending.empty()) {
			if (std::chrono::steady_clock::now() - st->t0 > std::chrono::minutes(10))
				return 0;
			std::this_thread::sleep_for(std::chrono::seconds(1));
			std::string v = st->c->state_version();
			if (v != st->last) {
				st->last = v;
				st->pending = "event: change\ndata: " + v + "\n\n";
				st->quiet = 0;
			} else if (++st->quiet >= 15) {
				st->pending = ": keep-alive\n\n";
				st->quiet = 0;
			}
		}
		size_t n = std::min(max, st->pending.size());
		memcpy(buf, st->pending.data(), n);
		st->pending.erase(0, n);
		return n;
	};
	return resp;
}

} // namespace pach::serve
