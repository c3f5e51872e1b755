// Symbolic links a datum leaves in /pfs/out are stored as what they point
// to, as Pachyderm uploads them: a file's content or a directory's whole
// tree.  A link into an input costs nothing (the input's blob or tree id
// is reused); a link into the image's own files is read inside the
// image's root; anything else is refused.
#pragma once

#include "plumbing/store.h"
#include "runner/datum.h"

#include <optional>
#include <string>

namespace pach::runner {

struct OutLinks {
	std::optional<Oid> tree;   // the output tree with every link resolved
	std::string error;         // why a link was refused ("" if none was)
};

// `out` is the datum's /pfs/out on the host, `tree` what snapshot made of
// it; `rootfs` the image's root ("" when the runtime has none here).
OutLinks resolve_out_links(Store &s, ObjectWriter &w, const std::string &out, const std::optional<Oid> &tree,
			   const Datum &d, const std::string &rootfs, int slot);

} // namespace pach::runner
