#include "cmd/cmd.h"
#include "plumbing/address.h"
#include "plumbing/lg2.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"

#include <cstring>

namespace pach::cmd {

// What the plumbing commands accept: a pach address (repo@ref[:/path],
// or repo:/path), or anything git's revision syntax names.
Oid resolve_object(Store &s, const std::string &spec)
{
	size_t sep = spec.find_first_of("@:");
	if (sep != std::string::npos && valid_repo_name(spec.substr(0, sep)) && repo_exists(s, spec.substr(0, sep))) {
		Address a = parse_address(spec);
		Oid c = resolve_commit(s, a);
		if (!a.has_path)
			return c;
		auto e = lookup_path(s, s.read_commit(c).tree, a.path);
		if (!e)
			die("path '{}' not found in {}", a.path_str(), a.str());
		return e->oid;
	}
	if (valid_repo_name(spec) && repo_exists(s, spec))
		return resolve_commit(s, parse_address(spec));
	Oid id;
	switch (revparse_object(s, spec, &id)) {
	case Revparse::found:
		return id;
	case Revparse::ambiguous:
		die("short object id '{}' is ambiguous", spec);
	case Revparse::not_found:
		break;
	}
	die("not a valid object name: '{}'", spec);
}

} // namespace pach::cmd
