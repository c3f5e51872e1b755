// Commit-graph walks shared by push, fetch and pull (remote/sync.cc,
// remote/pull.cc).
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <vector>

namespace pach::remote {

// Breadth-first from `starts`, each commit once; visit(c) false stops the
// walk, into(c) false skips c's parents.
void walk_commits(const Store &s, std::vector<Oid> starts, const std::function<bool(const Oid &)> &visit,
		  const std::function<bool(const Oid &)> &into = nullptr);
bool is_ancestor(const Store &s, const Oid &anc, const Oid &desc);
// refs/pach/remotes/<remote>/... for a remote's ref.
std::string tracking_ref(const std::string &remote, const std::string &ref);

} // namespace pach::remote
