// HTTP for the S3 client: one libcurl connection per thread (kept alive
// between requests), bodies streamed from a file or to one, answers
// bounded, and one retry loop with jittered exponential backoff.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace pach::remote {

using OnBytes = std::function<void(uint64_t)>;

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
	uint64_t limit = (64ull << 20), fd_limit = UINT64_MAX;
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

struct Endpoint {
	std::string scheme, host;   // host may carry :port
};

// "http(s)://host[:port]" checked (no credentials, no path); dies naming
// the remote.
Endpoint parse_endpoint(const std::string &url, const std::string &remote);

// One request.  Headers are "name: value"; PUT sends body (from its fd or
// data), POST its data; the answer's body goes to the sink (a 2xx to its
// fd when it has one).  A transport failure is in Response::transport.
Response http_request(const std::string &method, const std::string &url, const std::vector<std::string> &headers,
		      Body *body, Sink &sink);

// attempt() until its answer is final (retryable() false) or budget
// seconds are spent; between tries a jittered backoff from 100 ms to 2 s.
Response with_retries(double budget, const std::function<Response()> &attempt,
		      const std::function<bool(const Response &)> &retryable);

} // namespace pach::remote
