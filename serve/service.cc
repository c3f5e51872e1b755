#include "serve/service.h"

#include "plumbing/error.h"

#include "plumbing/fs.h"

#include <sys/stat.h>

#include <cctype>

namespace pach::serve {

std::string host_bucket(const std::string &host, const std::string &domain)
{
	if (domain.empty() || host.empty() || host[0] == '[')
		return "";
	std::string h = host.substr(0, host.rfind(':'));
	if (h.size() <= domain.size() + 1 || h[h.size() - domain.size() - 1] != '.')
		return "";
	for (size_t i = 0; i < domain.size(); i++)
		if (tolower((unsigned char)h[h.size() - domain.size() + i]) != domain[i])
			return "";
	return h.substr(0, h.size() - domain.size() - 1);
}

void check_domain(const std::string &d)
{
	bool ok = !d.empty() && d.size() <= 253 && d.front() != '.' && d.back() != '.' &&
		  d.find("..") == std::string::npos && d.front() != '-';
	for (char c : d)
		ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
	if (!ok)
		die("bad domain '{}': give a DNS name in lowercase (letters, digits, '-', '.')", d);
}

Service::Service(Store &s, const ServeOptions &o)
	: s_(s), domain_(o.domain), g_(s, o.gateway), console_(s, o.gateway.anonymous, o.gateway.creds), stats_(s)
{
}

void Service::route(Request &r)
{
	if (auto *h = r.header("host"))
		r.host_bucket = host_bucket(*h, domain_);
}

std::unique_ptr<Exchange> Service::start(const Request &r)
{
	// /metrics is always the metrics: a repo named "metrics" is still
	// reached as the bucket master.metrics.  Under a bucket's host name
	// every path is a key.
	if (!r.host_bucket.empty())
		return g_.start(r);
	if (r.path == "/metrics" && (r.method == "GET" || r.method == "HEAD")) {
		Response resp;
		resp.body = metrics_text();
		resp.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		return answered(std::move(resp));
	}
	// /console/ and /api/v1/ are the console's: the one-part buckets
	// "console" and "api" are reached as master.console, master.api.
	if (Console::owns(r.path))
		return console_.start(r);
	return g_.start(r);
}

std::string Service::op_of(const Request &r)
{
	if (!r.host_bucket.empty())
		return Gateway::op_of(r);
	if (r.path == "/metrics")
		return "Metrics";
	if (Console::owns(r.path))
		return Console::op_of(r);
	return Gateway::op_of(r);
}

Response Service::on_error(const Request &r, const std::exception &e)
{
	return g_.error_response(r, e);
}

void Service::done(const Done &d)
{
	m_.request(*d.op, d.status, d.seconds, d.bytes_in, d.bytes_out);
}

std::string Service::metrics_text()
{
	std::string o = m_.text();
	o += "# HELP pach_gateway_md5_known Blobs whose MD5 the gateway knows (ETags).\n"
	     "# TYPE pach_gateway_md5_known gauge\n";
	o += fmt::format("pach_gateway_md5_known {}\n", g_.md5s().size());
	return o + stats_metrics(stats_.collect());
}

void Service::start_usage_reports()
{
	std::string why;
	std::string url = usage_url(s_, &why);
	if (url.empty())
		return;
	usage_ = std::thread([this, url] {
		std::unique_lock<std::mutex> lk(usage_mu_);
		do {
			lk.unlock();
			try {
				send_usage(url, usage_payload(s_, stats_.collect()));
			} catch (const std::exception &e) {
				warning(fmt::format("usage report not made: {}", e.what()));
			}
			lk.lock();
		} while (!usage_cv_.wait_for(lk, std::chrono::hours(24), [this] { return stopping_; }));
	});
}

Service::~Service()
{
	{
		std::lock_guard<std::mutex> g(usage_mu_);
		stopping_ = true;
	}
	usage_cv_.notify_all();
	if (usage_.joinable())
		usage_.join();
}

} // namespace pach::serve
