// The S3 gateway: every branch of the store as a bucket, as Pachyderm's
// gateway names them (`<branch>.<repo>`, `<repo>` for master,
// `<commit>.<repo>` or `<commit>.<branch>.<repo>` read-only), served from
// the packs as they are.  Writes become commits; requests on one branch
// that arrive while its previous commit is being made share the next one
// (group commit).
#pragma once

#include "plumbing/store.h"
#include "remote/sigv4.h"
#include "serve/auth.h"
#include "serve/http.h"
#include "serve/md5cache.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace pach::serve {

struct GatewayOptions {
	bool read_only = false;
	bool anonymous = false;   // unsigned requests may read
	std::optional<remote::Credentials> creds;
};

struct Bucket {
	std::string name, repo, branch;
	std::optional<Oid> commit;   // a commit bucket: fixed, read-only
};

// One object as listed: key, blob, mode, size.
struct Listed {
	std::string key;
	TreeEntry e;
	uint64_t size = 0;
};

struct ListQuery {
	std::string prefix, delimiter, start_after;
	bool after_is_prefix = false;   // start_after was a common prefix: skip what it holds
	size_t max_keys = 1000;
};
struct ListPage {
	std::vector<Listed> objects;
	std::vector<std::string> prefixes;
	bool truncated = false;
	std::string last;              // the last key or prefix returned
	bool last_is_prefix = false;
};

// Parsed trees, shared and kept by total entries (an LRU): a listing
// pages through one big directory without parsing it for every page.
class TreeCache {
public:
	explicit TreeCache(const Store &s, size_t max_entries = 1u << 18) : s_(s), max_(max_entries) {}
	std::shared_ptr<const std::vector<TreeEntry>> get(const Oid &tree);

private:
	const Store &s_;
	size_t max_, held_ = 0;
	std::mutex mu_;
	std::list<std::pair<Oid, std::shared_ptr<const std::vector<TreeEntry>>>> lru_;
	std::unordered_map<Oid, decltype(lru_)::iterator, OidHash> index_;
};

// What one request to change a branch asks: put a file (from a staged
// temporary file, or an existing blob), or remove a path.
struct Change {
	std::string key;
	std::vector<std::string> path;
	bool remove = false;
	std::string file;            // staged content (put), removed when done
	std::optional<TreeEntry> entry;   // put of a known blob (copy)
	std::string md5;             // hex, when known
	// Filled in by the commit: an error for this change alone.
	std::optional<S3Error> error;
	bool changed = false;
};
struct CommitOutcome {
	std::optional<Oid> commit;   // nullopt: nothing changed
	int64_t time = 0;
};

class Gateway {
public:
	Gateway(Store &s, GatewayOptions o);
	~Gateway();
	std::unique_ptr<Exchange> start(const Request &r);
	static std::string op_of(const Request &r);   // "GetObject", ...; "other"
	Response error_response(const Request &r, const std::exception &e);
	Store &store() { return s_; }
	TreeCache &trees() { return trees_; }
	Md5Cache &md5s() { return md5_; }
	const GatewayOptions &options() const { return o_; }

	// Buckets and keys.
	Bucket bucket(const std::string &name, bool for_write) const;
	std::optional<Oid> head(const Bucket &b) const;   // nullopt: no commit yet
	std::optional<TreeEntry> lookup(const Oid &root, const std::vector<std::string> &path);
	ListPage list(const Oid &root, const ListQuery &q);
	uint64_t blob_size(const Oid &blob) const;
	// The ETag (quoted): the content's MD5 when known, else "<blob id>-1".
	std::string etag(const Oid &blob);
	// If-Match / If-None-Match: either ETag the blob has had matches, so
	// an ETag that became the MD5 meanwhile breaks no client's download.
	bool etag_matches(const Oid &blob, const std::string &header);
	// Compute a blob's MD5 in the background (an idle-priority thread,
	// one blob at a time, at most 64 waiting), so reading a big object
	// never waits for MD5 (~0.5 GB/s here) and its ETag becomes the MD5.
	void hash_later(const Oid &blob);

	// Apply changes to a branch in one commit, joined with other
	// requests' changes waiting for the same branch.
	CommitOutcome commit(const Bucket &b, std::vector<Change> &changes);

	std::string staging_dir() const;     // .pach/pach/tmp
	std::string uploads_dir() const;     // .pach/pach/s3-uploads

private:
	Store &s_;
	GatewayOptions o_;
	TreeCache trees_;
	Md5Cache md5_;
	struct BranchQueue;
	std::mutex qmu_;
	std::map<std::string, std::shared_ptr<BranchQueue>> queues_;
	std::mutex hmu_;
	std::condition_variable hcv_;
	std::deque<Oid> hq_;
	std::set<Oid> hqueued_;
	std::atomic<bool> hstop_{false};
	std::thread hasher_;
	void hash_loop();
	void commit_batch(const Bucket &b, std::vector<std::pair<std::vector<Change> *, CommitOutcome *>> &batch);
};

// Shared helpers of the gateway's files.
std::string utc_time(int64_t t, const char *strftime_format);
std::string http_date(int64_t t);      // "Tue, 01 Dec 2026 10:00:00 GMT"
std::string iso8601(int64_t t);        // "2026-12-01T10:00:00.000Z"
std::string xml_doc(const std::string &body);
std::string content_type_of(const std::string &key);
// A key as the path of a tree entry; throws S3Error when it cannot be one.
std::vector<std::string> key_path(const std::string &key);

// Exchanges for requests with bodies (serve/s3_write.cc).
std::unique_ptr<Exchange> put_object(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key);
std::unique_ptr<Exchange> upload_part(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key);
std::unique_ptr<Exchange> xml_request(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key,
				      const std::string &op);
Response copy_object(Gateway &g, const Request &r, const Bucket &b, const std::string &key);
Response delete_object(Gateway &g, const Bucket &b, const std::string &key);
Response create_multipart(Gateway &g, const Bucket &b, const std::string &key);
Response abort_multipart(Gateway &g, const Request &r, const Bucket &b, const std::string &key);
Response list_parts(Gateway &g, const Request &r, const Bucket &b, const std::string &key);
Response list_uploads(Gateway &g, const Bucket &b);
Response create_bucket(Gateway &g, const std::string &name);

// A finished exchange holding a response (no body expected).
std::unique_ptr<Exchange> answered(Response r);

} // namespace pach::serve
