// Repos and branches.
#pragma once

#include "plumbing/meta.h"
#include "plumbing/store.h"

#include <optional>
#include <string>
#include <vector>

namespace pach::porcelain {

struct BranchInfo {
	std::string name;
	Oid head;
	int64_t time = 0;   // committer time of the head
};

struct RepoDetails {
	RepoInfo info;
	std::vector<BranchInfo> branches;
};

void repo_create(Store &s, const std::string &name, const std::string &description);
std::vector<RepoDetails> repo_list(const Store &s);
RepoDetails repo_inspect(const Store &s, const std::string &name);
// Dies unless the repo has no commits or force is set.
void repo_delete(Store &s, const std::string &name, bool force);

std::vector<BranchInfo> branch_list(const Store &s, const std::string &repo);
// start: an address's ref part ("" = head of master).
Oid branch_create(Store &s, const std::string &repo, const std::string &name, const std::string &start);
void branch_delete(Store &s, const std::string &repo, const std::string &name);

} // namespace pach::porcelain
