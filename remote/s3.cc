#include "remote/s3.h"
#include "plumbing/crash.h"
#include "plumbing/parallel.h"
#include "plumbing/quote.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace pach::remote {

// ---- configuration ----------------------------------------------------

static std::map<std::string, std::map<std::string, std::string>> read_ini(const std::string &path)
{
	std::map<std::string, std::map<std::string, std::string>> out;
	std::ifstream in(path);
	std::string line, section;
	auto trim = [](std::string s) {
		size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
		return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
	};
	while (std::getline(in, line)) {
		line = trim(line);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[' && line.back() == ']') {
			section = trim(line.substr(1, line.size() - 2));
			continue;
		}
		auto eq = line.find('=');
		if (eq != std::string::npos)
			out[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
	}
	return out;
}

static std::string env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

AwsSettings aws_settings()
{
	AwsSettings s;
	s.profile = !env("AWS_PROFILE").empty() ? env("AWS_PROFILE") : "default";
	std::string home = env("HOME");
	std::string cred_file = !env("AWS_SHARED_CREDENTIALS_FILE").empty() ? env("AWS_SHARED_CREDENTIALS_FILE")
										: home + "/.aws/credentials";
	std::string conf_file = !env("AWS_CONFIG_FILE").empty() ? env("AWS_CONFIG_FILE") : home + "/.aws/config";
	auto creds = read_ini(cred_file);
	auto conf = read_ini(conf_file);
	auto &cp = creds[s.profile];
	auto &pc = conf[s.profile == "default" ? "default" : "profile " + s.profile];
	auto pick = [&](const char *e, const char *key) {
		if (!env(e).empty())
			return env(e);
		if (cp.count(key))
			return cp[key];
		if (pc.count(key))
			return pc[key];
		return std::string();
	};
	if (!env("AWS_ACCESS_KEY_ID").empty()) {
		// Keys from the environment come as a set.
		s.creds.access_key = env("AWS_ACCESS_KEY_ID");
		s.creds.secret_key = env("AWS_SECRET_ACCESS_KEY");
		s.creds.session_token = env("AWS_SESSION_TOKEN");
	} else {
		s.creds.access_key = pick("", "aws_access_key_id");
		s.creds.secret_key = pick("", "aws_secret_access_key");
		s.creds.session_token = pick("", "aws_session_token");
	}
	s.region = !env("AWS_REGION").empty()	      ? env("AWS_REGION")
		   : !env("AWS_DEFAULT_REGION").empty() ? env("AWS_DEFAULT_REGION")
		   : pc.count("region")		      ? pc["region"]
							      : "";
	s.endpoint = !env("AWS_ENDPOINT_URL_S3").empty() ? env("AWS_ENDPOINT_URL_S3")
		     : !env("AWS_ENDPOINT_URL").empty()  ? env("AWS_ENDPOINT_URL")
		     : pc.count("endpoint_url")	       ? pc["endpoint_url"]
							       : "";
	return s;
}

// ---- XML, just enough for S3's answers ---------------------------------

static std::string xml_unescape(const std::string &s)
{
	std::string o;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '&') {
			o += s[i];
			continue;
		}
		static const std::pair<const char *, char> ents[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#34;", '"'}};
		bool done = false;
		for (auto &[e, c] : ents)
			if (s.compare(i, strlen(e), e) == 0) {
				o += c;
				i += strlen(e) - 1;
				done = true;
				break;
			}
		if (!done)
			o += '&';
	}
	return o;
}

static std::string xml_escape(const std::string &s)
{
	std::string o;
	for (char c : s)
		o += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : std::string(1, c);
	return o;
}

// Every <tag>...</tag> in text, in order.
static std::vector<std::string> xml_all(const std::string &text, const std::string &tag)
{
	std::vector<std::string> out;
	std::string open = "<" + tag + ">", close = "</" + tag + ">";
	size_t i = 0;
	for (;;) {
		size_t a = text.find(open, i);
		if (a == std::string::npos)
			return out;
		size_t b = text.find(close, a);
		if (b == std::string::npos)
			return out;
		out.push_back(text.substr(a + open.size(), b - a - open.size()));
		i = b + close.size();
	}
}

