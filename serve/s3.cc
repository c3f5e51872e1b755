// The S3 gateway's dispatch, buckets and reads (GetObject, HeadObject,
// ListBuckets, ...).  Listing is in s3_list.cc, writes in s3_write.cc.
#include "serve/s3.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/meta.h"
#include "remote/s3xml.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace pach::serve {

using remote::xml_escape;

std::string utc_time(int64_t t, const char *format)
{
	time_t tt = (time_t)t;
	tm g;
	gmtime_r(&tt, &g);
	char b[64];
	strftime(b, sizeof b, format, &g);
	return b;
}

std::string http_date(int64_t t)
{
	return utc_time(t, "%a, %d %b %Y %H:%M:%S GMT");
}

std::string iso8601(int64_t t)
{
	return utc_time(t, "%Y-%m-%dT%H:%M:%S.000Z");
}

static int64_t parse_http_date(const std::string &s)
{
	tm t{};
	const char *e = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &t);
	if (!e)
		return -1;
	return (int64_t)timegm(&t);
}

std::string xml_doc(const std::string &body)
{
	return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body;
}

std::string content_type_of(const std::string &key)
{
	static const std::pair<const char *, const char *> types[] = {
		{".txt", "text/plain; charset=utf-8"}, {".csv", "text/csv; charset=utf-8"},
		{".tsv", "text/tab-separated-values"},  {".json", "application/json"},
		{".yaml", "application/yaml"},          {".yml", "application/yaml"},
		{".md", "text/markdown"},               {".html", "text/html; charset=utf-8"},
		{".png", "image/png"},                  {".jpg", "image/jpeg"},
		{".jpeg", "image/jpeg"},                {".gif", "image/gif"},
		{".svg", "image/svg+xml"},              {".webp", "image/webp"},
		{".pdf", "application/pdf"},            {".parquet", "application/vnd.apache.parquet"},
		{".gz", "application/gzip"},            {".zip", "application/zip"},
		{".tar", "application/x-tar"},          {".xml", "application/xml"},
	};
	size_t dot = key.rfind('.');
	if (dot != std::string::npos && key.find('/', dot) == std::string::npos) {
		std::string ext = key.substr(dot);
		for (auto &c : ext)
			c = (char)tolower((unsigned char)c);
		for (auto &[e, t] : types)
			if (ext == e)
				return t;
	}
	return "application/octet-stream";
}

std::vector<std::string> key_path(const std::string &key)
{
	if (key.empty())
		throw S3Error(400, "InvalidArgument", "an object key cannot be empty");
	if (key.size() > 1024)
		throw S3Error(400, "KeyTooLongError", "your key is too long (1024 bytes at most)");
	// A tree entry's name ends at a NUL: such a key can never be a path.
	if (key.find('\0') != std::string::npos)
		throw S3Error(400, "InvalidArgument", "a key cannot hold a NUL byte");
	std::vector<std::string> path;
	bool bad = false;
	std::string why;
	for_each_component(key, [&](const std::string &c) {
		if (bad)
			return;
		std::string p = c.empty() ? "empty path component" : entry_name_problem(c);
		if (!p.empty()) {
			bad = true;
			why = p;
		}
		path.push_back(c);
	});
	if (bad)
		throw S3Error(400, "InvalidArgument",
			      "key '" + key + "' cannot be a path in a repo (" + why + ")");
	return path;
}

std::shared_ptr<const std::vector<TreeEntry>> TreeCache::get(const Oid &tree)
{
	{
		std::lock_guard<std::mutex> g(mu_);
		auto it = index_.find(tree);
		if (it != index_.end()) {
			lru_.splice(lru_.begin(), lru_, it->second);
			return it->second->second;
		}
	}
	auto v = std::make_shared<const std::vector<TreeEntry>>(s_.read_tree(tree));
	std::lock_guard<std::mutex> g(mu_);
	if (index_.count(tree))
		return v;
	lru_.emplace_front(tree, v);
	index_[tree] = lru_.begin();
	held_ += v->size() + 1;
	while (held_ > max_ && lru_.size() > 1) {
		auto &back = lru_.back();
		held_ -= back.second->size() + 1;
		index_.erase(back.first);
		lru_.pop_back();
	}
	return v;
}

// Staged bodies a killed server left behind: "<prefix><pid>-<n>" whose
// process is gone (another server on the same store keeps its own).
static void remove_stale(const std::string &dir, const std::vector<std::string> &prefixes)
{
	for (auto &n : dir_names(dir))
		for (auto &p : prefixes) {
			if (n.compare(0, p.size(), p) != 0)
				continue;
			pid_t pid = (pid_t)atoi(n.c_str() + p.size());
			if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
				unlink((dir + "/" + n).c_str());
		}
}

