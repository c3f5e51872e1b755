#!/bin/sh
test_description='undo: reflog, reset, revert, snapshots, rollback of the whole store and its undo, gc and expiry'
. ./test-lib.sh

# Everything a store's branches hold, file by file: "<repo>@<branch> <path> <sha1 of content>".
store_files() {
	git --git-dir=.pach for-each-ref --format="%(refname)" refs/heads/ | while read -r ref; do
		rb=${ref#refs/heads/}
		git --git-dir=.pach ls-tree -r "$ref" | while read -r mode type id path; do
			printf "%s %s %s\n" "$rb" "$path" "$(git --git-dir=.pach cat-file blob "$id" | sha1sum | cut -c1-40)"
		done
	done
}
tick() { sleep 1.1; }   # reflog times have whole seconds

test_expect_success 'setup: reflogs are on, git and pach agree on them' '
	pach init && test "$(git --git-dir=.pach config core.logAllRefUpdates)" = always &&
	pach repo create r && mkdir s && echo one >s/a.txt && printf "1\n2\n3\n4\n5\n" >s/lines &&
	pach commit r s -m one >/dev/null && echo two >s/a.txt && pach commit r s -m two >/dev/null &&
	echo three >s/a.txt && pach commit r s -m three >/dev/null &&
	pach reflog r@master >pach.out && git --git-dir=.pach reflog show r/master >git.out &&
	test_line_count = 3 pach.out &&
	# same ids (git abbreviates to 7) and messages, newest first
	sed "s/^\([0-9a-f]\{7\}\)[0-9a-f]* r@master@{\([0-9]*\)}: /\1 r\/master@{\2}: /" pach.out >pach.norm &&
	test_cmp git.out pach.norm &&
	pach reflog --json | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[0][\"label\"]==\"r@master\" and d[0][\"message\"].startswith(\"commit: three\"), d[0]"
'

test_expect_success 'reflog selectors address old states: @{N} and @{time}' '
	test "$(pach cat r@master@{0}:/a.txt)" = three && test "$(pach cat r@master@{2}:/a.txt)" = one &&
	test "$(pach cat "r@master@{1 minute ago}:/a.txt" 2>/dev/null)" = "" &&
	test "$(pach cat "r@master@{now}:/a.txt")" = three &&
	test_fatal pach cat r@master@{9}:/a.txt && test_fatal pach cat "r@master@{soon-ish}:/a.txt"
'

test_expect_success 'reset moves a branch back; the reflog remembers; reset again undoes it' '
	head=$(git --git-dir=.pach rev-parse r/master) &&
	pach reset r@master @{2} >out && grep "is now at" out && test "$(pach cat r:/a.txt)" = one &&
	pach reflog r@master -n 1 | grep "reset: moving to" &&
	pach reset r@master "r@master@{1}" && test "$(git --git-dir=.pach rev-parse r/master)" = "$head" &&
	pach reset r@master master~1 && test "$(pach cat r:/a.txt)" = two &&
	pach reset r@master $head && git_fsck
'

test_expect_success 'reset refuses bad input and changes nothing' '
	store_state >before &&
	test_fatal pach reset r@master nosuchcommit && test_fatal pach reset nosuch@master @{1} &&
	test_fatal pach reset r@nosuch @{1} && test_fatal pach reset r@master "@{not a time}" &&
	store_state >after && test_cmp before after
'

test_expect_success 'revert undoes one commit, merging what changed since' '
	printf "1\n2\nthree\n4\n5\n" >s/lines && pach commit r s -m "edit line 3" >/dev/null &&
	bad=$(git --git-dir=.pach rev-parse r/master) &&
	printf "one\n2\nthree\n4\n5\n" >s/lines && pach commit r s -m "edit line 1" >/dev/null &&
	pach revert r@master $bad >id && test "$(cat id)" = "$(git --git-dir=.pach rev-parse r/master)" &&
	pach cat r:/lines >got && printf "one\n2\n3\n4\n5\n" >want && test_cmp want got &&
	git --git-dir=.pach log -1 --format=%B r/master | grep "This reverts commit $bad" && git_fsck
'

test_expect_success 'revert that conflicts names the path and commits nothing' '
	printf "ONE\n2\n3\n4\n5\n" >s/lines && pach commit r s -m "line 1 again" >/dev/null &&
	prev=$(git --git-dir=.pach rev-parse r/master) &&
	printf "uno\n2\n3\n4\n5\n" >s/lines && pach commit r s -m "line 1 once more" >/dev/null &&
	store_state >before &&
	test_fatal pach revert r@master $prev && grep "/lines" fatal.err && grep "nothing was committed" fatal.err &&
	store_state >after && test_cmp before after
'

test_expect_success 'a deleted branch keeps its reflog and can be reset back' '
	pach branch r tmp master >/dev/null && pach branch -d r tmp >/dev/null &&
	pach reflog r@tmp >out && head -1 out | grep "branch: deleted" &&
	test_path_is_file .pach/logs/refs/heads/r/tmp && git_fsck &&
	# a kept log in the way of a new branch (tmp -> tmp/x, then x/y -> x) is moved aside
	pach branch r tmp/x master >/dev/null && pach branch -d r tmp/x >/dev/null &&
	pach branch r tmp master >/dev/null && pach reflog r@tmp >out && test_line_count = 1 out &&
	ls .pach/pach/deleted-logs/refs/heads/r >aside && test_line_count = 2 aside && git_fsck
'

# The store of the "Must show": three repos, two pipelines (raw -> clean -> stats).
test_expect_success 'setup: three repos, two pipelines, one good run' '
	pach repo create raw && mkdir in && for i in 1 2 3; do echo "value $i" >in/f$i.txt; done &&
	pach commit raw in -m "good data" >/dev/null &&
	cat >clean.yaml <<-\EOF &&
	pipeline: {name: clean}
	runtime: local
	transform: {cmd: [sh, -c, "tr a-z A-Z <$raw >/pfs/out/$(basename $raw)"]}
	input: {pfs: {repo: raw, glob: "/*"}}
	EOF
	cat >stats.yaml <<-\EOF &&
	pipeline: {name: stats}
	runtime: local
	transform: {cmd: [sh, -c, "cat /pfs/clean/* | wc -l >/pfs/out/count"]}
	input: {pfs: {repo: clean, glob: "/"}}
	EOF
	pach pipeline create -f clean.yaml -f stats.yaml 2>/dev/null && pach run >/dev/null 2>&1 &&
	test "$(pach cat stats:/count | tr -d " ")" = 3 &&
	store_files >good.files && git --git-dir=.pach rev-parse refs/pach/meta >good.meta &&
	pach snapshot good >out && grep "snapshot .good." out
'

test_expect_success 'reset refuses a branch that feeds pipelines, naming them, unless --force' '
	store_state >before &&
	test_fatal pach reset raw@master @{0} && grep "clean, stats" fatal.err &&
	store_state >after && test_cmp before after
'

test_expect_success 'a bad import and a run, then rollback to the time before: file by file as it was' '
	tick && T=$(date +%s) && tick &&
	echo "garbage" >in/f2.txt && echo "more garbage" >in/f4.txt && pach commit raw in -m "bad import" >/dev/null &&
	pach run >/dev/null 2>&1 && pach branch raw oops master >/dev/null &&
	test "$(pach cat stats:/count | tr -d " ")" = 4 &&
	store_files >bad.files && ! test_cmp good.files bad.files >/dev/null &&
	pach rollback --to "@$T" >out && grep "before-rollback-" out && grep "raw@oops .*(deleted)" out &&
	store_files >now.files && test_cmp good.files now.files &&
	test "$(git --git-dir=.pach rev-parse refs/pach/meta)" = "$(cat good.meta)" &&
	git_fsck
'

test_expect_success 'after the rollback, pach run finds everything current; provenance is consistent' '
	pach run >out 2>&1 && grep -x "clean: up to date (3 datums)" out && grep -x "stats: up to date (1 datums)" out &&
	store_files >now.files && test_cmp good.files now.files &&
	pach job list --json >jobs.json &&
	python3 - <<-\PY
	import json, subprocess
	for j in json.load(open("jobs.json")):
	    for inp, commit in j["inputs"].items():
	        if commit == "-":
	            continue
	        t = subprocess.run(["git", "--git-dir=.pach", "cat-file", "-t", commit], capture_output=True, text=True)
	        assert t.stdout.strip() == "commit", (j["id"], inp, commit)
	PY
'

test_expect_success 'rollback --undo restores the later state; undoing the undo goes back' '
	pach rollback --undo >out && store_files >now.files && test_cmp bad.files now.files &&
	pach cat raw@oops:/f4.txt | grep "more garbage" &&
	pach rollback --undo >out && store_files >now.files && test_cmp good.files now.files
'

test_expect_success 'rollback to a snapshot, and of named repos only' '
	echo "later" >in/f5.txt && pach commit raw in -m later >/dev/null && echo later >s/later && pach commit r s -m "r later" >/dev/null &&
	r_head=$(git --git-dir=.pach rev-parse r/master) &&
	pach rollback --to good raw >out && test "$(git --git-dir=.pach rev-parse r/master)" = "$r_head" &&
	! pach ls raw:/ | grep f5 && pach rollback --to good --dry-run >out && grep "r@master" out &&
	grep "dry run" out && test "$(git --git-dir=.pach rev-parse r/master)" = "$r_head"
'

test_expect_success 'bad time, unknown snapshot, unknown repo: one fatal line, nothing changed' '
	store_state >before &&
	test_fatal pach rollback --to "next tuesday-ish" && grep "neither a time" fatal.err &&
	test_fatal pach rollback --to nosuchsnapshot && test_fatal pach rollback --to "2 hours ago" nosuchrepo &&
	grep "repo .nosuchrepo. not found" fatal.err &&
	test_fatal pach rollback --to "2999-01-01" && test_fatal pach snapshot good &&
	test_expect_code 129 pach rollback 2>/dev/null && test_expect_code 129 pach rollback --undo raw 2>/dev/null &&
	store_state >after && test_cmp before after
'

test_expect_success 'gc keeps rolled-back-from commits while the reflog names them; expiry frees them' '
	tick && T2=$(date +%s) && tick &&
	echo doomed >in/doomed.txt && pach commit raw in -m doomed >/dev/null &&
	doomed=$(git --git-dir=.pach rev-parse raw/master) && pach rollback --to "@$T2" raw >/dev/null &&
	for s in $(pach snapshot list --json | python3 -c "import json,sys; print(\" \".join(x[\"name\"] for x in json.load(sys.stdin)))"); do
		git --git-dir=.pach update-ref -d refs/pach/snapshots/$s; done &&
	pach gc >/dev/null && test "$(git --git-dir=.pach cat-file -t $doomed)" = commit &&
	pach cat "raw@$doomed:/doomed.txt" && git_fsck &&
	pach config set gc.reflogExpire now && pach gc >/dev/null &&
	test_must_fail git --git-dir=.pach cat-file -e $doomed && git_fsck &&
	pach fsck >/dev/null
'

test_expect_success 'a rollback killed midway: the store is intact, rerunning it completes it' '
	pach repo create many && mkdir m && echo 1 >m/x && pach commit many m >/dev/null &&
	c1=$(git --git-dir=.pach rev-parse many/master) &&
	for i in $(seq 1 400); do echo "create refs/heads/many/b$i $c1"; done | env -u GIT_COMMITTER_DATE git --git-dir=.pach update-ref --stdin &&
	tick && T3=$(date +%s) && tick &&
	echo 2 >m/x && pach commit many m >/dev/null && c2=$(git --git-dir=.pach rev-parse many/master) &&
	for i in $(seq 1 400); do echo "update refs/heads/many/b$i $c2"; done | env -u GIT_COMMITTER_DATE git --git-dir=.pach update-ref --stdin &&
	test_crash_at rollback-ref:200 pach rollback --to "@$T3" many &&
	git --git-dir=.pach for-each-ref --format="%(objectname)" refs/heads/many/ | sort | uniq -c >mixed &&
	test_line_count = 2 mixed &&
	pach fsck >/dev/null && git_fsck &&
	pach rollback --to "@$T3" many >/dev/null &&
	test "$(git --git-dir=.pach for-each-ref --format="%(objectname)" refs/heads/many/ | sort -u)" = "$c1"
'

test_expect_success 'snapshots travel with push and pull' '
	pach config unset gc.reflogExpire && pach snapshot travel >/dev/null &&
	mkdir rem && pach remote add o "file://$PWD/rem" && pach push >/dev/null 2>&1 &&
	pach clone "file://$PWD/rem" other >/dev/null 2>&1 &&
	(cd other && pach snapshot list >../list) && grep "^travel " list &&
	pach snapshot second >/dev/null && pach push >/dev/null 2>&1 &&
	(cd other && pach pull >/dev/null 2>&1 && pach snapshot list >../list2 &&
	 pach rollback --to second --dry-run >../dry) && grep "^second " list2 &&
	git_fsck other/.pach
'

test_done
