// pachctl-style addresses: repo[@branch|@commit|@branch~N|@branch^][:/path]
#pragma once

#include "plumbing/oid.h"

#include <optional>
#include <string>
#include <vector>

namespace pach {

class Store;

struct Address {
	std::string repo;
	std::string ref;      // as written, empty if none ("master" is implied)
	bool has_path = false;
	std::vector<std::string> path;   // normalised components, no "." or ".."
	bool trailing_slash = false;

	std::string branch_or_default() const { return ref.empty() ? "master" : ref; }
	std::string path_str() const;   // "/a/b" ("/" for the root)
	std::string str() const;
};

// Dies with a one-line message on malformed input.
Address parse_address(const std::string &s);
std::vector<std::string> split_path(const std::string &p, const std::string &whole);
bool valid_repo_name(const std::string &n);
// git's ref rules for the branch part ("a/b" allowed, "a..b", "x.lock" not).
bool valid_branch_name(const std::string &n);
void check_repo_name(const std::string &n);
void check_branch_name(const std::string &n);

// A ref pach keeps and sends to remotes: a branch (refs/heads/<repo>/<branch>),
// the metadata ref or a snapshot (refs/pach/snapshots/<name>), each part
// by the rules above.  Anything else from outside is refused.
bool valid_store_ref(const std::string &ref);

std::string branch_ref(const std::string &repo, const std::string &branch);

// Resolve the ref part of an address to a commit.  A branch name wins over
// a commit id prefix; ~N and ^ walk first parents.  Dies when not found.
Oid resolve_commit(const Store &s, const Address &a);
// True if the address names a branch (possibly not yet created), i.e. a
// valid branch name without ~/^ and not a commit id.
bool names_branch(const Store &s, const Address &a);

} // namespace pach
