#!/bin/sh
test_description='log, show and diff'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && mkdir d &&
	printf "1\n2\n3\n" >d/t && printf "\0bin" >d/b && pach commit r d -m one &&
	printf "1\ntwo\n3\n" >d/t && printf "\0bin2" >d/b && echo n >d/new && pach commit r d -m two &&
	rm d/new && pach commit r d -m three
'

test_expect_success 'log lists newest first, with -n and --oneline' '
	pach log r --oneline >out && test_line_count = 3 out &&
	head -n 1 out | grep " three$" &&
	pach log r -n 1 >out && grep "^commit " out && grep "    three" out && ! grep "    two" out &&
	pach log r@master~1 --oneline | head -n 1 | grep " two$"
'

test_expect_success 'log --json parses' '
	pach log r --json >j && python3 -c "import json,sys; d=json.load(open(\"j\")); assert len(d)==3 and d[0][\"message\"]==\"three\\n\""
'

test_expect_success 'show: id, parents, author, message, changed paths' '
	pach show r@master~1 >out &&
	grep "^commit $(git --git-dir=.pach rev-parse r/master~1)" out &&
	grep "^Author: A U Thor <author@example.com>" out &&
	grep "^Parents: $(git --git-dir=.pach rev-parse r/master~2)" out &&
	grep "^M	/t" out && grep "^A	/new" out && grep "^M	/b" out
'

test_expect_success 'diff: unified for text, binary message otherwise' '
	pach diff r@master~2 r@master~1 >out &&
	grep "^-2$" out && grep "^+two$" out &&
	grep "^Binary files a/b and b/b differ" out &&
	grep "^+++ b/new" out
'

test_expect_success 'diff with one commit shows what it changed' '
	pach diff r@master --name-status >out && printf "D\tnew\n" >want && test_cmp want out
'

test_expect_success 'diff --stat and paths' '
	pach diff r@master~2 r@master --stat >out && grep "t *| *2 +-" out &&
	pach diff r@master~2 r@master --name-status -- t >out && printf "M\tt\n" >want && test_cmp want out &&
	pach diff r@master~2 r@master:/t --name-status >out && test_cmp want out &&
	pach diff r@master~2:/t r@master --name-status >out && test_cmp want out
'

test_expect_success 'diff --name-status agrees with git' '
	pach diff r@master~2 r@master --name-status >ours &&
	git --git-dir=.pach diff --name-status r/master~2 r/master >theirs && test_cmp theirs ours
'

test_expect_success 'bad revisions give one fatal line' '
	test_fatal pach log r@nosuch &&
	test_fatal pach log r@master~10 &&
	test_fatal pach show nosuchrepo &&
	test_fatal pach diff r@master other@master &&
	pach repo create empty && test_fatal pach log empty && grep "has no commits yet" fatal.err
'

test_expect_success 'a branch named like the folder of another (r@x next to r@x/y)' '
	pach repo create pre && echo a >pa && pach put pre@x/y:/a pa >/dev/null &&
	test_fatal pach log pre@x && grep "branch .x. not found" fatal.err &&
	test_fatal pach put pre@x:/a pa && grep "refs beneath" fatal.err &&
	pach log pre@x/y >/dev/null && git_fsck
'

test_done