Gateway::Gateway(Store &s, GatewayOptions o)
	: s_(s), o_(std::move(o)), trees_(s), md5_(s.path("pach/md5"))
{
	mkdir_p(staging_dir());
	mkdir_p(uploads_dir());
	remove_stale(staging_dir(), {"s3-put", "s3-multipart"});
	for (auto &id : dir_names(uploads_dir()))
		remove_stale(uploads_dir() + "/" + id, {"tmp-part"});
	hasher_ = std::thread([this] { hash_loop(); });
}

Gateway::~Gateway()
{
	{
		std::lock_guard<std::mutex> lk(hmu_);
		hstop_ = true;
	}
	hcv_.notify_all();
	hasher_.join();
}

void Gateway::hash_later(const Oid &blob)
{
	{
		std::lock_guard<std::mutex> lk(hmu_);
		if (hq_.size() >= 64 || !hqueued_.insert(blob).second)
			return;
		hq_.push_back(blob);
	}
	hcv_.notify_one();
}

void Gateway::hash_loop()
{
	sched_param idle{};
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
	std::vector<char> buf(1 << 20);
	std::unique_lock<std::mutex> lk(hmu_);
	while (!hstop_) {
		if (hq_.empty()) {
			hcv_.wait(lk);
			continue;
		}
		Oid blob = hq_.front();
		lk.unlock();
		try {
			auto rd = md5_.get(blob) ? nullptr : s_.odb().open(blob);
			if (rd) {
				Digest d("md5");
				while (!hstop_) {
					size_t n = rd->read(buf.data(), buf.size());
					if (!n)
						break;
					d.update(buf.data(), n);
				}
				if (!hstop_)
					md5_.put(blob, hex_of(d.raw()));
			}
		} catch (const std::exception &e) {
			warning(fmt::format("no MD5 for {}: {}", blob.hex(), e.what()));
		}
		lk.lock();
		hq_.pop_front();
		hqueued_.erase(blob);
	}
}

bool Gateway::etag_matches(const Oid &blob, const std::string &header)
{
	size_t a = header.find_first_not_of(" \t"), b = header.find_last_not_of(" \t");
	if (a != std::string::npos && header.compare(a, b - a + 1, "*") == 0)
		return true;
	if (header.find(blob.hex() + "-1") != std::string::npos)
		return true;
	auto m = md5_.get(blob);
	return m && header.find(*m) != std::string::npos;
}

std::string Gateway::staging_dir() const
{
	return s_.path("pach/tmp");
}

std::string Gateway::uploads_dir() const
{
	return s_.path("pach/s3-uploads");
}

Bucket Gateway::bucket(const std::string &name, bool for_write) const
{
	Bucket b;
	b.name = name;
	std::vector<std::string> parts;
	size_t i = 0;
	while (parts.size() < 4) {
		size_t j = name.find('.', i);
		parts.push_back(name.substr(i, j == std::string::npos ? std::string::npos : j - i));
		if (j == std::string::npos)
			break;
		i = j + 1;
	}
	if (parts.size() > 3)
		throw S3Error(404, "NoSuchBucket", "no bucket '" + name + "': a bucket is <branch>.<repo>, <repo> or <commit>.<repo>");
	if (is_lower_hex(parts[0], 40) && parts.size() > 1) {
		auto c = Oid::from_hex(parts[0]);
		if (s_.object_type(*c) != ObjType::commit)
			throw S3Error(404, "NoSuchBucket", "no commit " + parts[0]);
		b.commit = *c;
		parts.erase(parts.begin());
	}
	b.repo = parts.back();
	b.branch = parts.size() == 2 ? parts[0] : "master";
	if (parts.size() == 3)
		throw S3Error(404, "NoSuchBucket", "no bucket '" + name + "'");
	if (!valid_repo_name(b.repo) || !valid_branch_name(b.branch) || !repo_exists(s_, b.repo))
		throw S3Error(404, "NoSuchBucket", "no bucket '" + name + "' (no repo '" + b.repo + "')");
	if (for_write && b.commit)
		throw S3Error(403, "AccessDenied", "bucket '" + name + "' is a commit: it cannot change");
	if (for_write && o_.read_only)
		throw S3Error(403, "AccessDenied", "this server is read-only (--read-only)");
	// A branch that does not exist yet: master of a repo with no commits
	// (the first put makes it), otherwise no such bucket.
	if (!b.commit && b.branch != "master" && !s_.ref(branch_ref(b.repo, b.branch)))
		throw S3Error(404, "NoSuchBucket", "no branch '" + b.branch + "' in repo '" + b.repo + "'");
	return b;
}

