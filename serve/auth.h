// Who sent a request to the S3 gateway, and whether its body is what was
// signed: SigV4 in the Authorization header or in a presigned URL's query,
// checked with the same code that signs pach's own requests to remotes
// (remote/sigv4.cc); aws-chunked bodies (per-chunk signatures, trailing
// checksums) decoded and checked as they stream.
#pragma once

#include "remote/sigv4.h"
#include "serve/checksum.h"
#include "serve/http.h"

#include <openssl/evp.h>

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace pach::serve {

// An S3 error response: status, S3's code ("NoSuchKey") and a message.
struct S3Error : std::runtime_error {
	int status;
	std::string code;
	S3Error(int st, std::string c, const std::string &msg) : std::runtime_error(msg), status(st), code(std::move(c)) {}
};

struct Auth {
	bool anonymous = true;
	std::string access_key;
	// x-amz-content-sha256: a hex SHA-256, UNSIGNED-PAYLOAD, or one of the
	// STREAMING-* forms (aws-chunked bodies).
	std::string payload;
	// For aws-chunked signatures: the request's signing key, date, scope
	// and signature (the first chunk's "previous signature").
	std::string key, amz_date, scope, signature;
};

// Checks the request's signature against `creds` (none configured: only
// anonymous requests).  Unsigned requests pass as anonymous only when
// `anonymous` is allowed.  Throws S3Error (AccessDenied,
// SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed,
// AuthorizationHeaderMalformed, ...).
Auth authenticate(const Request &r, const remote::Credentials *creds, bool anonymous, time_t now);

// Incremental digests of a body as it comes: MD5 always (the ETag), and
// whichever the request asked to check.
class Digest {
public:
	explicit Digest(const char *name);   // "md5", "sha256", "sha1"
	~Digest();
	Digest(const Digest &) = delete;
	void update(const void *p, size_t n);
	std::string raw();                   // once, at the end
private:
	EVP_MD_CTX *ctx_;
};

// The checks a body must pass before anything of it is stored: its
// SHA-256 when signed, Content-MD5, x-amz-checksum-* (header or trailer).
class BodyChecks {
public:
	// Throws S3Error for a checksum this server cannot check.
	BodyChecks(const Request &r, const Auth &a);
	void update(const char *p, size_t n);
	// After the whole body (trailers: those an aws-chunked body ended
	// with).  Throws S3Error when a check fails.  Returns the MD5 (hex).
	std::string finish(const std::map<std::string, std::string> &trailers);
	uint64_t size() const { return size_; }

private:
	Digest md5_{"md5"};
	std::unique_ptr<Digest> sha256_, sha1_, sum_sha256_;
	std::string want_sha256_, want_md5_b64_;
	std::string checksum_name_, checksum_want_;   // x-amz-checksum-<name>
	std::unique_ptr<Crc> crc_;
	uint64_t size_ = 0;
};

// The aws-chunked content encoding: "<hex size>[;chunk-signature=<sig>]\r\n
// <data>\r\n" ... "0...\r\n" then trailer lines and "\r\n".  Chunk
// signatures chain from the request's; data goes to `out` as it is
// checked... before its signature is known to be good only in pieces of
// one chunk, so a body whose signature fails is refused before it is
// committed (the caller stores nothing before finish()).
class ChunkedDecoder {
public:
	ChunkedDecoder(const Auth &a, std::function<void(const char *, size_t)> out);
	void feed(const char *p, size_t n);
	void finish();   // throws S3Error if the body ended early or a signature is wrong
	const std::map<std::string, std::string> &trailers() const { return trailers_; }
	uint64_t decoded() const { return decoded_; }

private:
	void line_done();
	void chunk_done();
	Auth a_;
	bool signed_ = false;
	std::function<void(const char *, size_t)> out_;
	enum { kSize, kData, kDataCrlf, kTrailer, kDone } st_ = kSize;
	std::string line_;
	uint64_t left_ = 0;
	std::string chunk_sig_, prev_sig_;
	std::unique_ptr<Digest> chunk_hash_;
	std::map<std::string, std::string> trailers_;
	std::string trailer_text_;
	uint64_t decoded_ = 0;
};

std::string base64(const std::string &raw);
std::string hex_of(const std::string &raw);
// Bytes from lowercase hex; false when it is not (odd length, other digits).
bool unhex(const std::string &hex, std::string &out);
// Lowercase hex of exactly n digits (a SHA-256, a commit id, an upload id).
bool is_lower_hex(const std::string &s, size_t n);
// `bytes` random bytes (OpenSSL's generator) as hex; dies without randomness.
std::string random_hex(size_t bytes);

} // namespace pach::serve
