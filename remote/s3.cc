#include "remote/s3.h"
#include "plumbing/crash.h"
#include "plumbing/parallel.h"
#include "plumbing/quote.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "remote/http.h"
#include "remote/s3xml.h"

#include <openssl/evp.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace pach::remote {

namespace {

std::string amz_now()
{
	time_t t = time(nullptr);
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[32];
	strftime(b, sizeof b, "%Y%m%dT%H%M%SZ", &tm);
	return b;
}

class S3Backend : public Backend {
public:
	S3Backend(const RemoteConfig &c) : name_(c.name), url_(c.url)
	{
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
		auto attempt = [&] {
			if (body)
				body->pos = 0;
			sink.text.clear();
			sink.written = 0;
			if (rewind)
				rewind();
			Response r = once(method, key, q, extra, body, sink, payload_hash);
			if (body && !body->error.empty())   // our side: no retry helps
				die("remote '{}': unable to read what is being pushed to {}: {}", name_, key, body->error);
			r.too_large = sink.over;   // more than asked for: not worth another try
			return r;
		};
		return with_retries(retry_seconds_, attempt, [&](const Response &r) {
			if (r.too_large || r.status == 501)
				return false;
			return !r.transport.empty() || r.status == 429 || r.status >= 500 ||
			       (r.status == 400 && code(r) == "RequestTimeout");
		});
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
		std::vector<std::string> headers;
		for (auto &[k, v] : sr.headers)
			if (k != "host")
				headers.push_back(k + ": " + v);
		if (!creds_.access_key.empty())
			headers.push_back("authorization: " + sigv4_authorization(sr, creds_));
		headers.push_back("Expect:");
		return http_request(method, url, headers, body, sink);
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
