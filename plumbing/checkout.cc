#include "plumbing/checkout.h"

#include "plumbing/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <vector>

#include <linux/fs.h>
#include <sys/ioctl.h>

namespace pach {

namespace {

struct Frame {
	Fd dir;
	std::vector<TreeEntry> kids;
	size_t next = 0;
	std::string path;   // for messages
	int depth = 0;
};

// The directory `name` beneath dirfd, made if missing; a symlink or file
// there is an error, never a way elsewhere.
Fd enter_dir(int dirfd, const std::string &name, const std::string &display)
{
	if (::mkdirat(dirfd, name.c_str(), 0777) < 0 && errno != EEXIST)
		die_errno("unable to create directory '" + display + "'");
	Fd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!d) {
		struct stat st;
		if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			die("'{}' is a symbolic link; refusing to write through it", display);
		die("'{}' exists and is not a directory", display);
	}
	return d;
}

void export_tree(const Store &s, Fd top, const TreeEntry &root, const std::string &display, CheckoutStats &st,
		 const std::function<void(uint64_t)> &on_file, bool empty)
{
	Materialiser m(s, LinkMode::copy, "");
	std::vector<Frame> stack;
	stack.push_back({std::move(top), s.read_tree(root.oid), 0, display, 0});
	WalkBudget budget("tree " + root.oid.hex());
	budget.take(stack.back().kids.size());
	while (!stack.empty()) {
		Frame &f = stack.back();
		if (f.next == f.kids.size()) {
			stack.pop_back();
			continue;
		}
		const TreeEntry &k = f.kids[f.next++];
		std::string path = f.path + "/" + k.name;
		if (k.is_dir()) {
			if (f.depth + 1 > kMaxTreeDepth)
				die("'{}' is nested more than {} directories deep; refusing to write it", path, kMaxTreeDepth);
			Fd d = enter_dir(f.dir.get(), k.name, path);
			int depth = f.depth + 1;
			auto kids = s.read_tree(k.oid);
			budget.take(kids.size());
			stack.push_back({std::move(d), std::move(kids), 0, path, depth});   // f is invalid now
			continue;
		}
		if (k.mode == kModeGitlink)
			continue;
		uint64_t bytes = m.write(k, f.dir.get(), k.name, path, nullptr, empty);
		st.files++;
		st.bytes += bytes;
		if (on_file)
			on_file(bytes);
	}
}

} // namespace

CheckoutStats checkout_at(const Store &s, const TreeEntry &e, int dirfd, const std::string &rel,
			  const std::string &display, const std::function<void(uint64_t)> &on_file, bool empty)
{
	CheckoutStats st;
	auto slash = rel.rfind('/');
	std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
	std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
	Fd pd = open_dir_beneath_or_die(dirfd, parent, kBeneathCreate, display);
	std::string path = display + "/" + rel;
	if (e.is_dir()) {
		export_tree(s, enter_dir(pd.get(), base, path), e, path, st, on_file, empty);
	} else if (e.mode != kModeGitlink) {
		Materialiser m(s, LinkMode::copy, "");
		st.bytes = m.write(e, pd.get(), base, path, nullptr, empty);
		st.files = 1;
		if (on_file)
			on_file(st.bytes);
	}
	return st;
}

CheckoutStats checkout(const Store &s, const TreeEntry &e, const std::string &dest,
		       const std::function<void(uint64_t)> &on_file, bool empty)
{
	// dest is the user's own path: it may lead through their symlinks.
	// Below it, nothing from the tree is followed.
	CheckoutStats st;
	if (e.is_dir()) {
		if (::mkdir(dest.c_str(), 0777) < 0 && errno != EEXIST)
			die_errno("unable to create directory '" + dest + "'");
		Fd d(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!d)
			die("'{}' exists and is not a directory", dest);
		export_tree(s, std::move(d), e, dest, st, on_file, empty);
		return st;
	}
	std::string parent = dirname_of(dest);
	std::string base = dest.substr(dest.rfind('/') == std::string::npos ? 0 : dest.rfind('/') + 1);
	Fd pd(::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!pd)
		die_errno("unable to open directory '" + parent + "'");
	if (base.empty() || base == "." || base == "..")
		die("'{}' exists and is a directory", dest);
	Materialiser m(s, LinkMode::copy, "");
	st.bytes = m.write(e, pd.get(), base, dest, nullptr, empty);
	st.files = 1;
	if (on_file)
		on_file(st.bytes);
	return st;
}

