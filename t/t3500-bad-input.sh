#!/bin/sh
test_description='bad input: one fatal line, non-zero exit, store unchanged'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && mkdir d && echo a >d/a && pach commit r d -m one &&
	store_state >before
'

check_unchanged() { store_state >after && test_cmp before after; }

test_expect_success 'unknown repo or branch' '
	test_fatal pach commit nope d && check_unchanged &&
	test_fatal pach ls nope && test_fatal pach ls r@nobranch && check_unchanged
'

test_expect_success 'bad names' '
	test_fatal pach commit "b@d name" d && test_fatal pach commit "r@a..b" d && check_unchanged
'

test_expect_success 'missing source' '
	test_fatal pach commit r nosuchdir && test_fatal pach put r:/x nosuchfile && check_unchanged
'

test_have_prereq SANITY || say "# skipping the unreadable-file test: as root every file is readable (the next test covers root)"
test_expect_success SANITY 'unreadable file' '
	test_when_finished "rm -f d/secret" &&
	echo secret >d/secret && chmod 000 d/secret &&
	test_fatal pach commit r d && check_unchanged
'

test_expect_success 'unreadable file (as root: a fifo is skipped, a dangling dir fails)' '
	mkdir -p bad/sub && chmod 000 bad/sub && echo x >bad/f &&
	if [ "$(id -u)" = 0 ]; then true; else test_fatal pach commit r bad && check_unchanged; fi;
	chmod 755 bad/sub
'

test_expect_success 'paths escaping with ..' '
	test_fatal pach put "r:/../etc/x" d/a && test_fatal pach cat "r:/a/../../x" && check_unchanged
'

test_expect_success 'malformed addresses' '
	test_fatal pach ls "r@" && test_fatal pach ls "@master" && test_fatal pach ls ":/x" &&
	test_fatal pach cat "r@master:/.git/config" && check_unchanged
'

test_expect_success 'commit to a commit id or ancestry is refused' '
	id=$(git --git-dir=.pach rev-parse r/master) &&
	test_fatal pach commit "r@$id" d && test_fatal pach put "r@master~1:/x" d/a && check_unchanged
'

test_expect_success 'not a store' '
	test_fatal pach -C d repo list
'

test_expect_success 'the store is fsck-clean after all that' '
	git_fsck && pach fsck
'

test_done
