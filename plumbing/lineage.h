// Versions of big files kept as git deltas in one pack per file (see
// lineage.cc); what gc does with such a pack.
#pragma once

#include "plumbing/store.h"

#include <functional>
#include <memory>
#include <vector>

namespace pach {

enum class LineageGc {
	other,       // not a pack of deltas: gc's usual rules apply
	keep,        // every object is needed: kept as it is
	drop,        // nothing in it is needed
	rewritten,   // the needed objects went into a new pack (published)
};

// For push: if `o` is the newest version of a lineage and the version
// before it is one the receiver has (`has`), write `o` into w as a
// REF_DELTA against that version -- a thin pack entry, whose base is not
// in w -- and return true.  False (nothing written) otherwise, or when the
// two share too little.
bool write_version_for(Store &s, PackWriter &w, const Oid &o, const std::function<bool(const Oid &)> &has);

// A pack of a file's versions: few objects, some of them REF_DELTAs.
// Repacks leave these alone (they would store every version whole).
bool is_lineage_pack(const std::shared_ptr<Pack> &p);

// For gc: the objects of pack p that are reachable, with the bases their
// deltas need, stay deltas -- in p itself when that is all of it, else in
// a new pack of just those (a lineage loses the versions nothing needs
// any more, oldest first; a version something still reaches keeps the
// later ones it is made from).  `kept` receives the objects that stay.
LineageGc gc_lineage(Store &s, const std::shared_ptr<Pack> &p, const std::function<bool(const Oid &)> &reachable,
		     std::vector<Oid> &kept);

} // namespace pach
