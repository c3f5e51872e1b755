#include "serve/auth.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace pach::serve;
using pach::remote::Credentials;

// The worked examples of the S3 SigV4 documentation, checked from the
// server's side.
static const Credentials kCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
static const time_t kWhen = 1369353600;   // 20130524T000000Z

static Request get_example()
{
	Request r;
	r.method = "GET";
	r.path = r.raw_path = "/test.txt";
	r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
		     {"range", "bytes=0-9"},
		     {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		     {"x-amz-date", "20130524T000000Z"},
		     {"authorization",
		      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
		      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}};
	return r;
}

static std::string code_of(const Request &r, const Credentials *c, bool anon, time_t now)
{
	try {
		authenticate(r, c, anon, now);
	} catch (const S3Error &e) {
		return e.code;
	}
	return "ok";
}

TEST_CASE("serve auth: the documented GET is accepted, any change to it is not")
{
	Request r = get_example();
	Auth a = authenticate(r, &kCreds, false, kWhen + 60);
	CHECK(!a.anonymous);
	CHECK(a.access_key == "AKIAIOSFODNN7EXAMPLE");
	CHECK(a.scope == "20130524/us-east-1/s3/aws4_request");

	Request t = r;
	t.headers[1].second = "bytes=0-10";   // a signed header changed
	CHECK(code_of(t, &kCreds, false, kWhen) == "SignatureDoesNotMatch");
	t = r;
	t.path = "/test.txT";
	CHECK(code_of(t, &kCreds, false, kWhen) == "SignatureDoesNotMatch");
	t = r;
	t.query = {{"x", "1"}};
	CHECK(code_of(t, &kCreds, false, kWhen) == "SignatureDoesNotMatch");
	Credentials other = kCreds;
	other.secret_key = "x";
	CHECK(code_of(r, &other, false, kWhen) == "SignatureDoesNotMatch");
	other = kCreds;
	other.access_key = "AKIDOTHER";
	CHECK(code_of(r, &other, false, kWhen) == "InvalidAccessKeyId");
	CHECK(code_of(r, &kCreds, false, kWhen + 3600) == "RequestTimeTooSkewed");
	CHECK(code_of(r, &kCreds, false, kWhen - 3600) == "RequestTimeTooSkewed");
	CHECK(code_of(r, nullptr, true, kWhen) == "InvalidAccessKeyId");
}

TEST_CASE("serve auth: unsigned, malformed and version-2 requests")
{
	Request r;
	r.method = "GET";
	r.path = "/b/k";
	CHECK(code_of(r, &kCreds, false, kWhen) == "AccessDenied");
	CHECK(authenticate(r, &kCreds, true, kWhen).anonymous);
	r.headers = {{"authorization", "AWS AKID:c2lnbmF0dXJl"}};
	CHECK(code_of(r, &kCreds, true, kWhen) == "InvalidRequest");
	for (const char *bad : {"AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential", "AWS4-HMAC-SHA256 Credential=a/b,SignedHeaders=host,Signature=0",
				"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/sqs/aws4_request,SignedHeaders=host,Signature=00",
				"Bearer x"}) {
		r.headers = {{"authorization", bad}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}, {"x-amz-date", "20130524T000000Z"}};
		CHECK(code_of(r, &kCreds, false, kWhen) != "ok");
	}
	// A signed header that is not there.
	r = get_example();
	r.headers.erase(r.headers.begin() + 1);
	CHECK(code_of(r, &kCreds, false, kWhen) == "SignatureDoesNotMatch");
	// A date that is not one.
	r = get_example();
	r.headers[3].second = "2013-05-24";
	CHECK(code_of(r, &kCreds, false, kWhen) == "AccessDenied");
}

TEST_CASE("serve auth: aws-chunked, the documented 64 KiB + 1 KiB upload")
{
	// PUT /examplebucket/chunkObject.txt, 65536 + 1024 bytes of 'a'.
	Auth a;
	a.anonymous = false;
	a.payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
	a.key = pach::remote::sigv4_signing_key(kCreds.secret_key, "20130524", "us-east-1");
	a.amz_date = "20130524T000000Z";
	a.scope = "20130524/us-east-1/s3/aws4_request";
	a.signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
	std::string body = "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
			   std::string(65536, 'a') +
			   "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
			   std::string(1024, 'a') +
			   "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
	// Fed whole, and in pieces of every small size: the same bytes out.
	for (size_t step : {body.size(), (size_t)1, (size_t)7, (size_t)4096}) {
		std::string out;
		ChunkedDecoder d(a, [&](const char *p, size_t n) { out.append(p, n); });
		for (size_t i = 0; i < body.size(); i += step)
			d.feed(body.data() + i, std::min(step, body.size() - i));
		d.finish();
		CHECK(out == std::string(66560, 'a'));
	}
	// One byte of data changed: refused at that chunk's end.
	std::string bad = body;
	bad[100] = 'b';
	ChunkedDecoder d(a, [](const char *, size_t) {});
	CHECK_THROWS_AS(d.feed(bad.data(), bad.size()), S3Error);
	// Cut short: refused at finish.
	ChunkedDecoder e(a, [](const char *, size_t) {});
	e.feed(body.data(), body.size() - 10);
	CHECK_THROWS_AS(e.finish(), S3Error);
}

