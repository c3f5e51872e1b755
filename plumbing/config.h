// Settings in git-config format: the store's own file (.pach/config,
// which is also the bare repository's git config) over the user's
// (~/.config/pach/config, or $XDG_CONFIG_HOME/pach/config).  Keys are
// "section.name" as in git, e.g. pach.runtime.
#pragma once

#include "plumbing/store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pach {

// The user-level file's path ("" when there is no home directory).
std::string user_config_path();
// A key's value: the store's setting wins over the user's.  A malformed
// file is a fatal error naming it.
std::optional<std::string> config_get(const Store *s, const std::string &key);

// One file's entries (name, value), in file order.
std::vector<std::pair<std::string, std::string>> config_list_file(const std::string &path);
// Set or remove a key in one file (created as needed).  Dies with
// libgit2's reason for a bad key ("section.name").
void config_set_file(const std::string &path, const std::string &key, const std::string &value);
// False if the key was not there.
bool config_unset_file(const std::string &path, const std::string &key);

} // namespace pach
