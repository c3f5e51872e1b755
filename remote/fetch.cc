#include "remote/fetch.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "remote/backend.h"
#include "remote/s3.h"

#include <curl/curl.h>

#include <mutex>

namespace pach::remote {

bool is_fetchable(const std::string &src)
{
	for (const char *p : {"http://", "https://", "s3://"})
		if (src.compare(0, strlen(p), p) == 0)
			return true;
	return false;
}

std::string fetch_name(const std::string &src)
{
	std::string p = src.substr(src.find("://") + 3);
	p = p.substr(0, p.find_first_of("?#"));
	auto slash = p.find('/');
	if (slash == std::string::npos)
		return "";   // a host or a bucket alone
	auto k = p.find_last_of('/');
	return p.substr(k + 1);
}

namespace {

struct Sink {
	int fd;
	uint64_t written = 0;
};

size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	Sink *s = (Sink *)ud;
	size_t len = size * n;
	try {
		write_full(s->fd, p, len, "the download");
	} catch (...) {
		return 0;   // curl reports a write error
	}
	s->written += len;
	return len;
}

// Never shows credentials a URL may carry.
std::string shown(const std::string &url)
{
	auto at = url.find('@'), scheme = url.find("://");
	auto slash = url.find('/', scheme + 3);
	if (at != std::string::npos && scheme != std::string::npos && (slash == std::string::npos || at < slash))
		return url.substr(0, scheme + 3) + url.substr(at + 1);
	return url;
}

void fetch_http(const std::string &url, int fd)
{
	static std::once_flag once;
	std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
	CURL *c = curl_easy_init();
	if (!c)
		die("unable to start an HTTP client");
	struct Cleanup {
		CURL *c;
		~Cleanup() { curl_easy_cleanup(c); }
	} cleanup{c};
	Sink sink{fd};
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url.c_str());
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	// A server that stops sending is given up on, never waited for.
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pach");
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		die("unable to fetch '{}': {}", shown(url), *err ? err : curl_easy_strerror(rc));
}

void fetch_s3(const std::string &src, int fd)
{
	std::string rest = src.substr(5);
	auto slash = rest.find('/');
	if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size())
		die("'{}': expected s3://bucket/key", src);
	RemoteConfig c;
	c.name = src;
	c.url = "s3://" + rest.substr(0, slash);
	std::string key = rest.substr(slash + 1);
	if (std::string bad = check_url(c.url); !bad.empty())
		die("'{}': {}", src, bad);
	// A custom endpoint (MinIO, Ceph, Swift, a local test server) is
	// addressed path-style, as most of them need; AWS's own by host.
	c.path_style = !aws_settings().endpoint.empty();
	auto b = open_backend(c);
	auto size = b->size(key);
	if (!size)
		die("'{}': no such object", src);
	if (*size)
		b->get_range(key, 0, *size, fd, 0);
}

} // namespace

void fetch_to(const std::string &src, int fd)
{
	if (src.compare(0, 5, "s3://") == 0)
		fetch_s3(src, fd);
	else
		fetch_http(src, fd);
}

} // namespace pach::remote
