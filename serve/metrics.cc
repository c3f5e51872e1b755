#include "serve/metrics.h"

#include <fmt/format.h>

namespace pach::serve {

std::string prom_label(const std::string &v)
{
	std::string o;
	for (char c : v) {
		if (c == '\\' || c == '"')
			o += '\\', o += c;
		else if (c == '\n')
			o += "\\n";
		else
			o += c;
	}
	return o;
}

void Histogram::observe(double v)
{
	size_t i = 0;
	while (i < kBounds.size() && v > kBounds[i])
		i++;
	counts[i]++;
	sum += v;
	n++;
}

std::string Histogram::text(const std::string &name, const std::string &labels) const
{
	std::string o, sep = labels.empty() ? "" : ",";
	uint64_t cum = 0;
	for (size_t i = 0; i < kBounds.size(); i++) {
		cum += counts[i];
		o += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBounds[i], cum);
	}
	cum += counts[kBounds.size()];
	o += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cum);
	std::string l = labels.empty() ? "" : "{" + labels + "}";
	o += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, l, sum, name, l, n);
	return o;
}

void Metrics::request(const std::string &op, int status, double seconds, uint64_t in, uint64_t out)
{
	std::lock_guard<std::mutex> g(mu_);
	requests_[{op, status}]++;
	latency_[op].observe(seconds);
	in_ += in;
	out_ += out;
}

std::string Metrics::text()
{
	std::lock_guard<std::mutex> g(mu_);
	std::string o = "# HELP pach_gateway_requests_total Requests served, by operation and HTTP status.\n"
			"# TYPE pach_gateway_requests_total counter\n";
	for (auto &[k, n] : requests_)
		o += fmt::format("pach_gateway_requests_total{{op=\"{}\",status=\"{}\"}} {}\n", prom_label(k.first), k.second, n);
	o += "# HELP pach_gateway_request_seconds Time from a request's headers to the end of its response.\n"
	     "# TYPE pach_gateway_request_seconds histogram\n";
	for (auto &[op, h] : latency_)
		o += h.text("pach_gateway_request_seconds", "op=\"" + prom_label(op) + "\"");
	o += "# HELP pach_gateway_received_bytes_total Request body bytes received.\n"
	     "# TYPE pach_gateway_received_bytes_total counter\n";
	o += fmt::format("pach_gateway_received_bytes_total {}\n", in_);
	o += "# HELP pach_gateway_sent_bytes_total Response bytes sent.\n"
	     "# TYPE pach_gateway_sent_bytes_total counter\n";
	o += fmt::format("pach_gateway_sent_bytes_total {}\n", out_);
	return o;
}

} // namespace pach::serve
