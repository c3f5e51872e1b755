#!/bin/sh
# The worker image of the Kubernetes executor (pach-run(1), EXECUTORS):
# an OCI image layout holding a pach that needs nothing of the image it
# is copied into, at /pach:
#
#   /pach/bin/pach                  the binary
#   /pach/lib/*.so*                 every library it loads (ldd)
#   /pach/lib/ld.so                 the dynamic loader they were built for
#   /pach/lib/ca-certificates.crt   CA certificates for an https remote
#
# A pod's init container runs it (through lib/ld.so, so no library of any
# image is used) as `pach worker --install /pach /pach-bin`; the
# pipeline's container then runs /pach-bin the same way.
#
# usage: runner/worker-image.sh <pach binary> <output directory> [<tag>]
# Push it with any OCI tool, e.g.
#   skopeo copy oci:<output directory>:<tag> docker://REGISTRY/pach-worker:<tag>
set -eu

pach=$1
out=$2
tag=${3:-$("$pach" version --json | sed 's/.*"version": *"\([^"]*\)".*/\1/')}
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || { echo "fatal: $ca is missing (Debian: apt-get install ca-certificates)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/pach/bin" "$root/pach/lib"
# Without its symbols (a third of the image); the build keeps them.
strip --strip-unneeded -o "$root/pach/bin/pach" "$pach" 2>/dev/null || cp "$pach" "$root/pach/bin/pach"
ldd "$pach" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
	cp -L "$lib" "$root/pach/lib/"
done
interp=$(readelf -l "$pach" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] || { echo "fatal: $pach names no program interpreter" >&2; exit 1; }
cp -L "$interp" "$root/pach/lib/ld.so"
cp -L "$ca" "$root/pach/lib/ca-certificates.crt"
chmod 0755 "$root/pach" "$root/pach/bin" "$root/pach/lib" "$root/pach/bin/pach" "$root/pach/lib/ld.so"
# Everything from one source, for everyone to read: no owner, no time.
find "$root" -exec touch -h -d @0 {} +

blob() {   # file -> its digest; the file moves into blobs/sha256/
	d=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$out/blobs/sha256/$d"
	echo "$d"
}
rm -rf "$out"
mkdir -p "$out/blobs/sha256"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	tar --no-recursion --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$tmp/layer.tar" -T -)
diff_id=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$tmp/layer.tar"
layer_size=$(stat -c %s "$tmp/layer.tar.gz")
layer=$(blob "$tmp/layer.tar.gz")

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/pach/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$arch" "$diff_id" >"$tmp/config.json"
config_size=$(stat -c %s "$tmp/config.json")
config=$(blob "$tmp/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$layer_size" >"$tmp/manifest.json"
manifest_size=$(stat -c %s "$tmp/manifest.json")
manifest=$(blob "$tmp/manifest.json")

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	"$manifest" "$manifest_size" "$tag" >"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
echo "pach worker image: oci:$out:$tag ($(du -sh "$out" | cut -f1))"
