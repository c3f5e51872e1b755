// Named remotes, kept in the store's git-config file (.pach/config) as
//   [pach-remote "origin"] url = s3://bucket/prefix, endpoint, region,
//   pathstyle
// (a section of pach's own, so plain git never mistakes them for its
// remotes).
#pragma once

#include "plumbing/store.h"
#include "remote/backend.h"

#include <optional>
#include <vector>

namespace pach::remote {

std::vector<RemoteConfig> remote_list(Store &s);
std::optional<RemoteConfig> remote_get(Store &s, const std::string &name);
// Dies naming what is wrong (bad name or URL, already there).
void remote_add(Store &s, const RemoteConfig &c);
void remote_remove(Store &s, const std::string &name);
// The remote to use: `name`, else "origin", else the only one there is.
RemoteConfig remote_pick(Store &s, const std::string &name);

} // namespace pach::remote
