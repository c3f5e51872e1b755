#!/bin/sh
test_description='pach config (store and user level) and the nearest command for a typo'
. ./test-lib.sh

test_expect_success 'set, get, list, unset at store level; git reads the same file' '
	pach init && pach config set pach.runtime bwrap && test "$(pach config get pach.runtime)" = bwrap &&
	test "$(git --git-dir=.pach config pach.runtime)" = bwrap &&
	pach config list | grep -x "pach.runtime=bwrap" &&
	pach config list --json | python3 -c "import json,sys; assert {\"key\":\"pach.runtime\",\"value\":\"bwrap\"} in json.load(sys.stdin)" &&
	pach config unset pach.runtime && test_expect_code 1 pach config get pach.runtime
'

test_expect_success '--global writes ~/.config/pach/config; the store level wins' '
	pach config set --global pach.runtime local && grep "runtime = local" "$HOME/.config/pach/config" &&
	test "$(pach config get pach.runtime)" = local && test "$(pach config get --global pach.runtime)" = local &&
	pach config set pach.runtime runc && test "$(pach config get pach.runtime)" = runc &&
	pach config list | grep -c "pach.runtime" >n && test "$(cat n)" = 2 &&
	pach config unset --global pach.runtime && ! test -n "$(pach config get --global pach.runtime)"
'

test_expect_success 'bad keys and missing keys: one fatal line, nothing written' '
	cp .pach/config before &&
	test_fatal pach config set nodot value && grep "invalid config item name" fatal.err &&
	test_fatal pach config unset never.set && grep "is not set" fatal.err &&
	test_cmp before .pach/config
'

test_expect_success 'an unknown command names the nearest one' '
	test_fatal pach comit && grep "did you mean .commit." fatal.err &&
	test_fatal pach pipe && grep "did you mean .pipeline." fatal.err &&
	test_fatal pach xyzzy && ! grep "did you mean" fatal.err
'

test_done
