#include "runner/outlinks.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/snapshot.h"
#include "plumbing/stat_cache.h"
#include "plumbing/tree_edit.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pach::runner {

namespace {

// Every symbolic link below `out` ("a/b"), found without following any.
std::vector<std::string> find_links(const std::string &out)
{
	std::vector<std::string> links, todo{""};
	while (!todo.empty()) {
		std::string rel = todo.back();
		todo.pop_back();
		DirStream dp(Fd(::open((rel.empty() ? out : out + "/" + rel).c_str(),
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
		while (struct dirent *e = dp.next()) {
			std::string name = e->d_name;
			struct stat st;
			if (fstatat(dp.fd(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			std::string path = rel.empty() ? name : rel + "/" + name;
			if (S_ISLNK(st.st_mode))
				links.push_back(path);
			else if (S_ISDIR(st.st_mode))
				todo.push_back(path);
		}
	}
	return links;
}

std::vector<std::string> components(const std::string &rel)
{
	std::vector<std::string> v;
	size_t i = 0;
	while (i < rel.size()) {
		size_t j = rel.find('/', i);
		if (j == std::string::npos)
			j = rel.size();
		if (j > i)
			v.push_back(rel.substr(i, j - i));
		i = j + 1;
	}
	return v;
}

// A container path made absolute and cleaned ("." and ".." resolved by
// name, as the link's text says; "/.." is "/").
std::string clean(const std::string &base_dir, const std::string &target)
{
	std::vector<std::string> parts;
	for (auto &c : components(!target.empty() && target[0] == '/' ? target : base_dir + "/" + target)) {
		if (c == "..") {
			if (!parts.empty())
				parts.pop_back();
		} else if (c != ".") {
			parts.push_back(c);
		}
	}
	std::string out;
	for (auto &c : parts)
		out += "/" + c;
	return out.empty() ? "/" : out;
}

bool under(const std::string &p, const std::string &dir, std::string *rest)
{
	if (p == dir) {
		*rest = "";
		return true;
	}
	if (p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 && p[dir.size()] == '/') {
		*rest = p.substr(dir.size() + 1);
		return true;
	}
	return false;
}

std::string dir_of(const std::string &p)
{
	auto k = p.find_last_of('/');
	return k == 0 || k == std::string::npos ? "/" : p.substr(0, k);
}

struct Resolver {
	Store &s;
	ObjectWriter &w;
	const std::optional<Oid> &tree;
	const Datum &d;
	const std::string &rootfs;
	int slot;

	// What container path `p` is, following links (at most 40, as the
	// kernel does); nullopt with `why` set when it cannot be stored.
	std::optional<TreeEntry> entry(std::string p, std::string &why)
	{
		for (int hops = 0; hops < 40; hops++) {
			std::string rest, target;
			std::optional<TreeEntry> e;
			if (under(p, "/pfs/out", &rest)) {
				if (tree)
					e = rest.empty() ? TreeEntry{"", kModeDir, *tree} : lookup_path(w, *tree, components(rest));
			} else if (const DatumFile *f = input_of(p, rest)) {
				e = rest.empty() ? f->entry : f->entry.is_dir() ? lookup_path(s, f->entry.oid, components(rest))
										: std::nullopt;
				if (e && e->mode == kModeLink) {
					target = s.odb().read_small(e->oid);
					p = clean(dir_of(p), target);
					continue;
				}
			} else if (under(p, "/pfs", &rest)) {
				why = "points to '" + p + "', which is not in this datum's inputs";
				return std::nullopt;
			} else if (!rootfs.empty()) {
				return from_image(p, why);
			} else {
				why = "points outside /pfs, and this runtime has no image here to look in (only links into "
				      "/pfs, or into the image's own files, are stored)";
				return std::nullopt;
			}
			if (!e) {
				why = "points to '" + p + "', which does not exist";
				return std::nullopt;
			}
			if (e->mode != kModeLink)
				return e;
			// A link in the output to another link in it.
			std::string link_path = "/pfs/out/" + rest;
			char buf[4096];
			// Read through directory descriptors, never following a link
			// on the way (what the snapshot saw is what is read).
			auto slash = rest.find_last_of('/');
			Fd top(::open(out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			Fd dir = !top ? Fd() : slash == std::string::npos ? Fd(::dup(top.get()))
					    : open_dir_beneath(top.get(), rest.substr(0, slash), 0, out_dir);
			std::string leaf = slash == std::string::npos ? rest : rest.substr(slash + 1);
			ssize_t n = dir ? readlinkat(dir.get(), leaf.c_str(), buf, sizeof buf) : -1;
			if (n < 0 || n >= (ssize_t)sizeof buf) {
				why = "points to '" + link_path + "', which cannot be read";
				return std::nullopt;
			}
			p = clean(dir_of(link_path), std::string(buf, (size_t)n));
		}
		why = "is one of a loop of links (or a chain of more than 40)";
		return std::nullopt;
	}

	// The datum's input file holding container path p, and p below it.
	const DatumFile *input_of(const std::string &p, std::string &rest) const
	{
		for (auto &f : d.files) {
			std::string top = "/pfs/" + f.input + (f.path == "/" ? "" : f.path);
			if (under(p, top, &rest))
				return &f;
		}
		return nullptr;
	}

	// A file or directory of the image, looked up inside its root (its
	// own absolute links stay inside it), read and stored.
	std::optional<TreeEntry> from_image(const std::string &p, std::string &why)
	{
		Fd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		struct open_how how = {};
		how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
		Fd f(root ? (int)syscall(SYS_openat2, root.get(), p.c_str() + 1, &how, sizeof how) : -1);
		struct stat st;
		if (!f || fstat(f.get(), &st) < 0) {
			why = "points to '" + p + "', which the image does not have";
			return std::nullopt;
		}
		if (S_ISREG(st.st_mode)) {
			Oid o = w.blob_from_fd(f.get(), (uint64_t)st.st_size, p, slot);
			return TreeEntry{"", (st.st_mode & 0111) ? kModeExec : kModeFile, o};
		}
		if (S_ISDIR(st.st_mode)) {
			StatCacheStream none("");   // no cache
			auto e = snapshot(s, w, "/proc/self/fd/" + std::to_string(f.get()) + "/.", none, nullptr, 1);
			if (e)
				return e;
			why = "points to '" + p + "', an empty directory of the image";
			return std::nullopt;
		}
		why = "points to '" + p + "', which is not a file or a directory";
		return std::nullopt;
	}

	std::string out_dir;
};

} // namespace

OutLinks resolve_out_links(Store &s, ObjectWriter &w, const std::string &out, const std::optional<Oid> &tree,
			   const Datum &d, const std::string &rootfs, int slot)
{
	OutLinks r;
	r.tree = tree;
	auto links = find_links(out);
	if (links.empty() || !tree)
		return r;
	Resolver res{s, w, tree, d, rootfs, slot, out};
	std::vector<TreeEdit> edits;
	for (auto &rel : links) {
		char buf[4096];
		ssize_t n = readlinkat(AT_FDCWD, (out + "/" + rel).c_str(), buf, sizeof buf);
		if (n < 0)
			continue;
		if (n >= (ssize_t)sizeof buf) {
			r.error = fmt::format("/pfs/out/{}: symbolic link of {} bytes or more: refused", rel, sizeof buf);
			return r;
		}
		std::string target(buf, (size_t)n), why;
		auto e = res.entry(clean(dir_of("/pfs/out/" + rel), target), why);
		if (!e) {
			r.error = fmt::format("/pfs/out/{}: symbolic link to '{}' {}: refused", rel, target, why);
			return r;
		}
		auto path = components(rel);
		auto old = lookup_path(w, *tree, path);
		if (!old)
			continue;
		old->name = path.back();
		TreeEntry now = *e;
		now.name = path.back();
		edits.push_back({path, *old, true});
		edits.push_back({path, now, false});
	}
	if (!edits.empty()) {
		r.tree = apply_edits(w, *tree, std::move(edits));
		if (!r.tree)
			r.error = "/pfs/out: links could not be replaced by what they point to";
	}
	return r;
}

} // namespace pach::runner
