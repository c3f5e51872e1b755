#include "serve/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "plumbing/error.h"

#include <cstring>

namespace pach::serve {

using remote::Credentials;

std::string hex_of(const std::string &raw)
{
	static const char d[] = "0123456789abcdef";
	std::string o(raw.size() * 2, '0');
	for (size_t i = 0; i < raw.size(); i++) {
		o[2 * i] = d[(unsigned char)raw[i] >> 4];
		o[2 * i + 1] = d[(unsigned char)raw[i] & 15];
	}
	return o;
}

bool unhex(const std::string &hex, std::string &out)
{
	if (hex.size() % 2)
		return false;
	auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
	out.clear();
	for (size_t i = 0; i < hex.size(); i += 2) {
		int a = v(hex[i]), b = v(hex[i + 1]);
		if (a < 0 || b < 0)
			return false;
		out += (char)(a * 16 + b);
	}
	return true;
}

bool is_lower_hex(const std::string &s, size_t n)
{
	return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string random_hex(size_t bytes)
{
	std::string b(bytes, '\0');
	if (RAND_bytes((unsigned char *)b.data(), (int)bytes) != 1)
		die("no randomness from OpenSSL");
	return hex_of(b);
}

std::string base64(const std::string &raw)
{
	std::string o(4 * ((raw.size() + 2) / 3) + 1, '\0');
	int n = EVP_EncodeBlock((unsigned char *)o.data(), (const unsigned char *)raw.data(), (int)raw.size());
	o.resize((size_t)n);
	return o;
}

Digest::Digest(const char *name) : ctx_(EVP_MD_CTX_new())
{
	const EVP_MD *md = !strcmp(name, "md5") ? EVP_md5() : !strcmp(name, "sha1") ? EVP_sha1() : EVP_sha256();
	EVP_DigestInit_ex(ctx_, md, nullptr);
}

Digest::~Digest()
{
	EVP_MD_CTX_free(ctx_);
}

void Digest::update(const void *p, size_t n)
{
	EVP_DigestUpdate(ctx_, p, n);
}

std::string Digest::raw()
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx_, md, &len);
	return std::string((const char *)md, len);
}

