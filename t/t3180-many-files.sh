#!/bin/sh
test_description='pach commit of many files: the streaming walk writes the trees git writes, and its stat cache follows every change'
. ./test-lib.sh


pach_tree_of() {
	git --git-dir=.pach rev-parse "data/master:$1"
}

test_expect_success 'setup: names that sort across directory boundaries, a big directory, deep nesting' '
	pach init && pach repo create data &&
	mkdir -p src/a src/a.b src/a-b src/a0 src/big src/deep &&
	for n in a.txt "a b" a~ a.b/x a-b/y a0/z a/c.d a/c- a/0 a/c/d/e; do
		mkdir -p "$(dirname "src/$n")" && echo "$n" >"src/$n" || return 1
	done &&
	i=0 && while test $i -lt 2600; do echo $i >src/big/f$i; i=$((i + 1)); done &&
	mkdir -p src/big/sub1 src/big/sub2 && echo s >src/big/sub1/s && echo t >src/big/sub2/t &&
	d=src/deep && for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do d=$d/l$k; done &&
	mkdir -p $d && echo bottom >$d/bottom &&
	mkdir -p src/empty/inner && ln -s a.txt src/link && printf "#!/bin/sh\n" >src/exe && chmod +x src/exe
'

test_expect_success 'the tree equals git write-tree of the same directory (one worker and many)' '
	pach commit data src -m one &&
	want=$(git_tree_of src) &&
	test "$(git --git-dir=.pach rev-parse data/master^{tree})" = "$want" &&
	git_fsck &&
	pach commit -j 1 data@master:/one src -m one-worker &&
	test "$(pach_tree_of one)" = "$want"
'

test_expect_success 'a change in the middle of the big directory is found, the rest comes from the stat cache' '
	echo changed >src/big/f1300 && rm src/big/f7 && echo new >src/big/f99999 && rm -r src/big/sub1 &&
	PACH_TRACE_PERFORMANCE=1 pach commit data src -m two 2>err &&
	git --git-dir=.pach diff --name-status data/master~1 data/master -- big >ns &&
	printf "M\tbig/f1300\nD\tbig/f7\nA\tbig/f99999\nD\tbig/sub1/s\n" >want && test_cmp want ns &&
	test "$(git --git-dir=.pach rev-parse data/master^{tree})" = "$(git_tree_of src)"
'

test_expect_success 'the stat cache holds one sorted entry per file and forgets removed ones' '
	pach commit data src -m three >out; grep "nothing to commit" out &&
	# A removed directory put back with other content of the same size
	# and mtime: new inodes, so it is read again.
	mkdir src/big/sub1 && echo S >src/big/sub1/s && touch -d "2020-01-01 00:00" src/big/sub1/s &&
	pach commit data src -m four &&
	test "$(git --git-dir=.pach cat-file -p data/master:big/sub1/s)" = S &&
	rm src/big/sub1/s && echo T >src/big/sub1/s && touch -d "2020-01-01 00:00" src/big/sub1/s &&
	pach commit data src -m five &&
	test "$(git --git-dir=.pach cat-file -p data/master:big/sub1/s)" = T
'

test_expect_success 'a second directory committed keeps the first one in the stat cache' '
	# Files changed within the racy margin of a commit are read again by
	# the next: let the last ones age, and commit once to cache them.
	sleep 1 && pach commit data src -m settle &&
	mkdir other && echo o >other/o &&
	pach commit data@master:/other other -m other &&
	# Nothing read again but the one changed file: the cache still
	# knows every other file of src.
	echo x >>src/a.txt && pach commit --json data src -m six >j &&
	grep "\"hashed\":1," j && grep "\"files\":26[0-9][0-9]," j
'

test_expect_success 'identical files, also across workers, are one object' '
	mkdir same && i=0 && while test $i -lt 3000; do echo same >same/f$i; i=$((i + 1)); done &&
	pach commit data@master:/same same -m same &&
	test "$(git --git-dir=.pach ls-tree data/master:same | cut -f1 | sort -u | wc -l)" = 1 &&
	git_fsck
'

test_expect_success 'an unreadable file is one fatal line and the branch does not move' '
	before=$(git --git-dir=.pach rev-parse data/master) &&
	mkfifo src/big/fifo &&
	pach commit data src -m fifo 2>err &&
	grep "skipping .*fifo.*not a regular file" err &&
	rm src/big/fifo &&
	mkdir src/big/noaccess && echo secret >src/big/noaccess/s && chmod 000 src/big/noaccess &&
	before=$(git --git-dir=.pach rev-parse data/master) &&
	if test "$(id -u)" = 0; then
		# root reads anything: a directory that vanishes instead
		chmod 755 src/big/noaccess && rm -r src/big/noaccess &&
		ln -s /nonexistent src/big/dangling && pach commit data src -m dangling &&
		test "$(git --git-dir=.pach cat-file -p data/master:big/dangling)" = /nonexistent
	else
		test_must_fail pach commit data src -m noaccess 2>err &&
		test_line_count = 1 err && grep "^fatal: unable to open directory" err &&
		test "$(git --git-dir=.pach rev-parse data/master)" = "$before"
	fi
'

test_expect_success 'the store is fsck-clean and the stat cache is sorted' '
	git_fsck &&
	python3 - .pach/pach/statcache <<-\PY
	import struct, sys
	b = open(sys.argv[1], "rb").read()
	assert b[:8] == b"PACHSC02", b[:8]
	i, prev, n = 8, b"", 0
	while i < len(b):
	    (l,) = struct.unpack_from("<I", b, i)
	    p = b[i + 4:i + 4 + l]
	    assert prev < p, (prev, p)
	    prev, i, n = p, i + 4 + l + 56, n + 1
	assert i == len(b)
	print(n)
	PY
'

test_done
