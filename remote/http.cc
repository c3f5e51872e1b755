#include "remote/http.h"

#include "plumbing/error.h"
#include "plumbing/quote.h"
#include "remote/sigv4.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace pach::remote {

namespace {

struct Handle {
	CURL *c = nullptr;
	Handle() { c = curl_easy_init(); }
	~Handle() { curl_easy_cleanup(c); }
};

// One connection per thread, reused by its requests.
CURL *thread_handle()
{
	static std::once_flag once;   // libcurl's global state, before any thread uses it
	std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
	thread_local Handle h;
	curl_easy_reset(h.c);
	return h.c;
}

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

} // namespace

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

Response http_request(const std::string &method, const std::string &url, const std::vector<std::string> &headers,
		      Body *body, Sink &sink)
{
	std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> hl(nullptr, curl_slist_free_all);
	for (auto &h : headers) {
		curl_slist *n = curl_slist_append(hl.get(), h.c_str());
		if (!n)
			die("out of memory");
		hl.release();
		hl.reset(n);
	}
	CURL *c = thread_handle();
	Response resp;
	std::pair<Response *, Sink *> hd{&resp, &sink};
	curl_easy_setopt(c, CURLOPT_URL, url.c_str());
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl.get());
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	// A worker in a pod brings its own CA certificates (the image may
	// have none): PACH_WORKER_CA_FILE, never shown to user code.
	if (const char *ca = getenv("PACH_WORKER_CA_FILE"); ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
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
	if (rc != CURLE_OK) {
		resp.transport = curl_easy_strerror(rc);
		resp.status = 0;
	}
	if (!sink.to_fd || resp.status < 200 || resp.status >= 300)
		resp.body = sink.text;
	return resp;
}

Response with_retries(double budget, const std::function<Response()> &attempt,
		      const std::function<bool(const Response &)> &retryable)
{
	auto start = std::chrono::steady_clock::now();
	int delay_ms = 100;
	std::mt19937 rng((unsigned)std::hash<std::thread::id>()(std::this_thread::get_id()) ^ (unsigned)time(nullptr));
	for (;;) {
		Response r = attempt();
		double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
		if (!retryable(r) || spent + delay_ms / 1000.0 > budget)
			return r;
		std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms / 2 + (int)(rng() % (unsigned)delay_ms)));
		delay_ms = std::min(delay_ms * 2, 2000);
	}
}

} // namespace pach::remote