std::optional<Oid> Gateway::head(const Bucket &b) const
{
	if (b.commit)
		return b.commit;
	auto c = s_.ref(branch_ref(b.repo, b.branch));
	// Another process may have committed into packs this process has not
	// seen yet.
	if (c && !s_.odb().contains(*c))
		const_cast<Store &>(s_).refresh_objects();
	return c;
}

std::optional<TreeEntry> Gateway::lookup(const Oid &root, const std::vector<std::string> &path)
{
	Oid cur = root;
	for (size_t i = 0; i < path.size(); i++) {
		auto kids = trees_.get(cur);
		TreeEntry probe;
		const TreeEntry *hit = nullptr;
		for (auto mode : {kModeFile, kModeDir}) {
			probe.name = path[i];
			probe.mode = mode;
			auto it = std::lower_bound(kids->begin(), kids->end(), probe, tree_entry_less);
			if (it != kids->end() && it->name == path[i]) {
				hit = &*it;
				break;
			}
		}
		if (!hit)
			return std::nullopt;
		if (i + 1 == path.size())
			return *hit;
		if (!hit->is_dir())
			return std::nullopt;
		cur = hit->oid;
	}
	return std::nullopt;
}

uint64_t Gateway::blob_size(const Oid &blob) const
{
	auto r = s_.odb().open(blob);
	if (!r)
		throw S3Error(500, "InternalError", "object " + blob.hex() + " is missing from the store");
	return r->size();
}

std::string Gateway::etag(const Oid &blob)
{
	if (auto m = md5_.get(blob))
		return "\"" + *m + "\"";
	return "\"" + blob.hex() + "-1\"";
}

std::unique_ptr<Exchange> answered(Response r)
{
	struct Done : Exchange {
		void body(const char *, size_t) override {}
		Response finish() override { return *early; }
	};
	auto e = std::make_unique<Done>();
	e->early = std::move(r);
	return e;
}

