// pach's own metadata, versioned in git objects so it travels with the
// store: refs/pach/meta is a commit whose tree holds
//   repos/<name>          one small text file per repo ("created <unix>\n"
//                         "description <text>\n")
// Later layers add pipelines/ and jobs/ beside it.  Every update is a new
// commit on that ref, made by compare-and-swap like any branch.
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace pach {

constexpr const char *kMetaRef = "refs/pach/meta";

struct RepoInfo {
	std::string name;
	int64_t created = 0;
	std::string description;
};

std::optional<RepoInfo> repo_info(const Store &s, const std::string &name);
bool repo_exists(const Store &s, const std::string &name);
std::vector<RepoInfo> list_repos(const Store &s);
// Dies "repo 'x' not found" unless it exists.
void require_repo(const Store &s, const std::string &name);

// Apply `edit` (which returns the new meta tree given the current one,
// nullopt when nothing is to be done) and commit it, retrying on races.
void update_meta(Store &s, const std::string &msg,
		 const std::function<std::optional<Oid>(ObjectWriter &, const std::optional<Oid> &)> &edit);

std::string format_repo_info(const RepoInfo &r);

} // namespace pach
