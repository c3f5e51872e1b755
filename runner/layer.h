// Image layers: tar archives (gzip or not), read as a stream.
#pragma once

#include <cstdint>
#include <string>

namespace pach::runner {

// A tar header's number: octal digits, or GNU base-256 for big sizes.
uint64_t tar_octal(const char *p, size_t n);
// A tar header's string field (NUL-terminated or full).
std::string tar_field(const char *p, size_t n);
// A member's path cleaned ("a/./b/" -> "a/b", "" for the root); dies,
// naming `what`, on "..".
std::string clean_member(const std::string &p, const std::string &what);

// Apply the layer at [off, off+len) of fd (tar, gzipped or not) to root:
// whiteouts remove, hard links stay inside root, nothing is written
// through a symlink.
void apply_layer(int fd, uint64_t off, uint64_t len, const std::string &root, const std::string &what);

} // namespace pach::runner
