#!/bin/sh
test_description='store creation, discovery and the command line'
. ./test-lib.sh

test_expect_success 'init creates a bare git repository' '
	pach init >out &&
	grep "Initialized empty pach store" out &&
	test_path_is_dir .pach/objects &&
	test "$(git --git-dir=.pach rev-parse --is-bare-repository)" = true &&
	git_fsck
'

test_expect_success 'init refuses to reinitialise' '
	test_fatal pach init
'

test_expect_success 'init DIR creates DIR/.pach' '
	pach init sub/store &&
	test_path_is_dir sub/store/.pach
'

test_expect_success 'commands find the store by walking up' '
	pach repo create walk &&
	mkdir -p deep/er && (cd deep/er && pach repo list >../../out) &&
	grep "^walk " out
'

test_expect_success '-C and $PACH_DIR name the store' '
	pach -C sub/store repo create other &&
	pach -C sub/store repo list >out && grep "^other " out &&
	PACH_DIR=sub/store pach repo list >out2 && grep "^other " out2 &&
	! grep "^walk " out2
'

test_expect_success '-C names what is wrong with its argument, as git does' '
	test_fatal pach -C nosuch repo list && grep "cannot change to .nosuch.: No such file or directory" fatal.err &&
	touch afile && test_fatal pach -C afile repo list && grep "cannot change to .afile.: Not a directory" fatal.err
'

test_expect_success 'outside a store: one fatal line' '
	test_when_finished "rm -rf /tmp/pach-nostore.$$" &&
	mkdir -p /tmp/pach-nostore.$$ &&
	(cd /tmp/pach-nostore.$$ && test_fatal pach repo list && grep "not a pach store" fatal.err)
'

test_expect_success '-h prints usage and exits 129' '
	pach commit -h >out; test $? = 129 &&
	grep "^usage: pach commit" out
'

test_expect_success 'unknown command and option' '
	test_fatal pach frobnicate &&
	pach repo list --frob 2>err; test $? = 129 &&
	grep "unknown option" err
'

test_expect_success 'help lists commands' '
	pach help -a >out && grep "^   commit" out && grep "^   cat-file" out
'

test_expect_success 'test_when_finished: cleanups run after a failing body, in reverse order; a failing cleanup fails the test' '
	rm -f order && ! test_run_ "test_when_finished \"echo 1 >>order\" && test_when_finished \"echo 2 >>order\" && false" &&
	printf "2\n1\n" >want && test_cmp want order &&
	test_run_ "test_when_finished true && true" &&
	! test_run_ "test_when_finished false && true"
'

test_done
