// S3 over HTTP(S) with libcurl: SigV4 signed by pach, one connection per
// transfer thread (kept alive between requests), multipart uploads with
// parallel parts that resume, ranged GETs, ListObjectsV2 with
// continuation, retries with backoff on timeouts, resets, 429 and 5xx.
// Credentials follow the AWS conventions and never appear in output.
#pragma once

#include "remote/backend.h"
#include "remote/sigv4.h"

namespace pach::remote {

struct AwsSettings {
	Credentials creds;
	std::string region, endpoint;   // endpoint "" = AWS's own
	std::string profile;
};
// From the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE) and ~/.aws/{credentials,config}.  Missing credentials
// are not an error here (a public bucket needs none).
AwsSettings aws_settings();

std::unique_ptr<Backend> make_s3_backend(const RemoteConfig &c);

} // namespace pach::remote
