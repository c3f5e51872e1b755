// The staging area's layout, shared by the mount and its commit: an
// overlay as overlayfs and OCI layers have it.  In a staged directory,
// ".wh.NAME" says the committed NAME is deleted, ".wh..wh..opq" that
// nothing committed shows below it, ".wh..wh..base" (a tree id) that the
// given tree shows below it instead of the committed one (a directory
// renamed from elsewhere carries its tree along).
#pragma once

#include "plumbing/oid.h"

#include <string>
#include <vector>

namespace pach::mount {

constexpr const char *kOpaque = ".wh..wh..opq";
constexpr const char *kBase = ".wh..wh..base";
inline bool is_whiteout(const std::string &n) { return n.compare(0, 4, ".wh.") == 0 && n.compare(0, 8, ".wh..wh.") != 0; }
inline bool is_overlay_name(const std::string &n) { return n.compare(0, 4, ".wh.") == 0; }

enum class Marker { none, opaque, base };
// The marker of the staged directory dirfd; *base gets a base's tree.
Marker read_marker(int dirfd, Oid *base);
// Give the staged directory `dir` (in dirfd) a base, unless it has a marker.
void write_base(int dirfd, const std::string &dir, const Oid &tree);
void write_opaque(int dirfd, const std::string &dir);
// Names in a directory (not . and ..), unsorted.
std::vector<std::string> list_dir(int dirfd);

} // namespace pach::mount
