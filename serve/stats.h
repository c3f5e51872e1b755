// The store's figures, for `pach stats` and /metrics: storage per repo,
// jobs and datums per pipeline (counts by state, datum durations, and
// throughput by day), and the anonymised usage payload a team may have
// sent to an endpoint of its own (metrics.url).
#pragma once

#include "plumbing/store.h"
#include "serve/metrics.h"

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pach::serve {

struct RepoStats {
	std::string name;
	size_t branches = 0;
	// Distinct files (blobs) over every branch's head, and their bytes:
	// what the repo holds now, before compression and deltas.
	uint64_t files = 0, bytes = 0;
};

struct DayStats {
	size_t jobs = 0, datums_ran = 0;
	double datum_seconds = 0, job_seconds = 0;
};

struct PipelineStats {
	std::string name;
	std::map<std::string, size_t> jobs;      // by job state ("success", "failure")
	std::map<std::string, size_t> datums;    // by datum state, over every job
	Histogram durations;                     // datums that ran
	std::map<std::string, DayStats> by_day;  // "2026-12-01" (UTC)
};

// Pushes and fetches to one remote (from .pach/pach/transfers).
struct RemoteStats {
	uint64_t transfers = 0, bytes = 0, objects = 0, requests = 0;
};

struct StoreStats {
	uint64_t pack_bytes = 0;
	size_t packs = 0;
	std::vector<RepoStats> repos;
	std::vector<PipelineStats> pipelines;
	std::map<std::pair<std::string, std::string>, RemoteStats> remotes;   // (remote, push|fetch)
};

// Reads job records once each (they never change) and repo sizes once
// per set of branch heads: a server asked every few seconds reads only
// what is new.
class StatsCollector {
public:
	explicit StatsCollector(const Store &s) : s_(s) {}
	StoreStats collect();

private:
	const Store &s_;
	std::mutex mu_;
	struct JobSummary {
		std::string pipeline, state, day;
		std::map<std::string, size_t> datums;
		std::vector<double> ran_seconds;
		double job_seconds = 0;
	};
	std::unordered_map<std::string, JobSummary> jobs_;   // by pipeline/id
	struct RepoSize {
		std::string heads;   // the branch heads it was computed for
		RepoStats stats;
	};
	std::map<std::string, RepoSize> repos_;
	// The transfer log, read on from where the last look stopped.
	uint64_t transfers_read_ = 0;
	std::map<std::pair<std::string, std::string>, RemoteStats> remotes_;
	void read_transfers();
};

std::string stats_text(const StoreStats &st);
std::string stats_json(const StoreStats &st);
// The /metrics lines of the store's figures.
std::string stats_metrics(const StoreStats &st);

// Usage reporting.  Off unless metrics.url is set; METRICS=false always
// wins.  The payload holds counts only (no names, paths or addresses)
// and a random id kept in .pach/pach/install-id.
std::string usage_payload(Store &s, const StoreStats &st);
// Where to send it, or "" when reporting is off (and why, in *why).
std::string usage_url(const Store &s, std::string *why);
// POST the payload; false (and a warning) when the endpoint did not take it.
bool send_usage(const std::string &url, const std::string &payload);

} // namespace pach::serve
