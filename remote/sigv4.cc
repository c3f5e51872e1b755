#include "remote/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>

namespace pach::remote {

static std::string hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string o(n * 2, '0');
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = digits[p[i] >> 4];
		o[2 * i + 1] = digits[p[i] & 15];
	}
	return o;
}

std::string sha256_hex(const void *data, size_t n)
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
	return hex(md, len);
}

static std::string hmac(const std::string &key, const std::string &msg)
{
	unsigned char md[32];
	unsigned int len = 0;
	HMAC(EVP_sha256(), key.data(), (int)key.size(), (const unsigned char *)msg.data(), msg.size(), md, &len);
	return std::string((const char *)md, len);
}

std::string uri_encode(std::string_view s, bool keep_slash)
{
	std::string o;
	for (unsigned char c : s) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || (keep_slash && c == '/')) {
			o += (char)c;
		} else {
			char b[4];
			snprintf(b, sizeof b, "%%%02X", c);
			o += b;
		}
	}
	return o;
}

std::string canonical_query(const std::map<std::string, std::string> &q)
{
	// Sorted by encoded key; std::map sorts raw keys, which agree for the
	// keys S3 uses (letters, digits, '-').
	std::string o;
	for (auto &[k, v] : q) {
		if (!o.empty())
			o += '&';
		o += uri_encode(k, false) + "=" + uri_encode(v, false);
	}
	return o;
}

static std::string trim(const std::string &v)
{
	size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
	if (a == std::string::npos)
		return "";
	// Sequential spaces inside collapse to one.
	std::string o;
	bool sp = false;
	for (size_t i = a; i <= b; i++) {
		if (v[i] == ' ') {
			if (!sp)
				o += ' ';
			sp = true;
		} else {
			o += v[i];
			sp = false;
		}
	}
	return o;
}

std::string sigv4_signing_key(const std::string &secret, const std::string &date, const std::string &region)
{
	std::string k = hmac("AWS4" + secret, date);
	k = hmac(k, region);
	k = hmac(k, "s3");
	return hmac(k, "aws4_request");
}

std::string hmac_sha256_hex(const std::string &key, const std::string &msg)
{
	std::string sig = hmac(key, msg);
	return hex((const unsigned char *)sig.data(), sig.size());
}

std::string sigv4_string_to_sign(const SignRequest &r, std::string *signed_headers)
{
	std::string canon_headers;
	signed_headers->clear();
	for (auto &[k, v] : r.headers) {
		canon_headers += k + ":" + trim(v) + "\n";
		*signed_headers += (signed_headers->empty() ? "" : ";") + k;
	}
	std::string creq = r.method + "\n" + r.path + "\n" + canonical_query(r.query) + "\n" + canon_headers + "\n" +
			   *signed_headers + "\n" + r.payload_hash;
	std::string scope = r.amz_date.substr(0, 8) + "/" + r.region + "/s3/aws4_request";
	return "AWS4-HMAC-SHA256\n" + r.amz_date + "\n" + scope + "\n" + sha256_hex(creq.data(), creq.size());
}

std::string sigv4_authorization(const SignRequest &r, const Credentials &c)
{
	std::string signed_headers;
	std::string to_sign = sigv4_string_to_sign(r, &signed_headers);
	std::string date = r.amz_date.substr(0, 8);
	std::string scope = date + "/" + r.region + "/s3/aws4_request";
	return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + scope + ",SignedHeaders=" + signed_headers +
	       ",Signature=" + hmac_sha256_hex(sigv4_signing_key(c.secret_key, date, r.region), to_sign);
}

} // namespace pach::remote