static std::string xml_one(const std::string &text, const std::string &tag)
{
	auto v = xml_all(text, tag);
	return v.empty() ? "" : xml_unescape(v[0]);
}

// ---- HTTP ---------------------------------------------------------------

namespace {

struct Handle {
	CURL *c = nullptr;
	Handle() { c = curl_easy_init(); }
	~Handle() { curl_easy_cleanup(c); }
};

// One connection per thread, reused by its requests.
CURL *thread_handle()
{
	thread_local Handle h;
	curl_easy_reset(h.c);
	return h.c;
}

struct Body {
	const std::string *data = nullptr;   // or:
	int fd = -1;
	uint64_t off = 0, len = 0, pos = 0;
	std::string error;                   // why reading the fd stopped the upload
};

struct Sink {
	int fd = -1;                         // write the body here (2xx only), else to text
	uint64_t fd_off = 0, written = 0;
	std::string text;
	bool to_fd = false;
	// A server is not trusted to send what was asked for: at most this
	// many bytes are taken (to the fd or the text), then the transfer stops.
	uint64_t limit = Backend::kMaxSmall, fd_limit = UINT64_MAX;
	bool over = false;
	const OnBytes *progress = nullptr;
};

struct Response {
	long status = 0;
	std::map<std::string, std::string> headers;
	std::string body;
	std::string transport;   // curl's error, when no answer came
	bool too_large = false;  // the body passed the sink's limit (and was cut)
};

size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
	Body *b = (Body *)ud;
	size_t want = std::min<uint64_t>(size * n, b->len - b->pos);
	if (!want)
		return 0;
	if (b->data) {
		memcpy(buf, b->data->data() + b->pos, want);
	} else {
		ssize_t r = pread(b->fd, buf, want, (off_t)(b->off + b->pos));
		if (r <= 0) {
			b->error = r < 0 ? strerror(errno) : "the file shrank while it was being sent";
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)r;
	}
	b->pos += want;
	return want;
}

size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	Sink *s = (Sink *)ud;
	size_t len = size * n;
	if (s->to_fd ? s->written + len > s->fd_limit : s->text.size() + len > s->limit) {
		s->over = true;
		return 0;
	}
	if (s->to_fd) {
		if (pwrite(s->fd, p, len, (off_t)(s->fd_off + s->written)) != (ssize_t)len)
			return 0;
		s->written += len;
		if (s->progress && *s->progress)
			(*s->progress)(len);
		return len;
	}
	s->text.append(p, len);
	return len;
}

size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	auto *resp = (std::pair<Response *, Sink *> *)ud;
	std::string line(p, size * n);
	if (line.compare(0, 5, "HTTP/") == 0) {
		resp->first->headers.clear();
		auto sp = line.find(' ');
		long st = sp == std::string::npos ? 0 : atol(line.c_str() + sp + 1);
		resp->first->status = st;
		// Only a successful body goes to the file.
		resp->second->to_fd = resp->second->fd >= 0 && st >= 200 && st < 300;
		return size * n;
	}
	auto colon = line.find(':');
	if (colon != std::string::npos) {
		std::string k = line.substr(0, colon);
		for (auto &c : k)
			c = (char)tolower((unsigned char)c);
		std::string v = line.substr(colon + 1);
		size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t\r\n");
		resp->first->headers[k] = a == std::string::npos ? "" : v.substr(a, b - a + 1);
	}
	return size * n;
}

std::string amz_now()
{
	time_t t = time(nullptr);
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[32];
	strftime(b, sizeof b, "%Y%m%dT%H%M%SZ", &tm);
	return b;
}

struct Endpoint {
	std::string scheme, host;   // host may carry :port
};

