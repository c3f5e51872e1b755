#!/bin/sh
test_description='pach run: only changed datums run; failures, retries, DAGs'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create images && mkdir d &&
	echo a >d/a.txt && echo b >d/b.txt && echo c >d/c.txt && pach commit images d -m one &&
	cat >upper.yaml <<-\EOF
	pipeline: {name: upper}
	runtime: local
	transform:
	  cmd: [sh]
	  stdin:
	  - "echo run >>$RUNLOG"
	  - "tr a-z A-Z <$images >/pfs/out/$(basename $images)"
	  env: {RUNLOG: RUNLOG_PATH}
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	sed -i "s|RUNLOG_PATH|$PWD/runs|" upper.yaml &&
	pach pipeline create -f upper.yaml
'

runs() { if [ -f runs ]; then wc -l <runs; else echo 0; fi; }

test_expect_success 'first run processes every datum' '
	pach run >out && grep "3 processed, 0 skipped" out &&
	test "$(runs)" = 3 && test "$(pach cat upper:/b.txt)" = B &&
	git_fsck
'

test_expect_success 'nothing changed: up to date, no new commit, nothing runs' '
	head=$(pach rev-parse upper@master) && rm -f runs &&
	pach run >out && grep "up to date" out &&
	test "$(runs)" = 0 && test "$(pach rev-parse upper@master)" = "$head"
'

test_expect_success 'modify one file: exactly one datum runs' '
	echo bb >d/b.txt && pach commit images d && rm -f runs &&
	pach run >out && grep "1 processed, 2 skipped" out && test "$(runs)" = 1 &&
	test "$(pach cat upper:/b.txt)" = BB && test "$(pach cat upper:/a.txt)" = A
'

test_expect_success 'add and delete: the new one runs, the deleted output disappears' '
	echo n >d/new.txt && rm d/c.txt && pach commit images d && rm -f runs &&
	pach run >out && test "$(runs)" = 1 &&
	pach ls upper >names && printf "/a.txt\n/b.txt\n/new.txt\n" >want && test_cmp want names
'

test_expect_success 'rename: the renamed datum runs (its path is part of it)' '
	mv d/new.txt d/renamed.txt && pach commit images d && rm -f runs &&
	pach run && test "$(runs)" = 1 && pach ls upper >names &&
	printf "/a.txt\n/b.txt\n/renamed.txt\n" >want && test_cmp want names
'

test_expect_success 'provenance is in the output commit' '
	pach show upper >out && grep "^    Job: [0-9a-f]\{32\}" out &&
	grep "^    Input: images@master $(pach rev-parse images@master)" out
'

test_expect_success 'a changed transform reprocesses everything' '
	sed "s/tr a-z A-Z <\$images/sed s,^,x, <\$images | tr a-z A-Z/" upper.yaml >upper2.yaml &&
	! test_cmp upper.yaml upper2.yaml &&
	pach pipeline update -f upper2.yaml && rm -f runs &&
	pach run && test "$(runs)" = 3 && test "$(pach cat upper:/a.txt)" = XA
'

test_expect_success 'update --keep-outputs does not' '
	pach pipeline update -f upper.yaml --keep-outputs && rm -f runs &&
	pach run >out && test "$(runs)" = 0
'

test_expect_success '--reprocess forces every datum; --dry-run changes nothing' '
	head=$(pach rev-parse upper@master) &&
	pach run --dry-run >out && grep "0 would run" out &&
	rm -f runs && pach run --reprocess && test "$(runs)" = 3
'

test_expect_success 'two-stage DAG runs in order' '
	cat >count.yaml <<-\EOF
	pipeline: {name: count}
	runtime: local
	transform:
	  cmd: [sh, -c, "cat /pfs/upper/* | wc -l >/pfs/out/lines"]
	input: {pfs: {repo: upper, glob: /}}
	EOF
	pach pipeline create -f count.yaml &&
	pach run >out && test "$(pach cat count:/lines)" = 3 &&
	echo z >d/z.txt && pach commit images d &&
	pach run >out && grep "^upper: .*1 processed" out && grep "^count: .*1 processed" out &&
	test "$(pach cat count:/lines)" = 4