namespace {

std::atomic<uint64_t> request_counter{0};

std::string xml_response_body(const std::string &inner)
{
	return xml_doc(inner);
}

Response xml(int status, const std::string &body)
{
	Response r;
	r.status = status;
	r.body = xml_response_body(body);
	r.header("Content-Type", "application/xml");
	return r;
}

Response list_buckets(Gateway &g)
{
	std::string out = "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			  "<Owner><ID>pach</ID><DisplayName>pach</DisplayName></Owner><Buckets>";
	for (auto &repo : list_repos(g.store())) {
		auto refs = g.store().refs("refs/heads/" + repo.name + "/");
		bool master = false;
		for (auto &[ref, oid] : refs) {
			std::string branch = ref.substr(("refs/heads/" + repo.name + "/").size());
			// A branch with '.' or '/' in its name cannot be told
			// apart in a bucket name: it is not served.
			if (branch.find_first_of("./") != std::string::npos)
				continue;
			master |= branch == "master";
			out += "<Bucket><Name>" + xml_escape(branch + "." + repo.name) + "</Name><CreationDate>" +
			       iso8601(repo.created) + "</CreationDate></Bucket>";
		}
		if (!master)
			out += "<Bucket><Name>" + xml_escape("master." + repo.name) + "</Name><CreationDate>" +
			       iso8601(repo.created) + "</CreationDate></Bucket>";
	}
	out += "</Buckets></ListAllMyBucketsResult>";
	return xml(200, out);
}

struct Range {
	uint64_t start = 0, end = 0;   // inclusive
	bool partial = false;
};

// "bytes=a-b", "bytes=a-", "bytes=-n"; several ranges are not served (the
// whole object is, as S3 does).  Throws InvalidRange when unsatisfiable.
Range parse_range(const std::string *h, uint64_t size)
{
	Range r;
	r.end = size ? size - 1 : 0;
	if (!h || h->rfind("bytes=", 0) != 0 || h->find(',') != std::string::npos)
		return r;
	std::string spec = h->substr(6);
	size_t dash = spec.find('-');
	if (dash == std::string::npos)
		return r;
	auto num = [](const std::string &s, uint64_t &v) {
		if (s.empty() || s.size() > 19)
			return false;
		v = 0;
		for (char c : s) {
			if (c < '0' || c > '9')
				return false;
			v = v * 10 + (uint64_t)(c - '0');
		}
		return true;
	};
	std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
	uint64_t x = 0, y = 0;
	if (a.empty()) {
		if (!num(b, y))
			return r;
		if (y == 0 || size == 0)
			throw S3Error(416, "InvalidRange", "the requested range is not satisfiable");
		r.start = y >= size ? 0 : size - y;
		r.end = size - 1;
	} else {
		if (!num(a, x) || (!b.empty() && !num(b, y)))
			return r;
		if (x >= size)
			throw S3Error(416, "InvalidRange", "the requested range is not satisfiable");
		if (!b.empty() && y < x)
			return r;
		r.start = x;
		r.end = b.empty() || y >= size ? size - 1 : y;
	}
	r.partial = true;
	return r;
}

// A blob's content as a response body, from `start`.
struct BlobStream {
	Gateway *g;
	Oid blob;
	std::unique_ptr<ObjectReader> rd;
	uint64_t start, len;
	size_t operator()(uint64_t pos, char *buf, size_t max)
	{
		if (!rd) {
			rd = g->store().odb().open(blob);
			if (!rd)
				throw S3Error(500, "InternalError", "object " + blob.hex() + " vanished");
			if (start && !rd->seek(start))
				rd->skip(start);
		}
		if (pos >= len)
			return 0;
		size_t want = (size_t)std::min<uint64_t>(max, len - pos);
		size_t got = 0;
		while (got < want) {
			size_t n = rd->read(buf + got, want - got);
			if (!n)
				throw S3Error(500, "InternalError", "object " + blob.hex() + " is truncated");
			got += n;
		}
		return got;
	}
};

// The MD5 of a small blob, computed now (one read of at most kHashNow).
constexpr uint64_t kHashNow = 8ull << 20;

void ensure_md5(Gateway &g, const Oid &blob, uint64_t size)
{
	if (size > kHashNow || g.md5s().get(blob))
		return;
	auto rd = g.store().odb().open(blob);
	if (!rd)
		return;
	Digest d("md5");
	char buf[65536];
	for (;;) {
		size_t n = rd->read(buf, sizeof buf);
		if (!n)
			break;
		d.update(buf, n);
	}
	g.md5s().put(blob, hex_of(d.raw()));
}

// response-content-type=... and its kin: a signed GET may choose the
// answer's headers (presigned download links name the file this way).
std::vector<std::pair<std::string, std::string>> header_overrides(const Request &r, bool anonymous)
{
	static const std::pair<const char *, const char *> names[] = {
		{"response-content-type", "Content-Type"},
		{"response-content-language", "Content-Language"},
		{"response-expires", "Expires"},
		{"response-cache-control", "Cache-Control"},
		{"response-content-disposition", "Content-Disposition"},
		{"response-content-encoding", "Content-Encoding"},
	};
	std::vector<std::pair<std::string, std::string>> out;
	for (auto &[param, header] : names) {
		auto *v = r.param(param);
		if (!v)
			continue;
		if (anonymous)
			throw S3Error(400, "InvalidRequest", "request specific response headers cannot be used for anonymous GET requests");
		for (unsigned char c : *v)
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				throw S3Error(400, "InvalidArgument", std::string(param) + " holds a control character");
		out.emplace_back(header, *v);
	}
	return out;
}

Response get_object(Gateway &g, const Request &r, const Bucket &b, const std::string &key, bool head_only,
		    bool anonymous)
{
	auto overrides = header_overrides(r, anonymous);
	auto path = key_path(key);
	std::optional<Oid> commit = g.head(b);
	if (auto *v = r.param("versionId"); v && *v != "null") {
		auto c = Oid::from_hex(*v);
		if (!c || v->size() != 40 || g.store().object_type(*c) != ObjType::commit)
			throw S3Error(400, "InvalidArgument", "invalid version id '" + *v + "': a version is a commit id");
		commit = c;
	}
	if (!commit)
		throw S3Error(404, "NoSuchKey", "the specified key does not exist");
	CommitInfo ci = g.store().read_commit(*commit);
	auto e = g.lookup(ci.tree, path);
	if (!e || e->is_dir() || e->mode == kModeGitlink)
		throw S3Error(404, "NoSuchKey", "the specified key does not exist");
	uint64_t size = g.blob_size(e->oid);
	ensure_md5(g, e->oid, size);
	std::string etag = g.etag(e->oid);
	int64_t mtime = ci.committer.when;

	Response resp;
	auto common = [&](Response &x) {
		x.header("ETag", etag);
		x.header("Last-Modified", http_date(mtime));
		x.header("x-amz-version-id", commit->hex());
	};
	// Conditional requests (RFC 9110 order: If-Match, If-Unmodified-Since,
	// If-None-Match, If-Modified-Since).
	if (auto *h = r.header("if-match"); h && !g.etag_matches(e->oid, *h))
		throw S3Error(412, "PreconditionFailed", "If-Match does not match the object's ETag");
	if (auto *h = r.header("if-unmodified-since"); h && !r.header("if-match")) {
		int64_t t = parse_http_date(*h);
		if (t >= 0 && mtime > t)
			throw S3Error(412, "PreconditionFailed", "the object was modified since then");
	}
	bool not_modified = false;
	if (auto *h = r.header("if-none-match"))
		not_modified = g.etag_matches(e->oid, *h);
	else if (auto *h2 = r.header("if-modified-since")) {
		int64_t t = parse_http_date(*h2);
		not_modified = t >= 0 && mtime <= t;
	}
	if (not_modified) {
		resp.status = 304;
		common(resp);
		return resp;
	}
	Range rg = parse_range(r.header("range"), size);
	uint64_t len = size ? rg.end - rg.start + 1 : 0;
	resp.status = rg.partial ? 206 : 200;
	common(resp);
	std::string type = content_type_of(key);
	for (auto &[h, v] : overrides)
		if (h == "Content-Type")
			type = v;
		else
			resp.header(h, v);
	resp.header("Content-Type", type);
	resp.header("Accept-Ranges", "bytes");
	// The console shares this origin: an uploaded page opened in a
	// browser must not run scripts there (S3 clients ignore both).
	resp.header("Content-Security-Policy", "default-src 'none'; sandbox");
	resp.header("X-Content-Type-Options", "nosniff");
	if (rg.partial)
		resp.header("Content-Range", "bytes " + std::to_string(rg.start) + "-" + std::to_string(rg.end) + "/" +
						      std::to_string(size));
	resp.size = len;
	if (head_only || len == 0) {
		resp.reader = [](uint64_t, char *, size_t) -> size_t { return 0; };
		if (len == 0 && !head_only)
			resp.reader = nullptr, resp.body.clear();
		return resp;
	}
	if (!g.md5s().get(e->oid))
		g.hash_later(e->oid);
	auto shared = std::make_shared<BlobStream>(BlobStream{&g, e->oid, nullptr, rg.start, len});
	resp.reader = [shared](uint64_t pos, char *buf, size_t max) { return (*shared)(pos, buf, max); };
	return resp;
}

Response location()
{
	return xml(200, "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>");
}

} // namespace

