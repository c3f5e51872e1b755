#include "porcelain/files.h"

#include "plumbing/checkout.h"
#include "plumbing/error.h"
#include "plumbing/glob.h"
#include "plumbing/progress.h"
#include "plumbing/tree_edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

namespace pach::porcelain {

Located locate(const Store &s, const Address &a)
{
	Oid c = resolve_commit(s, a);
	Oid root = s.read_commit(c).tree;
	auto e = lookup_path(s, root, a.path);
	if (!e)
		die("path '{}' not found in {}@{}", a.path_str(), a.repo, a.branch_or_default());
	return {c, *e};
}

static uint64_t size_of(const Store &s, const TreeEntry &e)
{
	if (e.is_dir())
		return 0;
	auto r = s.odb().open(e.oid);
	if (!r)
		die("object {} is missing", e.oid.hex());
	return r->size();
}

std::vector<FileEntry> ls(const Store &s, const Address &a, bool recursive, bool sizes)
{
	auto loc = locate(s, a);
	std::vector<FileEntry> out;
	std::string base = a.path.empty() ? "" : a.path_str();
	if (!loc.entry.is_dir()) {
		out.push_back({a.path_str(), loc.entry, sizes ? size_of(s, loc.entry) : 0});
		return out;
	}
	if (recursive) {
		walk_tree(s, loc.entry.oid, [&](const std::string &p, const TreeEntry &e) {
			if (!e.is_dir())
				out.push_back({base + "/" + p, e, sizes ? size_of(s, e) : 0});
			return true;
		});
	} else {
		for (auto &e : s.read_tree(loc.entry.oid))
			out.push_back({base + "/" + e.name, e, sizes ? size_of(s, e) : 0});
	}
	return out;
}

void cat_blob(const Store &s, const Oid &blob, int fd, const std::string &what)
{
	auto r = s.odb().open(blob);
	if (!r)
		die("object {} is missing (for '{}')", blob.hex(), what);
	r->copy_to(fd, what);
}

void cat(const Store &s, const Address &a, int fd)
{
	auto loc = locate(s, a);
	if (loc.entry.is_dir())
		die("'{}' is a directory", a.path_str());
	cat_blob(s, loc.entry.oid, fd, "standard output");
}

GetStats get(const Store &s, const Address &a, const std::string &dest)
{
	auto loc = locate(s, a);
	Progress p("Exporting files", 0, true);
	std::string target = dest;
	if (!loc.entry.is_dir() && is_dir(dest))
		target = dest + "/" + (a.path.empty() ? "file" : a.path.back());
	auto cs = checkout(s, loc.entry, target, [&](uint64_t bytes) { p.add(1, bytes); });
	p.done();
	return {cs.files, cs.bytes};
}

std::vector<FileEntry> glob(const Store &s, const Address &a, const std::string &pattern)
{
	Glob g(pattern);
	Oid c = resolve_commit(s, a);
	Oid root = s.read_commit(c).tree;
	std::vector<FileEntry> out;
	if (g.match("/"))
		out.push_back({"/", TreeEntry{"", kModeDir, root}, 0});
	int maxd = g.max_depth();
	walk_tree(s, root, [&](const std::string &rel, const TreeEntry &e) {
		std::string p = "/" + rel;
		if (g.match(p))
			out.push_back({e.is_dir() ? p + "/" : p, e, 0});
		return maxd < 0 || (int)std::count(rel.begin(), rel.end(), '/') + 1 < maxd;
	});
	return out;
}

} // namespace pach::porcelain
