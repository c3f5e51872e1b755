# t/lib-remote.sh — the remote test suite, run against a file:// remote
# (t5500) and a real S3 server (t5510).  The caller sets:
#   URL      the remote's URL (s3://bucket/prefix or file:///path)
#   ADDOPTS  options for 'pach remote add' and 'pach clone'
#   PREREQ   prerequisites of every test (e.g. S3)
#   raw_ls   a function listing the remote's keys (one per line)

# new_store DIR: a store whose remote 'origin' is the test remote.
new_store() {
	pach init "$1" >/dev/null && (cd "$1" && pach remote add origin "$URL" $ADDOPTS)
}

tip() { (cd "$1" && pach rev-parse "$2") || echo "no-tip-in-$1"; }

test_expect_success $PREREQ 'setup: a store with repos, odd names, a big file, a pipeline and a job' '
	new_store A && cd A &&
	pach repo create images && pach repo create labels &&
	mkdir -p d/sub "d/with space" && echo one >d/a.txt && printf "x\ty" >"d/with space/tab" &&
	seq 1 20000 >d/sub/numbers && ln -s a.txt d/link &&
	head -c 40000000 /dev/urandom >d/big.bin &&
	pach commit images d -m first && echo cat >l && pach put labels l &&
	cat >p.yaml <<-\EOF &&
	pipeline: {name: upper}
	runtime: local
	transform: {cmd: [sh, -c, "tr a-z A-Z <$images >/pfs/out/$(basename $images)"]}
	input: {pfs: {repo: images, glob: "/a.txt"}}
	EOF
	pach pipeline create -f p.yaml && pach run >/dev/null 2>&1 && cd ..
'

test_expect_success $PREREQ 'push to an empty remote: every branch and the metadata' '
	(cd A && pach push >out && grep "images@master" out && grep "upper@master" out && grep "(metadata)" out) &&
	raw_ls >keys && grep -x "state" keys && test $(grep -c "^packs/.*\.pack$" keys) -ge 2 &&
	test $(grep -c "^packs/.*\.pack$" keys) = $(grep -c "^packs/.*\.idx$" keys)
'

test_expect_success $PREREQ 'clone: same trees, git fsck --strict clean, specs and jobs came along' '
	pach clone "$URL" B $ADDOPTS >out && grep "Cloned" out &&
	git_fsck B/.pach &&
	for b in images@master labels@master upper@master; do
		test "$(tip A $b)" = "$(tip B $b)" || exit 1
	done &&
	(cd A && pach get images@master ../ga) && (cd B && pach get images@master ../gb) && diff -r ga gb &&
	cmp A/d/big.bin gb/big.bin &&
	(cd B && pach repo list | grep -c "^images\|^labels\|^upper" >../n) && test "$(cat n)" = 3 &&
	(cd B && pach pipeline list | grep upper && pach job list | grep upper)
'

test_expect_success $PREREQ 'a push with nothing new: one request, nothing sent' '
	(cd A && pach push >out && grep "Everything up to date" out && pach push --json >out.json) &&
	python3 -c "import json; d=json.load(open(\"A/out.json\")); assert d[\"requests\"] == 1 and d[\"packs\"] == 0, d"
'

test_expect_success $PREREQ 'an incremental push sends only the new objects' '
	raw_ls | grep -c "\.pack$" >before &&
	(cd A && echo two >d/b.txt && pach commit images d && pach push --json >out.json) &&
	python3 -c "import json; d=json.load(open(\"A/out.json\")); assert d[\"packs\"] == 1 and d[\"bytes\"] < 20000, d" &&
	raw_ls | grep -c "\.pack$" >after && test $(cat after) = $(( $(cat before) + 1 ))
'

test_expect_success $PREREQ 'fetch moves tracking refs only; pull fast-forwards' '
	old=$(tip B images@master) &&
	(cd B && pach fetch >out && grep images@master out && pach remote show origin | grep images@master) &&
	test "$(tip B images@master)" = "$old" &&
	(cd B && pach pull >out && grep "images@master" out) &&
	test "$(tip B images@master)" = "$(tip A images@master)" &&
	(cd B && pach cat images:/b.txt >../got) && echo two >want && test_cmp want got &&
	(cd B && pach pull >out && grep "Already up to date" out)
'

test_expect_success $PREREQ 'diverged: push is refused (fetch first), pull is refused, nothing lost' '
	(cd B && echo from-b >d1 && pach put labels d1) && b_tip=$(tip B labels@master) &&
	(cd A && echo from-a >d2 && pach put labels d2 && pach push >/dev/null) && a_tip=$(tip A labels@master) &&
	(cd B && test_expect_code 1 pach push labels >out 2>err) && grep "rejected" B/out && grep "pull" B/err &&
	(cd B && test_expect_code 1 pach pull labels >out 2>err) && grep "diverged" B/err &&
	test "$(tip B labels@master)" = "$b_tip" &&
	(cd B && pach fetch >/dev/null && pach remote show origin --json >r.json) &&
	grep "$a_tip" B/r.json &&
	(cd B && pach pull --force labels >/dev/null) && test "$(tip B labels@master)" = "$a_tip" &&
	(cd B && git --git-dir=.pach cat-file -e $b_tip)
