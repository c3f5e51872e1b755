#!/bin/sh
test_description='pach mount -w as a file system: writes across a commit, owners and modes, hard links, FIFOs, directory renames, deep paths, cheap first writes into big files'
. ./test-lib.sh

if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && [ "$(id -u)" = 0 ]; then
	test_set_prereq FUSE
else
	say "# FUSE tests need /dev/fuse, fusermount3 and root here"
fi
# Another user, for ownership through allow_other.
if command -v setpriv >/dev/null && id -u nobody >/dev/null 2>&1; then
	test_set_prereq OTHER_USER
else
	say "# the other-user checks need setpriv and the user nobody"
fi
wait_for() {
	i=0
	while ! "$@" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1
	done
}
m=mnt/r/master
staged() { find .pach/pach/mounts -path "*upper/*" "$@"; }
# Big staged files go to <stage>/trash at a commit, emptied in the background.
trash_empty() { test -z "$(find .pach/pach/mounts -path "*/trash/*")"; }

test_expect_success FUSE 'setup: a store with a 64 MiB file and a directory, mounted writable' '
	pach init && pach repo create r && mkdir -p d/sub/deep &&
	head -c 67108864 /dev/urandom >d/big.bin && cp d/big.bin ref.bin &&
	echo a >d/a.txt && echo s >d/sub/s.txt && echo deep >d/sub/deep/x && echo keep >d/keep.txt &&
	pach commit r d -m base && mkdir mnt && chmod 755 mnt && pach mount -w mnt && wait_for test -d $m
'

test_expect_success FUSE 'a file open for writing keeps working across --commit; its later writes go into the next commit' '
	exec 5>$m/open.txt && printf one >&5 &&
	pach mount --commit mnt -m first >out && grep "committed r@master" out &&
	test "$(pach cat r:/open.txt)" = one &&
	printf two >&5 && exec 5>&- &&
	test "$(cat $m/open.txt)" = onetwo &&
	pach mount --commit mnt -m second >out && test "$(pach cat r:/open.txt)" = onetwo &&
	test -z "$(staged -type f)"
'

test_expect_success FUSE 'an existing file opened with O_TRUNC, written before and after --commit' '
	exec 5>$m/keep.txt && printf new >&5 && pach mount --commit mnt >/dev/null &&
	printf er >&5 && exec 5>&- && pach mount --commit mnt >/dev/null &&
	test "$(pach cat r:/keep.txt)" = newer && test "$(cat $m/keep.txt)" = newer
'

test_expect_success FUSE 'a file written and deleted while a commit runs is never half committed' '
	for i in 1 2 3 4 5 6 7 8; do
		( for j in 1 2 3 4 5 6 7 8 9 10; do echo "$i.$j" >$m/race.txt; done ) &
		pach mount --commit mnt >/dev/null; wait $! || return 1
	done &&
	pach mount --commit mnt >/dev/null &&
	test "$(pach cat r:/race.txt)" = 8.10 && test "$(cat $m/race.txt)" = 8.10 && git_fsck
'

test_expect_success FUSE 'new files and directories get the mode asked for under the caller umask, set-id bits as ext4 does' '
	python3 -c "
import os
os.umask(0)
os.close(os.open(\"$m/suid\", os.O_CREAT | os.O_WRONLY, 0o4777))
os.mkdir(\"$m/sgid\", 0o2775)
os.umask(0o022)
os.close(os.open(\"$m/masked\", os.O_CREAT | os.O_WRONLY, 0o777))
os.mkdir(\"$m/maskeddir\", 0o777)
" &&
	test "$(stat -c %a $m/suid)" = 4777 && test "$(stat -c %a $m/sgid)" = 775 &&
	test "$(stat -c %a $m/masked)" = 755 && test "$(stat -c %a $m/maskeddir)" = 755 &&
	chmod 2775 $m/sgid && chgrp 42 $m/sgid && touch $m/sgid/inherits && mkdir $m/sgid/sub &&
	test "$(stat -c %a:%g $m/sgid/sub)" = 2755:42 && test "$(stat -c %a:%g $m/sgid/inherits)" = 644:42
'

test_expect_success FUSE 'chown and chgrp work; git keeps no owners, the commit keeps the executable bit only' '
	echo o >$m/owned && chown 1234:5678 $m/owned && test "$(stat -c %u:%g $m/owned)" = 1234:5678 &&
	chgrp 42 $m/a.txt && test "$(stat -c %u:%g $m/a.txt)" = 0:42 &&
	chown -h 7:7 $m/suid && test "$(stat -c %u:%g:%a $m/suid)" = 7:7:777 &&
	pach mount --commit mnt >/dev/null &&
	git --git-dir=.pach ls-tree r/master >tree &&
	grep "100755 blob .*	suid" tree && grep "100644 blob .*	owned" tree &&
	test "$(stat -c %u:%g $m/owned)" = 0:0
'

test_expect_success FUSE,OTHER_USER 'another user creates a file: it owns it and can open it again (allow_other)' '
	mkdir $m/shared && chmod 1777 $m/shared &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "echo mine >$m/shared/f && echo again >>$m/shared/f" &&
	test "$(stat -c %U $m/shared/f)" = nobody && printf "mine\nagain\n" >want && test_cmp want $m/shared/f &&
	! setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "echo x >$m/a.txt" 2>err &&
	grep -i "permission denied" err
'

test_expect_success FUSE 'hard links share one inode in the mount and one blob in the commit' '
	echo linked >$m/l1 && ln $m/l1 $m/l2 && ln $m/sub/s.txt $m/s2.txt &&
	test "$(stat -c %i:%h $m/l1)" = "$(stat -c %i:%h $m/l2)" && test "$(stat -c %h $m/l1)" = 2 &&
	echo more >>$m/l2 && test "$(cat $m/l1)" = "$(printf "linked\nmore")" &&
	test "$(cat $m/s2.txt)" = s &&
	pach mount --commit mnt >/dev/null &&
	test "$(git --git-dir=.pach rev-parse r/master:l1)" = "$(git --git-dir=.pach rev-parse r/master:l2)" &&
	test "$(git --git-dir=.pach rev-parse r/master:s2.txt)" = "$(git --git-dir=.pach rev-parse r/master:sub/s.txt)" &&
	test_must_fail ln $m/sub $m/sublink
'

test_expect_success FUSE 'FIFOs live in the mount only: a commit says it leaves them out' '
	mkfifo $m/pipe && test -p $m/pipe &&
	( echo through >$m/pipe & ) && test "$(cat $m/pipe)" = through &&
	pach mount --commit mnt >out 2>err && grep "warning: .r@master/pipe. is a FIFO: not committed" err &&
	test_must_fail pach cat r:/pipe && test -p $m/pipe && rm $m/pipe && ! test -e $m/pipe
'

test_expect_success FUSE 'a committed directory renamed: one rename, its tree carried over unchanged' '
	old=$(git --git-dir=.pach rev-parse r/master:sub) &&
	mv $m/sub $m/moved && ! test -e $m/sub && test "$(cat $m/moved/deep/x)" = deep &&
	echo added >$m/moved/deep/y && mv $m/moved $m/again &&
	test "$(cat $m/again/s.txt)" = s && test "$(cat $m/again/deep/y)" = added &&
	pach mount --commit mnt >/dev/null &&
	test_must_fail git --git-dir=.pach rev-parse --verify -q r/master:sub &&
	test "$(pach cat r:/again/deep/y)" = added && test "$(pach cat r:/again/deep/x)" = deep &&
	mv $m/again/deep/y $m/y && mv $m/again $m/sub && pach mount --commit mnt >/dev/null &&
	test "$(git --git-dir=.pach rev-parse r/master:sub)" = "$old" && git_fsck
'

test_expect_success FUSE 'directory renames: over an empty directory, not over a full one, not into itself' '
	mkdir $m/empty && mv -T $m/sub $m/empty && test "$(cat $m/empty/s.txt)" = s && ! test -e $m/sub &&
	mkdir $m/full && echo f >$m/full/f &&
	! mv -T $m/empty $m/full 2>err && grep -i "not empty" err &&
	! mv $m/empty $m/empty/deep/inside 2>err && grep -i "subdirectory of itself\|invalid" err &&
	mv -T $m/empty $m/sub && pach mount --commit mnt >/dev/null &&
	test "$(pach cat r:/sub/deep/x)" = deep && test "$(pach cat r:/full/f)" = f
'

test_expect_success FUSE 'paths of 4,000 bytes below the branch, and a name over 255 bytes is too long' '
	python3 -c "
import os
os.chdir(\"$m\")
comp = \"d\" * 199
for i in range(20):
    os.mkdir(comp)
    os.chdir(comp)
open(\"leaf\", \"w\").write(\"deep down\")
" &&
	pach mount --commit mnt >/dev/null &&
	p=$(python3 -c "print(\"/\".join([\"d\" * 199] * 20))") &&
	test "$(pach cat "r:/$p/leaf")" = "deep down" &&
	long=$(printf "%0256d" 0) && ! stat "$m/$long" 2>err && grep -i "too long" err &&
	! touch "$m/$long" 2>err && grep -i "too long" err
'

# The same writes into the staged copy and into a plain copy of the file.
write_both() {
	python3 - "$m/big.bin" ref.bin <<-\EOF
	import os, random, sys
	rnd = random.Random(7)
	fds = [os.open(p, os.O_RDWR) for p in sys.argv[1:]]
	for off, n in [(10 << 20, 1), ((1 << 20) - 3, 7), (33 << 20, 3 << 20), (5, 100)] + \
	              [(rnd.randrange(0, 64 << 20), rnd.randrange(1, 70000)) for _ in range(40)]:
	    data = os.urandom(n)
	    for fd in fds:
	        os.pwrite(fd, data, off)
	for fd in fds:
	    os.close(fd)
	EOF
}

test_expect_success FUSE 'the first write into a big committed file copies nothing: the staged file holds what was written' '
	test_timeout 10 dd if=/dev/zero of=$m/big.bin bs=1 count=1 seek=12345 conv=notrunc 2>/dev/null &&
	printf "\000" | dd of=ref.bin bs=1 seek=12345 conv=notrunc 2>/dev/null &&
	f=$(staged -name big.bin) && test -n "$f" &&
	test "$(stat -c %s "$f")" = 67108864 && test $(($(stat -c %b "$f") * 512)) -le $((2 << 20)) &&
	cmp $m/big.bin ref.bin
'

test_expect_success FUSE 'writes at many offsets, a truncate and an extension read back as a plain file does, also after kill -9' '
	write_both && cmp $m/big.bin ref.bin &&
	truncate -s 50000000 $m/big.bin && truncate -s 50000000 ref.bin && cmp $m/big.bin ref.bin &&
	truncate -s 60000000 $m/big.bin && truncate -s 60000000 ref.bin && cmp $m/big.bin ref.bin &&
	pach unmount mnt >out && grep "committed r@master" out &&
	pach cat r:/big.bin | cmp - ref.bin && git_fsck &&
	{ pach mount -w --foreground mnt & } && pid=$! && wait_for test -d $m && write_both && cmp $m/big.bin ref.bin &&
	kill -9 $pid && wait $pid;
	pach mount -w mnt 2>err && wait_for test -d $m && cmp $m/big.bin ref.bin &&
	pach mount --commit mnt >/dev/null && pach cat r:/big.bin | cmp - ref.bin
'

test_expect_success FUSE 'the mount process killed while committing: nothing lost; the next commit adds nothing' '
	pach unmount mnt && (PACH_TEST_CRASH_AT=mount-committed && export PACH_TEST_CRASH_AT && pach mount -w mnt) &&
	wait_for test -d $m &&
	echo crash >$m/cm.txt && rm $m/a.txt &&
	{ pach mount --commit mnt -m cm 2>err; test $? = 128; } && grep "stopped before it answered" err &&
	git_fsck && test "$(pach cat r:/cm.txt)" = crash && test_must_fail pach cat r:/a.txt &&
	n=$(git --git-dir=.pach rev-list --count r/master) &&
	pach mount -w mnt 2>err && wait_for test -d $m && pach mount --commit mnt >out &&
	test "$(git --git-dir=.pach rev-list --count r/master)" = "$n" &&
	test "$(cat $m/cm.txt)" = crash && ! test -e $m/a.txt && test -z "$(staged -type f)" && git_fsck
'

test_expect_success FUSE 'only root and the mount owner may ask a mount to commit' '
	s=$(ls -d .pach/pach/mounts/*) && test -S "$s/ctl" &&
	python3 -c "
import os, socket, sys
os.setgid(65534); os.setuid(65534)
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1] + \"/ctl\")
c.sendall(b\"commit\\nhi\"); c.shutdown(socket.SHUT_WR)
print(c.recv(4096).decode())
" "$s" >reply 2>&1; grep "only root and the mount" reply || grep -i "permission denied" reply
'

test_expect_success FUSE 'a reader open beside a write-only writer sees every write (direct I/O keeps no stale pages)' '
	python3 - $m/log.txt <<-\EOF &&
	import mmap, os, sys
	f = sys.argv[1]
	w = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
	os.write(w, b"one\n")
	r = os.open(f, os.O_RDONLY)
	assert os.pread(r, 100, 0) == b"one\n"
	os.write(w, b"two\n")   # into the page the reader has read
	assert os.pread(r, 100, 0) == b"one\ntwo\n", os.pread(r, 100, 0)
	m = mmap.mmap(r, 0, prot=mmap.PROT_READ)
	assert m[:] == b"one\ntwo\n"
	os.close(w); os.close(r)
	# a reader first, then a write-only writer: it writes through the cache
	r = os.open(f, os.O_RDONLY)
	assert os.pread(r, 100, 0) == b"one\ntwo\n"
	w = os.open(f, os.O_WRONLY | os.O_APPEND)
	os.write(w, b"three\n")
	assert os.pread(r, 100, 0) == b"one\ntwo\nthree\n"
	os.close(w); os.close(r)
	EOF
	printf "one\ntwo\nthree\n" >want && test_cmp want $m/log.txt &&
	dd if=/dev/urandom of=big2.bin bs=1M count=40 2>/dev/null &&
	dd if=big2.bin of=$m/big2.bin bs=1M conv=fsync 2>/dev/null && cmp big2.bin $m/big2.bin &&
	pach mount --commit mnt >/dev/null && test "$(pach cat r:/big2.bin | cmp - big2.bin && echo same)" = same &&
	test -z "$(staged -name big2.bin)" && wait_for trash_empty
'

test_expect_success FUSE,OTHER_USER 'a write by another user clears set-user-ID (and set-group-ID with group execute)' '
	mkdir -m 777 $m/setid && for mode in 4777 2777 6777 2767; do
		: >$m/setid/f$mode && chmod $mode $m/setid/f$mode &&
		setpriv --reuid=nobody --regid=nogroup --clear-groups dd if=/dev/zero of=$m/setid/f$mode bs=1 count=1 conv=notrunc 2>/dev/null ||
		return 1
	done &&
	test "$(stat -c %a $m/setid/f4777 $m/setid/f2777 $m/setid/f6777 $m/setid/f2767)" = "$(printf "777\n777\n777\n2767")"
'

test_expect_success FUSE 'unmount' '
	pach unmount mnt && test -z "$(ls mnt)"
'

test_done
