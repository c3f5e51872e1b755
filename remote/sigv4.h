// AWS Signature Version 4 for S3, computed here (OpenSSL HMAC/SHA-256):
// curl's own --aws-sigv4 mis-signs unsorted queries, and pach needs to
// sign every request of a multipart upload itself anyway.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace pach::remote {

struct Credentials {
	std::string access_key, secret_key, session_token;
};

std::string sha256_hex(const void *data, size_t n);
constexpr const char *kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// RFC 3986 percent-encoding of everything but A-Z a-z 0-9 - _ . ~ (and
// '/' when keep_slash): what SigV4's canonical forms require.
std::string uri_encode(std::string_view s, bool keep_slash);

struct SignRequest {
	std::string method;                        // GET, PUT, ...
	std::string path;                          // canonical URI, already encoded ("/bucket/key")
	std::map<std::string, std::string> query;  // raw keys and values
	std::map<std::string, std::string> headers;// lowercase names; must include host
	std::string payload_hash;                  // hex SHA-256 or UNSIGNED-PAYLOAD
	std::string amz_date;                      // 20130524T000000Z
	std::string region;
};

// The Authorization header's value.  `headers` must already hold
// x-amz-date and x-amz-content-sha256 (and x-amz-security-token with
// temporary credentials): every header given is signed.
std::string sigv4_authorization(const SignRequest &r, const Credentials &c);
// SigV4's signing key for a day ("20130524") and region, and an HMAC
// with it (or any key) as hex: what a server checking signatures, and
// the signatures of an aws-chunked body, need besides the above.
std::string sigv4_signing_key(const std::string &secret, const std::string &date, const std::string &region);
std::string hmac_sha256_hex(const std::string &key, const std::string &msg);
// The canonical request's hash and the string to sign's scope part.
std::string sigv4_string_to_sign(const SignRequest &r, std::string *signed_headers);
// The query string in canonical order and encoding (also what is sent).
std::string canonical_query(const std::map<std::string, std::string> &q);

} // namespace pach::remote
