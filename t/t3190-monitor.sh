#!/bin/sh
test_description='pach monitor: commits of a watched directory read only what changed, and give the tree a full walk gives'
. ./test-lib.sh


# Commit d with the monitor; it must have used the monitor's list (or, with
# "walk", walked everything) and give git's tree of d.
commit_d() {
	PACH_TRACE_PERFORMANCE=1 pach commit -q data d -m "$2" 2>trace &&
	if test "$1" = list; then grep "monitor: changes applied" trace; else ! grep "monitor: changes applied" trace; fi &&
	test "$(git --git-dir=.pach rev-parse data/master^{tree})" = "$(git_tree_of d)"
}

test_expect_success 'setup' '
	pach init && pach repo create data &&
	mkdir -p d/a/deep d/b && echo 1 >d/a/x && echo 2 >d/b/y && echo 3 >d/a/deep/z &&
	i=0 && while test $i -lt 200; do echo $i >d/b/f$i; i=$((i + 1)); done
'

test_expect_success 'bad input: one fatal line, no daemon' '
	test_fatal pach monitor start missing && grep "unable to read" fatal.err &&
	test_fatal pach monitor start d/a/x && grep "not a directory" fatal.err &&
	test_fatal pach monitor start .pach && grep "inside the store" fatal.err &&
	test_fatal pach monitor stop d && grep "no monitor watches" fatal.err &&
	test_expect_code 129 pach monitor frob d &&
	test_expect_code 1 pach monitor status d
'

test_expect_success 'start: the daemon watches every directory' '
	pach monitor start d >out &&
	grep "(pid [0-9]*, 4 directories)" out &&
	pach monitor status --json d >st &&
	grep "\"running\":true" st && grep "\"watches\":4" st &&
	test_fatal pach monitor start d && grep "already watches" fatal.err
'

test_expect_success 'the first commit walks everything; the next ones read the list' '
	commit_d walk one &&
	echo changed >d/a/x && commit_d list two &&
	git --git-dir=.pach diff --name-only data/master~1 data/master >ns && echo a/x >want && test_cmp want ns
'

test_expect_success 'adds, deletes, modes, symlinks, new and removed directories' '
	echo new >d/new && rm d/b/f7 && chmod +x d/b/f8 && ln -s a/x d/link &&
	mkdir -p d/n1/n2 && echo n >d/n1/n2/n && mkdir d/emptydir &&
	commit_d list three &&
	rm -r d/a/deep && mkdir d/emptydir/still-empty && commit_d list four &&
	echo late >d/emptydir/still-empty/f && commit_d list five &&
	rm d/link && mkdir d/link && echo in >d/link/f && commit_d list six &&
	rm -r d/link && echo file >d/link && commit_d list seven &&
	ln -sf /nonexistent d/new && commit_d list eight
'

test_expect_success 'nothing changed: nothing to commit, the list is empty' '
	pach commit data d >out && grep "nothing to commit" out &&
	commit_d list again
'

test_expect_success 'a moved directory makes the daemon start over: one full walk' '
	mv d/n1 d/n9 && commit_d walk moved &&
	echo after >d/n9/n2/n && commit_d list after-move
'

test_expect_success 'more changes than it lists: a full walk' '
	i=0 && while test $i -lt 4200; do echo $i >d/b/g$i; i=$((i + 1)); done &&
	commit_d walk many && echo x >d/b/g1 && commit_d list after-many
'

test_expect_success 'gc forgets where the list counts from' '
	pach gc >/dev/null && echo y >d/b/g2 && commit_d walk after-gc && echo z >d/b/g3 && commit_d list after-gc2
'

test_expect_success 'a killed daemon: commits walk everything, unchanged in behaviour' '
	pid=$(pach monitor status --json d | sed -n "s/.*\"pid\":\([0-9]*\).*/\1/p") &&
	kill -9 $pid && while kill -0 $pid 2>/dev/null; do sleep 0.1; done &&
	echo killed >d/a/x && commit_d walk killed &&
	test_expect_code 1 pach monitor status d
'

test "$(id -u)" = 0 && command -v setpriv >/dev/null && test -x /usr/bin/python3 && test_set_prereq ROOT_SETPRIV

