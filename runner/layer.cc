// Image layers: tar archives (gzip or not) read as a stream and applied
// to a root directory, never outside it.
#include "runner/layer.h"
#include "plumbing/number.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include "plumbing/inflate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

namespace pach::runner {

namespace {

// Sequential bytes of [off, off+len) of fd, gunzipped if they are gzip.
class Source {
public:
	Source(int fd, uint64_t off, uint64_t len, std::string what) : fd_(fd), off_(off), end_(off + len), what_(std::move(what))
	{
		unsigned char m[2] = {0, 0};
		if (len >= 2 && pread(fd_, m, 2, (off_t)off_) == 2 && m[0] == 0x1f && m[1] == 0x8b)
			z_ = std::make_unique<Inflater>(fd_, off_, what_, 1 << 18, Inflater::gzip, end_);
	}
	// Exactly n bytes, or false at a clean end.
	bool read(void *buf, size_t n)
	{
		size_t got = 0;
		while (got < n) {
			size_t r = raw(static_cast<char *>(buf) + got, n - got);
			if (!r) {
				if (got)
					die("'{}' is truncated", what_);
				return false;
			}
			got += r;
		}
		return true;
	}
	void skip(uint64_t n)
	{
		char b[65536];
		while (n) {
			size_t k = (size_t)std::min<uint64_t>(n, sizeof b);
			if (!read(b, k))
				die("'{}' is truncated", what_);
			n -= k;
		}
	}

private:
	size_t raw(char *buf, size_t n)
	{
		if (z_)
			return z_->read(buf, n);
		n = (size_t)std::min<uint64_t>(n, end_ - off_);
		if (!n)
			return 0;
		ssize_t r = pread(fd_, buf, n, (off_t)off_);
		if (r <= 0)
			die("unable to read '{}'", what_);
		off_ += (uint64_t)r;
		return (size_t)r;
	}

