#!/bin/sh
test_description='transform.datum_batching: one process serves many datums through pach next-datum (or the FIFOs)'
. ./test-lib.sh

test_expect_success 'setup: 30 one-file datums; a batched pipeline and the same one unbatched' '
	pach init && pach repo create in && mkdir d &&
	for i in $(seq 1 30); do echo $i >d/f$i; done && pach commit in d >/dev/null &&
	cat >b.yaml <<-\EOF &&
	pipeline: {name: batched}
	runtime: local
	transform:
	  datum_batching: true
	  cmd: [sh, -c, "while eval \"$(pach next-datum)\"; do echo \"datum $PACH_DATUM_ID pid $$\"; cp $in /pfs/out/; done"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	cat >u.yaml <<-\EOF &&
	pipeline: {name: unbatched}
	runtime: local
	transform:
	  cmd: [sh, -c, "cp $in /pfs/out/"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f b.yaml && pach pipeline create -f u.yaml
'

test_expect_success 'the output is what one process per datum gives; one process per slot served them' '
	pach run -j 2 >out 2>err && grep "batched: job .* 30 processed, 0 skipped, 0 failed" out &&
	test "$(git --git-dir=.pach rev-parse refs/heads/batched/master^{tree})" = \
	     "$(git --git-dir=.pach rev-parse refs/heads/unbatched/master^{tree})" &&
	pach logs batched >logs && test $(grep -c "^datum " logs) = 30 &&
	sed -n "s/^datum \([0-9a-f]*\) pid .*/\1/p" logs | sort -u | wc -l >n && echo 30 >want && test_cmp want n &&
	sed -n "s/^datum .* pid //p" logs | sort -u | wc -l >pids && test $(cat pids) -le 2 &&
	# every datum saw its own id: the environment comes with each datum
	pach job list batched --json >/dev/null &&
	! pgrep -f "pach next-datum" &&
	git_fsck
'

test_expect_success 'a datum the code says failed (--error) fails with the message; the rest succeed in a new process' '
	cat >e.yaml <<-\EOF &&
	pipeline: {name: picky}
	runtime: local
	datum_tries: 1
	transform:
	  datum_batching: true
	  cmd: [sh, -c, "first=; while if [ -n \"$first\" ]; then eval \"$(pach next-datum $err)\"; else first=1; eval \"$(pach next-datum)\"; fi; do err=; echo \"pid $$\"; case $in in */f7) err=\"--error seven-is-bad\"; continue;; esac; cp $in /pfs/out/; done"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f e.yaml &&
	test_expect_code 1 pach run picky -j 1 >out 2>err &&
	grep "30 datums: 30 processed, 0 skipped, 1 failed" out &&
	pach logs picky >logs && grep "user code reported an error: seven-is-bad" logs &&
	sed -n "s/^pid //p" logs | sort -u | wc -l >pids && test $(cat pids) = 2
'

test_expect_success 'code that exits before the datum is done fails that datum; the next starts a new process' '
	cat >x.yaml <<-\EOF &&
	pipeline: {name: quits}
	runtime: local
	datum_tries: 2
	transform:
	  datum_batching: true
	  cmd: [sh, -c, "while eval \"$(pach next-datum)\"; do case $in in */f3) echo leaving; exit 4;; esac; cp $in /pfs/out/; done"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f x.yaml &&
	test_expect_code 1 pach run quits -j 1 >out 2>err &&
	grep "1 failed" out && pach logs quits >logs &&
	test $(grep -c "^leaving" logs) = 2 &&
	grep "user code exited (exit code 4) before it finished the datum" logs
'

test_expect_success 'datum_timeout: a datum taking too long is killed and fails' '
	cat >t.yaml <<-\EOF &&
	pipeline: {name: slowpoke}
	runtime: local
	datum_tries: 1
	datum_timeout: 1s
	transform:
	  datum_batching: true
	  cmd: [sh, -c, "while eval \"$(pach next-datum)\"; do case $in in */f5) sleep 30;; esac; cp $in /pfs/out/; done"]
	input: {pfs: {repo: in, glob: "/f[1-6]"}}
	EOF
	pach pipeline create -f t.yaml &&
	test_expect_code 1 pach run slowpoke -j 1 >out 2>err &&
	grep "6 datums: 6 processed, 0 skipped, 1 failed" out &&
	pach logs slowpoke >logs && grep "datum timed out" logs && ! pgrep -fx "sleep 30"
'

if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	busybox=$(command -v busybox)
	file -L "$busybox" 2>/dev/null | grep -q "statically linked" && test_set_prereq BWRAP
fi

test_expect_success BWRAP 'in a container without pach, the FIFOs at /tmp/pach-batch are the protocol' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs && cp "$busybox" rootfs/bin/busybox &&
	for a in sh cat cp echo; do ln -s busybox rootfs/bin/$a; done &&
	cat >c.yaml <<-EOF &&
	pipeline: {name: boxed}
	transform:
	  image: dir:$PWD/rootfs
	  datum_batching: true
	  cmd: [sh, -c, "while echo ok >\$PACH_NEXT_DATUM/next && eval \"\$(cat \$PACH_NEXT_DATUM/ready)\"; do echo \"in \$PACH_NEXT_DATUM pid \$\$\"; cp \$in /pfs/out/; done"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f c.yaml && pach run boxed -j 1 --runtime bwrap >out 2>err &&
	grep "30 processed, 0 skipped, 0 failed" out &&
	test "$(git --git-dir=.pach rev-parse refs/heads/boxed/master^{tree})" = \
	     "$(git --git-dir=.pach rev-parse refs/heads/unbatched/master^{tree})" &&
	pach logs boxed >logs && grep "^in /tmp/pach-batch pid" logs >lines && test $(wc -l <lines) = 30 &&
	sed -n "s/.* pid //p" logs | sort -u | wc -l >pids && test $(cat pids) = 1
'

test_expect_success 'outside a batch, next-datum says so' '
	test_fatal env -u PACH_NEXT_DATUM pach next-datum && grep "not in a datum batch" fatal.err
'

test_done