Endpoint parse_endpoint(const std::string &url_in, const std::string &remote)
{
	if (url_has_credentials(url_in))
		die("remote '{}': credentials in the endpoint URL are not accepted (use AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY)",
		    remote);
	const std::string url = quote_path(url_in);
	Endpoint e;
	auto p = url.find("://");
	if (p == std::string::npos)
		die("remote '{}': bad endpoint '{}' (expected http://host[:port] or https://host)", remote, url);
	e.scheme = url.substr(0, p);
	if (e.scheme != "http" && e.scheme != "https")
		die("remote '{}': bad endpoint '{}' (expected http:// or https://)", remote, url);
	e.host = url.substr(p + 3);
	while (!e.host.empty() && e.host.back() == '/')
		e.host.pop_back();
	if (e.host.empty() || e.host.find('/') != std::string::npos)
		die("remote '{}': bad endpoint '{}'", remote, url);
	return e;
}

class S3Backend : public Backend {
public:
	S3Backend(const RemoteConfig &c) : name_(c.name), url_(c.url)
	{
		static std::once_flag once;
		std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
		AwsSettings a = aws_settings();
		creds_ = a.creds;
		region_ = !c.region.empty() ? c.region : !a.region.empty() ? a.region : "us-east-1";
		std::string rest = c.url.substr(5);
		auto slash = rest.find('/');
		bucket_ = rest.substr(0, slash);
		prefix_ = slash == std::string::npos ? "" : rest.substr(slash + 1);
		while (!prefix_.empty() && prefix_.back() == '/')
			prefix_.pop_back();
		if (!prefix_.empty())
			prefix_ += "/";
		std::string ep = !c.endpoint.empty() ? c.endpoint : a.endpoint;
		if (ep.empty()) {
			ep = "https://s3." + region_ + ".amazonaws.com";
		}
		endpoint_ = parse_endpoint(ep, c.name);
		path_style_ = c.path_style || bucket_.find('.') != std::string::npos;
		if (c.tuning.jobs > 0)
			jobs_ = c.tuning.jobs;
		part_size_ = c.tuning.part_size;
		unsigned_payload_ = c.tuning.unsigned_payload;
		retry_seconds_ = c.tuning.retry_seconds;
	}

	std::string describe() const override { return url_; }
	int parallelism() const override { return jobs_; }

	std::optional<Object> get(const std::string &key, uint64_t max) override
	{
		Sink sink;
		sink.limit = max;
		auto r = call("GET", key, {}, {}, nullptr, sink);
		if (sink.over)
			die("remote '{}': '{}' is larger than {} bytes", name_, key, max);
		if (r.status == 404 && code(r) != "NoSuchBucket")
			return std::nullopt;
		check(r, "GET", key);
		Object o;
		o.data = std::move(sink.text);
		o.etag = r.headers["etag"];
		return o;
	}

	void get_range(const std::string &key, uint64_t off, uint64_t len, int fd, uint64_t fd_off,
		       const OnBytes &progress) override
	{
		if (!len)
			return;
		// A retried range starts over; progress is told only of what is new.
		uint64_t told = 0;
		uint64_t attempt_bytes = 0;
		OnBytes count = [&](uint64_t n) {
			attempt_bytes += n;
			if (attempt_bytes > told) {
				if (progress)
					progress(attempt_bytes - told);
				told = attempt_bytes;
			}
		};
		Sink sink;
		sink.fd = fd;
		sink.fd_off = fd_off;
		sink.fd_limit = len;
		sink.progress = &count;
		std::map<std::string, std::string> h = {
			{"range", "bytes=" + std::to_string(off) + "-" + std::to_string(off + len - 1)}};
		auto r = call("GET", key, {}, h, nullptr, sink, [&] {
			sink.written = 0;
			attempt_bytes = 0;
		});
		if (sink.over)
			die("remote '{}': GET {}: the server sent more than the {} bytes asked for", name_, key, len);
		check(r, "GET", key);
		if (sink.written != len)
			die("remote '{}': GET {}: got {} bytes of {}", name_, key, sink.written, len);
	}

