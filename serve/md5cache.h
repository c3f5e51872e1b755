// The MD5 of blobs, for S3 ETags.  Git names content by SHA-1; S3 clients
// (s3cmd, rclone) check downloads against an ETag that is the MD5.  Kept
// cheap: an MD5 is computed only as content passes anyway (a gateway
// upload, a whole download) or for a small object on first read, and
// remembered in .pach/pach/md5 (append-only records: 20-byte blob id,
// 16-byte MD5), loaded when the server starts.  At most kMaxHeld are
// held in memory (36 bytes each on disk, ~60 in the map); records
// beyond that, objects not held get the fallback ETag (serve/s3.h).
#pragma once

#include "plumbing/oid.h"

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace pach::serve {

class Md5Cache {
public:
	static constexpr size_t kMaxHeld = 4u << 20;   // ~200 MiB at most
	explicit Md5Cache(const std::string &path);
	~Md5Cache();
	std::optional<std::string> get(const Oid &blob);   // hex
	void put(const Oid &blob, const std::string &hex);
	size_t size();

private:
	std::string path_;
	int fd_ = -1;
	std::mutex mu_;
	std::unordered_map<Oid, std::array<unsigned char, 16>, OidHash> m_;
};

} // namespace pach::serve
