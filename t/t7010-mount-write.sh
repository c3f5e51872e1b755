#!/bin/sh
test_description='pach mount -w: writes staged on disk, committed by unmount or --commit, kept across a crash'
. ./test-lib.sh

if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && [ "$(id -u)" = 0 ]; then
	test_set_prereq FUSE
else
	say "# FUSE tests need /dev/fuse, fusermount3 and root here"
fi
wait_for() {
	i=0
	while ! "$@" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1
	done
}

test_expect_success FUSE 'setup: a store, mounted writable' '
	pach init && pach repo create images && mkdir -p d/sub &&
	echo a >d/a.txt && echo b >d/sub/b.txt && echo gone >d/del.txt && echo keep >d/sub/keep &&
	pach commit images d -m base && mkdir mnt && pach mount -w mnt && wait_for test -d mnt/images/master
'

test_expect_success FUSE 'create, overwrite, append, delete, mkdir, rename, chmod, symlink' '
	m=mnt/images/master &&
	echo new >$m/new.txt && echo changed >$m/a.txt && echo more >>$m/sub/b.txt && rm $m/del.txt &&
	mkdir $m/newdir && echo x >$m/newdir/f && mkdir $m/empty && rmdir $m/empty &&
	mv $m/sub/b.txt $m/sub/b2.txt && chmod +x $m/a.txt && ln -s a.txt $m/link &&
	test "$(cat $m/a.txt)" = changed && test -x $m/a.txt && ! test -e $m/del.txt && ! test -e $m/sub/b.txt &&
	printf "b\nmore\n" >want && test_cmp want $m/sub/b2.txt && test "$(readlink $m/link)" = a.txt &&
	ls $m >names && printf "a.txt\nlink\nnew.txt\nnewdir\nsub\n" >want && test_cmp want names
'

test_expect_success FUSE 'names a commit cannot hold (.git, .pach, *.pach-tmp) are refused' '
	for n in .git .GIT .pach x.pach-tmp; do
		! mkdir "mnt/images/master/$n" 2>err && grep -i "invalid argument" err &&
		test_must_fail touch "mnt/images/master/$n" || return 1
	done &&
	test_must_fail mv mnt/images/master/newdir mnt/images/master/.git &&
	! mkdir "mnt/images/master/$(printf "%0256d" 0)" 2>err && grep -i "too long" err
'

test_expect_success FUSE 'nothing is committed yet; the changes are staged on disk' '
	test "$(git --git-dir=.pach log --format=%s -1 images/master)" = base &&
	find .pach/pach/mounts -path "*upper*" -name new.txt | grep -q . &&
	test_must_fail sh -c "echo x >mnt/images/@$(pach rev-parse images@master | cut -c1-8)/a.txt"
'

test_expect_success FUSE 'pach mount --commit: one commit with exactly those changes' '
	pach mount --commit mnt -m "edited through the mount" >out && grep "committed images@master" out &&
	test "$(git --git-dir=.pach log --format=%s -1 images/master)" = "edited through the mount" &&
	git_fsck && pach get images@master got &&
	cp -r d exp && echo new >exp/new.txt && echo changed >exp/a.txt && chmod +x exp/a.txt &&
	printf "b\nmore\n" >exp/sub/b2.txt && rm exp/sub/b.txt exp/del.txt && mkdir exp/newdir && echo x >exp/newdir/f &&
	ln -s a.txt exp/link && diff -r --no-dereference exp got && test -x got/a.txt &&
	git --git-dir=.pach diff --name-status images/master~1 images/master >changes &&
	test_line_count = 7 changes
'

test_expect_success FUSE 'after --commit the mount shows the commit, nothing staged' '
	test "$(cat mnt/images/master/a.txt)" = changed &&
	test -z "$(find .pach/pach/mounts -path "*upper/*" -type f)"
'

test_expect_success FUSE 'the mount killed after committing (crash matrix): nothing lost; --commit again adds nothing' '
	echo d >mnt/images/master/cmdel.txt && pach mount --commit mnt >/dev/null && pach unmount mnt &&
	(PACH_TEST_CRASH_AT=mount-committed && export PACH_TEST_CRASH_AT && pach mount -w mnt) &&
	wait_for test -d mnt/images/master &&
	echo crash >mnt/images/master/cm.txt && rm mnt/images/master/cmdel.txt &&
	{ pach mount --commit mnt -m cm >out 2>err; test $? = 128; } && grep "stopped before it answered" err &&
	git_fsck && pach fsck >/dev/null && test "$(pach cat images:/cm.txt)" = crash &&
	test_must_fail pach cat images:/cmdel.txt &&
	n=$(git --git-dir=.pach rev-list --count images/master) &&
	pach mount --commit mnt >out && test "$(git --git-dir=.pach rev-list --count images/master)" = "$n" &&
	pach mount -w mnt && wait_for test -d mnt/images/master &&
	test "$(cat mnt/images/master/cm.txt)" = crash && ! test -e mnt/images/master/cmdel.txt &&
	test -z "$(find .pach/pach/mounts -path "*upper/*" -type f)" && git_fsck
'

test_expect_success FUSE 'a large file written through the mount is committed whole' '
	head -c 30000000 /dev/urandom >big && cp big mnt/images/master/big.bin &&
	pach unmount mnt >out && grep "committed images@master" out && test -z "$(ls mnt)" &&
	pach cat images:/big.bin | cmp - big && git_fsck
'

test_expect_success FUSE 'kill -9 with staged writes: remounted, the changes are still there' '
	{ pach mount -w --foreground mnt & } && pid=$! && wait_for test -d mnt/images/master &&
	echo survived >mnt/images/master/crash.txt && rm mnt/images/master/new.txt &&
	kill -9 $pid && wait $pid;
	pach mount -w mnt 2>err && grep "staged by an earlier mount" err && wait_for test -d mnt/images/master &&
	test "$(cat mnt/images/master/crash.txt)" = survived && ! test -e mnt/images/master/new.txt &&
	pach unmount mnt && pach cat images:/crash.txt >got.txt && echo survived >want.txt && test_cmp want.txt got.txt &&
	test_must_fail pach cat images:/new.txt
'

test_expect_success FUSE 'a read-only mount refuses writes' '
	pach mount mnt && wait_for test -d mnt/images/master &&
	test_must_fail sh -c "echo x >mnt/images/master/ro.txt" && pach unmount mnt
'

test_done