	std::optional<uint64_t> size(const std::string &key) override
	{
		Sink sink;
		auto r = call("HEAD", key, {}, {}, nullptr, sink);
		if (r.status == 404)
			return std::nullopt;
		check(r, "HEAD", key);
		const std::string &cl = r.headers["content-length"];
		char *end = nullptr;
		errno = 0;
		unsigned long long n = strtoull(cl.c_str(), &end, 10);
		if (cl.empty() || !isdigit((unsigned char)cl[0]) || *end || errno)
			die("remote '{}': HEAD {}: bad Content-Length '{}'", name_, key, cl.substr(0, 40));
		return (uint64_t)n;
	}

	PutStatus put(const std::string &key, const std::string &data, const PutCondition &c) override
	{
		std::map<std::string, std::string> h;
		if (c.kind == PutCondition::absent)
			h["if-none-match"] = "*";
		else if (c.kind == PutCondition::matches)
			h["if-match"] = c.etag;
		Body b;
		b.data = &data;
		b.len = data.size();
		Sink sink;
		auto r = call("PUT", key, {}, h, &b, sink, nullptr, sha256_hex(data.data(), data.size()));
		if (c.kind != PutCondition::none && r.status == 412)
			return PutStatus::precondition_failed;
		if (c.kind != PutCondition::none && r.status == 501)
			return PutStatus::not_implemented;
		check(r, "PUT", key);
		return PutStatus::ok;
	}

