// Sources by address for `pach put`: an http(s) URL, or an S3 object
// (s3://bucket/key, with the credentials and endpoint remotes use).
#pragma once

#include <string>

namespace pach::remote {

bool is_fetchable(const std::string &src);   // http://, https:// or s3://
// The file name the source's address ends in ("" if none).
std::string fetch_name(const std::string &src);
// Copies the source's bytes into fd (from its start); dies naming the
// address on any failure (HTTP errors included).
void fetch_to(const std::string &src, int fd);

} // namespace pach::remote
