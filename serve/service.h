// `pach serve`: the S3 gateway and /metrics on one listening socket.
#pragma once

#include "serve/http.h"
#include "serve/metrics.h"
#include "serve/s3.h"

namespace pach::serve {

struct ServeOptions {
	Listen listen;
	GatewayOptions gateway;
};

class Service : public Handler {
public:
	Service(Store &s, const ServeOptions &o);
	std::unique_ptr<Exchange> start(const Request &r) override;
	Response on_error(const Request &r, const std::exception &e) override;
	std::string op_of(const Request &r) override;
	void done(const Done &d) override;
	Gateway &gateway() { return g_; }

private:
	Store &s_;
	Gateway g_;
	Metrics m_;
	std::string metrics_text();
};

} // namespace pach::serve