	void put_file(const std::string &key, int fd, uint64_t size, const OnBytes &progress) override
	{
		const uint64_t part = std::max<uint64_t>(part_size_, (size + 9999) / 10000);
		if (size <= part) {
			put_range(key, fd, 0, size, {}, progress);
			return;
		}
		// Resume an upload of this very key (keys are content hashes: the
		// parts already there are the same bytes).
		std::string upload;
		std::map<int, std::pair<std::string, uint64_t>> have;   // part -> etag, size
		for (auto &[k, id, when] : uploads(key))
			if (k == prefix_ + key) {
				upload = id;
				break;
			}
		if (!upload.empty()) {
			have = parts(key, upload);
		} else {
			Sink sink;
			auto r = call("POST", key, {{"uploads", ""}}, {}, nullptr, sink);
			check(r, "POST (start upload)", key);
			upload = xml_one(sink.text, "UploadId");
			if (upload.empty())
				die("remote '{}': no upload id in the answer to starting '{}'", name_, key);
		}
		size_t n = (size_t)((size + part - 1) / part);
		std::vector<std::string> etags(n);
		std::mutex mu;
		parallel_for(n, jobs_, [&](size_t i, int) {
			uint64_t off = i * part, len = std::min(part, size - off);
			int num = (int)i + 1;
			auto it = have.find(num);
			if (it != have.end() && it->second.second == len) {
				etags[i] = it->second.first;
				if (progress) {
					std::lock_guard<std::mutex> g(mu);
					progress(len);
				}
				return;
			}
			std::string etag = put_range(key, fd, off, len,
						     {{"partNumber", std::to_string(num)}, {"uploadId", upload}}, [&](uint64_t b) {
							     if (progress) {
								     std::lock_guard<std::mutex> g(mu);
								     progress(b);
							     }
						     });
			etags[i] = etag;
			crash_point("s3-part");   // one part uploaded, the upload not completed
		});
		std::string xml = "<CompleteMultipartUpload>";
		for (size_t i = 0; i < n; i++)
			xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags[i]) +
			       "</ETag></Part>";
		xml += "</CompleteMultipartUpload>";
		Body b;
		b.data = &xml;
		b.len = xml.size();
		Sink sink;
		auto r = call("POST", key, {{"uploadId", upload}}, {}, &b, sink, nullptr, sha256_hex(xml.data(), xml.size()));
		// Keys are content hashes: if another pusher completed this very
		// object (and dropped our upload), the bytes are there all the same.
		if ((r.status == 404 || sink.text.find("NoSuchUpload") != std::string::npos) &&
		    this->size(key) == std::optional<uint64_t>(size))
			return;
		check(r, "POST (complete upload)", key);
		// S3 may answer 200 and put the error in the body.
		if (sink.text.find("<Error>") != std::string::npos)
			die("remote '{}': completing the upload of '{}' failed: {} {}", name_, key, xml_one(sink.text, "Code"),
			    xml_one(sink.text, "Message"));
		// Other uploads of the same key (a push killed midway whose upload
		// a listing did not show yet) can only ever write these same bytes:
		// the object is whole, so they go.
		for (auto &[k, id, when] : uploads(key))
			if (k == prefix_ + key && id != upload) {
				Sink s2;
				call("DELETE", key, {{"uploadId", id}}, {}, nullptr, s2);
			}
	}

	std::vector<Listed> list(const std::string &prefix) override
	{
		std::vector<Listed> out;
		std::string token;
		for (;;) {
			std::map<std::string, std::string> q = {{"list-type", "2"}, {"prefix", prefix_ + prefix}};
			if (!token.empty())
				q["continuation-token"] = token;
			Sink sink;
			auto r = call("GET", "", q, {}, nullptr, sink);
			check(r, "GET (list)", prefix);
			for (auto &c : xml_all(sink.text, "Contents")) {
				std::string k = xml_one(c, "Key");
				if (k.compare(0, prefix_.size(), prefix_) == 0)
					out.push_back({k.substr(prefix_.size()), (uint64_t)atoll(xml_one(c, "Size").c_str())});
			}
			if (xml_one(sink.text, "IsTruncated") != "true")
				break;
			token = xml_one(sink.text, "NextContinuationToken");
			if (token.empty())
				break;
		}
		return out;
	}

	void remove(const std::string &key) override
	{
		Sink sink;
		auto r = call("DELETE", key, {}, {}, nullptr, sink);
		if (r.status == 404)
			return;
		check(r, "DELETE", key);
	}

	void clean_stale_uploads(const std::string &prefix) override
	{
		time_t now = time(nullptr);
		for (auto &[k, id, when] : uploads(prefix)) {
			if (when && now - when < 3600)
				continue; // perhaps another push, still running
			Sink sink;
			auto r = call("DELETE", k.substr(prefix_.size()), {{"uploadId", id}}, {}, nullptr, sink);
			if (r.status != 404)
				check(r, "DELETE (abort upload)", k);
		}
	}

