#!/bin/sh
test_description='fsck finds corruption; gc frees space'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && mkdir d && head -c 3000000 /dev/urandom >d/big && echo s >d/s &&
	pach commit r d -m one
'

test_expect_success 'fsck is clean on a good store' '
	pach fsck >out && grep ": ok$" out &&
	pach fsck --json | grep "\"ok\":true"
'

test_expect_success 'gc removes what no ref reaches and frees the space' '
	pach rm r:/big &&
	git --git-dir=.pach reflog expire --expire=now --all &&
	before=$(du -sk .pach/objects | cut -f1) &&
	pach gc >out && cat out && grep "freed" out &&
	after=$(du -sk .pach/objects | cut -f1) &&
	test $((before - after)) -gt 2000 &&
	test $(ls .pach/objects/pack/*.pack | wc -l) = 1 &&
	git_fsck && pach fsck && test "$(pach cat r:/s)" = s &&
	pach cat r@master~1:/big >/dev/null 2>&1; test $? != 0
'

test_expect_success 'gc keeps history reachable from any branch' '
	head -c 1000000 /dev/urandom >d/big2 && pach commit r d -m two &&
	pach branch r keep && pach rm r:/big2 && pach gc &&
	pach cat r@keep:/big2 | cmp - d/big2 && git_fsck
'

test_expect_success 'gc drops the stat cache: re-committing after gc writes the blobs again' '
	mkdir again && head -c 100000 /dev/urandom >again/f && pach repo create tmp &&
	pach commit tmp again -m once && sleep 1 && pach commit tmp again -m warm &&
	pach repo delete tmp --force && pach gc &&
	pach repo create tmp && pach commit tmp again -m twice &&
	pach cat tmp:/f | cmp - again/f && pach fsck && git_fsck
'

test_expect_success 'gc running beside commits loses nothing' '
	pach repo create busy && mkdir b &&
	i=0 && while [ $i -lt 8 ]; do
		echo $i >b/f$i &&
		pach put busy:/ b/f$i -m "c$i" >/dev/null & p1=$!
		pach gc >/dev/null & p2=$!
		wait $p1 || exit 1; wait $p2 || exit 1
		i=$((i+1))
	done &&
	test "$(git --git-dir=.pach rev-list --count busy/master)" = 8 &&
	for i in 0 1 2 3 4 5 6 7; do test "$(pach cat busy:/f$i)" = $i || exit 1; done &&
	pach fsck && git_fsck
'

test_expect_success 'small packs are merged as commits accumulate' '
	pach repo create many && i=0 &&
	while [ $i -lt 45 ]; do echo $i >one && pach put many:/f$i one -m "c$i" >/dev/null || exit 1; i=$((i+1)); done &&
	n=$(ls .pach/objects/pack/*.pack | wc -l) && test $n -le 33 &&
	test "$(pach cat many:/f44)" = 44 && test "$(git --git-dir=.pach rev-list --count many/master)" = 45 &&
	pach fsck && git_fsck
'

test_expect_success 'gc removes a pack whose idx never came (a writer killed between the renames)' '
	p=$(ls .pach/objects/pack/*.pack | head -n 1) &&
	cp "$p" .pach/objects/pack/pack-0123456789012345678901234567890123456789.pack &&
	pach fsck >/dev/null && git_fsck && pach gc >/dev/null &&
	test_path_is_missing .pach/objects/pack/pack-0123456789012345678901234567890123456789.pack &&
	pach fsck >/dev/null && git_fsck
'

test_expect_success 'fsck detects a corrupted pack' '
	p=$(ls .pach/objects/pack/*.pack | head -n 1) && chmod u+w $p &&
	size=$(wc -c <$p) &&
	printf "XXXX" | dd of=$p bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null &&
	pach fsck 2>err; test $? = 1 && grep "error:" err
'

test_done
