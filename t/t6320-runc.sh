#!/bin/sh
test_description='pach run with runc (OCI bundles made per datum)'
. ./test-lib.sh

if command -v runc >/dev/null && runc --version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	test_set_prereq RUNC
fi
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; then
	test_set_prereq BUSYBOX
fi

test_expect_success RUNC,BUSYBOX 'setup' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh cat cp ls echo env grep touch dd basename; do ln -s busybox rootfs/bin/$a; done &&
	pach init && pach repo create in && mkdir d && echo hello >d/a && echo world >d/b && pach commit in d &&
	cat >r.yaml <<-EOF
	pipeline: {name: r}
	runtime: runc
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh]
	  stdin:
	  - "b=\$(basename \$in); cp \$in /pfs/out/\$b"
	  - "if touch /pfs/in/x 2>/dev/null; then echo writable; else echo read-only; fi >/pfs/out/\$b.inputs"
	  - "grep -c : /proc/net/dev >/pfs/out/\$b.net"
	  - "echo \$PPS_PIPELINE_NAME >/pfs/out/\$b.env"
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f r.yaml
'

test_expect_success RUNC,BUSYBOX 'datums run in runc containers' '
	pach run >out 2>err && grep "2 processed" out &&
	test "$(pach cat r:/a)" = hello && test "$(pach cat r:/b.inputs)" = read-only &&
	test "$(pach cat r:/a.net)" = 1 && test "$(pach cat r:/a.env)" = r &&
	test -z "$(runc list -q | grep "^pach-")" && git_fsck
'

test_expect_success RUNC,BUSYBOX 'resource_limits.memory is enforced' '
	cat >m.yaml <<-EOF
	pipeline: {name: m}
	runtime: runc
	datum_tries: 1
	resource_limits: {memory: 32Mi}
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh, -c, "dd if=/dev/zero of=/dev/null bs=96M count=1 && echo fine >/pfs/out/x"]
	input: {pfs: {repo: in, glob: /}}
	EOF
	pach pipeline create -f m.yaml &&
	test_expect_code 1 pach run m >out 2>&1 && grep "1 failed" out &&
	job=$(pach job list m --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	pach logs --job $job | grep -E "killed by signal|exit code 137"
'

test_expect_success RUNC,BUSYBOX 'a timeout kills and deletes the container' '
	cat >t.yaml <<-EOF
	pipeline: {name: t}
	runtime: runc
	datum_tries: 1
	datum_timeout: 1s
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh, -c, "sleep 33"]
	input: {pfs: {repo: in, glob: /}}
	EOF
	ln -s busybox rootfs/bin/sleep &&
	pach pipeline create -f t.yaml && test_expect_code 1 pach run t >out 2>&1 && grep "1 failed" out &&
	test -z "$(runc list -q | grep "^pach-")" &&
	for i in 1 2 3 4 5 6 7 8 9 10; do pgrep -fx "sleep 33" >/dev/null || break; sleep 0.2; done &&
	! pgrep -fx "sleep 33" >/dev/null
'

test_expect_success RUNC,BUSYBOX 'crun: used where it works, refused clearly where it cannot' '
	sed "s/runtime: runc/runtime: crun/; s/name: r}/name: cr}/" r.yaml >cr.yaml && pach pipeline create -f cr.yaml &&
	if ! command -v crun >/dev/null; then
		test_fatal pach run cr && grep "crun. is not installed" fatal.err
	elif [ -d /sys/fs/cgroup/unified ] && [ -d /sys/fs/cgroup/memory ]; then
		test_fatal pach run cr && grep "hybrid cgroup" fatal.err
	else
		pach run cr && test "$(pach cat cr:/a)" = hello
	fi
'

test_done
