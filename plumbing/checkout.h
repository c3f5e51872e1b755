// Writing a tree (or one blob) of the store out to the filesystem, with
// modes and symlinks, each file streamed under a temporary name and
// renamed into place.  Used by `pach get` and by the runner for inputs.
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <string>

namespace pach {

struct CheckoutStats {
	uint64_t files = 0, bytes = 0;
};

// on_file(bytes) is called after each file (0 for symlinks).  With
// `empty`, regular files are created empty (Pachyderm's empty_files).
CheckoutStats checkout(const Store &s, const TreeEntry &e, const std::string &dest,
		       const std::function<void(uint64_t)> &on_file = nullptr, bool empty = false);

} // namespace pach
