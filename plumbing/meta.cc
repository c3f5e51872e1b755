#include "plumbing/meta.h"

#include "plumbing/error.h"
#include "plumbing/tree_edit.h"

#include <cstdlib>

namespace pach {

static std::optional<Oid> meta_tree(const Store &s)
{
	auto c = s.ref(kMetaRef);
	if (!c)
		return std::nullopt;
	return s.read_commit(*c).tree;
}

static RepoInfo parse_repo(const std::string &name, const std::string &raw)
{
	RepoInfo r;
	r.name = name;
	size_t i = 0;
	while (i < raw.size()) {
		size_t nl = raw.find('\n', i);
		if (nl == std::string::npos)
			nl = raw.size();
		std::string line = raw.substr(i, nl - i);
		i = nl + 1;
		if (line.compare(0, 8, "created ") == 0)
			r.created = atoll(line.c_str() + 8);
		else if (line.compare(0, 12, "description ") == 0)
			r.description = line.substr(12);
	}
	return r;
}

std::string format_repo_info(const RepoInfo &r)
{
	std::string s = "created " + std::to_string(r.created) + "\n";
	if (!r.description.empty())
		s += "description " + r.description + "\n";
	return s;
}

std::optional<RepoInfo> repo_info(const Store &s, const std::string &name)
{
	auto t = meta_tree(s);
	if (!t)
		return std::nullopt;
	auto e = lookup_path(s, *t, {"repos", name});
	if (!e || e->is_dir())
		return std::nullopt;
	return parse_repo(name, s.odb().read_small(e->oid));
}

bool repo_exists(const Store &s, const std::string &name)
{
	auto t = meta_tree(s);
	return t && lookup_path(s, *t, {"repos", name}).has_value();
}

void require_repo(const Store &s, const std::string &name)
{
	if (!repo_exists(s, name))
		die("repo '{}' not found", name);
}

std::vector<RepoInfo> list_repos(const Store &s)
{
	std::vector<RepoInfo> out;
	auto t = meta_tree(s);
	if (!t)
		return out;
	auto e = lookup_path(s, *t, {"repos"});
	if (!e || !e->is_dir())
		return out;
	for (auto &r : s.read_tree(e->oid))
		out.push_back(parse_repo(r.name, s.odb().read_small(r.oid)));
	return out;
}

void update_meta(Store &s, const std::string &msg,
		 const std::function<std::optional<Oid>(ObjectWriter &, const std::optional<Oid> &)> &edit)
{
	auto lock = s.lock_shared();
	for (int attempt = 0; attempt < 100; attempt++) {
		auto head = s.ref(kMetaRef);
		std::optional<Oid> tree;
		if (head)
			tree = s.read_commit(*head).tree;
		ObjectWriter w(s);
		auto nt = edit(w, tree);
		if (!nt)
			return;
		std::vector<Oid> parents;
		if (head)
			parents.push_back(*head);
		Oid c = w.commit(*nt, parents, s.committer(), s.committer(), msg);
		w.finish();
		if (s.cas_ref(kMetaRef, c, head, msg))
			return;
	}
	die("unable to update pach metadata: too many concurrent updates");
}

} // namespace pach
