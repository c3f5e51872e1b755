// `pach serve`: the S3 gateway and /metrics on one listening socket.
#pragma once

#include "serve/console.h"
#include "serve/http.h"
#include "serve/metrics.h"
#include "serve/s3.h"
#include "serve/stats.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace pach::serve {

struct ServeOptions {
	Listen listen;
	GatewayOptions gateway;
	// Virtual-host addressing: a Host of <bucket>.<domain> names the
	// bucket (empty: path style only).
	std::string domain;
};

// The bucket a Host header names under `domain` ("master.b.s3.local:80"
// under "s3.local" is "master.b"); empty when it names none (the domain
// itself, another name, an address).
std::string host_bucket(const std::string &host, const std::string &domain);
// Dies unless `d` is a DNS name (lowercase labels of letters, digits, '-').
void check_domain(const std::string &d);

class Service : public Handler {
public:
	Service(Store &s, const ServeOptions &o);
	~Service();
	// With metrics.url set (and METRICS not false): the usage payload
	// (pach stats --usage-payload) now and every 24 hours.
	void start_usage_reports();
	void route(Request &r) override;
	std::unique_ptr<Exchange> start(const Request &r) override;
	Response on_error(const Request &r, const std::exception &e) override;
	std::string op_of(const Request &r) override;
	void done(const Done &d) override;
	Gateway &gateway() { return g_; }

private:
	Store &s_;
	std::string domain_;
	Gateway g_;
	Console console_;
	Metrics m_;
	StatsCollector stats_;
	std::string metrics_text();
	std::thread usage_;
	std::mutex usage_mu_;
	std::condition_variable usage_cv_;
	bool stopping_ = false;
};

} // namespace pach::serve
