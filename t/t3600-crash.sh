#!/bin/sh
test_description='kill -9 and concurrent writers'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && mkdir d && echo a >d/a && pach commit r d -m one >id1
'

test_expect_success 'kill -9 during a large commit (one big file written, one not) leaves the store intact' '
	mkdir big && head -c 400000000 /dev/zero | tr "\0" "x" >big/f &&
	head -c 200000000 /dev/urandom >big/g &&
	test_crash_at pack-written pach commit r big -m big &&
	test -n "$(ls .pach/objects/pack | grep "^tmp_")" &&
	test "$(git --git-dir=.pach rev-parse r/master)" = "$(cat id1)" &&
	git_fsck && pach fsck
'

test_expect_success 'the next commit works and cleans up the leftovers' '
	pach commit r d -m after-crash &&
	test -z "$(ls .pach/objects/pack | grep "^tmp_")" &&
	git_fsck
'

test_expect_success 'kill -9 during gc leaves the store intact; gc runs again' '
	head -c 50000000 /dev/urandom >big/h && pach commit r big -m more >/dev/null &&
	pach rm r:/h >/dev/null &&
	test_crash_at gc-packed pach gc &&
	git_fsck && pach fsck &&
	test "$(pach cat r:/f | wc -c)" = 400000000 &&
	pach gc && test -z "$(ls .pach/objects/pack | grep "^tmp_")" && pach fsck && git_fsck
'

test_expect_success 'two processes committing to one branch: no commit is lost' '
	i=0 && while [ $i -lt 10 ]; do
		mkdir -p c1 c2 && echo $i >c1/f1 && echo $i >c2/f2 || exit 1
		pach put r:/one/ c1/f1 -m "p1-$i" >/dev/null & p1=$!
		pach put r:/two/ c2/f2 -m "p2-$i" >/dev/null & p2=$!
		wait $p1 || exit 1; wait $p2 || exit 1
		i=$((i+1))
	done &&
	git --git-dir=.pach log --format=%s r/master >log &&
	for i in 0 1 2 3 4 5 6 7 8 9; do grep -x "p1-$i" log && grep -x "p2-$i" log || exit 1; done &&
	test "$(pach cat r:/one/f1)" = 9 && test "$(pach cat r:/two/f2)" = 9 &&
	git_fsck
'

test_expect_success 'concurrent repo creation: each created once' '
	for n in a b c d e; do pach repo create "c$n" & done; wait &&
	test "$(pach repo list | grep -c "^c[a-e] ")" = 5
'

test_done
