// Where a remote's bytes live.  Five verbs (get, get a range, put, list,
// remove) and two that need care: a conditional put (compare-and-swap of
// the remote's state object) and a large-file put that resumes.  The S3
// backend speaks HTTP with SigV4; the file backend is a directory (a
// shared disk).  Both count their requests, which the benchmarks print.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pach {
class Store;
}

namespace pach::remote {

struct Object {
	std::string data;
	std::string etag;
};

struct PutCondition {
	enum Kind { none, absent, matches } kind = none;   // If-None-Match: * / If-Match: etag
	std::string etag;
};

enum class PutStatus { ok, precondition_failed, not_implemented };

struct Listed {
	std::string key;
	uint64_t size = 0;
};

using OnBytes = std::function<void(uint64_t)>;

// How transfers are driven.  remote_tuning() fills it from config
// (remote.jobs, remote.retrySeconds, remote.partSizeMB), the environment
// winning as git's GIT_* variables do (PACH_REMOTE_JOBS,
// PACH_REMOTE_RETRY_SECONDS, PACH_S3_PART_MB; the rest are for tests).
struct RemoteTuning {
	int jobs = 0;                           // transfers at once; 0 = the backend's own
	double retry_seconds = 60;              // retrying transport errors, 429 and 5xx
	uint64_t part_size = 64ull << 20;       // S3 multipart part (>= 5 MiB)
	uint64_t fetch_chunk = 32ull << 20;     // fetch's ranges
	bool unsigned_payload = false;          // S3: UNSIGNED-PAYLOAD (PACH_S3_UNSIGNED_PAYLOAD=1)
	int lock_settle_ms = 500;               // remote lock: wait before trusting it (PACH_REMOTE_LOCK_SETTLE_MS)
	int lock_wait_s = 120;                  // remote lock: give up after (PACH_REMOTE_LOCK_WAIT)
};

class Backend {
public:
	virtual ~Backend() = default;
	// The remote as the user wrote it, never with credentials.
	virtual std::string describe() const = 0;
	// A small object whole (nullopt: absent).  Dies when the container
	// (bucket, directory) itself is missing, naming it, or when the object
	// is larger than `max` bytes (a remote is not trusted to be small).
	static constexpr uint64_t kMaxSmall = 64ull << 20;
	virtual std::optional<Object> get(const std::string &key, uint64_t max = kMaxSmall) = 0;
	// Bytes [off, off+len) of key into fd at fd_off; never more than len.
	virtual void get_range(const std::string &key, uint64_t off, uint64_t len, int fd, uint64_t fd_off,
			       const OnBytes &progress = nullptr) = 0;
	virtual std::optional<uint64_t> size(const std::string &key) = 0;
	virtual PutStatus put(const std::string &key, const std::string &data, const PutCondition &c = {}) = 0;
	// size bytes of fd as key; large ones in parts, several at once, an
	// interrupted upload of the same key resumed.
	virtual void put_file(const std::string &key, int fd, uint64_t size, const OnBytes &progress = nullptr) = 0;
	virtual std::vector<Listed> list(const std::string &prefix) = 0;
	virtual void remove(const std::string &key) = 0;
	// Abort multipart uploads left by pushes that died long ago.
	virtual void clean_stale_uploads(const std::string &prefix) { (void)prefix; }
	// Transfers worth running at once.
	virtual int parallelism() const { return 4; }
	uint64_t requests() const { return requests_; }
	RemoteTuning tuning;   // as configured (open_backend)

protected:
	std::atomic<uint64_t> requests_{0};
};

struct RemoteConfig {
	std::string name, url;          // s3://bucket/prefix or file:///path
	std::string endpoint, region;   // S3 only; "" = from the environment
	bool path_style = false;
	RemoteTuning tuning;
};

// Check a URL's form ("" if fine, else what is wrong).
std::string check_url(const std::string &url);
std::unique_ptr<Backend> open_backend(const RemoteConfig &c);
// Config (s: the store's and the user's; null: the user's), then the
// environment.
RemoteTuning remote_tuning(const Store *s);


} // namespace pach::remote