test_expect_success ROOT_SETPRIV 'a monitor of another user is not believed' '
	addr=$(python3 -c "
import hashlib, os, sys
key = os.path.realpath(\".pach\").encode() + b\"\\0\" + os.path.realpath(\"d\").encode()
print(\"pach-monitor-\" + hashlib.sha1(b\"blob %d\\0\" % len(key) + key).hexdigest())") &&
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(\"\\0\" + sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept()
    try:
        c.recv(100); c.sendall(b\"token x:1\\npaths 0\\n\")
    except OSError:
        pass
    c.close()
" "$addr" &
	squatter=$! && test_when_finished "kill $squatter || true" &&
	n=0 && until grep -q "@$addr" /proc/net/unix || test $n -gt 50; do sleep 0.1; n=$((n + 1)); done &&
	echo lie >d/a/x &&
	PACH_TRACE_PERFORMANCE=1 pach commit data d -m squat 2>err &&
	grep "ignoring the file-system monitor .* uid 65534" err &&
	test "$(git --git-dir=.pach cat-file -p data/master:a/x)" = lie
'

# A monitor of our own user is believed (what it lists is what is read),
# but what it lists never reaches outside the directory or into names a
# snapshot leaves out.
test_expect_success 'paths from a monitor never lead out of the directory' '
	echo secret >outside && mkdir -p d/.git && echo g >d/.git/config &&
	addr=$(python3 -c "
import hashlib, os
key = os.path.realpath(\".pach\").encode() + b\"\\0\" + os.path.realpath(\"d\").encode()
print(\"pach-monitor-\" + hashlib.sha1(b\"blob %d\\0\" % len(key) + key).hexdigest())") &&
	python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(\"\\0\" + sys.argv[1]); s.listen(4)
names = [b\"../outside\", b\"a/../../outside\", b\".git/config\", b\"a//x\", b\"./a/x\", b\"a/./x\"]
while True:
    c, _ = s.accept()
    try:
        c.recv(100); c.sendall(b\"token y:1\\npaths %d\\n\" % len(names) + b\"\".join(n + b\"\\0\" for n in names))
    except OSError:
        pass
    c.close()
" "$addr" &
	liar=$! && test_when_finished "kill $liar || true" &&
	n=0 && until grep -q "@$addr" /proc/net/unix || test $n -gt 50; do sleep 0.1; n=$((n + 1)); done &&
	PACH_TRACE_PERFORMANCE=1 pach commit data d -m liar 2>err &&
	grep "monitor: changes applied" err &&
	! git --git-dir=.pach ls-tree -r --name-only data/master | grep -e outside -e "\.git"
'

test_expect_success 'removing the directory ends the daemon' '
	cp -r d d2 && pach monitor start d2 >/dev/null &&
	pid=$(pach monitor status --json d2 | sed -n "s/.*\"pid\":\([0-9]*\).*/\1/p") &&
	rm -rf d2 && n=0 && while kill -0 $pid 2>/dev/null && test $n -lt 50; do sleep 0.1; n=$((n + 1)); done &&
	! kill -0 $pid 2>/dev/null
'

# pach status in a work tree with a monitor: the same answer as a walk.
status_wt() {
	(cd wt && PACH_TRACE_PERFORMANCE=1 pach status -s 2>../trace >../st.mon) &&
	if test "$1" = list; then grep "work tree: changes from the monitor" trace; else ! grep "work tree: changes from the monitor" trace; fi &&
	(cd wt && PACH_NO_MONITOR=1 pach status -s >../st.walk) &&
	test_cmp st.walk st.mon
}

test_expect_success 'status in a work tree reads only what changed' '
	pach checkout data@master wt >/dev/null && pach monitor start wt >/dev/null &&
	status_wt walk && { test_must_be_empty st.mon || { cat st.mon; false; }; } &&
	echo wt-changed >wt/a/x && status_wt list && grep "a/x" st.mon &&
	echo new >wt/untracked && rm wt/b/f9 && mkdir -p wt/newdir/sub && echo n >wt/newdir/sub/n &&
	status_wt list && grep "untracked" st.mon && grep "b/f9" st.mon && grep "newdir" st.mon &&
	# what differed before is still listed though it did not change again
	status_wt list && grep "a/x" st.mon &&
	(cd wt && pach restore a/x) && status_wt list && ! grep "a/x" st.mon &&
	(cd wt && pach add untracked) && status_wt walk && grep "^A  untracked" st.mon &&
	echo again >wt/untracked && status_wt list &&
	rm -r wt/newdir && ln -s a wt/newdir && status_wt list &&
	mkdir wt/small && echo s >wt/small/s && status_wt list &&
	mv wt/small wt/small2 && status_wt walk && status_wt list && grep "small2/s" st.mon &&
	# More paths differ than it lists: a walk each time, still right.
	mv wt/b wt/b2 && status_wt walk && status_wt walk &&
	pach monitor stop wt >/dev/null
'

test_expect_success 'stop; the store is fsck-clean' '
	pach monitor start d >/dev/null && pach monitor stop d >out && grep "stopped monitoring" out &&
	test_expect_code 1 pach monitor status d &&
	git_fsck
'

test_done
