#include "serve/http.h"

#include "plumbing/error.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace pach::serve {

const std::string *Request::header(const std::string &lower_name) const
{
	for (auto &[k, v] : headers)
		if (k == lower_name)
			return &v;
	return nullptr;
}

std::string Request::header_or(const std::string &lower_name, const std::string &dflt) const
{
	auto *v = header(lower_name);
	return v ? *v : dflt;
}

const std::string *Request::param(const std::string &name) const
{
	for (auto &[k, v] : query)
		if (k == name)
			return &v;
	return nullptr;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool percent_decode(const std::string &in, std::string &out)
{
	out.clear();
	out.reserve(in.size());
	for (size_t i = 0; i < in.size(); i++) {
		if (in[i] != '%') {
			out += in[i];
			continue;
		}
		int a = i + 1 < in.size() ? hexval(in[i + 1]) : -1;
		int b = i + 2 < in.size() ? hexval(in[i + 2]) : -1;
		if (a < 0 || b < 0)
			return false;
		out += (char)(a * 16 + b);
		i += 2;
	}
	return true;
}

Listen parse_listen(const std::string &s)
{
	Listen l;
	std::string host, port;
	if (!s.empty() && s[0] == '[') {
		size_t e = s.find(']');
		if (e == std::string::npos || e + 1 >= s.size() || s[e + 1] != ':')
			die("bad address '{}': expected [ADDRESS]:PORT", s);
		host = s.substr(1, e - 1);
		port = s.substr(e + 2);
	} else {
		size_t c = s.rfind(':');
		if (c == std::string::npos)
			die("bad address '{}': expected HOST:PORT", s);
		host = s.substr(0, c);
		port = s.substr(c + 1);
	}
	if (host.empty())
		host = "127.0.0.1";
	if (host == "localhost")
		host = "127.0.0.1";
	char *end = nullptr;
	long p = port.empty() ? -1 : strtol(port.c_str(), &end, 10);
	if (p < 0 || p > 65535 || *end)
		die("bad port '{}' in '{}'", port, s);
	in6_addr a6;
	in_addr a4;
	if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
		die("bad address '{}': give a numeric IPv4 or IPv6 address", host);
	l.host = host;
	l.port = (int)p;
	return l;
}

namespace {

// Each connection's buffers (libmicrohttpd's pool), half of it a
// response's block: 256 KiB halved a big GET's speed, 4 MiB tripled a
// small GET's latency (the pool is cleared between requests).
constexpr size_t kConnectionMemory = 1u << 20;

struct Conn {
	Server *srv = nullptr;
	std::string raw_uri;
	Request req;
	std::unique_ptr<Exchange> ex;
	std::optional<Response> failed;   // the answer, when known before the body's end
	bool started = false;
	int status = 0;
	std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
	std::shared_ptr<std::atomic<uint64_t>> out = std::make_shared<std::atomic<uint64_t>>(0);
	std::string op = "other";
};

struct Reader {
	std::function<size_t(uint64_t, char *, size_t)> fn;
	std::shared_ptr<std::atomic<uint64_t>> out;
	bool chunked = false;
};

ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	auto *r = static_cast<Reader *>(cls);
	try {
		size_t n = r->fn(pos, buf, max);
		if (!n)
			return r->chunked ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
		*r->out += n;
		return (ssize_t)n;
	} catch (const std::exception &e) {
		// The status line went out already: all a server can do is cut
		// the connection, which the client sees as a short body.
		warning(fmt::format("response cut short: {}", e.what()));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

void free_cb(void *cls)
{
	delete static_cast<Reader *>(cls);
}

MHD_Result queue(Conn *k, MHD_Connection *c, Response &r)
{
	MHD_Response *resp;
	if (r.reader) {
		auto *rd = new Reader{std::move(r.reader), k->out, r.chunked};
		resp = MHD_create_response_from_callback(r.chunked ? MHD_SIZE_UNKNOWN : r.size, kConnectionMemory / 2, read_cb, rd,
							 free_cb);
		if (!resp) {
			delete rd;
			return MHD_NO;
		}
	} else {
		resp = MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
		if (!resp)
			return MHD_NO;
		*k->out += r.body.size();
	}
	for (auto &[n, v] : r.headers)
		MHD_add_response_header(resp, n.c_str(), v.c_str());
	k->status = r.status;
	MHD_Result ok = MHD_queue_response(c, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ok;
}

MHD_Result header_it(void *cls, MHD_ValueKind, const char *key, const char *value)
{
	auto *req = static_cast<Request *>(cls);
	std::string k = key ? key : "";
	for (auto &ch : k)
		ch = (char)tolower((unsigned char)ch);
	std::string v = value ? value : "";
	for (auto &[hk, hv] : req->headers)
		if (hk == k) {
			hv += "," + v;
			return MHD_YES;
		}
	req->headers.emplace_back(std::move(k), std::move(v));
	return MHD_YES;
}

// The request line's target, taken apart here rather than by
// libmicrohttpd: a signature covers the bytes as the client encoded them.
bool parse_target(Request &r, const std::string &uri)
{
	size_t q = uri.find('?');
	r.raw_path = uri.substr(0, q);
	r.raw_query = q == std::string::npos ? "" : uri.substr(q + 1);
	if (!percent_decode(r.raw_path, r.path))
		return false;
	size_t i = 0;
	while (i < r.raw_query.size()) {
		size_t e = r.raw_query.find('&', i);
		if (e == std::string::npos)
			e = r.raw_query.size();
		std::string part = r.raw_query.substr(i, e - i);
		i = e + 1;
		if (part.empty())
			continue;
		size_t eq = part.find('=');
		std::string k, v;
		if (!percent_decode(part.substr(0, eq), k))
			return false;
		if (eq != std::string::npos && !percent_decode(part.substr(eq + 1), v))
			return false;
		r.query.emplace_back(std::move(k), std::move(v));
	}
	return true;
}

void *uri_log(void *, const char *uri, MHD_Connection *)
{
	auto *k = new Conn;
	k->raw_uri = uri ? uri : "";
	return k;
}

Response plain(int status, const std::string &text)
{
	Response r;
	r.status = status;
	r.body = text;
	r.body += '\n';
	r.header("Content-Type", "text/plain; charset=utf-8");
	return r;
}

MHD_Result access(void *cls, MHD_Connection *c, const char *, const char *method, const char *,
		  const char *upload, size_t *upload_size, void **con_cls)
{
	auto *srv = static_cast<Server *>(cls);
	auto *k = static_cast<Conn *>(*con_cls);
	Handler &h = srv->handler();
	if (!k->started) {
		k->started = true;
		k->req.method = method;
		if (auto *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) {
			char b[INET6_ADDRSTRLEN] = "";
			const sockaddr *sa = ci->client_addr;
			if (sa && sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const sockaddr_in *)sa)->sin_addr, b, sizeof b);
			else if (sa && sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const sockaddr_in6 *)sa)->sin6_addr, b, sizeof b);
			k->req.peer = b;
		}
		MHD_get_connection_values(c, MHD_HEADER_KIND, header_it, &k->req);
		// An answer known now goes out on the next call: queued on this
		// first one, libmicrohttpd closes the connection after it (it
		// cannot know the body was read), and a client's next request
		// pays for a new connection.  With a body coming, an early answer
		// (a refusal) does close it: the body is not read.
		std::string cl = k->req.header_or("content-length");
		bool body = k->req.header("transfer-encoding") || (!cl.empty() && cl != "0");
		if (!parse_target(k->req, k->raw_uri)) {
			k->failed = plain(400, "bad percent-encoding in the request target");
		} else {
			h.route(k->req);
			k->op = h.op_of(k->req);
			try {
				k->ex = h.start(k->req);
				if (k->ex->early)
					k->failed = std::move(k->ex->early);
			} catch (const std::exception &e) {
				k->failed = h.on_error(k->req, e);
			}
		}
		if (k->failed && body)
			return queue(k, c, *k->failed);
		return MHD_YES;
	}
	if (*upload_size) {
		if (!k->failed) {
			try {
				k->ex->bytes_in += *upload_size;
				k->ex->body(upload, *upload_size);
			} catch (const std::exception &e) {
				k->failed = h.on_error(k->req, e);
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (k->failed)
		return queue(k, c, *k->failed);
	try {
		Response r = k->ex->finish();
		return queue(k, c, r);
	} catch (const std::exception &e) {
		Response r = h.on_error(k->req, e);
		return queue(k, c, r);
	}
}

void completed(void *cls, MHD_Connection *, void **con_cls, MHD_RequestTerminationCode)
{
	auto *srv = static_cast<Server *>(cls);
	auto *k = static_cast<Conn *>(*con_cls);
	if (!k)
		return;
	if (k->started) {
		Handler::Done d;
		d.op = &k->op;
		d.status = k->status;
		d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - k->t0).count();
		d.bytes_in = k->ex ? k->ex->bytes_in : 0;
		d.bytes_out = *k->out;
		d.request = &k->req;
		try {
			srv->handler().done(d);
		} catch (...) {
		}
	}
	delete k;
	*con_cls = nullptr;
}

} // namespace

Server::Server(const Listen &l, Handler &h) : h_(h)
{
	sockaddr_storage ss{};
	socklen_t len;
	bool v6 = l.host.find(':') != std::string::npos;
	if (v6) {
		auto *a = (sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)l.port);
		inet_pton(AF_INET6, l.host.c_str(), &a->sin6_addr);
		len = sizeof *a;
	} else {
		auto *a = (sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)l.port);
		inet_pton(AF_INET, l.host.c_str(), &a->sin_addr);
		len = sizeof *a;
	}
	// Our own listening socket: bind's errno makes a clear message, and
	// port 0 gives a free port to report.
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("unable to create a socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	std::string where = v6 ? "[" + l.host + "]:" + std::to_string(l.port) : l.host + ":" + std::to_string(l.port);
	if (bind(fd, (sockaddr *)&ss, len) < 0 || listen(fd, 256) < 0) {
		int e = errno;
		close(fd);
		die_errno(e, "unable to listen on " + where);
	}
	sockaddr_storage got{};
	socklen_t gl = sizeof got;
	getsockname(fd, (sockaddr *)&got, &gl);
	port_ = ntohs(got.ss_family == AF_INET6 ? ((sockaddr_in6 *)&got)->sin6_port : ((sockaddr_in *)&got)->sin_port);

	std::vector<MHD_OptionItem> opts = {
		{MHD_OPTION_LISTEN_SOCKET, fd, nullptr},
		{MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, this},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, this},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)l.max_connections, nullptr},
		{MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)l.idle_timeout, nullptr},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)kConnectionMemory, nullptr},
	};
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (!l.tls_cert.empty()) {
		flags |= MHD_USE_TLS;
		opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)l.tls_key.c_str()});
		opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)l.tls_cert.c_str()});
	}
	opts.push_back({MHD_OPTION_END, 0, nullptr});
	d_ = MHD_start_daemon(flags, 0, nullptr, nullptr, access, this, MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
	if (!d_) {
		close(fd);
		die("unable to serve on {}{}", where, l.tls_cert.empty() ? "" : " (is the TLS key and certificate sound PEM?)");
	}
}

Server::~Server()
{
	if (d_)
		MHD_stop_daemon(d_);
}

} // namespace pach::serve