Response list_objects(Gateway &g, const Request &r, const Bucket &b);   // s3_list.cc

// Path-style addressing: /<bucket>/<key>; virtual-host style: the
// bucket from the Host header, /<key>.
static void split_target(const Request &r, std::string &bucket, std::string &key)
{
	const std::string &p = r.path;
	if (!r.host_bucket.empty()) {
		bucket = r.host_bucket;
		key = p.size() > 1 ? p.substr(1) : "";
		return;
	}
	size_t slash = p.find('/', 1);
	bucket = p.size() > 1 ? p.substr(1, slash == std::string::npos ? std::string::npos : slash - 1) : "";
	key = slash == std::string::npos ? "" : p.substr(slash + 1);
}

std::string Gateway::op_of(const Request &r)
{
	std::string bname, key;
	split_target(r, bname, key);
	const std::string &m = r.method;
	bool read = m == "GET" || m == "HEAD";
	auto has = [&](const char *p) { return r.has_param(p); };
	if (bname.empty())
		return m == "GET" ? "ListBuckets" : "other";
	if (key.empty()) {
		if (m == "PUT" && r.query.empty())
			return "CreateBucket";
		if (m == "HEAD")
			return "HeadBucket";
		if (m == "GET") {
			if (has("location"))
				return "GetBucketLocation";
			if (has("uploads"))
				return "ListMultipartUploads";
			for (const char *sub : {"versioning", "acl", "policy", "lifecycle", "cors", "tagging", "encryption",
						"object-lock", "website", "logging", "replication", "notification", "versions"})
				if (has(sub))
					return "other";
			return has("list-type") ? "ListObjectsV2" : "ListObjects";
		}
		if (m == "POST" && has("delete"))
			return "DeleteObjects";
		return m == "DELETE" ? "DeleteBucket" : "other";
	}
	if (read) {
		if (has("uploadId"))
			return "ListParts";
		for (const char *sub : {"tagging", "acl", "retention", "legal-hold", "attributes"})
			if (has(sub))
				return "other";
		return m == "HEAD" ? "HeadObject" : "GetObject";
	}
	if (m == "PUT") {
		if (has("uploadId") && has("partNumber"))
			return "UploadPart";
		if (has("tagging") || has("acl"))
			return "other";
		return r.header("x-amz-copy-source") ? "CopyObject" : "PutObject";
	}
	if (m == "POST" && has("uploads"))
		return "CreateMultipartUpload";
	if (m == "POST" && has("uploadId"))
		return "CompleteMultipartUpload";
	if (m == "DELETE")
		return has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
	return "other";
}

