#!/bin/sh
test_description='pach put and pach rm'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && echo a >a && echo b >b && mkdir d && echo dd >d/dd
'

test_expect_success 'put files into a directory path' '
	pach put r@master:/extra/ a b -m two &&
	pach ls r:/extra >out && printf "/extra/a\n/extra/b\n" >want && test_cmp want out
'

test_expect_success 'put one file to a file path, then overwrite' '
	pach put r:/x.txt a && test "$(pach cat r:/x.txt)" = a &&
	pach put r:/x.txt b && test "$(pach cat r:/x.txt)" = b &&
	test "$(git --git-dir=.pach rev-list --count r/master)" = 3
'

test_expect_success 'put a directory merges and never deletes' '
	pach put r:/tree d && echo more >d/more && rm d/dd && pach put r:/tree d &&
	pach ls -r r:/tree >out && printf "/tree/dd\n/tree/more\n" >want && test_cmp want out
'

test_expect_success 'put from stdin streams into a file' '
	seq 1 100000 | pach put r:/nums.txt - &&
	seq 1 100000 >want && pach cat r:/nums.txt >got && test_cmp want got
'

test_expect_success 'stdin needs a file path' '
	store_state >before &&
	echo x | test_fatal pach put r - &&
	echo x | test_fatal pach put r:/dir/ - &&
	store_state >after && test_cmp before after
'

test_expect_success 'rm deletes files, directories need -r' '
	pach rm r:/x.txt &&
	test_fatal pach cat r:/x.txt &&
	test_fatal pach rm r:/tree &&
	pach rm -r r:/tree &&
	test_fatal pach ls r:/tree
'

test_expect_success 'rm of several paths is one commit' '
	n=$(git --git-dir=.pach rev-list --count r/master) &&
	pach rm r:/extra/a r:/extra/b &&
	test "$(git --git-dir=.pach rev-list --count r/master)" = $((n + 1)) &&
	test_fatal pach ls r:/extra
'

test_expect_success 'rm of a missing path fails and changes nothing' '
	store_state >before && test_fatal pach rm r:/nope && store_state >after && test_cmp before after &&
	git_fsck
'

test_done
