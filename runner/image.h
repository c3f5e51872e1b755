// Container images without a daemon: `docker-archive:FILE.tar` (what
// `docker save` writes), `oci-archive:FILE`, `oci:DIR[:TAG]`, `dir:ROOTFS`,
// and plain names that a local podman or docker knows.  An archive is unpacked once per
// image (keyed by its config digest) into .pach/pach/images/<digest>/rootfs:
// layers in order, whiteouts (.wh.NAME, .wh..wh..opq) honoured, nothing
// written outside the root.  The image's Env and WorkingDir come along.
#pragma once

#include "runner/layer.h"

#include "plumbing/store.h"

#include <string>
#include <vector>

namespace pach::runner {

struct Image {
	std::string rootfs;                // a directory
	std::vector<std::string> env;      // "K=V", from the image config
	std::string working_dir, user;
	std::string digest;                // what the transform hash uses
	std::string name;                  // a plain name: what docker/podman call it
};

// Resolve a spec's image reference (its digest, Env, WorkingDir, User);
// with `unpack`, also unpack it into the store's cache (once) unless
// `runtime` is the docker/podman that runs a plain name itself.
// `known`: the same image as resolved before (unpack=false) in this run;
// a named image is then not asked of the engine again.
Image resolve_image(Store &s, const std::string &ref, bool unpack = true, const std::string &runtime = "",
		    const Image *known = nullptr);
// Not one of the transports (dir:, docker-archive:, oci-archive:, oci:).
bool is_image_name(const std::string &ref);


} // namespace pach::runner
