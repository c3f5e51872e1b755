#include "plumbing/checkout.h"

#include "plumbing/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include <linux/fs.h>
#include <sys/ioctl.h>

namespace pach {

static void export_entry(const Store &s, const TreeEntry &e, const std::string &dest, CheckoutStats &st,
			 const std::function<void(uint64_t)> &on_file, bool empty)
{
	if (e.is_dir()) {
		if (mkdir(dest.c_str(), 0777) < 0 && errno != EEXIST)
			die_errno("unable to create directory '" + dest + "'");
		if (!is_dir(dest))
			die("'{}' exists and is not a directory", dest);
		for (auto &k : s.read_tree(e.oid))
			export_entry(s, k, dest + "/" + k.name, st, on_file, empty);
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
		if (on_file)
			on_file(0);
		return;
	}
	// Write under a temporary name so a half-written file never has the
	// final name.
	std::string tmp = dest + ".pach-tmp";
	Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e.mode == kModeExec ? 0777 : 0666));
	if (!fd)
		die_errno("unable to create '" + dest + "'");
	uint64_t bytes = 0;
	if (!empty) {
		try {
			bytes = copy_blob(s, e.oid, fd.get(), dest);
		} catch (...) {
			unlink(tmp.c_str());
			throw;
		}
	}
	fd.close();
	if (rename(tmp.c_str(), dest.c_str()) < 0)
		die_errno("unable to rename '" + tmp + "'");
	st.files++;
	st.bytes += bytes;
	if (on_file)
		on_file(bytes);
}

CheckoutStats checkout(const Store &s, const TreeEntry &e, const std::string &dest,
		       const std::function<void(uint64_t)> &on_file, bool empty)
{
	CheckoutStats st;
	export_entry(s, e, dest, st, on_file, empty);
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
	Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
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

uint64_t Materialiser::write(const TreeEntry &e, const std::string &dest, struct stat *st)
{
	struct stat old;
	bool fresh = lstat(dest.c_str(), &old) < 0 && errno == ENOENT;
	if (!fresh && S_ISDIR(old.st_mode))
		die("'{}' exists and is a directory", dest);
	// Replacing a file: write a temporary and rename it over, so the old
	// content stays whole until the new one is.  A new file is written in
	// place (as git's checkout does): nothing was there to protect.
	std::string tmp = fresh ? dest : dest + ".pach-tmp";
	if (!fresh)
		unlink(tmp.c_str());
	uint64_t bytes = 0;
	bool have_st = false;
	if (e.mode == kModeLink) {
		std::string target = s_.odb().read_small(e.oid);
		if (symlink(target.c_str(), tmp.c_str()) < 0)
			die_errno("unable to create symlink '" + dest + "'");
	} else {
		auto r = s_.odb().open(e.oid);
		if (!r)
			die("object {} is missing (for '{}')", e.oid.hex(), dest);
		uint64_t size = r->size();
		bool via_cache = mode_ != LinkMode::copy && size >= kLinkMin;
		if (via_cache && mode_ == LinkMode::hardlink) {
			r.reset();
			if (link(cached(e).c_str(), tmp.c_str()) < 0)
				die_errno("unable to link '" + dest + "'");
			linked += size;
		} else {
			Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e.mode == kModeExec ? 0777 : 0666));
			if (!fd)
				die_errno("unable to create '" + dest + "'");
			try {
				if (via_cache) {
					r.reset();
					Fd src(::open(cached(e).c_str(), O_RDONLY | O_CLOEXEC));
					if (!src || ioctl(fd.get(), FICLONE, src.get()) < 0)
						die_errno("unable to reflink '" + dest + "'");
					linked += size;
				} else {
					std::vector<char> buf((size_t)std::min<uint64_t>(size + 1, 1 << 20));
					for (;;) {
						size_t n = r->read(buf.data(), buf.size());
						if (!n)
							break;
						write_full(fd.get(), buf.data(), n, dest);
					}
					copied += size;
				}
				// A rename changes ctime: only a file written in place
				// can be stat'ed through its descriptor.
				if (fresh && st && fstat(fd.get(), st) == 0)
					have_st = true;
			} catch (...) {
				unlink(tmp.c_str());
				throw;
			}
		}
		bytes = size;
	}
	if (!fresh && rename(tmp.c_str(), dest.c_str()) < 0)
		die_errno("unable to rename '" + tmp + "'");
	if (st && !have_st && lstat(dest.c_str(), st) < 0)
		die_errno("unable to stat '" + dest + "'");
	return bytes;
}

} // namespace pach
