// The HTTP server under `pach serve`: libmicrohttpd, one thread per
// connection (a request may block on a disk read or a commit without
// holding up anyone else's), requests as plain structs, bodies streamed
// in both directions.  Nothing here knows S3: a Handler gets the parsed
// request and answers it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct MHD_Daemon;

namespace pach::serve {

struct Request {
	std::string method;
	std::string raw_path;    // as sent, still percent-encoded ("/b/a%20b")
	std::string path;        // decoded ("/b/a b")
	std::string raw_query;   // after '?', as sent
	// Decoded, in the order sent ("a&b=1" -> {a,""}, {b,1}).
	std::vector<std::pair<std::string, std::string>> query;
	// Lowercase names, in the order sent; a repeated header is one entry
	// of its values joined by ',' (RFC 9110).
	std::vector<std::pair<std::string, std::string>> headers;
	std::string peer;        // "127.0.0.1"
	// Virtual-host style: the bucket the Host header names (set by
	// Handler::route); path is then the key's, "/<key>".
	std::string host_bucket;

	const std::string *header(const std::string &lower_name) const;
	std::string header_or(const std::string &lower_name, const std::string &dflt = "") const;
	const std::string *param(const std::string &name) const;
	bool has_param(const std::string &name) const { return param(name) != nullptr; }
};

struct Response {
	int status = 200;
	std::vector<std::pair<std::string, std::string>> headers;
	// Either a body held here, or `size` bytes produced by `reader`
	// (pos, buf, max) -> bytes written, 0 at the end; it may throw.
	std::string body;
	uint64_t size = 0;
	std::function<size_t(uint64_t pos, char *buf, size_t max)> reader;
	// A stream of unknown length (server-sent events): reader returns
	// bytes, or 0 to end the response.
	bool chunked = false;

	Response &header(const std::string &k, const std::string &v)
	{
		headers.emplace_back(k, v);
		return *this;
	}
};

// One request being served.  start() may answer at once (`early`);
// otherwise the body comes through body(), then finish() answers.
class Exchange {
public:
	virtual ~Exchange() = default;
	std::optional<Response> early;
	virtual void body(const char *data, size_t n) = 0;
	virtual Response finish() = 0;
	uint64_t bytes_in = 0;
};

class Handler {
public:
	virtual ~Handler() = default;
	// May throw; the server answers 500 then (after on_error, if the
	// handler wants to shape the answer).
	virtual std::unique_ptr<Exchange> start(const Request &r) = 0;
	// Called first, on the parsed request (the handler may take the
	// bucket from the Host header there).
	virtual void route(Request &r) { (void)r; }
	// The operation's name for metrics, known before start() runs (so a
	// refused request is counted under what it asked for).
	virtual std::string op_of(const Request &r) { (void)r; return "other"; }
	// An exception from start/body/finish as a response.
	virtual Response on_error(const Request &r, const std::exception &e) = 0;
	// After each request (for metrics and logs).
	struct Done {
		const std::string *op;
		int status;
		double seconds;
		uint64_t bytes_in, bytes_out;
		const Request *request;
	};
	virtual void done(const Done &) {}
};

struct Listen {
	std::string host = "127.0.0.1";
	int port = 30600;
	std::string tls_cert, tls_key;   // PEM text; TLS when both are set
	unsigned max_connections = 512;
	unsigned idle_timeout = 120;     // seconds without traffic
};

// "HOST:PORT", "[V6]:PORT" or ":PORT"; dies with a clear message.
Listen parse_listen(const std::string &s);

class Server {
public:
	Server(const Listen &l, Handler &h);   // binds and serves; dies if it cannot
	~Server();                              // stops
	int port() const { return port_; }
	Handler &handler() { return h_; }

private:
	MHD_Daemon *d_ = nullptr;
	Handler &h_;
	int port_ = 0;
};

// RFC 3986 percent-decoding ('+' stays '+'); false on a bad escape.
bool percent_decode(const std::string &in, std::string &out);

} // namespace pach::serve