'

test_expect_success 'a failing datum: retried, FAILED, branch not moved, fixed next run' '
	cat >flaky.yaml <<-\EOF
	pipeline: {name: flaky}
	runtime: local
	datum_tries: 2
	transform:
	  cmd: [sh, -c, "echo attempt >>\"$TRIES\"; if [ -e /pfs/images/bad.txt ] && [ ! -e \"$FIXED\" ]; then echo broken >&2; exit 3; fi; cp -r /pfs/images/* /pfs/out/"]
	  env:
	    TRIES: TRIES_PATH
	    FIXED: FIXED_PATH
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	sed -i "s|TRIES_PATH|$PWD/tries|; s|FIXED_PATH|$PWD/fixed|" flaky.yaml &&
	pach pipeline create -f flaky.yaml && pach run flaky &&
	head=$(pach rev-parse flaky@master) &&
	echo x >d/bad.txt && pach commit images d && rm -f tries &&
	test_expect_code 1 pach run flaky >out 2>err &&
	grep "1 failed" out && test "$(wc -l <tries)" = 2 &&
	test "$(pach rev-parse flaky@master)" = "$head" &&
	touch fixed && rm -f tries && pach run flaky >out &&
	grep "1 processed" out && test "$(wc -l <tries)" = 1 &&
	test "$(pach cat flaky:/bad.txt)" = x
'

