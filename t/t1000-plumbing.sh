#!/bin/sh
test_description='plumbing: hash-object, cat-file, rev-parse, ls-tree, and git interop'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r &&
	mkdir d && echo one >d/a && printf "bin\0ary" >d/b && mkdir d/s && echo deep >d/s/c &&
	pach commit r d -m first >commit.id
'

test_expect_success 'hash-object agrees with git' '
	pach hash-object d/a d/b >ours &&
	git hash-object d/a d/b >theirs &&
	test_cmp theirs ours &&
	printf "x" | pach hash-object --stdin >o2 && printf "x" | git hash-object --stdin >t2 && test_cmp t2 o2
'

test_expect_success 'hash-object -w writes a pack, git reads it' '
	echo written >w && oid=$(pach hash-object -w w) &&
	git --git-dir=.pach cat-file -p $oid >out && test_cmp w out &&
	test -z "$(find .pach/objects -type f -path "*/objects/??/*")"
'

test_expect_success 'cat-file -t -s -p on a pach address' '
	test "$(pach cat-file -t r@master)" = commit &&
	test "$(pach cat-file -t r@master:/s)" = tree &&
	test "$(pach cat-file -s r@master:/a)" = 4 &&
	pach cat-file -p r@master:/b >out && test_cmp d/b out &&
	pach cat-file -e r@master:/a && ! pach cat-file -e r@master:/nope
'

test_expect_success 'rev-parse and ls-tree agree with git' '
	test "$(pach rev-parse r@master)" = "$(cat commit.id)" &&
	test "$(pach rev-parse r@master)" = "$(git --git-dir=.pach rev-parse r/master)" &&
	pach ls-tree r@master >ours && git --git-dir=.pach ls-tree r/master >theirs && test_cmp theirs ours &&
	pach ls-tree -r r@master >ours && git --git-dir=.pach ls-tree -r r/master >theirs && test_cmp theirs ours
'

test_expect_success 'objects written by real git are read by pach' '
	echo "from git" >g && oid=$(git --git-dir=.pach hash-object -w g) &&
	pach cat-file -p $oid >out && test_cmp g out &&
	test "$(pach cat-file -t $oid)" = blob
'

test_expect_success 'refs packed by git are read, and updated, by pach' '
	git --git-dir=.pach pack-refs --all &&
	test_path_is_missing .pach/refs/heads/r/master &&
	test "$(pach rev-parse r@master)" = "$(git --git-dir=.pach rev-parse r/master)" &&
	echo more >d/more && pach commit r d -m packed-then-loose &&
	test "$(pach rev-parse r@master)" = "$(git --git-dir=.pach rev-parse r/master)" &&
	test "$(pach log r --oneline | wc -l)" = 2
'

test_expect_success 'pach reads deltified objects after git gc' '
	seq 1 20000 >big.txt && pach put r:/big.txt big.txt &&
	seq 1 20001 >big.txt && pach put r:/big.txt big.txt &&
	git --git-dir=.pach gc --aggressive -q 2>/dev/null &&
	pach cat r@master:/big.txt >out && test_cmp big.txt out &&
	pach cat r@master~1:/big.txt >out1 && seq 1 20000 >want && test_cmp want out1 &&
	pach fsck && git_fsck
'

test_done
