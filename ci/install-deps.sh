#!/bin/sh
# Install the Debian packages pach needs.  Run by make:
#   ci/install-deps.sh build   what `make` needs to build ./pach
#   ci/install-deps.sh doc     what `make doc` needs (asciidoctor)
#   ci/install-deps.sh demo    what `make demo` runs (bwrap, a static busybox)
#   ci/install-deps.sh test    what `make test` needs on top: unit tests,
#                              runtimes, the S3 server, shells, clang...,
#                              and (npm) the Kubernetes API schema packages
#                              t6620 checks manifests against
# As root it installs what is missing; otherwise it prints the exact
# apt-get line to run.
set -e

BUILD="g++ make pkg-config git libgit2-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
libfuse3-dev fuse3 libyaml-cpp-dev libfmt-dev libmicrohttpd-dev"
DOC="asciidoctor"
DEMO="bubblewrap busybox-static"
TEST="$DOC $DEMO doctest-dev runc podman python3-swift memcached eatmydata awscli
xfsprogs tmux zsh fish clang slurm-wlm munge nodejs python3-yaml python3-boto3
rclone s3cmd chromium"

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

# The Kubernetes API's schema, as two npm packages generate it from the
# API's OpenAPI document: kubernetes-models (validators: types, required
# fields, enums, formats) and @kubernetes/client-node (every type's
# fields); and playwright-core, which drives Debian's Chromium in the
# console's browser test (t8020).  Pinned; installed once into $KUBE_SCHEMA.
KUBE_SCHEMA=${PACH_KUBE_SCHEMA:-/var/lib/pach-test/kube-schema}
KUBE_PKGS="kubernetes-models@5.1.0 @kubernetes/client-node@2.0.1 js-yaml@4.1.0 playwright-core@1.64.1"
kube_schema() {
	[ "$(cat "$KUBE_SCHEMA/.pinned" 2>/dev/null)" = "$KUBE_PKGS" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "the Kubernetes tests need: npm install --prefix $KUBE_SCHEMA $KUBE_PKGS" >&2
		return 0
	fi
	command -v npm >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends npm >/dev/null
	mkdir -p "$KUBE_SCHEMA"
	# shellcheck disable=SC2086
	if npm install --prefix "$KUBE_SCHEMA" --no-audit --no-fund --silent $KUBE_PKGS >/dev/null 2>&1; then
		echo "$KUBE_PKGS" >"$KUBE_SCHEMA/.pinned"
	else
		echo "warning: npm could not install $KUBE_PKGS: t6620 will skip its schema checks" >&2
	fi
}

missing=
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	[ "${1:-build}" = test ] && kube_schema
	exit 0
fi

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
[ "${1:-build}" = test ] && kube_schema
exit 0