test_expect_success 'err_cmd exiting 0 recovers a failed datum; the job succeeds' '
	cat >rec.yaml <<-\EOF
	pipeline: {name: rec}
	runtime: local
	datum_tries: 1
	transform:
	  cmd: [sh, -c, "test $(basename $images) != a.txt && cp $images /pfs/out/"]
	  err_cmd: [sh, -c, "echo recovering"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	pach pipeline create -f rec.yaml && pach run rec >out && grep "(1 recovered by err_cmd)" out &&
	test_fatal pach cat rec:/a.txt && test "$(pach cat rec:/b.txt)" = bb &&
	job=$(pach job list rec --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	pach datum list $job --state recovered | grep "images:/a.txt"
'

test_expect_success 'jobs, datums and logs are recorded' '
	cat >loud.yaml <<-\EOF
	pipeline: {name: loud}
	runtime: local
	datum_tries: 1
	transform:
	  cmd: [sh, -c, "echo hello from $PACH_DATUM_ID; test $(basename $images) != a.txt || { echo failing >&2; exit 1; }; cp $images /pfs/out/"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	pach pipeline create -f loud.yaml && test_expect_code 1 pach run loud >/dev/null 2>&1 &&
	pach job list loud >jobs && grep " failure " jobs &&
	job=$(pach job list loud --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	pach job inspect $job >out && grep "^State: failure" out && grep "^Output: (none)" out &&
	pach datum list $job --state failed >failed && test_line_count = 1 failed && grep "images:/a.txt" failed &&
	pach datum list $job --json | python3 -c "import json,sys; d=json.load(sys.stdin); assert sum(x[\"state\"]==\"success\" for x in d) >= 3" &&
	pach logs --job $job >logs && grep "^failing" logs && grep "^hello from [0-9a-f]\{40\}" logs &&
	id=$(cut -c1-12 failed) && pach logs --job $job --datum $id >one && grep failing one && ! grep "==>" one &&
	pach logs --pipeline loud | grep -c "^==> datum" >n && test $(cat n) -ge 4 &&
	test_fatal pach job inspect ffffffff && test_fatal pach logs --job $job --datum 0000 &&
	test_fatal pach datum list $job --state nosuch && grep "unknown datum state" fatal.err &&
	pach datum list $job --state failed --json >f.json &&
	python3 -c "import json,sys; d=json.load(open(\"f.json\")); assert [x[\"state\"] for x in d] == [\"failed\"], d"
'

test_expect_success 'a command that cannot be run is reported as such, not as its exit code 127' '
	cat >noexec.yaml <<-\EOF
	pipeline: {name: noexec}
	runtime: local
	datum_tries: 1
	transform:
	  cmd: [sh, -c, "case $images in */a.txt) exec /nonexistent/command;; */b.txt) exit 127;; *) cp $images /pfs/out/;; esac"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	cat >noexec2.yaml <<-\EOF
	pipeline: {name: noexec2}
	runtime: local
	datum_tries: 1
	transform:
	  cmd: [/nonexistent/command]
	input: {pfs: {repo: images, glob: "/a.txt"}}
	EOF
	pach pipeline create -f noexec2.yaml && test_expect_code 1 pach run noexec2 >out 2>&1 &&
	pach logs --pipeline noexec2 >log &&
	grep "^pach: unable to run ./nonexistent/command.: No such file or directory" log && ! grep "exit code" log &&
	pach pipeline create -f noexec.yaml && test_expect_code 1 pach run noexec >out 2>&1 &&
	pach logs --pipeline noexec >log && grep "^pach: exit code 127" log &&
	! grep "unable to run" log
'

test_expect_success 'job records: sharded by datum id, a 1-datum change rewrites 1 shard' '
	pach repo create many && mkdir m && for i in $(seq 1 300); do echo $i >m/f$i; done && pach commit many m &&
	cat >copy.yaml <<-\EOF
	pipeline: {name: copy}
	runtime: local
	transform:
	  cmd: [sh, -c, "cp $many /pfs/out/"]
	input: {pfs: {repo: many, glob: "/*"}}
	EOF
	pach pipeline create -f copy.yaml && pach run copy >/dev/null 2>&1 &&
	j1=$(pach job list copy --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	echo changed >m/f7 && pach commit many m && pach run copy >out 2>&1 && grep "1 processed, 299 skipped" out &&
	j2=$(pach job list copy --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	for x in datums outputs; do
		git --git-dir=.pach ls-tree refs/pach/meta:jobs/copy/$j1/$x >a.$x &&
		git --git-dir=.pach ls-tree refs/pach/meta:jobs/copy/$j2/$x >b.$x &&
		test $(wc -l <a.$x) -gt 100 &&
		diff a.$x b.$x | grep -c "^>" >n.$x && test "$(cat n.$x)" = 1 || exit 1
	done &&
	pach job list copy >list && grep "^${j2%????????????????????}.* 1+299/300 " list &&
	pach datum list $j2 --state success >ran && test_line_count = 1 ran && grep "many:/f7" ran &&
	pach datum list $j2 --state skipped >skipped && test_line_count = 299 skipped &&
	pach datum list $j1 --state success >all && test_line_count = 300 all &&
	test "$(pach cat copy:/f7)" = changed && test "$(pach cat copy:/f8)" = 8 && git_fsck
'

test_expect_success 'datum_timeout kills the whole process group' '
	cat >slow.yaml <<-\EOF
	pipeline: {name: slow}
	runtime: local
	datum_tries: 1
	datum_timeout: 1s
	transform:
	  cmd: [sh, -c, "sleep 31 & sleep 31; echo done >/pfs/out/x"]
	input: {pfs: {repo: images, glob: /}}
	EOF
	pach pipeline create -f slow.yaml &&
	start=$(date +%s) && test_expect_code 1 pach run slow >out 2>&1 &&
	test $(($(date +%s) - start)) -lt 10 && grep "1 failed" out &&
	for i in 1 2 3 4 5 6 7 8 9 10; do pgrep -fx "sleep 31" >/dev/null || break; sleep 0.2; done &&
	! pgrep -fx "sleep 31" >/dev/null
'

test_expect_success 'two datums writing one path fail the job, naming the path' '
	cat >clash.yaml <<-\EOF
	pipeline: {name: clash}
	runtime: local
	transform:
	  cmd: [sh, -c, "echo x >/pfs/out/same"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	pach pipeline create -f clash.yaml &&
	test_expect_code 1 pach run clash >out 2>err && grep "both write ./same." err &&
	test_fatal pach ls clash
'

test_expect_success 'a datum writing a file where another writes a directory fails the job, naming both' '
	cat >fdclash.yaml <<-\EOF
	pipeline: {name: fdclash}
	runtime: local
	transform:
	  cmd: [sh, -c, "case $images in */a.txt) echo x >/pfs/out/x;; */b.txt) mkdir -p /pfs/out/x && echo y >/pfs/out/x/y && echo z >/pfs/out/x-z;; esac"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	pach pipeline create -f fdclash.yaml &&
	test_expect_code 1 pach run fdclash >out 2>err && grep "datums [0-9a-f]* and [0-9a-f]* both write ./x.$" err &&
	test_fatal pach ls fdclash
'

test_expect_success 'a changed datum clashing with an unchanged one fails the job' '
	pach repo create words && mkdir w && echo a >w/1 && echo b >w/2 && pach commit words w &&
	cat >byword.yaml <<-\EOF
	pipeline: {name: byword}
	runtime: local
	transform:
	  cmd: [sh, -c, "cp $words /pfs/out/$(cat $words)"]
	input: {pfs: {repo: words, glob: "/*"}}
	EOF
	pach pipeline create -f byword.yaml && pach run byword && head=$(pach rev-parse byword@master) &&
	echo a >w/2 && pach commit words w &&
	test_expect_code 1 pach run byword >out 2>err && grep "both write ./a." err &&
	test "$(pach rev-parse byword@master)" = "$head" &&
	echo c >w/2 && pach commit words w && pach run byword &&
	pach ls byword >names && printf "/a\n/c\n" >want && test_cmp want names
'

test_expect_success 'kill -9 of pach run mid-job: store intact, branch unmoved, next run completes' '
	cat >sleepy.yaml <<-\EOF
	pipeline: {name: sleepy}
	runtime: local
	transform:
	  cmd: [sh, -c, "cp $images /pfs/out/"]
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	pach pipeline create -f sleepy.yaml &&
	test_crash_at run-datum:2 pach run sleepy &&
	test_fatal pach ls sleepy &&
	test -d .pach/pach/work && git_fsck && pach fsck &&
	pach run sleepy >out && grep "0 failed" out &&
	test "$(pach ls sleepy | wc -l)" = "$(pach ls images | wc -l)" &&
	test -z "$(ls .pach/pach/work 2>/dev/null)" && git_fsck
'

# wait_for CMD...: until CMD succeeds, for at most 30 seconds.
wait_for() {
	_i=0
	until "$@"; do
		_i=$((_i + 1)) && test $_i -lt 600 || { echo >&4 "gave up waiting for: $*"; return 1; }
		sleep 0.05
	done
}

test_expect_success 'concurrent runs: the second waits for the first, both succeed, history stays linear' '
	cat >gate.yaml <<-\EOF &&
	pipeline: {name: gate}
	runtime: local
	transform:
	  cmd: [sh, -c, "touch \"$STARTED\"; while [ ! -e \"$GO\" ]; do sleep 0.05; done; cp $images /pfs/out/"]
	  env: {STARTED: STARTED_PATH, GO: GO_PATH}
	input: {pfs: {repo: images, glob: "/*"}}
	EOF
	sed -i "s|STARTED_PATH|$PWD/started|; s|GO_PATH|$PWD/go|" gate.yaml &&
	pach pipeline create -f gate.yaml && rm -f started go &&
	{ pach run gate >run1.out 2>run1.err & } && p1=$! &&
	test_when_finished "touch go; wait $p1 2>/dev/null || :" &&
	wait_for test -e started &&
	{ pach run gate >run2.out 2>run2.err & } && p2=$! &&
	test_when_finished "wait $p2 2>/dev/null || :" &&
	wait_for grep -q "waiting for another .pach run." run2.err &&
	! grep . run2.out &&
	touch go && wait $p1 && wait $p2 &&
	grep "gate: job .* 0 failed" run1.out && grep "gate: up to date" run2.out &&
	git --git-dir=.pach rev-list --parents gate/master | awk "NF > 2" >merges && test_must_be_empty merges &&
	git_fsck && pach fsck
'

test_expect_success 'each datum of one slot starts with only its own input and an empty out' '
	pach repo create other && mkdir o && echo x >o/x.txt && pach commit other o >/dev/null &&
	cat >clean.yaml <<-\EOF &&
	pipeline: {name: clean}
	runtime: local
	transform:
	  cmd: [sh, -c, "n=$(basename $images$other); p=$(ls -A /pfs | tr \"\\n\" \" \"); o=$(ls -A /pfs/out | wc -l); i=$(ls -A /pfs/${images:+images}${other:+other} | wc -l); echo $p >/pfs/out/$n.pfs; echo $o >/pfs/out/$n.out; echo $i >/pfs/out/$n.in; mkdir -p /pfs/out/$n.d/e /pfs/junk; touch /pfs/out/$n.d/e/f /pfs/junk/j /pfs/${images:+images}${other:+other}/extra; chmod 500 /pfs/out/$n.d /pfs/out"]
	input:
	  union:
	  - pfs: {repo: images, glob: "/*"}
	  - pfs: {repo: other, glob: "/*"}
	EOF
	pach pipeline create -f clean.yaml && pach run clean -j 1 >/dev/null 2>&1 &&
	pach ls clean@master >ls && grep "x.txt.pfs" ls && test $(grep -c "txt.pfs" ls) -ge 3 &&
	pach cat clean@master:/x.txt.pfs >p && echo "other out" >want && test_cmp want p &&
	pach cat clean@master:/a.txt.pfs >p && echo "images out" >want && test_cmp want p &&
	for f in $(sed -n "s|^/\(.*\)\.pfs$|\1|p" ls); do
		test "$(pach cat clean@master:/$f.out)" = 0 && test "$(pach cat clean@master:/$f.in)" = 1 || return 1
	done
'

test_expect_success 'user code does not inherit the SIGPIPE pach ignores' '
	cat >sig.yaml <<-\EOF &&
	pipeline: {name: sig}
	runtime: local
	transform: {cmd: [sh, -c, "sed -n \"s/^SigIgn:[[:space:]]*//p\" /proc/self/status >/pfs/out/ign"]}
	input: {pfs: {repo: images, glob: "/a.txt"}}
	EOF
	pach pipeline create -f sig.yaml && pach run sig >/dev/null 2>&1 &&
	ign=$(pach cat sig@master:/ign) && test -n "$ign" &&
	test $(( 0x$ign & 0x1000 )) = 0   # bit 13: SIGPIPE
'

test_expect_success 'stdin larger than a pipe holds reaches the program whole' '
	{ echo "pipeline: {name: big}" && echo "runtime: local" &&
	  echo "transform:" && echo "  cmd: [sh, -c, \"wc -c >/pfs/out/n\"]" && echo "  stdin:" &&
	  for i in $(seq 1 4000); do echo "  - \"$i 0123456789012345678901234567890123456789\""; done &&
	  echo "input: {pfs: {repo: images, glob: /a.txt}}"; } >big.yaml &&
	pach pipeline create -f big.yaml && pach run big >/dev/null 2>&1 &&
	for i in $(seq 1 4000); do echo "$i 0123456789012345678901234567890123456789"; done | wc -c >want &&
	pach cat big@master:/n >n && test_cmp want n && test $(cat n) -gt 65536
'

test_done
