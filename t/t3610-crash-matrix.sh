#!/bin/sh
test_description='crash matrix: kill -9 at named points (PACH_TEST_CRASH_AT) of every writing command; after each, git fsck --strict is clean, nothing committed is lost, and the same command run again completes'
. ./test-lib.sh

crash() { test_crash_at "$@"; }
# intact [STORE]: git's strictest check and pach's own.
intact() { git_fsck "${1:-.pach}" && (cd "${1:-.pach}/.." && pach fsck >/dev/null); }
tip() { git --git-dir="${2:-.pach}" rev-parse --verify -q "refs/heads/$1"; }

test_expect_success 'setup: a store with history, a remote, a pipeline' '
	pach init . >/dev/null && pach repo create r && mkdir d && echo one >d/a && seq 1 1000 >d/n &&
	pach commit r d -m one >/dev/null && tip r/master >t1 &&
	pach remote add origin "file://$TRASH_DIRECTORY/remote" && pach push >/dev/null &&
	cat >p.yaml <<-\EOF &&
	pipeline: {name: up}
	runtime: local
	transform: {cmd: [sh, -c, "tr a-z A-Z <$r >/pfs/out/$(basename $r)"]}
	input: {pfs: {repo: r, glob: "/*"}}
	EOF
	pach pipeline create -f p.yaml && pach run >/dev/null 2>&1 && tip up/master >u1
'

for point in objects-sealed objects-published; do
	test_expect_success "commit killed at $point: branch unchanged, store clean, commit again works" '
		echo two >d/b && crash '$point' pach commit r d -m two &&
		test "$(tip r/master)" = "$(cat t1)" && intact &&
		pach commit r d -m two >/dev/null && test "$(pach cat r:/b)" = two && intact &&
		tip r/master >t1
	'
	test_expect_success "put killed at $point: the same" '
		echo p >pf && crash '$point' pach put r:/x/ pf &&
		test "$(tip r/master)" = "$(cat t1)" && intact &&
		pach put r:/x/ pf >/dev/null && test "$(pach cat r:/x/pf)" = p && tip r/master >t1
	'
done

for point in gc-packed gc-removing; do
	test_expect_success "gc killed at $point: every object still there; gc again works" '
		pach put r:/x/ pf >/dev/null && pach rm r:/x/pf >/dev/null && tip r/master >t1 &&
		crash '$point' pach gc && intact &&
		test "$(pach cat r:/a)" = one && pach ls -r r >/dev/null && pach cat r@master~1:/x/pf >/dev/null &&
		pach gc >/dev/null && intact && test -z "$(ls .pach/objects/pack | grep "^tmp_")"
	'
done

test_expect_success 'push killed after uploading packs: the remote still shows the old state; push again works' '
	cp remote/state state.before && echo three >d/c && pach commit r d -m three >/dev/null && tip r/master >t1 &&
	crash push-uploaded pach push && test_cmp state.before remote/state &&
	pach clone "file://$TRASH_DIRECTORY/remote" C1 >/dev/null && intact C1/.pach &&
	pach push >/dev/null && pach clone "file://$TRASH_DIRECTORY/remote" C2 >/dev/null &&
	test "$(tip r/master C2/.pach)" = "$(cat t1)" && intact C2/.pach
'

for point in fetch-chunk fetch-stored; do
	test_expect_success "fetch killed at $point: tracking refs unchanged, store clean; fetch again completes" '
		date +%s%N >d/fetched && pach commit r d -m "for fetch" >/dev/null && tip r/master >t1 &&
		pach push >/dev/null &&
		(cd C1 && git --git-dir=.pach for-each-ref >../refs.before) &&
		(cd C1 && crash '$point' pach fetch) && (cd C1 && git --git-dir=.pach for-each-ref >../refs.after) &&
		test_cmp refs.before refs.after && intact C1/.pach &&
		(cd C1 && pach fetch >/dev/null) && intact C1/.pach &&
		test "$(git --git-dir=C1/.pach rev-parse refs/pach/remotes/origin/heads/r/master)" = "$(cat t1)"
	'
done

test_expect_success 'pull killed after fetching: the branch has not moved; pull again fast-forwards' '
	echo four >d/e && pach commit r d -m four >/dev/null && tip r/master >t1 &&
	pach push >/dev/null && before=$(tip r/master C1/.pach) &&
	(cd C1 && crash pull-fetched pach pull) && test "$(tip r/master C1/.pach)" = "$before" && intact C1/.pach &&
	(cd C1 && pach pull >/dev/null) && test "$(tip r/master C1/.pach)" = "$(cat t1)" && intact C1/.pach
'

test_expect_success 'clone killed while receiving: the partial store is clean, pull in it completes' '
	crash fetch-stored pach clone "file://$TRASH_DIRECTORY/remote" C3 && intact C3/.pach &&
	(cd C3 && pach pull >/dev/null) && test "$(tip r/master C3/.pach)" = "$(cat t1)" && intact C3/.pach
'

for point in run-datum:2 run-output; do
	test_expect_success "run killed at $point: output branch unchanged, store clean; run again completes" '
		echo five >d/f && pach commit r d -m five >/dev/null && u=$(tip up/master) &&
		crash '$point' pach run && test "$(tip up/master)" = "$u" && intact &&
		pach run >/dev/null 2>&1 && test "$(pach cat up:/f)" = FIVE && test "$(pach cat up:/a)" = ONE && intact &&
		rm d/f && pach commit r d -m "no five" >/dev/null && pach run >/dev/null 2>&1
	'
done

test_expect_success 'branch switch of a work tree killed midway: state says so; the same checkout finishes' '
	pach branch r@side r@master >/dev/null 2>&1 || git --git-dir=.pach update-ref refs/heads/r/side "$(tip r/master)" &&
	pach checkout r@master wt >/dev/null && mkdir -p d2 && for i in 1 2 3 4 5; do echo s$i >d2/s$i; done &&
	pach commit r@side d2 -m side >/dev/null &&
	(cd wt && crash checkout-file:2 pach checkout side) && intact &&
	(cd wt && pach checkout side >/dev/null 2>&1) && (cd wt && pach status --json >../st.json) &&
	python3 -c "import json; s=json.load(open(\"st.json\")); assert s[\"branch\"] == \"side\" and not s[\"files\"], s" &&
	test "$(cat wt/s3)" = s3 && ! test -e wt/a
'

test_expect_success 'rollback killed after moving one ref: store clean; rollback --undo restores, rollback again completes' '
	tip r/master >r.before && tip up/master >u.before &&
	crash rollback-ref pach rollback --to "@$(( $(date +%s) - 100000 ))" && intact &&
	pach rollback --undo >/dev/null && test "$(tip r/master)" = "$(cat r.before)" &&
	test "$(tip up/master)" = "$(cat u.before)" && intact
'

test_done
