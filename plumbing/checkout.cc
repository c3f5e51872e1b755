#include "plumbing/checkout.h"

#include "plumbing/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

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
	auto r = empty ? nullptr : s.odb().open(e.oid);
	if (!r && !empty) {
		unlink(tmp.c_str());
		die("object {} is missing (for '{}')", e.oid.hex(), dest);
	}
	std::vector<char> buf(r ? (size_t)std::min<uint64_t>(r->size() + 1, 1 << 20) : 0);
	uint64_t bytes = 0;
	for (; r;) {
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

} // namespace pach
