#!/bin/sh
test_description='repo and branch management'
. ./test-lib.sh

test_expect_success 'create, list, inspect' '
	pach init && pach repo create images -d "raw photos" &&
	pach repo list >out && grep "^images .* raw photos" out &&
	pach repo inspect images >out && grep "^Name: images" out &&
	pach repo list --json >j && grep "\"name\":\"images\"" j &&
	pach repo inspect images --json | grep "\"description\":\"raw photos\""
'

test_expect_success 'create twice fails and changes nothing' '
	store_state >before && test_fatal pach repo create images && store_state >after && test_cmp before after
'

test_expect_success 'bad repo names are refused' '
	test_fatal pach repo create "bad name" &&
	test_fatal pach repo create "a/b" &&
	test_fatal pach repo create "" &&
	test_fatal pach repo create "x@y"
'

test_expect_success 'branches: create from master, list, delete' '
	mkdir d && echo 1 >d/f && pach commit images d -m one &&
	pach branch images dev &&
	pach branch images >out && grep "^dev " out && grep "^master " out &&
	test "$(git --git-dir=.pach rev-parse images/dev)" = "$(git --git-dir=.pach rev-parse images/master)" &&
	pach branch images feature/x master &&
	git --git-dir=.pach rev-parse --verify refs/heads/images/feature/x &&
	pach branch -d images dev && ! git --git-dir=.pach rev-parse --verify -q refs/heads/images/dev &&
	pach branch images --json | grep "\"name\":\"feature/x\""
'

test_expect_success 'bad branch names and missing start points' '
	test_fatal pach branch images "a..b" &&
	test_fatal pach branch images "x.lock" &&
	test_fatal pach branch images new nosuchbranch &&
	test_fatal pach branch images master &&
	test_fatal pach branch -d images nosuch
'

test_expect_success 'delete asks for --force when the repo has commits' '
	test_fatal pach repo delete images &&
	pach repo list | grep "^images" &&
	pach repo delete images --force &&
	! pach repo list | grep "^images" &&
	test -z "$(git --git-dir=.pach for-each-ref refs/heads/images/)" &&
	test_fatal pach repo inspect images
'

test_expect_success 'an empty repo deletes without --force' '
	pach repo create empty && pach repo delete empty && test_fatal pach repo inspect empty &&
	git_fsck
'

test_done