	int fd_;
	uint64_t off_, end_;
	std::string what_;
	std::unique_ptr<Inflater> z_;
};

} // namespace

uint64_t tar_octal(const char *p, size_t n)
{
	// GNU base-256 for big sizes.
	if ((unsigned char)p[0] & 0x80) {
		uint64_t v = 0;
		for (size_t i = 1; i < n; i++)
			v = v << 8 | (unsigned char)p[i];
		return v;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n && p[i]; i++)
		if (p[i] >= '0' && p[i] <= '7')
			v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}

std::string tar_field(const char *p, size_t n)
{
	return std::string(p, strnlen(p, n));
}

namespace {

struct Entry {
	std::string name, link;
	char type;
	uint64_t size, data_off; // data_off: for the outer archive (uncompressed)
	mode_t mode;
};

// Iterate a tar stream: fn(entry, source) must consume exactly entry.size
// bytes (or call skip).
template <class F> void each_entry(Source &src, const std::string &what, F fn)
{
	char h[512];
	std::string long_name, long_link;
	std::map<std::string, std::string> pax;
	while (src.read(h, 512)) {
		bool zero = true;
		for (char c : h)
			zero &= c == 0;
		if (zero)
			break;
		Entry e;
		e.type = h[156];
		e.size = tar_octal(h + 124, 12);
		e.mode = (mode_t)tar_octal(h + 100, 8);
		e.name = tar_field(h, 100);
		if (!memcmp(h + 257, "ustar", 5) && h[345])
			e.name = tar_field(h + 345, 155) + "/" + e.name;
		e.link = tar_field(h + 157, 100);
		uint64_t padded = (e.size + 511) / 512 * 512;
		if (e.type == 'L' || e.type == 'K' || e.type == 'x' || e.type == 'g') {
			// Names and attributes, read whole: bounded (memory is).
			if (e.size > (1u << 20))
				die("'{}': a {} KiB extended header; refusing it", what, e.size >> 10);
			std::string data(e.size, '\0');
			if (!src.read(data.data(), e.size))
				die("'{}' is truncated", what);
			src.skip(padded - e.size);
			if (e.type == 'L')
				long_name = data.c_str();
			else if (e.type == 'K')
				long_link = data.c_str();
			else if (e.type == 'x') {
				size_t i = 0;
				while (i < data.size()) {
					size_t sp = data.find(' ', i);
					if (sp == std::string::npos)
						break;
					auto n = parse_uint64(std::string_view(data).substr(i, sp - i));
					size_t len = n ? (size_t)*n : 0;
					if (len <= sp + 1 - i || len > data.size() - i)
						break;
					std::string kv = data.substr(sp + 1, len - (sp + 1 - i) - 1);
					auto eq = kv.find('=');
					if (eq != std::string::npos)
						pax[kv.substr(0, eq)] = kv.substr(eq + 1);
					i += len;
				}
			}
			continue;
		}
		if (!long_name.empty())
			e.name = long_name;
		if (!long_link.empty())
			e.link = long_link;
		if (pax.count("path"))
			e.name = pax["path"];
		if (pax.count("linkpath"))
			e.link = pax["linkpath"];
		if (pax.count("size")) {
			auto n = parse_uint64(pax["size"]);
			if (!n || *n > (1ull << 50))
				die("'{}': bad size in a pax header", what);
			e.size = *n, padded = (e.size + 511) / 512 * 512;
		}
		long_name.clear();
		long_link.clear();
		pax.clear();
		fn(e, src, padded);
	}
}

} // namespace

// "a/./b/" -> "a/b"; "" for the root; dies on "..".
std::string clean_member(const std::string &p, const std::string &what)
{
	std::string out;
	size_t i = 0;
	while (i <= p.size()) {
		size_t j = p.find('/', i);
		if (j == std::string::npos)
			j = p.size();
		std::string c = p.substr(i, j - i);
		if (c == "..")
			die("'{}': refusing path '{}' (it leaves the image root)", what, p);
		if (!c.empty() && c != ".")
			out += (out.empty() ? "" : "/") + c;
		i = j + 1;
	}
	return out;
}

namespace {

// No component of rel's parent may be a symlink: an earlier layer could
// otherwise point a directory out of the root.
bool parents_safe(const std::string &root, const std::string &rel)
{
	std::string cur = root;
	size_t i = 0;
	for (;;) {
		size_t j = rel.find('/', i);
		if (j == std::string::npos)
			return true;
		cur += "/" + rel.substr(i, j - i);
		struct stat st;
		if (lstat(cur.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
			return false;
		i = j + 1;
	}
}

} // namespace

void apply_layer(int fd, uint64_t off, uint64_t len, const std::string &root, const std::string &what)
{
	Source src(fd, off, len, what);
	std::vector<char> buf(1 << 16);
	each_entry(src, what, [&](const Entry &e, Source &s, uint64_t padded) {
		std::string rel = clean_member(e.name, what);
		auto consume = [&] { s.skip(padded); };
		if (rel.empty() || !parents_safe(root, rel)) {
			consume();
			return;
		}
		std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
		std::string dir = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/'));
		std::string parent = root + (dir.empty() ? "" : "/" + dir);
		if (base == ".wh..wh..opq") {
			// Opaque: what lower layers put in this directory is gone.
			if (is_dir(parent))
				for (auto &x : std::filesystem::directory_iterator(parent))
					remove_tree(x.path().string());
			consume();
			return;
		}
		if (base.compare(0, 4, ".wh.") == 0) {
			std::string gone = base.substr(4);
			if (gone.empty() || gone == "." || gone == "..")
				die("'{}': refusing whiteout '{}'", what, e.name);
			remove_tree(parent + "/" + gone);
			consume();
			return;
		}
		std::string path = root + "/" + rel;
		mkdir_p(parent);
		struct stat st;
		bool exists = lstat(path.c_str(), &st) == 0;
		if (e.type == '5') {
			if (exists && !S_ISDIR(st.st_mode))
				remove_tree(path);
			mkdir_p(path);
			chmod(path.c_str(), e.mode & 07777);
			consume();
			return;
		}
		if (exists)
			remove_tree(path);
		if (e.type == '2') {
			if (symlink(e.link.c_str(), path.c_str()) < 0)
				die_errno("unable to create symlink '" + path + "'");
			consume();
			return;
		}
		if (e.type == '1') {
			// The target is resolved inside the root without following
			// any symlink (an earlier entry "x -> /etc" must not make
			// "x/shadow" a host file), and must be a regular file there.
			std::string target = clean_member(e.link, what);
			auto ts = target.rfind('/');
			Fd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
			if (!rootfd)
				die_errno("unable to open '" + root + "'");
			Fd tdir = open_dir_beneath(rootfd.get(), ts == std::string::npos ? "" : target.substr(0, ts), 0, root);
			Fd pdir = open_dir_beneath(rootfd.get(), dir, 0, root);
			std::string tbase = ts == std::string::npos ? target : target.substr(ts + 1);
			struct stat tst;
			if (!tdir || !pdir || target.empty() || fstatat(tdir.get(), tbase.c_str(), &tst, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(tst.st_mode))
				die("'{}': hard link '{}' to '{}' does not name a file of the image", what, e.name, e.link);
			if (linkat(tdir.get(), tbase.c_str(), pdir.get(), base.c_str(), 0) < 0)
				die_errno("unable to link '" + path + "'");
			consume();
			return;
		}
		if (e.type != '0' && e.type != '\0' && e.type != '7') {
			consume(); // devices, fifos: not in a data pipeline's image
			return;
		}
		Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
		if (!out)
			die_errno("unable to create '" + path + "'");
		uint64_t left = e.size;
		while (left) {
			size_t k = (size_t)std::min<uint64_t>(left, buf.size());
			if (!s.read(buf.data(), k))
				die("'{}' is truncated", what);
			write_full(out.get(), buf.data(), k, path);
			left -= k;
		}
		fchmod(out.get(), e.mode & 07777);
		s.skip(padded - e.size);
	});
}

} // namespace pach::runner
