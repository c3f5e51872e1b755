// Settings in git-config format: the store's own file (.pach/config,
// which is also the bare repository's git config) over the user's
// (~/.config/pach/config, or $XDG_CONFIG_HOME/pach/config).  Keys are
// "section.name" as in git, e.g. pach.runtime.
#pragma once

#include "plumbing/store.h"

#include <optional>
#include <string>

namespace pach {

// The user-level file's path ("" when there is no home directory).
std::string user_config_path();
// A key's value: the store's setting wins over the user's.  A malformed
// file is a fatal error naming it.
std::optional<std::string> config_get(const Store *s, const std::string &key);

} // namespace pach
