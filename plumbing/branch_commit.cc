#include "plumbing/branch_commit.h"

#include "plumbing/address.h"
#include "plumbing/crash.h"
#include "plumbing/error.h"

namespace pach {

std::optional<Oid> commit_on_ref(Store &s, ObjectWriter &w, const std::string &ref, const Oid &tree,
				 const std::optional<Oid> &head, const Signature &author, const std::string &msg,
				 const std::string &reflog, const char *crash_at)
{
	std::vector<Oid> parents;
	if (head)
		parents.push_back(*head);
	if (tree == empty_tree_oid())
		w.tree({});   // git wants the empty tree present when a commit names it
	Oid c = w.commit(tree, parents, author, s.committer(), msg);
	w.finish();
	if (crash_at)
		crash_point(crash_at);
	if (!s.cas_ref(ref, c, head, reflog))
		return std::nullopt;
	return c;
}

BranchCommit commit_on_branch(Store &s, const std::string &repo, const std::string &branch, const std::string &msg,
			      const BranchEdit &edit, std::unique_ptr<ObjectWriter> first)
{
	std::string ref = branch_ref(repo, branch);
	BranchCommit res;
	for (int attempt = 0; attempt < 50; attempt++) {
		auto head = s.ref(ref);
		std::optional<Oid> base;
		if (head)
			base = s.read_commit(*head).tree;
		std::unique_ptr<ObjectWriter> wp = first ? std::move(first) : std::make_unique<ObjectWriter>(s, 1);
		ObjectWriter &w = *wp;
		Oid tree = edit(w, base);
		res.parent_tree = base.value_or(empty_tree_oid());
		if ((base && tree == *base) || (!base && tree == empty_tree_oid())) {
			w.finish();
			res.commit.reset();
			return res;
		}
		if (auto c = commit_on_ref(s, w, ref, tree, head, s.author(), msg, "commit: " + first_line(msg))) {
			res.commit = c;
			res.retries = attempt;
			return res;
		}
	}
	die_conflict("branch '{}' of repo '{}' keeps moving; gave up after 50 attempts", branch, repo);
}

} // namespace pach