uint64_t copy_blob(const Store &s, const Oid &blob, int fd, const std::string &what)
{
	auto r = s.odb().open(blob);
	if (!r)
		die("object {} is missing (for '{}')", blob.hex(), what);
	std::vector<char> buf((size_t)std::min<uint64_t>(r->size() + 1, 1 << 20));
	uint64_t bytes = 0;
	for (;;) {
		size_t n = r->read(buf.data(), buf.size());
		if (!n)
			break;
		write_full(fd, buf.data(), n, what);
		bytes += n;
	}
	return bytes;
}

LinkMode parse_link_mode(const std::string &s)
{
	if (s == "auto")
		return LinkMode::automatic;
	if (s == "copy")
		return LinkMode::copy;
	if (s == "reflink")
		return LinkMode::reflink;
	if (s == "hardlink")
		return LinkMode::hardlink;
	die("invalid link mode '{}' (expected auto, copy, reflink or hardlink)", s);
}

const char *link_mode_name(LinkMode m)
{
	switch (m) {
	case LinkMode::automatic: return "auto";
	case LinkMode::copy: return "copy";
	case LinkMode::reflink: return "reflink";
	case LinkMode::hardlink: return "hardlink";
	}
	return "?";
}

// Can dir_a's filesystem clone a file into dir_b?  Tried on two scratch files.
static bool reflink_works(const std::string &dir_a, const std::string &dir_b)
{
	std::string a = dir_a + "/.pach-reflink-probe", b = dir_b + "/.pach-reflink-probe";
	Fd fa(::open(a.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	Fd fb(::open(b.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	bool ok = false;
	if (fa && fb && ::write(fa.get(), "pach", 4) == 4)
		ok = ioctl(fb.get(), FICLONE, fa.get()) == 0;
	unlink(a.c_str());
	unlink(b.c_str());
	return ok;
}

Materialiser::Materialiser(const Store &s, LinkMode m, const std::string &dest_dir)
	: s_(s), mode_(m), cache_dir_(s.path("pach/cache"))
{
	if (m == LinkMode::copy)
		return;
	mkdir_p(cache_dir_);
	if (m == LinkMode::hardlink) {
		struct stat a, b;
		if (stat(cache_dir_.c_str(), &a) < 0 || stat(dest_dir.c_str(), &b) < 0 || a.st_dev != b.st_dev)
			die("cannot hard-link: '{}' is not on the store's filesystem", dest_dir);
		return;
	}
	bool ok = reflink_works(cache_dir_, dest_dir);
	if (m == LinkMode::reflink && !ok)
		die("cannot reflink into '{}': its filesystem cannot share extents with the store's", dest_dir);
	mode_ = ok ? LinkMode::reflink : LinkMode::copy;
}

// The cache file holding e's content (extracted on first use), with the
// mode hard links will show: read-only, executable or not.
std::string Materialiser::cached(const TreeEntry &e)
{
	bool x = e.mode == kModeExec;
	std::string p = cache_dir_ + "/" + e.oid.hex() + (x ? ".x" : "");
	struct stat st;
	auto r = s_.odb().open(e.oid);
	if (!r)
		die("object {} is missing", e.oid.hex());
	if (stat(p.c_str(), &st) == 0 && st.st_mtime == kCacheMtime && st.st_mtim.tv_nsec == 0 &&
	    (uint64_t)st.st_size == r->size())
		return p;
	std::string tmp = p + ".tmp" + std::to_string(getpid());
	unlink(tmp.c_str());
	Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
	if (!fd)
		die_errno("unable to create '" + tmp + "'");
	try {
		copy_blob(s_, e.oid, fd.get(), tmp);
	} catch (...) {
		unlink(tmp.c_str());
		throw;
	}
	fchmod(fd.get(), x ? 0555 : 0444);
	struct timespec ts[2] = {{kCacheMtime, 0}, {kCacheMtime, 0}};
	futimens(fd.get(), ts);
	fd.close();
	if (rename(tmp.c_str(), p.c_str()) < 0)
		die_errno("unable to rename '" + tmp + "'");
	return p;
}

// The temporary name a file is written under before it replaces `name`:
// it ends in ".pach-tmp", which no tree may hold (reserved_name).
static std::string temp_name(const std::string &name)
{
	return (name.size() > 200 ? name.substr(0, 200) : name) + ".pach-tmp";
}

uint64_t Materialiser::write(const TreeEntry &e, int dirfd, const std::string &name, const std::string &display,
			     struct stat *st, bool empty)
{
	struct stat old;
	bool fresh = fstatat(dirfd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
	if (!fresh && S_ISDIR(old.st_mode))
		die("'{}' exists and is a directory", display);
	// Replacing a file: write a temporary and rename it over, so the old
	// content stays whole until the new one is.  A new file is written in
	// place (as git's checkout does): nothing was there to protect.
	// Either way it is created exclusively, never through a symlink.
	std::string tmp = fresh ? name : temp_name(name);
	if (!fresh)
		unlinkat(dirfd, tmp.c_str(), 0);
	uint64_t bytes = 0;
	bool have_st = false;
	if (e.mode == kModeLink) {
		auto r = s_.odb().open(e.oid);
		if (!r)
			die("object {} is missing (for '{}')", e.oid.hex(), display);
		if (r->size() >= PATH_MAX)
			die("symbolic link '{}' has a target of {} bytes; refusing to create it", display, r->size());
		r.reset();
		std::string target = s_.odb().read_small(e.oid);
		if (target.empty() || target.find('\0') != std::string::npos)
			die("symbolic link '{}' has an invalid target", display);
		if (symlinkat(target.c_str(), dirfd, tmp.c_str()) < 0)
			die_errno("unable to create symlink '" + display + "'");
	} else {
		auto r = s_.odb().open(e.oid);
		if (!r)
			die("object {} is missing (for '{}')", e.oid.hex(), display);
		uint64_t size = empty ? 0 : r->size();
		bool via_cache = mode_ != LinkMode::copy && size >= kLinkMin;
		if (via_cache && mode_ == LinkMode::hardlink) {
			r.reset();
			if (linkat(AT_FDCWD, cached(e).c_str(), dirfd, tmp.c_str(), 0) < 0)
				die_errno("unable to link '" + display + "'");
			linked += size;
		} else {
			Fd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				       e.mode == kModeExec ? 0777 : 0666));
			if (!fd)
				die_errno("unable to create '" + display + "'");
			try {
				if (via_cache) {
					r.reset();
					Fd src(::open(cached(e).c_str(), O_RDONLY | O_CLOEXEC));
					if (!src || ioctl(fd.get(), FICLONE, src.get()) < 0)
						die_errno("unable to reflink '" + display + "'");
					linked += size;
				} else if (size) {
					std::vector<char> buf((size_t)std::min<uint64_t>(size + 1, 1 << 20));
					for (;;) {
						size_t n = r->read(buf.data(), buf.size());
						if (!n)
							break;
						write_full(fd.get(), buf.data(), n, display);
					}
					copied += size;
				}
				// A rename changes ctime: only a file written in place
				// can be stat'ed through its descriptor.
				if (fresh && st && fstat(fd.get(), st) == 0)
					have_st = true;
			} catch (...) {
				unlinkat(dirfd, tmp.c_str(), 0);
				throw;
			}
		}
		bytes = size;
	}
	if (!fresh && renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0) {
		int err = errno;
		unlinkat(dirfd, tmp.c_str(), 0);
		errno = err;
		die_errno("unable to rename '" + display + ".pach-tmp'");
	}
	if (st && !have_st && fstatat(dirfd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) < 0)
		die_errno("unable to stat '" + display + "'");
	return bytes;
}

} // namespace pach
