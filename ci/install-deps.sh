#!/bin/sh
# Install the Debian packages pach needs.  Run by make:
#   ci/install-deps.sh build   what `make` needs to build ./pach
#   ci/install-deps.sh doc     what `make doc` needs (asciidoctor)
#   ci/install-deps.sh demo    what `make demo` runs (bwrap, a static busybox)
#   ci/install-deps.sh test    what `make test` needs on top: unit tests,
#                              runtimes, the S3 server, shells, clang...
# As root it installs what is missing; otherwise it prints the exact
# apt-get line to run.
set -e

BUILD="g++ make pkg-config git libgit2-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
libfuse3-dev fuse3 libyaml-cpp-dev libfmt-dev"
DOC="asciidoctor"
DEMO="bubblewrap busybox-static"
TEST="$DOC $DEMO doctest-dev runc podman python3-swift memcached eatmydata awscli
xfsprogs tmux zsh fish clang slurm-wlm munge"

case "${1:-build}" in
build) PKGS="$BUILD" ;;
doc) PKGS="$BUILD $DOC" ;;
demo) PKGS="$BUILD $DEMO" ;;
test) PKGS="$BUILD $TEST" ;;
*) echo "usage: $0 [build|doc|demo|test]" >&2; exit 2 ;;
esac
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
