#!/bin/sh
# Install the Debian packages pach needs to build, test and document itself.
# Run by `make deps`.  As root it installs what is missing; otherwise it
# prints the exact apt-get line to run.
set -e

PKGS="g++ make pkg-config git libgit2-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
libfuse3-dev fuse3 libyaml-cpp-dev libfmt-dev doctest-dev asciidoctor
bubblewrap busybox-static runc podman
python3-swift memcached eatmydata awscli
xfsprogs tmux zsh fish clang"
if [ -n "$PACH_DEPS_EXTRA" ]; then
	PKGS="$PKGS $PACH_DEPS_EXTRA"
fi

missing=
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "pach needs these Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