std::unique_ptr<Exchange> Gateway::start(const Request &r)
{
	Auth a = authenticate(r, o_.creds ? &*o_.creds : nullptr, o_.anonymous, time(nullptr));
	if (r.path.empty() || r.path[0] != '/')
		throw S3Error(400, "InvalidURI", "the request path must start with '/'");
	std::string bname, key;
	split_target(r, bname, key);
	std::string op = op_of(r);
	bool write = !(r.method == "GET" || r.method == "HEAD");
	if (write && a.anonymous)
		throw S3Error(403, "AccessDenied", "anonymous requests may only read");
	if (op == "other")
		throw S3Error(501, "NotImplemented", "this request is not supported by pach's S3 gateway");
	if (op == "ListBuckets")
		return answered(list_buckets(*this));
	if (op == "CreateBucket") {
		if (o_.read_only)
			throw S3Error(403, "AccessDenied", "this server is read-only (--read-only)");
		return answered(create_bucket(*this, bname));
	}
	if (op == "DeleteBucket")
		throw S3Error(403, "AccessDenied", "a bucket is a branch: delete branches with 'pach branch -d'");
	Bucket b = bucket(bname, write);
	if (op == "HeadBucket")
		return answered(Response{});
	if (op == "GetBucketLocation")
		return answered(location());
	if (op == "ListMultipartUploads")
		return answered(list_uploads(*this, b));
	if (op == "ListObjectsV2" || op == "ListObjects")
		return answered(list_objects(*this, r, b));
	if (op == "DeleteObjects" || op == "CompleteMultipartUpload")
		return xml_request(*this, r, a, b, key, op);
	if (op == "ListParts")
		return answered(list_parts(*this, r, b, key));
	if (op == "GetObject" || op == "HeadObject")
		return answered(get_object(*this, r, b, key, op == "HeadObject", a.anonymous));
	if (op == "UploadPart")
		return upload_part(*this, r, a, b, key);
	if (op == "CopyObject")
		return answered(copy_object(*this, r, b, key));
	if (op == "PutObject")
		return put_object(*this, r, a, b, key);
	if (op == "CreateMultipartUpload")
		return answered(create_multipart(*this, b, key));
	if (op == "AbortMultipartUpload")
		return answered(abort_multipart(*this, r, b, key));
	return answered(delete_object(*this, b, key));
}

Response Gateway::error_response(const Request &r, const std::exception &e)
{
	int status = 500;
	std::string code = "InternalError", msg = e.what();
	if (auto *s3 = dynamic_cast<const S3Error *>(&e)) {
		status = s3->status;
		code = s3->code;
	} else if (auto *pe = dynamic_cast<const Error *>(&e)) {
		// pach's own refusals (a bad name, a conflict) are the client's
		// doing; anything else is ours.
		status = pe->code == Exit::conflict ? 409 : 500;
		code = pe->code == Exit::conflict ? "OperationAborted" : "InternalError";
	}
	Response resp;
	resp.status = status;
	std::string id = fmt::format("{:016x}", ++request_counter);
	resp.header("x-amz-request-id", id);
	if (r.method == "HEAD")
		return resp;
	resp.header("Content-Type", "application/xml");
	// XML cannot carry control bytes (a NUL in a path, a message quoting it).
	auto printable = [](std::string v) {
		for (auto &c : v)
			if ((unsigned char)c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				c = '?';
		return xml_escape(v);
	};
	resp.body = xml_doc("<Error><Code>" + code + "</Code><Message>" + printable(msg) + "</Message><Resource>" +
			    printable(r.path) + "</Resource><RequestId>" + id + "</RequestId></Error>");
	return resp;
}

} // namespace pach::serve
