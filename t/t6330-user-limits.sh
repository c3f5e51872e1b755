#!/bin/sh
test_description='transform.user, resource_limits.cpu, empty_files, runtime choice by config and probing'
. ./test-lib.sh

if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
if command -v runc >/dev/null && runc --version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	test_set_prereq RUNC
fi
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; then
	test_set_prereq BUSYBOX
fi

# spec NAME RUNTIME EXTRA-LINES CMD: a pipeline over every file of 'in'
spec() {
	{
		echo "pipeline: {name: $1}"
		[ -n "$2" ] && echo "runtime: $2"
		[ -n "$3" ] && printf '%s\n' "$3"
		echo "transform:"
		echo "  image: dir:$PWD/rootfs"
		[ -n "$USER_LINE" ] && echo "  $USER_LINE"
		echo "  cmd: [sh, -c, \"$4\"]"
		echo "input: {pfs: {repo: in, glob: \"/*\"$EXTRA_PFS}}"
	} >"$1.yaml" &&
	pach pipeline create -f "$1.yaml"
}

test_expect_success BUSYBOX 'setup: a busybox root with users and groups' '
	mkdir -p rootfs/bin rootfs/etc rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh id cat ls wc; do ln -s busybox rootfs/bin/$a; done &&
	printf "root:x:0:0::/root:/bin/sh\napp:x:1234:4321::/:/bin/sh\n" >rootfs/etc/passwd &&
	printf "root:x:0:\nstaff:x:50:\napp:x:4321:\n" >rootfs/etc/group &&
	pach init && pach repo create in && mkdir d && echo hello >d/a && echo world >d/b && pach commit in d
'

for rt in bwrap runc; do
	prereq=$(echo $rt | tr a-z A-Z),BUSYBOX
	test_expect_success $prereq "$rt: transform.user by name, with a group by name" '
		USER_LINE="user: \"app:staff\"" spec u$rt $rt "" "id -u >/pfs/out/\$(basename \$in); id -g >>/pfs/out/\$(basename \$in)" &&
		pach run u$rt >out 2>&1 && grep "2 processed" out &&
		printf "1234\n50\n" >expect && pach cat u$rt:/a >actual && test_cmp expect actual
	'
	test_expect_success $prereq "$rt: a numeric user takes its group from /etc/passwd" '
		USER_LINE="user: \"1234\"" spec n$rt $rt "" "id -u >/pfs/out/\$(basename \$in); id -g >>/pfs/out/\$(basename \$in)" &&
		pach run n$rt >out 2>&1 &&
		printf "1234\n4321\n" >expect && pach cat n$rt:/b >actual && test_cmp expect actual
	'
done

test_expect_success BWRAP,BUSYBOX 'an unknown user is a clear error, nothing committed' '
	USER_LINE="user: ghost" spec ghost bwrap "" "id -u >/pfs/out/x" &&
	test_fatal pach run ghost && grep "user .ghost. is not in .*etc/passwd" fatal.err &&
	test_must_fail pach rev-parse ghost@master
'

test_expect_success BUSYBOX 'a bad user or cpu count in a spec names the line' '
	USER_LINE="user: \"app:\"" test_fatal spec badu bwrap "" "true" &&
	grep "badu.yaml:[0-9]*: field .transform.user.: bad user" fatal.err &&
	test_fatal spec badc bwrap "resource_limits: {cpu: lots}" "true" &&
	grep "badc.yaml:[0-9]*: field .resource_limits.cpu.: bad cpu count" fatal.err &&
	test_must_fail pach pipeline inspect badu && test_must_fail pach pipeline inspect badc
'

test_expect_success RUNC,BUSYBOX 'runc: resource_limits.cpu throttles a busy loop' '
	loop="i=0; while [ \$i -lt 150000 ]; do i=\$((i+1)); done; echo \$i >/pfs/out/\$(basename \$in)" &&
	EXTRA_PFS=", name: in" spec free runc "" "$loop" &&
	spec slow runc "resource_limits: {cpu: 100m}" "$loop" &&
	pach run free slow >out 2>&1 && test "$(pach cat slow:/a)" = 150000 &&
	secs() {
		pach datum list $(pach job list $1 --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") --json |
		python3 -c "import json,sys; print(max(d[\"seconds\"] for d in json.load(sys.stdin)))"
	} &&
	free=$(secs free) && slow=$(secs slow) &&
	echo "free $free s, limited $slow s" &&
	python3 -c "import sys; f, s = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if s > 3 * f else 1)" "$free" "$slow"
'

test_expect_success BWRAP,BUSYBOX 'limits the runtime cannot enforce are warned about' '
	spec lim bwrap "resource_limits: {memory: 64Mi}" "cat \$in >/pfs/out/\$(basename \$in)" &&
	pach run lim >out 2>err && grep "resource_limits are not enforced by the .bwrap. runtime" err
'

test_expect_success BWRAP,BUSYBOX 'empty_files: names only, and the datums rerun when it changes' '
	EXTRA_PFS=", empty_files: true" spec empty bwrap "" "wc -c <\$in >/pfs/out/\$(basename \$in)" &&
	pach run empty >out 2>&1 && test "$(pach cat empty:/a)" = 0 &&
	EXTRA_PFS= spec empty2 bwrap "" "wc -c <\$in >/pfs/out/\$(basename \$in)" &&
	pach run empty2 >out 2>&1 && test "$(pach cat empty2:/a)" = 6
'

test_expect_success BWRAP,BUSYBOX 'pach.runtime in .pach/config chooses the runtime; a bad one is fatal' '
	{
		echo "pipeline: {name: cfg}"
		echo "transform: {image: dir:$PWD/rootfs, cmd: [sh, -c, \"cat /proc/1/cmdline >/pfs/out/x; echo >>/pfs/out/x\"]}"
		echo "input: {pfs: {repo: in, glob: /}}"
	} >cfg.yaml && pach pipeline create -f cfg.yaml &&
	git --git-dir=.pach config pach.runtime local &&
	pach run cfg >out 2>err && grep "runs with the .local. runtime" err &&
	git --git-dir=.pach config pach.runtime nosuch &&
	test_fatal pach run --reprocess cfg && grep "pach.runtime: unknown runtime .nosuch." fatal.err &&
	git --git-dir=.pach config --unset pach.runtime &&
	pach run --reprocess cfg >out 2>err && ! grep "local" err
'

test_expect_success BWRAP,BUSYBOX 'the user config applies too; the store config wins' '
	mkdir -p "$HOME/.config/pach" && printf "[pach]\n\truntime = local\n" >"$HOME/.config/pach/config" &&
	pach run --reprocess cfg >out 2>err && grep "runs with the .local. runtime" err &&
	git --git-dir=.pach config pach.runtime bwrap &&
	pach run --reprocess cfg >out 2>err && ! grep "local" err &&
	rm "$HOME/.config/pach/config"
'

test_expect_success BWRAP,BUSYBOX 'with no runtime anywhere, a working one is probed (bwrap here)' '
	git --git-dir=.pach config --unset pach.runtime &&
	{
		echo "pipeline: {name: probe}"
		echo "transform: {image: dir:$PWD/rootfs, cmd: [sh, -c, \"cat /proc/net/dev | wc -l >/pfs/out/n\"]}"
		echo "input: {pfs: {repo: in, glob: /}}"
	} >probe.yaml && pach pipeline create -f probe.yaml &&
	pach run probe >out 2>err && ! grep "local" err &&
	test "$(pach cat probe:/n)" = 3 &&
	pach run --reprocess --runtime local probe >out 2>err && grep "local" err &&
	test "$(pach cat probe:/n)" -gt 3
'

test_done
