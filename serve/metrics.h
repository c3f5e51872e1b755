// Figures for /metrics (Prometheus text format 0.0.4) and `pach stats`:
// the gateway's requests (by operation and status), their latencies as
// histograms, bytes in and out; the store's figures are read when asked.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace pach::serve {

// A Prometheus histogram with fixed buckets (seconds).
struct Histogram {
	static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
							   0.1,    0.25,  0.5,   1,     2.5,   5,    10};
	std::array<uint64_t, kBounds.size() + 1> counts{};
	double sum = 0;
	uint64_t n = 0;
	void observe(double v);
	// name{labels,le="..."} lines, _sum and _count.
	std::string text(const std::string &name, const std::string &labels) const;
};

class Metrics {
public:
	void request(const std::string &op, int status, double seconds, uint64_t in, uint64_t out);
	// The gateway's part of /metrics.
	std::string text();

private:
	std::mutex mu_;
	std::map<std::pair<std::string, int>, uint64_t> requests_;
	std::map<std::string, Histogram> latency_;
	uint64_t in_ = 0, out_ = 0;
};

// Label values escaped as the text format wants (\\, \", \n).
std::string prom_label(const std::string &v);

} // namespace pach::serve
