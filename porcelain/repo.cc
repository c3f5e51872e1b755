#include "porcelain/repo.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/tree_edit.h"

#include <ctime>

namespace pach::porcelain {

void repo_create(Store &s, const std::string &name, const std::string &description)
{
	check_repo_name(name);
	if (description.find('\n') != std::string::npos)
		die("a repo description must be a single line");
	update_meta(s, "repo create " + name, [&](ObjectWriter &w, const std::optional<Oid> &t) -> std::optional<Oid> {
		if (t && lookup_path(s, *t, {"repos", name}))
			die("repo '{}' already exists", name);
		RepoInfo r{name, (int64_t)time(nullptr), description};
		std::string body = format_repo_info(r);
		Oid blob = w.blob(body.data(), body.size());
		return edit_tree(s, w, t, {"repos", name}, TreeEntry{name, kModeFile, blob});
	});
}

std::vector<BranchInfo> branch_list(const Store &s, const std::string &repo)
{
	std::vector<BranchInfo> out;
	std::string pre = "refs/heads/" + repo + "/";
	for (auto &[ref, oid] : s.refs(pre)) {
		BranchInfo b{ref.substr(pre.size()), oid, 0};
		if (s.object_type(oid) == ObjType::commit)
			b.time = s.read_commit(oid).committer.when;
		out.push_back(b);
	}
	return out;
}

std::vector<RepoDetails> repo_list(const Store &s)
{
	std::vector<RepoDetails> out;
	for (auto &r : list_repos(s))
		out.push_back({r, branch_list(s, r.name)});
	return out;
}

RepoDetails repo_inspect(const Store &s, const std::string &name)
{
	check_repo_name(name);
	auto r = repo_info(s, name);
	if (!r)
		die("repo '{}' not found", name);
	return {*r, branch_list(s, name)};
}

void repo_delete(Store &s, const std::string &name, bool force)
{
	check_repo_name(name);
	require_repo(s, name);
	auto branches = branch_list(s, name);
	if (!branches.empty() && !force)
		die("repo '{}' has {} branch(es) with commits; use --force to delete it", name, branches.size());
	for (auto &b : branches)
		s.delete_ref(branch_ref(name, b.name), b.head, "repo delete: " + name);
	update_meta(s, "repo delete " + name, [&](ObjectWriter &w, const std::optional<Oid> &t) -> std::optional<Oid> {
		if (!t || !lookup_path(s, *t, {"repos", name}))
			return std::nullopt;
		return edit_tree(s, w, t, {"repos", name}, std::nullopt);
	});
}

Oid branch_create(Store &s, const std::string &repo, const std::string &name, const std::string &start)
{
	require_repo(s, repo);
	check_branch_name(name);
	std::string ref = branch_ref(repo, name);
	if (s.ref(ref))
		die("a branch named '{}' already exists in repo '{}'", name, repo);
	Address a;
	a.repo = repo;
	a.ref = start.empty() ? "master" : start;
	if (start.empty() && !s.ref(branch_ref(repo, "master")))
		die("repo '{}' has no commits on 'master' to start a branch from; name a start point", repo);
	Oid at = resolve_commit(s, a);
	if (!s.cas_ref(ref, at, std::nullopt, "branch: created from " + a.ref))
		die("a branch named '{}' already exists in repo '{}'", name, repo);
	return at;
}

void branch_delete(Store &s, const std::string &repo, const std::string &name)
{
	require_repo(s, repo);
	check_branch_name(name);
	if (!s.delete_ref(branch_ref(repo, name), std::nullopt, "branch: deleted"))
		die("branch '{}' not found in repo '{}'", name, repo);
}

} // namespace pach::porcelain
