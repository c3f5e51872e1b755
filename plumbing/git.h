// libgit2 behind RAII handles and one error checker (plumbing/ is the only
// layer that includes <git2.h>).
#pragma once

#include <git2.h>

#include <memory>
#include <string>

namespace pach {

template <auto F> struct FreeWith {
	template <class T> void operator()(T *p) const noexcept { F(p); }
};
template <class T, auto F> using Owned = std::unique_ptr<T, FreeWith<F>>;

using GitRepo = Owned<git_repository, git_repository_free>;
using GitTree = Owned<git_tree, git_tree_free>;
using GitCommit = Owned<git_commit, git_commit_free>;
using GitObject = Owned<git_object, git_object_free>;
using GitRef = Owned<git_reference, git_reference_free>;
using GitOdb = Owned<git_odb, git_odb_free>;
using GitOdbObject = Owned<git_odb_object, git_odb_object_free>;
using GitRevwalk = Owned<git_revwalk, git_revwalk_free>;
using GitConfig = Owned<git_config, git_config_free>;
using GitRefIter = Owned<git_reference_iterator, git_reference_iterator_free>;
using GitPatch = Owned<git_patch, git_patch_free>;

class Store;
// The store's libgit2 repository, opened on first use.
git_repository *lg2_repo(const Store &s);

// Turn a libgit2 failure into a fatal Error naming what we were doing.
int git_check(int rc, const std::string &what);

// Process-wide libgit2 setup (fsync on, etc.), done once.
void git_global_setup();

} // namespace pach
