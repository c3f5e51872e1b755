#!/bin/sh
test_description='lazy inputs: read through a FUSE mount of the store, not copied'
. ./test-lib.sh

if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && [ "$(id -u)" = 0 ]; then
	test_set_prereq FUSE
else
	say "# lazy inputs need /dev/fuse, fusermount3 and root here"
fi
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; then
	test_set_prereq BUSYBOX
fi
no_mounts_left() { ! grep -q "$(pwd | sed 's/ /\\\\040/g')/.pach" /proc/mounts; }

test_expect_success FUSE 'setup' '
	pach init && pach repo create in && mkdir -p d/dir &&
	head -c 3000000 /dev/urandom >d/big && echo small >d/s && echo inner >d/dir/x && pach commit in d &&
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	if test -n "$busybox"; then cp "$busybox" rootfs/bin/busybox &&
		for a in sh stat sha1sum basename cat ls; do ln -s busybox rootfs/bin/$a; done; fi
'

for rt in local bwrap; do
	prereq=FUSE; [ $rt = bwrap ] && prereq=FUSE,BWRAP,BUSYBOX
	test_expect_success $prereq "$rt: a lazy input is a FUSE file with the same content" '
		cat >l$rt.yaml <<-EOF &&
		pipeline: {name: l$rt}
		runtime: $rt
		transform:
		  image: dir:$PWD/rootfs
		  cmd: [sh, -c, "b=\$(basename \$in); stat -f -c %t \$in >/pfs/out/\$b.fs; if test -d \$in; then ls \$in >/pfs/out/\$b.sum; else sha1sum <\$in >/pfs/out/\$b.sum; fi"]
		input: {pfs: {repo: in, glob: "/*", lazy: true}}
		EOF
		pach pipeline create -f l$rt.yaml && pach run l$rt >out 2>&1 && grep "3 processed" out &&
		test "$(pach cat l$rt:/big.fs)" = 65735546 && test "$(pach cat l$rt:/big.sum | cut -c1-40)" = "$(sha1sum <d/big | cut -c1-40)" &&
		test "$(pach cat l$rt:/dir.sum)" = x && no_mounts_left && git_fsck
	'
done

test_expect_success FUSE 'an unchanged lazy datum is skipped like any other' '
	echo more >d/s && pach commit in d && pach run llocal >out 2>&1 && grep "1 processed, 2 skipped" out &&
	no_mounts_left
'

test_done