TEST_CASE("serve auth: aws-chunked framing errors")
{
	Auth a;
	a.payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
	auto run = [&](const std::string &body) {
		std::string out;
		ChunkedDecoder d(a, [&](const char *p, size_t n) { out.append(p, n); });
		d.feed(body.data(), body.size());
		d.finish();
		return out;
	};
	CHECK(run("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n") == "abc");
	CHECK_THROWS_AS(run("3\r\nabcd\r\n0\r\n\r\n"), S3Error);          // longer than it says
	CHECK_THROWS_AS(run("zz\r\nabc\r\n0\r\n\r\n"), S3Error);          // not hex
	CHECK_THROWS_AS(run("3\nabc\r\n0\r\n\r\n"), S3Error);             // LF alone
	CHECK_THROWS_AS(run("ffffffffffffffff\r\n"), S3Error);            // absurd size
	CHECK_THROWS_AS(run(std::string(5000, '1')), S3Error);            // a line without end
	CHECK_THROWS_AS(run("0\r\n\r\nmore"), S3Error);                   // data after the end
	// Signed chunks are required when the payload says so.
	a.payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
	CHECK_THROWS_AS(run("3\r\nabc\r\n0\r\n\r\n"), S3Error);
}

TEST_CASE("serve auth: body checks")
{
	Request r;
	Auth a;
	a.payload = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";   // sha256("hello")
	r.headers = {{"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="}, {"x-amz-checksum-crc32", "NhCmhg=="}};
	BodyChecks ok(r, a);
	ok.update("hel", 3);
	ok.update("lo", 2);
	CHECK(ok.finish({}) == "5d41402abc4b2a76b9719d911017c592");
	BodyChecks wrong(r, a);
	wrong.update("hellO", 5);
	CHECK_THROWS_AS(wrong.finish({}), S3Error);
	// every algorithm S3 has: the right value passes, another fails
	for (auto [name, value] : {std::pair{"crc32c", "mnG7TA=="}, std::pair{"crc64nvme", "M3eFcAZSQlc="}}) {
		r.headers = {{std::string("x-amz-checksum-") + name, value}};
		BodyChecks good(r, a);
		good.update("hello", 5);
		CHECK_NOTHROW(good.finish({}));
		BodyChecks bad(r, a);
		bad.update("hellO", 5);
		CHECK_THROWS_AS(bad.finish({}), S3Error);
	}
	r.headers = {{"x-amz-checksum-md5", "XUFAKrxLKna5cZ2REBfFkg=="}};
	CHECK_THROWS_AS(BodyChecks(r, a), S3Error);
}

TEST_CASE("serve: the CRCs of x-amz-checksum-*, against their published check values")
{
	// The check value of each algorithm is its CRC of "123456789".
	const std::string nine = "123456789";
	struct {
		pach::serve::Crc::Kind k;
		uint64_t check;
	} cases[] = {{pach::serve::Crc::crc32, 0xCBF43926u},
		     {pach::serve::Crc::crc32c, 0xE3069283u},
		     {pach::serve::Crc::crc64nvme, 0xAE8B14860A799888ull}};
	for (auto &c : cases) {
		pach::serve::Crc whole(c.k);
		whole.update(nine.data(), nine.size());
		CHECK(whole.value() == c.check);
		// in pieces of every size: the 8-byte steps and the tail agree
		for (size_t step = 1; step <= 9; step++) {
			pach::serve::Crc parts(c.k);
			for (size_t i = 0; i < nine.size(); i += step)
				parts.update(nine.data() + i, std::min(step, nine.size() - i));
			CHECK(parts.value() == c.check);
		}
	}
	pach::serve::Crc c(pach::serve::Crc::crc32);
	c.update(nine.data(), nine.size());
	CHECK(c.bytes() == std::string("\xCB\xF4\x39\x26", 4));   // big-endian, as S3 sends it
	pach::serve::Crc::Kind k;
	CHECK(!pach::serve::Crc::kind_of("md5", k));
	CHECK(pach::serve::Crc::kind_of("crc64nvme", k));
	CHECK(k == pach::serve::Crc::crc64nvme);
}