private:
	// PUT one range of fd (a whole object, or a part); returns its ETag.
	std::string put_range(const std::string &key, int fd, uint64_t off, uint64_t len,
			      const std::map<std::string, std::string> &q, const OnBytes &progress)
	{
		// The payload's hash is signed, so the server checks what arrived.
		std::string hash = unsigned_payload_ ? "UNSIGNED-PAYLOAD" : "";
		if (!unsigned_payload_) {
			std::vector<char> buf(1 << 20);
			std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
			if (!ctx || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr))
				die("unable to start a SHA-256 digest");
			for (uint64_t done = 0; done < len;) {
				ssize_t n = pread(fd, buf.data(), std::min<uint64_t>(buf.size(), len - done), (off_t)(off + done));
				if (n == 0)
					die("remote '{}': '{}' shrank while it was being pushed", name_, key);
				if (n < 0)
					die_errno("unable to read what is being pushed");
				EVP_DigestUpdate(ctx.get(), buf.data(), (size_t)n);
				done += (uint64_t)n;
			}
			unsigned char md[32];
			unsigned int mdlen = 0;
			EVP_DigestFinal_ex(ctx.get(), md, &mdlen);
			static const char digits[] = "0123456789abcdef";
			for (unsigned i = 0; i < mdlen; i++)
				hash += digits[md[i] >> 4], hash += digits[md[i] & 15];
		}
		Body b;
		b.fd = fd;
		b.off = off;
		b.len = len;
		Sink sink;
		auto r = call("PUT", key, q, {}, &b, sink, [&] { b.pos = 0; }, hash);
		check(r, "PUT", key);
		if (progress)
			progress(len);
		return r.headers["etag"];
	}

	struct Upload {
		std::string key, id;
		time_t initiated;
	};
	std::vector<Upload> uploads(const std::string &key_prefix)
	{
		std::vector<Upload> out;
		Sink sink;
		auto r = call("GET", "", {{"uploads", ""}, {"prefix", prefix_ + key_prefix}}, {}, nullptr, sink);
		if (r.status == 501)
			return out;
		check(r, "GET (list uploads)", key_prefix);
		for (auto &u : xml_all(sink.text, "Upload")) {
			struct tm tm = {};
			std::string when = xml_one(u, "Initiated");
			time_t t = 0;
			if (strptime(when.c_str(), "%Y-%m-%dT%H:%M:%S", &tm))
				t = timegm(&tm);
			out.push_back({xml_one(u, "Key"), xml_one(u, "UploadId"), t});
		}
		return out;
	}

	std::map<int, std::pair<std::string, uint64_t>> parts(const std::string &key, const std::string &upload)
	{
		std::map<int, std::pair<std::string, uint64_t>> out;
		std::string marker;
		for (;;) {
			std::map<std::string, std::string> q = {{"uploadId", upload}};
			if (!marker.empty())
				q["part-number-marker"] = marker;
			Sink sink;
			auto r = call("GET", key, q, {}, nullptr, sink);
			if (r.status == 404)
				return {};
			check(r, "GET (list parts)", key);
			for (auto &p : xml_all(sink.text, "Part"))
				out[atoi(xml_one(p, "PartNumber").c_str())] = {xml_one(p, "ETag"),
									       (uint64_t)atoll(xml_one(p, "Size").c_str())};
			if (xml_one(sink.text, "IsTruncated") != "true")
				break;
			marker = xml_one(sink.text, "NextPartNumberMarker");
			if (marker.empty())
				break;
		}
		return out;
	}

	static std::string code(const Response &r) { return xml_one(r.body, "Code"); }

	void check(const Response &r, const std::string &what, const std::string &key)
	{
		std::string where = "s3://" + bucket_ + "/" + prefix_ + key;
		// Never a silently cut answer (a listing, a state object).
		if (r.too_large)
			die("remote '{}': {} {}: the answer is larger than pach accepts", name_, what, where);
		if (r.status >= 200 && r.status < 300)
			return;
		if (!r.transport.empty())
			die("remote '{}': {} {}: {}", name_, what, where, r.transport);
		std::string c = code(r), m = xml_one(r.body, "Message");
		if (c == "NoSuchBucket")
			die("remote '{}': bucket '{}' does not exist (at {}://{})", name_, bucket_, endpoint_.scheme,
			    endpoint_.host);
		die("remote '{}': {} {}: HTTP {}{}{}", name_, what, where, r.status, c.empty() ? "" : " " + c,
		    m.empty() ? "" : ": " + m);
	}

	// One request, retried with backoff while the answer is a transport
	// error, 429 or 5xx, for up to retry_seconds_.  `rewind` resets the
	// body and sink before a retry.
	Response call(const std::string &method, const std::string &key, const std::map<std::string, std::string> &q,
		      const std::map<std::string, std::string> &extra, Body *body, Sink &sink,
		      const std::function<void()> &rewind = nullptr, const std::string &payload_hash = kEmptySha256)
	{
		auto start = std::chrono::steady_clock::now();
		double budget = retry_seconds_;
		int delay_ms = 100;
		std::mt19937 rng((unsigned)std::hash<std::thread::id>()(std::this_thread::get_id()) ^ (unsigned)time(nullptr));
		for (int attempt = 1;; attempt++) {
			if (body)
				body->pos = 0;
			sink.text.clear();
			sink.written = 0;
			if (rewind)
				rewind();
			Response r = once(method, key, q, extra, body, sink, payload_hash);
			if (body && !body->error.empty())   // our side: no retry helps
				die("remote '{}': unable to read what is being pushed to {}: {}", name_, key, body->error);
			if (sink.over) {   // more than asked for: not worth another try
				r.too_large = true;
				return r;
			}
			bool retry = !r.transport.empty() || r.status == 429 || r.status >= 500 ||
				     (r.status == 400 && code(r) == "RequestTimeout");
			if (r.status == 501)
				retry = false;
			double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
			if (!retry || spent + delay_ms / 1000.0 > budget)
				return r;
			std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms / 2 + (int)(rng() % (unsigned)delay_ms)));
			delay_ms = std::min(delay_ms * 2, 2000);
		}
	}

	Response once(const std::string &method, const std::string &key, const std::map<std::string, std::string> &q,
		      const std::map<std::string, std::string> &extra, Body *body, Sink &sink,
		      const std::string &payload_hash)
	{
		requests_++;
		std::string host = path_style_ ? endpoint_.host : bucket_ + "." + endpoint_.host;
		// An empty key is the bucket itself (listings).
		std::string object = key.empty() ? "" : uri_encode(prefix_ + key, true);
		std::string path = path_style_ ? "/" + bucket_ + "/" + object : "/" + object;
		SignRequest sr;
		sr.method = method;
		sr.path = path;
		sr.query = q;
		sr.headers = extra;
		sr.headers["host"] = host;
		sr.amz_date = amz_now();
		sr.headers["x-amz-date"] = sr.amz_date;
		sr.headers["x-amz-content-sha256"] = payload_hash;
		if (!creds_.session_token.empty())
			sr.headers["x-amz-security-token"] = creds_.session_token;
		sr.payload_hash = payload_hash;
		sr.region = region_;
		std::string qs = canonical_query(q);
		std::string url = endpoint_.scheme + "://" + host + path + (qs.empty() ? "" : "?" + qs);

		struct curl_slist *hl = nullptr;
		for (auto &[k, v] : sr.headers)
			if (k != "host")
				hl = curl_slist_append(hl, (k + ": " + v).c_str());
		if (!creds_.access_key.empty())
			hl = curl_slist_append(hl, ("authorization: " + sigv4_authorization(sr, creds_)).c_str());
		hl = curl_slist_append(hl, "Expect:");
		CURL *c = thread_handle();
		Response resp;
		std::pair<Response *, Sink *> hd{&resp, &sink};
		curl_easy_setopt(c, CURLOPT_URL, url.c_str());
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
		// A transfer that stalls for 30 s is dead.
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
		// Bigger buffers: fewer callbacks and system calls per GiB.
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
		curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
		if (method == "HEAD") {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (method == "PUT") {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(c, CURLOPT_READDATA, body);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(body ? body->len : 0));
		} else if (method == "POST") {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			if (body) {
				curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data->data());
				curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
			} else {
				curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
				curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
			}
		} else if (method != "GET") {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
		}
		CURLcode rc = curl_easy_perform(c);
		curl_slist_free_all(hl);
		if (rc != CURLE_OK) {
			resp.transport = curl_easy_strerror(rc);
			resp.status = 0;
		}
		if (!sink.to_fd || resp.status < 200 || resp.status >= 300)
			resp.body = sink.text;
		return resp;
	}

	std::string name_, url_, bucket_, prefix_, region_;
	Endpoint endpoint_;
	bool path_style_ = false;
	Credentials creds_;
	int jobs_ = 6;
	uint64_t part_size_ = 64ull << 20;   // fewer, larger parts: measurably faster than 16 MiB
	bool unsigned_payload_ = false;
	double retry_seconds_ = 60;
};

} // namespace

std::unique_ptr<Backend> make_s3_backend(const RemoteConfig &c)
{
	return std::make_unique<S3Backend>(c);
}

} // namespace pach::remote
