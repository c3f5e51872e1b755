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

test_expect_success 'user.name/user.email: environment, then the store, then the user level' '
	pach repo create r && mkdir d && echo 1 >d/f &&
	test_when_finished "rm -f ../who1 ../who2" &&
	pach config set --global user.name "Global Person" && pach config set --global user.email g@example.com &&
	(unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL &&
	 pach commit r d >/dev/null && git --git-dir=.pach log -1 --format="%an <%ae>|%cn" r/master >../who1 &&
	 pach config set user.name "Store Person" && echo 2 >d/f && pach commit r d >/dev/null &&
	 git --git-dir=.pach log -1 --format="%an <%ae>" r/master >../who2) &&
	echo 3 >d/f && pach commit r d >/dev/null && git --git-dir=.pach log -1 --format="%an" r/master >who3 &&
	test "$(cat ../who1)" = "Global Person <g@example.com>|Global Person" &&
	test "$(cat ../who2)" = "Store Person <g@example.com>" && test "$(cat who3)" = "A U Thor"
'

test_expect_success 'run.jobs is the default for pach run -j' '
	mkdir in && for i in 1 2 3 4; do echo $i >in/$i; done && pach repo create w && pach commit w in >/dev/null &&
	cat >slow.yaml <<-\EOF &&
	pipeline: {name: slow}
	runtime: local
	transform: {cmd: [sh, -c, "sleep 1; cp /pfs/w/* /pfs/out/"]}
	input: {pfs: {repo: w, glob: "/*"}}
	EOF
	pach pipeline create -f slow.yaml 2>/dev/null && pach config set run.jobs 4 &&
	start=$(date +%s) && pach run >/dev/null 2>&1 && end=$(date +%s) &&
	test $((end - start)) -lt 4
'

command -v script >/dev/null && command -v man >/dev/null && test -f "$PACH_BUILD_DIR/build/man/pach-checkout.1" &&
	test_set_prereq MAN
test_expect_success MAN 'pach help CMD shows the man page on a terminal' '
	MANPAGER=cat script -qec "pach help checkout" /dev/null >page && grep "PACH-CHECKOUT(1)" page
'

test_expect_success 'pach help CMD shows the whole page built into the binary, with no pages installed' '
	mkdir -p bare && cp "$(command -v pach)" bare/pach &&
	bare/pach help run >page && grep "^PACH-RUN(1)" page && grep "^DESCRIPTION" page && grep "^EXIT STATUS" page &&
	grep "PACH_DATUM_<input name>_JOIN_ON" page && ! grep "^==\|^:doctype\|^----\|^\[verse\]" page &&
	for c in $(pach help -a | sed -n "s/^   \([a-z-]*\)$/\1/p"); do
		bare/pach help $c >page && grep -q "^PACH-$(echo $c | tr a-z A-Z)(1)" page || { echo "no page: $c"; return 1; }
	done &&
	pach checkout -h >usage; grep "^usage: pach checkout" usage
'
test_have_prereq MAN || say "# skipping the man page test: needs script, man and built pages (make doc)"

test_expect_success 'an unknown command names the nearest one' '
	test_fatal pach comit && grep "did you mean .commit." fatal.err &&
	test_fatal pach pipe && grep "did you mean .pipeline." fatal.err &&
	test_fatal pach xyzzy && ! grep "did you mean" fatal.err
'

test_done
