#!/bin/sh
test_description='pach run in real containers (bubblewrap over a busybox root)'
. ./test-lib.sh

if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox)
if [ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
	test_set_prereq BUSYBOX
elif [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
	busybox=/bin/busybox
	test_set_prereq BUSYBOX
fi

test_expect_success BWRAP,BUSYBOX 'setup: a busybox root filesystem and some input' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh cat cp ls echo wc tr env touch mkdir grep test cut; do ln -s busybox rootfs/bin/$a; done &&
	pach init && pach repo create in && mkdir d && echo hello >d/a && echo world >d/b && pach commit in d &&
	cat >c.yaml <<-EOF
	pipeline: {name: c}
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh]
	  stdin:
	  - "cp \$in /pfs/out/\$(basename \$in)"
	  - "env | grep -E \"^(PACH_JOB_ID|PACH_DATUM_ID|PPS_PIPELINE_NAME|in)=\" | sort >/pfs/out/\$(basename \$in).env"
	  - "if touch /pfs/in/x 2>/dev/null; then echo writable; else echo read-only; fi >/pfs/out/\$(basename \$in).inputs"
	  - "if touch /bin/x 2>/dev/null; then echo writable; else echo read-only; fi >/pfs/out/\$(basename \$in).root"
	  - "touch /tmp/ok && echo tmp-ok >/pfs/out/\$(basename \$in).tmp"
	  - "grep -c : /proc/net/dev >/pfs/out/\$(basename \$in).net"
	  env: {GREETING: hi}
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f c.yaml
'

test_expect_success BWRAP,BUSYBOX 'the image choice picks bwrap; outputs land in the output repo' '
	pach run >out 2>err && grep "2 processed" out && ! grep "local" err &&
	test "$(pach cat c:/a)" = hello && test "$(pach cat c:/b)" = world && git_fsck
'

test_expect_success BWRAP,BUSYBOX 'inputs and the root are read-only, /tmp is private and writable' '
	test "$(pach cat c:/a.inputs)" = read-only && test "$(pach cat c:/a.root)" = read-only &&
	test "$(pach cat c:/a.tmp)" = tmp-ok && test_path_is_missing rootfs/tmp/ok
'

test_expect_success BWRAP,BUSYBOX 'no network but loopback inside' '
	test "$(pach cat c:/a.net)" = 1
'

test_expect_success BWRAP,BUSYBOX 'Pachyderm environment inside the container' '
	pach cat c:/b.env >env &&
	grep "^in=/pfs/in/b$" env && grep "^PPS_PIPELINE_NAME=c$" env &&
	grep "^PACH_JOB_ID=[0-9a-f]\{32\}$" env && grep "^PACH_DATUM_ID=[0-9a-f]\{40\}$" env
'

test_expect_success BWRAP,BUSYBOX 'only the changed datum runs again' '
	echo again >d/b && pach commit in d && pach run >out && grep "1 processed, 1 skipped" out &&
	test "$(pach cat c:/b)" = again
'

test_expect_success BWRAP,BUSYBOX 'a missing image directory is a clear error' '
	sed "s|rootfs|nosuch|" c.yaml | sed "s/name: c}/name: c2}/" >c2.yaml && pach pipeline create -f c2.yaml &&
	test_fatal pach run c2 && grep "is not a directory" fatal.err
'

test_done
