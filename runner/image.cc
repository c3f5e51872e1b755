#include "runner/image.h"
#include "plumbing/number.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "runner/runtime.h"

#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

namespace pach::runner {

namespace {

// Sequential bytes of [off, off+len) of fd, gunzipped if they are gzip.
class Source {
public:
	Source(int fd, uint64_t off, uint64_t len, std::string what) : fd_(fd), off_(off), end_(off + len), what_(std::move(what))
	{
		unsigned char m[2] = {0, 0};
		if (len >= 2 && pread(fd_, m, 2, (off_t)off_) == 2 && m[0] == 0x1f && m[1] == 0x8b) {
			gz_ = true;
			if (inflateInit2(&z_, 15 + 32) != Z_OK)
				die("unable to initialise zlib");
			zin_.resize(1 << 16);
		}
	}
	~Source()
	{
		if (gz_)
			inflateEnd(&z_);
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
		if (!gz_) {
			n = (size_t)std::min<uint64_t>(n, end_ - off_);
			if (!n)
				return 0;
			ssize_t r = pread(fd_, buf, n, (off_t)off_);
			if (r <= 0)
				die("unable to read '{}'", what_);
			off_ += (uint64_t)r;
			return (size_t)r;
		}
		if (zdone_)
			return 0;
		z_.next_out = reinterpret_cast<Bytef *>(buf);
		z_.avail_out = (uInt)n;
		while (z_.avail_out == n) {
			if (z_.avail_in == 0) {
				size_t k = (size_t)std::min<uint64_t>(zin_.size(), end_ - off_);
				if (!k)
					break;
				ssize_t r = pread(fd_, zin_.data(), k, (off_t)off_);
				if (r <= 0)
					die("unable to read '{}'", what_);
				off_ += (uint64_t)r;
				z_.next_in = zin_.data();
				z_.avail_in = (uInt)r;
			}
			int rc = inflate(&z_, Z_NO_FLUSH);
			if (rc == Z_STREAM_END) {
				zdone_ = true;
				break;
			}
			if (rc != Z_OK)
				die("'{}': corrupt gzip data", what_);
		}
		return n - z_.avail_out;
	}