namespace {

std::string trim(const std::string &s)
{
	size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
	return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> v;
	size_t i = 0;
	for (;;) {
		size_t j = s.find(sep, i);
		v.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
		if (j == std::string::npos)
			return v;
		i = j + 1;
	}
}

// "20130524T000000Z" as seconds since the epoch; -1 if malformed.
time_t parse_amz_date(const std::string &d)
{
	if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z')
		return -1;
	for (size_t i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return -1;
	tm t{};
	t.tm_year = std::stoi(d.substr(0, 4)) - 1900;
	t.tm_mon = std::stoi(d.substr(4, 2)) - 1;
	t.tm_mday = std::stoi(d.substr(6, 2));
	t.tm_hour = std::stoi(d.substr(9, 2));
	t.tm_min = std::stoi(d.substr(11, 2));
	t.tm_sec = std::stoi(d.substr(13, 2));
	if (t.tm_mon > 11 || t.tm_mday < 1 || t.tm_mday > 31 || t.tm_hour > 23 || t.tm_min > 59 || t.tm_sec > 60)
		return -1;
	return timegm(&t);
}

[[noreturn]] void malformed(const std::string &why)
{
	throw S3Error(400, "AuthorizationHeaderMalformed", why);
}

} // namespace

Auth authenticate(const Request &r, const Credentials *creds, bool anonymous, time_t now)
{
	Auth a;
	const std::string *authz = r.header("authorization");
	bool presigned = r.has_param("X-Amz-Signature") || r.has_param("X-Amz-Algorithm");
	if (r.has_param("AWSAccessKeyId") || (authz && authz->rfind("AWS ", 0) == 0))
		throw S3Error(400, "InvalidRequest", "signature version 2 is not supported: sign with SigV4 (AWS4-HMAC-SHA256)");
	if (!authz && !presigned) {
		if (!anonymous)
			throw S3Error(403, "AccessDenied",
				      "anonymous access is not allowed: sign the request (the server takes unsigned requests only with --anonymous)");
		a.payload = r.header_or("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
		return a;
	}
	if (!creds)
		throw S3Error(403, "InvalidAccessKeyId", "this server has no credentials configured (serve.accessKey, serve.secretKey)");

	std::string cred, signed_headers, sig;
	long expires = -1;
	if (authz) {
		static const std::string kAlg = "AWS4-HMAC-SHA256 ";
		if (authz->rfind(kAlg, 0) != 0)
			malformed("the Authorization header is not AWS4-HMAC-SHA256");
		for (auto &part : split(authz->substr(kAlg.size()), ',')) {
			std::string p = trim(part);
			size_t eq = p.find('=');
			if (eq == std::string::npos)
				malformed("bad Authorization field '" + p + "'");
			std::string k = p.substr(0, eq), v = p.substr(eq + 1);
			if (k == "Credential")
				cred = v;
			else if (k == "SignedHeaders")
				signed_headers = v;
			else if (k == "Signature")
				sig = v;
		}
		a.amz_date = r.header_or("x-amz-date");
		if (!r.header("x-amz-content-sha256"))
			throw S3Error(400, "InvalidRequest", "missing required header x-amz-content-sha256");
		a.payload = *r.header("x-amz-content-sha256");
	} else {
		if (r.param("X-Amz-Algorithm") == nullptr || *r.param("X-Amz-Algorithm") != "AWS4-HMAC-SHA256")
			malformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
		auto q = [&](const char *n) { return r.param(n) ? *r.param(n) : std::string(); };
		cred = q("X-Amz-Credential");
		signed_headers = q("X-Amz-SignedHeaders");
		sig = q("X-Amz-Signature");
		a.amz_date = q("X-Amz-Date");
		std::string e = q("X-Amz-Expires");
		char *end = nullptr;
		expires = e.empty() ? -1 : strtol(e.c_str(), &end, 10);
		if (expires < 1 || expires > 604800 || *end)
			malformed("X-Amz-Expires must be 1 to 604800 seconds");
		a.payload = r.param("X-Amz-Content-Sha256") ? *r.param("X-Amz-Content-Sha256") : "UNSIGNED-PAYLOAD";
	}
	if (cred.empty() || signed_headers.empty() || sig.empty())
		malformed("the signature lacks Credential, SignedHeaders or Signature");
	auto parts = split(cred, '/');
	if (parts.size() < 5)
		malformed("bad Credential '" + cred + "'");
	size_t n = parts.size();
	std::string date = parts[n - 4], region = parts[n - 3];
	if (parts[n - 2] != "s3" || parts[n - 1] != "aws4_request")
		malformed("the credential scope must end in /s3/aws4_request");
	std::string key_id = parts[0];
	for (size_t i = 1; i + 4 < n; i++)
		key_id += "/" + parts[i];
	time_t t = parse_amz_date(a.amz_date);
	if (t < 0)
		throw S3Error(403, "AccessDenied", "missing or malformed x-amz-date");
	if (a.amz_date.compare(0, 8, date) != 0)
		malformed("the credential's date is not the request's");
	if (key_id != creds->access_key)
		throw S3Error(403, "InvalidAccessKeyId", "the access key '" + key_id + "' is not known to this server");
	if (expires < 0 && (t > now + 900 || t < now - 900))
		throw S3Error(403, "RequestTimeTooSkewed", "the request's time is more than 15 minutes from the server's");
	if (expires >= 0 && (t > now + 900 || now > t + expires))
		throw S3Error(403, "AccessDenied", "the presigned URL has expired");

	remote::SignRequest sr;
	sr.method = r.method;
	sr.path = remote::uri_encode(r.path, true);
	for (auto &[k, v] : r.query)
		if (!(presigned && k == "X-Amz-Signature"))
			sr.query[k] = v;
	for (auto &h : split(signed_headers, ';')) {
		const std::string *v = r.header(h);
		if (!v)
			throw S3Error(403, "SignatureDoesNotMatch", "the signed header '" + h + "' is missing");
		sr.headers[h] = *v;
	}
	if (!sr.headers.count("host"))
		malformed("the host header must be signed");
	sr.payload_hash = a.payload;
	sr.amz_date = a.amz_date;
	sr.region = region;
	std::string sh;
	std::string to_sign = remote::sigv4_string_to_sign(sr, &sh);
	a.key = remote::sigv4_signing_key(creds->secret_key, date, region);
	std::string want = remote::hmac_sha256_hex(a.key, to_sign);
	if (sig.size() != want.size() || CRYPTO_memcmp(sig.data(), want.data(), want.size()) != 0)
		throw S3Error(403, "SignatureDoesNotMatch",
			      "the request signature we calculated does not match the signature you provided");
	a.anonymous = false;
	a.access_key = key_id;
	a.scope = date + "/" + region + "/s3/aws4_request";
	a.signature = sig;
	return a;
}

BodyChecks::BodyChecks(const Request &r, const Auth &a)
{
	if (is_lower_hex(a.payload, 64)) {
		want_sha256_ = a.payload;
		sha256_ = std::make_unique<Digest>("sha256");
	}
	want_md5_b64_ = r.header_or("content-md5");
	// One x-amz-checksum-* at most: in a header, or announced by
	// x-amz-trailer and sent after an aws-chunked body.
	std::string name;
	for (auto &[k, v] : r.headers)
		if (k.rfind("x-amz-checksum-", 0) == 0 && k != "x-amz-checksum-type" && k != "x-amz-checksum-algorithm") {
			name = k.substr(15);
			checksum_want_ = v;
		}
	std::string tr = r.header_or("x-amz-trailer");
	if (tr.rfind("x-amz-checksum-", 0) == 0)
		name = trim(tr).substr(15);
	if (name.empty())
		return;
	checksum_name_ = name;
	Crc::Kind kind;
	if (Crc::kind_of(name, kind))
		crc_ = std::make_unique<Crc>(kind);
	else if (name == "sha1")
		sha1_ = std::make_unique<Digest>("sha1");
	else if (name == "sha256")
		sum_sha256_ = std::make_unique<Digest>("sha256");
	else
		throw S3Error(501, "NotImplemented",
			      "checksum algorithm '" + name + "' is not supported here (use crc32, crc32c, crc64nvme, sha1 or sha256)");
}

void BodyChecks::update(const char *p, size_t n)
{
	size_ += n;
	md5_.update(p, n);
	if (sha256_)
		sha256_->update(p, n);
	if (sha1_)
		sha1_->update(p, n);
	if (sum_sha256_)
		sum_sha256_->update(p, n);
	if (crc_)
		crc_->update(p, n);
}

std::string BodyChecks::finish(const std::map<std::string, std::string> &trailers)
{
	std::string md5 = md5_.raw();
	if (sha256_ && hex_of(sha256_->raw()) != want_sha256_)
		throw S3Error(400, "XAmzContentSHA256Mismatch", "the body's SHA-256 is not the one signed");
	if (!want_md5_b64_.empty() && trim(want_md5_b64_) != base64(md5))
		throw S3Error(400, "BadDigest", "the Content-MD5 you specified did not match what we received");
	if (!checksum_name_.empty()) {
		std::string want = checksum_want_;
		auto it = trailers.find("x-amz-checksum-" + checksum_name_);
		if (it != trailers.end())
			want = it->second;
		if (want.empty())
			throw S3Error(400, "InvalidRequest", "x-amz-checksum-" + checksum_name_ + " was announced but not sent");
		std::string got;
		if (crc_)
			got = base64(crc_->bytes());
		else if (sha1_)
			got = base64(sha1_->raw());
		else
			got = base64(sum_sha256_->raw());
		if (trim(want) != got)
			throw S3Error(400, "BadDigest", "the x-amz-checksum-" + checksum_name_ + " you specified did not match what we received");
	}
	return hex_of(md5);
}

ChunkedDecoder::ChunkedDecoder(const Auth &a, std::function<void(const char *, size_t)> out)
	: a_(a), out_(std::move(out))
{
	signed_ = a.payload.rfind("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 0) == 0;
	prev_sig_ = a.signature;
}

void ChunkedDecoder::feed(const char *p, size_t n)
{
	while (n) {
		switch (st_) {
		case kSize:
		case kTrailer:
		case kDataCrlf: {
			const char *nl = (const char *)memchr(p, '\n', n);
			size_t take = nl ? (size_t)(nl - p) + 1 : n;
			line_.append(p, take);
			p += take;
			n -= take;
			if (line_.size() > 4096)
				throw S3Error(400, "IncompleteBody", "an aws-chunked line is too long");
			if (nl)
				line_done();
			break;
		}
		case kData: {
			size_t take = n < left_ ? n : (size_t)left_;
			if (chunk_hash_)
				chunk_hash_->update(p, take);
			out_(p, take);
			decoded_ += take;
			left_ -= take;
			p += take;
			n -= take;
			if (!left_)
				st_ = kDataCrlf;
			break;
		}
		case kDone:
			throw S3Error(400, "IncompleteBody", "data after the end of an aws-chunked body");
		}
	}
}

void ChunkedDecoder::chunk_done()
{
	if (!signed_)
		return;
	std::string to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n" + a_.amz_date + "\n" + a_.scope + "\n" + prev_sig_ + "\n" +
			      remote::kEmptySha256 + "\n" + hex_of(chunk_hash_->raw());
	std::string want = remote::hmac_sha256_hex(a_.key, to_sign);
	if (chunk_sig_.size() != want.size() || CRYPTO_memcmp(chunk_sig_.data(), want.data(), want.size()) != 0)
		throw S3Error(403, "SignatureDoesNotMatch", "a chunk's signature does not match its data");
	prev_sig_ = chunk_sig_;
}

void ChunkedDecoder::line_done()
{
	if (line_.size() < 2 || line_[line_.size() - 2] != '\r')
		throw S3Error(400, "IncompleteBody", "an aws-chunked line does not end in CRLF");
	std::string l = line_.substr(0, line_.size() - 2);
	line_.clear();
	if (st_ == kDataCrlf) {
		if (!l.empty())
			throw S3Error(400, "IncompleteBody", "an aws-chunked chunk is longer than it says");
		chunk_done();
		st_ = kSize;
		return;
	}
	if (st_ == kTrailer) {
		if (l.empty()) {
			st_ = kDone;
			if (signed_ && a_.payload.find("TRAILER") != std::string::npos) {
				auto it = trailers_.find("x-amz-trailer-signature");
				if (it == trailers_.end())
					throw S3Error(403, "SignatureDoesNotMatch", "the trailer is not signed");
				std::string to_sign = "AWS4-HMAC-SHA256-TRAILER\n" + a_.amz_date + "\n" + a_.scope + "\n" +
						      prev_sig_ + "\n" +
						      remote::sha256_hex(trailer_text_.data(), trailer_text_.size());
				std::string want = remote::hmac_sha256_hex(a_.key, to_sign);
				if (it->second.size() != want.size() ||
				    CRYPTO_memcmp(it->second.data(), want.data(), want.size()) != 0)
					throw S3Error(403, "SignatureDoesNotMatch", "the trailer's signature does not match");
			}
			return;
		}
		size_t c = l.find(':');
		if (c == std::string::npos)
			throw S3Error(400, "IncompleteBody", "a bad trailer line in an aws-chunked body");
		std::string k = trim(l.substr(0, c));
		for (auto &ch : k)
			ch = (char)tolower((unsigned char)ch);
		if (trailers_.size() > 16)
			throw S3Error(400, "IncompleteBody", "too many trailers");
		trailers_[k] = trim(l.substr(c + 1));
		if (k != "x-amz-trailer-signature")
			trailer_text_ += k + ":" + trailers_[k] + "\n";
		return;
	}
	// A chunk's size line.
	size_t semi = l.find(';');
	std::string hex = l.substr(0, semi);
	if (hex.empty() || hex.size() > 15)
		throw S3Error(400, "IncompleteBody", "a bad chunk size in an aws-chunked body");
	uint64_t v = 0;
	for (char c : hex) {
		int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			throw S3Error(400, "IncompleteBody", "a bad chunk size in an aws-chunked body");
		v = v * 16 + (uint64_t)d;
	}
	chunk_sig_.clear();
	if (semi != std::string::npos) {
		std::string ext = l.substr(semi + 1);
		if (ext.rfind("chunk-signature=", 0) == 0)
			chunk_sig_ = ext.substr(16);
	}
	if (signed_ && chunk_sig_.empty())
		throw S3Error(403, "SignatureDoesNotMatch", "an aws-chunked chunk has no signature");
	if (signed_)
		chunk_hash_ = std::make_unique<Digest>("sha256");
	left_ = v;
	if (v == 0) {
		chunk_done();
		st_ = kTrailer;
	} else {
		st_ = kData;
	}
}

void ChunkedDecoder::finish()
{
	if (st_ != kDone)
		throw S3Error(400, "IncompleteBody", "the aws-chunked body ended early");
}

} // namespace pach::serve
