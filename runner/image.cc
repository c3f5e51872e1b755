#include "runner/image.h"
#include "plumbing/number.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "runner/layer.h"
#include "runner/runtime.h"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>

namespace pach::runner {

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
			uint64_t size = tar_octal(h + 124, 12);
			std::string name = tar_field(h, 100);
			if (!memcmp(h + 257, "ustar", 5) && h[345])
				name = tar_field(h + 345, 155) + "/" + name;
			if (h[156] == 'L') {
				std::string ln(size, '\0');
				(void)!pread(fd_.get(), ln.data(), size, (off_t)(pos + 512));
				pos += 512 + (size + 511) / 512 * 512;
				if (pread(fd_.get(), h, 512, (off_t)pos) != 512)
					break;
				size = tar_octal(h + 124, 12);
				name = ln.c_str();
			}
			members_[clean_member(name, path)] = {pos + 512, size};
			pos += 512 + (size + 511) / 512 * 512;
		}
	}
	bool has(const std::string &name) const
	{
		return dir_ ? path_exists(path_ + "/" + clean_member(name, path_)) : members_.count(clean_member(name, path_)) > 0;
	}
	std::string read(const std::string &name) const
	{
		if (!has(name))
			die("image '{}': '{}' is not in it", ref_, name);
		if (dir_)
			return read_file_small(path_ + "/" + clean_member(name, path_));
		auto &[off, size] = members_.at(clean_member(name, path_));
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
			std::string p = path_ + "/" + clean_member(name, path_);
			Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
			struct stat st;
			if (!f || fstat(f.get(), &st) < 0)
				die_errno("image '" + ref_ + "': unable to open '" + p + "'");
			apply_layer(f.get(), 0, (uint64_t)st.st_size, root, p);
			return;
		}
		auto &[off, size] = members_.at(clean_member(name, path_));
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
	remove_tree(tmp);
	mkdir_p(tmp + "/rootfs");
	try {
		for (auto &l : layers)
			blobs.apply(l, tmp + "/rootfs");
	} catch (...) {
		remove_tree(tmp);   // a refused or broken image leaves nothing behind
		throw;
	}
	// Mount points the runtimes need, even in a read-only root.
	for (const char *d : {"/pfs", "/tmp", "/proc", "/dev"})
		mkdir_p(tmp + "/rootfs" + d);
	if (rename(tmp.c_str(), cache.c_str()) < 0 && !is_dir(cache + "/rootfs"))
		die_errno("unable to store image '" + ref + "'");
	remove_tree(tmp);
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
Image resolve_named(Store &s, const std::string &ref, bool unpack, const std::string &runtime, const Image *known)
{
	std::string bin = runtime == "podman" || runtime == "docker" ? runtime
			  : have_program("podman")			   ? "podman"
			  : docker_works()				   ? "docker"
								   : "";
	if (bin.empty())
		die("image '{}': a plain image name needs podman or docker to find it; or name a file: "
		    "docker-archive:FILE.tar, oci-archive:FILE, oci:DIR[:TAG], dir:ROOTFS",
		    ref);
	Image img;
	if (known) {
		img = *known;   // inspected already (the job's plan): no second `image inspect`
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

Image resolve_image(Store &s, const std::string &ref, bool unpack, const std::string &runtime, const Image *known)
{
	Image img;
	if (is_image_name(ref))
		return resolve_named(s, ref, unpack, runtime, known);
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
