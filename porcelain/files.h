// Reading what a commit holds: ls, cat, get (export) and glob.
#pragma once

#include "plumbing/address.h"
#include "plumbing/store.h"

#include <string>
#include <vector>

namespace pach::porcelain {

struct FileEntry {
	std::string path;   // "/a/b"
	TreeEntry e;
	uint64_t size = 0;  // blobs only
};

// The commit an address names and the entry at its path (dies if absent).
struct Located {
	Oid commit;
	TreeEntry entry;
};
Located locate(const Store &s, const Address &a);

std::vector<FileEntry> ls(const Store &s, const Address &a, bool recursive, bool sizes);
// Stream a file's content to fd (a symlink's target for a symlink).
void cat(const Store &s, const Address &a, int fd);
void cat_blob(const Store &s, const Oid &blob, int fd, const std::string &what);

struct GetStats {
	uint64_t files = 0, bytes = 0;
};
GetStats get(const Store &s, const Address &a, const std::string &dest);

std::vector<FileEntry> glob(const Store &s, const Address &a, const std::string &pattern);

} // namespace pach::porcelain
