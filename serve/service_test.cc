#include "serve/service.h"

#include <doctest/doctest.h>

using namespace pach::serve;

TEST_CASE("serve: the bucket a Host header names under --domain")
{
	CHECK(host_bucket("master.b.s3.local:9000", "s3.local") == "master.b");
	CHECK(host_bucket("images.S3.Local", "s3.local") == "images");
	CHECK(host_bucket("Images.s3.local", "s3.local") == "Images");   // the bucket keeps its case
	CHECK(host_bucket("s3.local:9000", "s3.local") == "");           // the domain itself: path style
	CHECK(host_bucket(".s3.local", "s3.local") == "");
	CHECK(host_bucket("xs3.local", "s3.local") == "");               // not a label boundary
	CHECK(host_bucket("master.b.other:80", "s3.local") == "");
	CHECK(host_bucket("127.0.0.1:9000", "s3.local") == "");
	CHECK(host_bucket("[::1]:9000", "s3.local") == "");
	CHECK(host_bucket("master.b.s3.local", "") == "");               // no --domain: path style only
	CHECK(host_bucket("", "s3.local") == "");
}
