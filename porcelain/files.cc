#include "porcelain/files.h"

#include "plumbing/error.h"
#include "plumbing/glob.h"
#include "plumbing/progress.h"
#include "plumbing/tree_edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void export_entry(const Store &s, const TreeEntry &e, const std::string &dest, GetStats &st, Progress &p)
{
	if (e.is_dir()) {
		if (mkdir(dest.c_str(), 0777) < 0 && errno != EEXIST)
			die_errno("unable to create directory '" + dest + "'");
		if (!is_dir(dest))
			die("'{}' exists and is not a directory", dest);
		for (auto &k : s.read_tree(e.oid))
			export_entry(s, k, dest + "/" + k.name, st, p);
		return;
	}
	struct stat old;
	if (lstat(dest.c_str(), &old) == 0) {
		if (S_ISDIR(old.st_mode))
			die("'{}' exists and is a directory", dest);
		unlink(dest.c_str());
	}
	if (e.mode == kModeLink) {
		std::string target = s.odb().read_small(e.oid);
		if (symlink(target.c_str(), dest.c_str()) < 0)
			die_errno("unable to create symlink '" + dest + "'");
		st.files++;
		p.add(1);
		return;
	}
	// Write under a temporary name so a half-written file never has the
	// final name.
	std::string tmp = dest + ".pach-tmp";
	Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e.mode == kModeExec ? 0777 : 0666));
	if (!fd)
		die_errno("unable to create '" + dest + "'");
	auto r = s.odb().open(e.oid);
	if (!r) {
		unlink(tmp.c_str());
		die("object {} is missing (for '{}')", e.oid.hex(), dest);
	}
	std::vector<char> buf(1 << 20);
	uint64_t bytes = 0;
	for (;;) {
		size_t n = r->read(buf.data(), buf.size());
		if (!n)
			break;
		write_full(fd.get(), buf.data(), n, dest);
		bytes += n;
	}
	fd.close();
	if (rename(tmp.c_str(), dest.c_str()) < 0)
		die_errno("unable to rename '" + tmp + "'");
	st.files++;
	st.bytes += bytes;
	p.add(1, bytes);
}

GetStats get(const Store &s, const Address &a, const std::string &dest)
{
	auto loc = locate(s, a);
	GetStats st;
	Progress p("Exporting files", 0, true);
	std::string target = dest;
	if (!loc.entry.is_dir() && is_dir(dest))
		target = dest + "/" + (a.path.empty() ? "file" : a.path.back());
	export_entry(s, loc.entry, target, st, p);
	p.done();
	return st;
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
	std::function<void(const Oid &, const std::string &, int)> rec = [&](const Oid &t, const std::string &pre, int depth) {
		for (auto &e : s.read_tree(t)) {
			std::string p = pre + "/" + e.name;
			if (g.match(p))
				out.push_back({e.is_dir() ? p + "/" : p, e, 0});
			if (e.is_dir() && (maxd < 0 || depth + 1 < maxd))
				rec(e.oid, p, depth + 1);
		}
	};
	rec(root, "", 0);
	return out;
}

} // namespace pach::porcelain
