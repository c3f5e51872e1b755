// Pachyderm's glob patterns (see Documentation/pach-glob.adoc): the
// pattern is cleaned like a path, compiled to a program matched against
// whole paths (a leading '/', no trailing one) in time linear in the path,
// with a regex's leftmost-first capture groups.
// `*` and `?` stay within one path component, `**` crosses them, `(...)`
// and the extglob forms capture.  Shared by `pach glob` and the runner.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pach {

class Glob {
public:
	// Dies with "bad glob pattern '...': reason" on a malformed pattern.
	explicit Glob(const std::string &pattern);
	const std::string &cleaned() const { return clean_; }
	// groups[0] is the whole path, then one per opening parenthesis.
	bool match(const std::string &path, std::vector<std::string> *groups = nullptr) const;
	// The deepest path (in components) that can match, or -1 if unbounded.
	int max_depth() const { return max_depth_; }
	// Expand $0, $1, ${12} and $$ from a match's groups; out of range is "".
	static std::string expand(const std::string &tmpl, const std::vector<std::string> &groups);

	struct Node;
	struct Prog;

private:
	std::string clean_;
	std::shared_ptr<const Prog> prog_;
	int max_depth_ = -1;
};

std::string clean_glob(const std::string &p);

} // namespace pach
