#!/bin/sh
test_description='pach mount: repos, branches and commits as a read-only FUSE filesystem'
. ./test-lib.sh

if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && [ "$(id -u)" = 0 ]; then
	test_set_prereq FUSE
else
	say "# FUSE tests need /dev/fuse, fusermount3 and root here"
fi

# wait_for CMD...: up to 10 s for CMD to succeed.
wait_for() {
	i=0
	while ! "$@" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1
	done
}
unmount_quietly() { fusermount3 -u "$1" 2>/dev/null || true; }

test_expect_success FUSE 'setup: a store with files of every kind' '
	pach init && pach repo create images && mkdir -p d/sub/deep &&
	echo one >d/a.txt && printf "#!/bin/sh\necho hi\n" >d/run.sh && chmod +x d/run.sh &&
	ln -s a.txt d/link && echo deep >d/sub/deep/x && printf "tab\there" >"d/sub/with space" &&
	head -c 20000000 /dev/urandom >d/random.bin && seq 1 2000000 >d/text.txt &&
	pach commit images d -m first && first=$(pach rev-parse images@master) &&
	echo two >d/a.txt && pach commit images d -m second && pach branch images dev &&
	mkdir mnt
'

test_expect_success FUSE 'mount shows repos and branches' '
	pach mount mnt && wait_for test -d mnt/images/master &&
	ls mnt >repos && echo images >want && test_cmp want repos &&
	ls mnt/images >branches && printf "dev\nmaster\n" >want && test_cmp want branches
'

test_expect_success FUSE 'a branch reads as pach get of it: diff -r' '
	pach get images@master out && diff -r --no-dereference out mnt/images/master
'

test_expect_success FUSE 'every file has the content git has for it' '
	git --git-dir=.pach ls-tree -r images/master | while read -r mode type oid path; do
		[ "$mode" = 120000 ] && continue
		a=$(git --git-dir=.pach cat-file blob $oid | sha1sum) && b=$(sha1sum <"mnt/images/master/$path") &&
		test "$a" = "$b" || { echo "differs: $path"; exit 1; }
	done
'

test_expect_success FUSE 'modes, symlinks, sizes, mtime = commit time' '
	test -x mnt/images/master/run.sh && ! test -x mnt/images/master/a.txt &&
	test "$(readlink mnt/images/master/link)" = a.txt &&
	test "$(stat -c %s mnt/images/master/random.bin)" = 20000000 &&
	test "$(stat -c %Y mnt/images/master/a.txt)" = "$(git --git-dir=.pach log -1 --format=%ct images/master)" &&
	test_must_fail sh -c "echo x >mnt/images/master/a.txt"
'

test_expect_success FUSE 'any commit by id: @<prefix>' '
	first=$(git --git-dir=.pach rev-list images/master | tail -1) && short=$(echo $first | cut -c1-10) && test "$(cat mnt/images/@$short/a.txt)" = one &&
	test "$(cat mnt/images/master/a.txt)" = two && ! test -e mnt/images/@ffffffffff
'

test_expect_success FUSE 'random-offset reads match the original (stored and compressed data)' '
	python3 - "$PWD" <<-\PY
	import os, random, sys
	root = sys.argv[1]
	random.seed(7)
	for name in ("random.bin", "text.txt"):
	    orig = open(os.path.join(root, "d", name), "rb").read()
	    with open(os.path.join(root, "mnt/images/master", name), "rb") as f:
	        for _ in range(300):
	            off = random.randrange(len(orig))
	            n = random.randrange(1, 300000)
	            f.seek(off)
	            if f.read(n) != orig[off:off + n]:
	                sys.exit("mismatch in %s at %d+%d" % (name, off, n))
	PY
'

test_expect_success FUSE 'concurrent readers' '
	want=$(sha1sum <d/random.bin) &&
	for i in 1 2 3 4; do sha1sum <mnt/images/master/random.bin >sum.$i & done; wait &&
	for i in 1 2 3 4; do test "$(cat sum.$i)" = "$want" || exit 1; done
'

test_expect_success FUSE 'a branch directory follows new commits' '
	echo three >d/new.txt && pach commit images d &&
	wait_for test -f mnt/images/master/new.txt && test "$(cat mnt/images/master/new.txt)" = three &&
	! test -e mnt/images/dev/new.txt
'

test_expect_success FUSE 'a busy mount is reported and left mounted; then unmount is clean' '
	(exec 7<mnt/images/master/a.txt; sleep 3) & sleep 0.5 &&
	test_fatal pach unmount mnt && grep "busy" fatal.err && test -d mnt/images && wait &&
	pach unmount mnt && test -z "$(ls mnt)"
'

test_expect_success FUSE 'a mount whose process died is recovered by pach unmount' '
	{ pach mount --foreground mnt & } && pid=$! && wait_for test -d mnt/images &&
	kill -9 $pid && wait $pid; ! ls mnt/images >/dev/null 2>&1 &&
	pach unmount mnt && test -z "$(ls mnt)"
'

test_expect_success FUSE 'mount only some repos or branches' '
	pach repo create other && echo o >o && pach put other o &&
	pach mount mnt images@dev && wait_for test -d mnt/images &&
	ls mnt >repos && echo images >want && test_cmp want repos &&
	ls mnt/images >branches && echo dev >want && test_cmp want branches &&
	pach unmount mnt
'

test_expect_success FUSE 'bad input: one fatal line' '
	pach mount mnt && wait_for test -d mnt/images &&
	test_fatal pach mount mnt && grep "already a pach mount" fatal.err && pach unmount mnt &&
	test_fatal pach mount nosuchdir && grep "not a directory" fatal.err &&
	test_fatal pach mount mnt nosuchrepo && grep "nosuchrepo" fatal.err &&
	test_fatal pach unmount mnt && grep "not mounted" fatal.err
'

unmount_quietly mnt
test_done
