// What a client sends the S3 gateway (serve/auth.cc, serve/s3.cc): an
// aws-chunked body (unsigned or with chunk signatures), a request's
// signature, a key (and the same bytes as a Host header).  The first byte
// picks which; the rest is the input.
// A refusal is an S3Error; anything else is a finding.
#include "fuzz/fuzz.h"
#include "serve/auth.h"
#include "serve/s3.h"
#include "serve/service.h"

#include <cassert>

using namespace pach::serve;

static void decode(const std::string &in, bool sign)
{
	Auth a;
	a.payload = sign ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" : "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
	a.key = std::string(32, 'k');
	a.amz_date = "20130524T000000Z";
	a.scope = "20130524/us-east-1/s3/aws4_request";
	a.signature = std::string(64, '0');
	uint64_t out = 0;
	ChunkedDecoder d(a, [&](const char *, size_t n) { out += n; });
	// Fed in pieces whose sizes come from the input itself.
	size_t i = 0, step = in.empty() ? 1 : (size_t)(unsigned char)in[0] % 17 + 1;
	while (i < in.size()) {
		size_t n = std::min(step, in.size() - i);
		d.feed(in.data() + i, n);
		i += n;
	}
	d.finish();
	assert(out == d.decoded());
}

static void sign(const std::string &in)
{
	Request r;
	size_t pos = 0;
	auto line = [&]() {
		size_t e = in.find('\n', pos);
		std::string l = in.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
		pos = e == std::string::npos ? in.size() : e + 1;
		return l;
	};
	r.method = line();
	std::string target = line();
	size_t q = target.find('?');
	if (!percent_decode(target.substr(0, q), r.path))
		return;
	if (q != std::string::npos) {
		std::string k, v, rest = target.substr(q + 1);
		size_t eq = rest.find('=');
		if (percent_decode(rest.substr(0, eq), k) && (eq == std::string::npos || percent_decode(rest.substr(eq + 1), v)))
			r.query.emplace_back(k, v);
	}
	while (pos < in.size()) {
		std::string l = line();
		size_t c = l.find(':');
		if (c != std::string::npos)
			r.headers.emplace_back(l.substr(0, c), l.substr(c + 1));
	}
	pach::remote::Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
	Auth a = authenticate(r, &creds, (in.size() & 1) != 0, 1369353600);
	BodyChecks checks(r, a);
	checks.update(in.data(), in.size());
	checks.finish({});
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	std::string in((const char *)data + 1, size - 1);
	try {
		switch (data[0] % 4) {
		case 0:
			decode(in, false);
			break;
		case 1:
			decode(in, true);
			break;
		case 2:
			sign(in);
			break;
		default: {
			auto p = key_path(in);
			assert(!p.empty());
			for (auto &c : p)
				assert(!c.empty() && c != "." && c != ".." && c.find('/') == std::string::npos &&
				       c.find('\0') == std::string::npos);
			content_type_of(in);
			// a Host header: the bucket it names is a proper prefix
			std::string b = host_bucket(in, "s3.test");
			assert(b.empty() || (b.size() < in.size() && in.compare(0, b.size(), b) == 0));
		}
		}
	} catch (const S3Error &) {
	} catch (const pach::Error &) {
	}
	return 0;
}