	int fd_;
	uint64_t off_, end_;
	std::string what_;
	bool gz_ = false, zdone_ = false;
	z_stream z_{};
	std::vector<unsigned char> zin_;
};

uint64_t octal(const char *p, size_t n)
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

std::string field(const char *p, size_t n)
{
	return std::string(p, strnlen(p, n));
}

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
		e.size = octal(h + 124, 12);
		e.mode = (mode_t)octal(h + 100, 8);
		e.name = field(h, 100);
		if (!memcmp(h + 257, "ustar", 5) && h[345])
			e.name = field(h + 345, 155) + "/" + e.name;
		e.link = field(h + 157, 100);
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

// "a/./b/" -> "a/b"; nullopt-like "" for the root; dies on "..".
std::string clean(const std::string &p, const std::string &what)
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

void remove_all(const std::string &p)
{
	std::error_code ec;
	std::filesystem::remove_all(p, ec);
}

} // namespace

void apply_layer(int fd, uint64_t off, uint64_t len, const std::string &root, const std::string &what)
{
	Source src(fd, off, len, what);
	std::vector<char> buf(1 << 16);
	each_entry(src, what, [&](const Entry &e, Source &s, uint64_t padded) {
		std::string rel = clean(e.name, what);
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
					remove_all(x.path().string());
			consume();
			return;
		}
		if (base.compare(0, 4, ".wh.") == 0) {
			std::string gone = base.substr(4);
			if (gone.empty() || gone == "." || gone == "..")
				die("'{}': refusing whiteout '{}'", what, e.name);
			remove_all(parent + "/" + gone);
			consume();
			return;
		}
		std::string path = root + "/" + rel;
		mkdir_p(parent);
		struct stat st;
		bool exists = lstat(path.c_str(), &st) == 0;
		if (e.type == '5') {
			if (exists && !S_ISDIR(st.st_mode))
				remove_all(path);
			mkdir_p(path);
			chmod(path.c_str(), e.mode & 07777);
			consume();
			return;
		}
		if (exists)
			remove_all(path);
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
			std::string target = clean(e.link, what);
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

namespace {

// Where an image's files live: the members of one (uncompressed) tar, as
// `docker save` and OCI archives are, or the files of an OCI layout
// directory.  Read by name, layers streamed straight from their place.
class Blobs {
public:
	Blobs(const std::string &ref, const std::string &path, bool is_dir) : ref_(ref), path_(path), dir_(is_dir)
	{
		if (dir_) {
			if (!pach::is_dir(path))
				die("image '{}': '{}' is not a directory", ref, path);
			return;
		}
		fd_ = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
		if (!fd_)
			die_errno("image '" + ref + "': unable to open '" + path + "'");
		uint64_t pos = 0;
		char h[512];
		while (pread(fd_.get(), h, 512, (off_t)pos) == 512) {
			bool zero = true;
			for (char c : h)
				zero &= c == 0;
			if (zero)
				break;
			uint64_t size = octal(h + 124, 12);
			std::string name = field(h, 100);
			if (!memcmp(h + 257, "ustar", 5) && h[345])
				name = field(h + 345, 155) + "/" + name;
			if (h[156] == 'L') {
				std::string ln(size, '\0');
				(void)!pread(fd_.get(), ln.data(), size, (off_t)(pos + 512));
				pos += 512 + (size + 511) / 512 * 512;
				if (pread(fd_.get(), h, 512, (off_t)pos) != 512)
					break;
				size = octal(h + 124, 12);
				name = ln.c_str();
			}
			members_[clean(name, path)] = {pos + 512, size};
			pos += 512 + (size + 511) / 512 * 512;
		}
	}
	bool has(const std::string &name) const
	{
		return dir_ ? path_exists(path_ + "/" + clean(name, path_)) : members_.count(clean(name, path_)) > 0;
	}
	std::string read(const std::string &name) const
	{
		if (!has(name))
			die("image '{}': '{}' is not in it", ref_, name);
		if (dir_)
			return read_file_small(path_ + "/" + clean(name, path_));
		auto &[off, size] = members_.at(clean(name, path_));
		std::string data(size, '\0');
		if (pread(fd_.get(), data.data(), size, (off_t)off) != (ssize_t)size)
			die("image '{}': unable to read '{}'", ref_, name);
		return data;
	}
	void apply(const std::string &name, const std::string &root) const
	{
		if (!has(name))
			die("image '{}': layer '{}' is not in it", ref_, name);
		if (dir_) {
			std::string p = path_ + "/" + clean(name, path_);
			Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
			struct stat st;
			if (!f || fstat(f.get(), &st) < 0)
				die_errno("image '" + ref_ + "': unable to open '" + p + "'");
			apply_layer(f.get(), 0, (uint64_t)st.st_size, root, p);
			return;
		}
		auto &[off, size] = members_.at(clean(name, path_));
		apply_layer(fd_.get(), off, size, root, path_ + ":" + name);
	}

private:
	std::string ref_, path_;
	bool dir_;
	Fd fd_;
	std::map<std::string, std::pair<uint64_t, uint64_t>> members_;
};

YAML::Node load_json(const std::string &text, const std::string &ref, const std::string &what)
{
	try {
		return YAML::Load(text);
	} catch (const YAML::Exception &e) {
		die("image '{}': bad {}: {}", ref, what, e.what());
	}
}

std::string blob_path(const std::string &digest, const std::string &ref)
{
	auto colon = digest.find(':');
	if (colon == std::string::npos)
		die("image '{}': bad digest '{}'", ref, digest);
	return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

} // namespace

namespace {

// Layers in order into CACHE/rootfs, through a temporary directory so a
// crash never leaves a half image under the final name.
void unpack_into(Store &s, const Blobs &blobs, const std::vector<std::string> &layers, const std::string &cache,
		 const std::string &ref)
{
	mkdir_p(s.path("pach/images"));
	std::string tmp = cache + ".tmp-" + std::to_string(getpid());
	remove_all(tmp);
	mkdir_p(tmp + "/rootfs");
	try {
		for (auto &l : layers)
			blobs.apply(l, tmp + "/rootfs");
	} catch (...) {
		remove_all(tmp);   // a refused or broken image leaves nothing behind
		throw;
	}
	// Mount points the runtimes need, even in a read-only root.
	for (const char *d : {"/pfs", "/tmp", "/proc", "/dev"})
		mkdir_p(tmp + "/rootfs" + d);
	if (rename(tmp.c_str(), cache.c_str()) < 0 && !is_dir(cache + "/rootfs"))
		die_errno("unable to store image '" + ref + "'");
	remove_all(tmp);
}

void read_image_config(const YAML::Node &c, Image &img, const std::string &ref)
{
	try {
		if (c && c["Env"])
			for (auto e : c["Env"])
				img.env.push_back(e.as<std::string>());
		if (c && c["WorkingDir"])
			img.working_dir = c["WorkingDir"].as<std::string>("");
		if (c && c["User"])
			img.user = c["User"].as<std::string>("");
	} catch (const YAML::Exception &e) {
		die("image '{}': bad config: {}", ref, e.what());
	}
}

// Run an engine command; its stdout as a string (its warnings on stderr
// kept apart: the output is parsed), or nullopt when it failed.
std::optional<std::string> engine_output(const std::vector<std::string> &argv, const std::string &tmpdir)
{
	mkdir_p(tmpdir);
	TempFile out(tmpdir, "engine-out"), err(tmpdir, "engine-err");
	fchmod(out.fd(), 0600);   // the runtime opens them again to write
	fchmod(err.fd(), 0600);
	ProcessSpec p;
	p.argv = argv;
	p.log_path = out.path();
	p.err_path = err.path();
	p.timeout = 600;
	auto r = make_local_runtime()->run(p);
	if (r.exit_code != 0)
		return std::nullopt;
	std::string text;
	char buf[65536];
	ssize_t n;
	while ((n = ::pread(out.fd(), buf, sizeof buf, (off_t)text.size())) > 0)
		text.append(buf, (size_t)n);
	return text;
}

// A plain name ("busybox:1.36", "localhost/app"): what the local podman
// (or docker) has under that name.  The digest is the engine's image id;
// a container runtime other than the engine gets the image through
// `image save`, unpacked once per id.
Image resolve_named(Store &s, const std::string &ref, bool unpack, const std::string &runtime)
{
	std::string bin = runtime == "podman" || runtime == "docker" ? runtime
			  : have_program("podman")			   ? "podman"
			  : docker_works()				   ? "docker"
								   : "";
	if (bin.empty())
		die("image '{}': a plain image name needs podman or docker to find it; or name a file: "
		    "docker-archive:FILE.tar, oci-archive:FILE, oci:DIR[:TAG], dir:ROOTFS",
		    ref);
	static std::map<std::string, Image> seen;
	Image img;
	if (auto it = seen.find(bin + " " + ref); it != seen.end()) {
		img = it->second;
	} else {
		auto out = engine_output({bin, "image", "inspect", ref}, s.path("pach/tmp"));
		if (!out)
			die("image '{}' is not known to {} ({} pull or {} load it first)", ref, bin, bin, bin);
		YAML::Node j = load_json(*out, ref, bin + " image inspect output");
		if (!j.IsSequence() || j.size() == 0 || !j[0]["Id"])
			die("image '{}': {} image inspect says nothing about it", ref, bin);
		img.digest = j[0]["Id"].as<std::string>();
		if (img.digest.compare(0, 7, "sha256:") == 0)
			img.digest = img.digest.substr(7);
		read_image_config(j[0]["Config"], img, ref);
		img.name = ref;
		seen[bin + " " + ref] = img;
	}
	std::string cache = s.path("pach/images/" + img.digest);
	img.rootfs = cache + "/rootfs";
	if (!unpack || bin == runtime || is_dir(img.rootfs))
		return img;
	std::string tar = s.path("pach/tmp/save-" + std::to_string(getpid()) + ".tar");
	mkdir_p(s.path("pach/tmp"));
	std::vector<std::string> argv = {bin, "image", "save", "-o", tar};
	if (bin == "podman")
		argv.insert(argv.end(), {"--format", "docker-archive"});
	argv.push_back(img.name);
	if (!engine_output(argv, s.path("pach/tmp")))
		die("image '{}': {} image save failed", ref, bin);
	try {
		Blobs blobs(ref, tar, false);
		YAML::Node manifest = load_json(blobs.read("manifest.json"), ref, "manifest.json");
		std::vector<std::string> layers;
		if (manifest.IsSequence() && manifest.size() > 0)
			for (auto l : manifest[0]["Layers"])
				layers.push_back(l.as<std::string>());
		unpack_into(s, blobs, layers, cache, ref);
	} catch (...) {
		::unlink(tar.c_str());
		throw;
	}
	::unlink(tar.c_str());
	return img;
}

} // namespace

bool is_image_name(const std::string &ref)
{
	for (const char *t : {"dir:", "docker-archive:", "oci-archive:", "oci:"})
		if (ref.compare(0, strlen(t), t) == 0)
			return false;
	return true;
}

Image resolve_image(Store &s, const std::string &ref, bool unpack, const std::string &runtime)
{
	Image img;
	if (is_image_name(ref))
		return resolve_named(s, ref, unpack, runtime);
	if (ref.compare(0, 4, "dir:") == 0) {
		img.rootfs = absolute_path(ref.substr(4));
		if (!is_dir(img.rootfs))
			die("image '{}': '{}' is not a directory", ref, img.rootfs);
		img.digest = "dir:" + img.rootfs;
		if (unpack) {
			// Runtimes mount over these; a read-only root cannot get them.
			std::string missing;
			for (const char *d : {"/proc", "/dev", "/tmp", "/pfs"})
				if (!is_dir(img.rootfs + d))
					missing += " " + img.rootfs + d;
			if (!missing.empty())
				die("image '{}' lacks mount points the containers need: mkdir -p{}", ref, missing);
		}
		return img;
	}
	std::unique_ptr<Blobs> blobs;
	std::string config_name;
	std::vector<std::string> layers;
	if (ref.compare(0, 15, "docker-archive:") == 0) {
		blobs = std::make_unique<Blobs>(ref, ref.substr(15), false);
		YAML::Node manifest = load_json(blobs->read("manifest.json"), ref, "manifest.json");
		if (!manifest.IsSequence() || manifest.size() == 0)
			die("image '{}': manifest.json lists no image", ref);
		config_name = manifest[0]["Config"].as<std::string>("");
		for (auto l : manifest[0]["Layers"])
			layers.push_back(l.as<std::string>());
	} else if (ref.compare(0, 12, "oci-archive:") == 0 || ref.compare(0, 4, "oci:") == 0) {
		bool archive = ref.compare(0, 12, "oci-archive:") == 0;
		std::string rest = ref.substr(archive ? 12 : 4), tag;
		// oci:DIR[:TAG]
		auto colon = rest.rfind(':');
		if (!archive && colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
			tag = rest.substr(colon + 1);
			rest = rest.substr(0, colon);
		}
		blobs = std::make_unique<Blobs>(ref, rest, !archive);
		YAML::Node index = load_json(blobs->read("index.json"), ref, "index.json");
		YAML::Node chosen, list = index["manifests"];
		bool found = false;
		for (size_t i = 0; list && i < list.size() && !found; i++) {
			YAML::Node m = list[i];
			std::string name = m["annotations"] && m["annotations"]["org.opencontainers.image.ref.name"]
						   ? m["annotations"]["org.opencontainers.image.ref.name"].as<std::string>()
						   : "";
			if (tag.empty() || name == tag) {
				chosen = m;
				found = true;
			}
		}
		if (!found)
			die("image '{}': no manifest{} in index.json", ref, tag.empty() ? "" : " tagged '" + tag + "'");
		YAML::Node manifest =
			load_json(blobs->read(blob_path(chosen["digest"].as<std::string>(""), ref)), ref, "manifest");
		config_name = blob_path(manifest["config"]["digest"].as<std::string>(""), ref);
		for (auto l : manifest["layers"])
			layers.push_back(blob_path(l["digest"].as<std::string>(""), ref));
	} else {
		die("image '{}': unknown transport", ref);
	}
	if (config_name.empty())
		die("image '{}': no image config in the manifest", ref);
	std::string config = blobs->read(config_name);
	Sha1 h;
	h.update(config.data(), config.size());
	img.digest = h.final().hex();
	read_image_config(load_json(config, ref, "config")["config"], img, ref);
	std::string cache = s.path("pach/images/" + img.digest);
	img.rootfs = cache + "/rootfs";
	if (!unpack || is_dir(img.rootfs))
		return img; // unpacked before
	unpack_into(s, *blobs, layers, cache, ref);
	return img;
}

} // namespace pach::runner