'

test_expect_success $PREREQ 'push --force replaces a diverged branch' '
	(cd A && echo a4 >d4 && pach put labels d4 && pach push labels >/dev/null) &&
	(cd B && echo forced >d3 && pach put labels d3 && pach push --force labels >out && grep forced out) &&
	(cd A && pach pull --force labels >/dev/null) && test "$(tip A labels@master)" = "$(tip B labels@master)"
'

# One round of the race: C and D each commit on labels@master, then push
# at the same moment.  Exactly one must win; the other is told to pull,
# keeps its commit, and the remote holds the winner's.
race_round() {
	(cd C && echo c$1 >c && pach put labels c >/dev/null) || return 1
	(cd D && echo d$1 >d && pach put labels d >/dev/null) || return 1
	c=$(tip C labels@master) && d=$(tip D labels@master) || return 1
	(cd C && pach push labels >out 2>err; echo $? >rc) &
	(cd D && pach push labels >out 2>err; echo $? >rc) &
	wait
	rc_c=$(cat C/rc) rc_d=$(cat D/rc)
	echo "round $1: C exit $rc_c, D exit $rc_d"
	if [ "$rc_c" = 0 ] && [ "$rc_d" = 1 ]; then winner=$c loser=D lost=$d
	elif [ "$rc_d" = 0 ] && [ "$rc_c" = 1 ]; then winner=$d loser=C lost=$c
	else cat C/err D/err; return 1; fi
	grep "pull" $loser/err || return 1
	(cd A && pach fetch >/dev/null) || return 1
	test "$(git --git-dir=A/.pach rev-parse refs/pach/remotes/origin/heads/labels/master)" = "$winner" || return 1
	test "$(tip $loser labels@master)" = "$lost" || return 1
	(cd C && pach pull --force >/dev/null) && (cd D && pach pull --force >/dev/null)
}

test_expect_success $PREREQ 'two stores pushing one branch at once: one wins, the other is told to pull' '
	new_store C && new_store D && (cd C && pach pull >/dev/null) && (cd D && pach pull >/dev/null) &&
	for i in $(seq 1 ${RACE_ROUNDS:-8}); do race_round $i || exit 1; done
'

test_expect_success $PREREQ 'a corrupt pack on a remote is refused; nothing changes' '
	raw_ls | grep "\.pack$" >packs.before &&
	(cd A && head -c 100000 /dev/urandom >d/c.bin && pach commit images d && pach push images >/dev/null) &&
	raw_ls | grep "\.pack$" >packs.after && new_packs=$(comm -13 packs.before packs.after) &&
	test -n "$new_packs" &&
	make_corrupt_copy &&
	(cd B && pach remote add evil "$EVIL_URL" $ADDOPTS) &&
	store_state B/.pach >before &&
	(cd B && test_expect_code 128 pach fetch evil >out 2>err) && grep -i "checksum\|corrupt\|does not match" B/err &&
	store_state B/.pach >after && test_cmp before after && git_fsck B/.pach &&
	(cd B && pach remote remove evil && pach fetch >/dev/null)
'

test_expect_success $PREREQ 'bad input: one fatal line, nothing changed' '
	cd B && store_state >before &&
	test_fatal pach push nosuch-remote-or-repo && grep "nosuch" fatal.err &&
	test_fatal pach remote add origin "$URL" && grep "already exists" fatal.err &&
	test_fatal pach remote add x http://example.com/x && grep "unsupported URL" fatal.err &&
	test_fatal pach remote add x file://relative && grep "absolute path" fatal.err &&
	test_fatal pach remote add "bad name" file:///tmp/x && grep "not a valid remote name" fatal.err &&
	test_fatal pach fetch nosuch && grep "no such remote" fatal.err &&
	test_fatal pach clone "$URL" ../A && grep "already exists" fatal.err &&
	store_state >after && test_cmp before after && cd ..
'

test_expect_success $PREREQ 'remote list, show, remove' '
	cd B && pach remote add second "$URL" $ADDOPTS && pach remote list >out &&
	grep "^origin" out && grep "^second" out && pach remote list --json | python3 -c "import json,sys; assert len(json.load(sys.stdin)) == 2" &&
	pach remote show origin | grep "URL: $URL" && pach remote remove second && ! pach remote list | grep second &&
	test_fatal pach remote remove second && cd ..
'
