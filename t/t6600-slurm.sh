#!/bin/sh
test_description='pach run --executor slurm: a real two-node Slurm cluster, the S3 remote as the only data plane'
. ./test-lib.sh
. "$TEST_DIRECTORY/lib-slurm.sh"

for p in slurmctld slurmd munged sbatch squeue; do
	command -v $p >/dev/null ||
		test_skip_all "no Slurm here: $p is missing (ci/install-deps.sh test installs slurm-wlm and munge)"
done
if ! /usr/bin/python3 -c 'import swift' 2>/dev/null || ! command -v memcached >/dev/null || ! command -v aws >/dev/null; then
	test_skip_all "no S3 test server: python3-swift, memcached and awscli are needed (ci/install-deps.sh installs them)"
fi
test "$(id -u)" = 0 || test_skip_all "the test cluster's daemons run as root"

PORT=$((21000 + ($$ % 180) * 5))
SERVER=$PACH_BUILD_DIR/ci/s3-server.sh
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN
S3PID=
cleanup() {
	stop_slurm
	test -n "$S3PID" && $SERVER stop "$S3PID"
}
test_atexit cleanup
awscli() { aws --endpoint-url "http://127.0.0.1:$PORT" "$@"; }
BUCKET=pach-t6600
URL="s3://$BUCKET/cluster"
raw_ls() { awscli s3 ls --recursive "s3://$BUCKET/cluster/" | awk '{print $4}' | sed 's|^cluster/||' | sort; }

# The coordinator's store lives in $TRASH_DIRECTORY/store, which the
# nodes see as an empty directory.
mkdir -p store &&
S3PID=$($SERVER start $PORT "$TRASH_DIRECTORY/s3data") &&
awscli s3 mb "s3://$BUCKET" >/dev/null &&
start_slurm "$TRASH_DIRECTORY/store" && test_set_prereq SLURM ||
	say "# could not start the S3 server and the Slurm cluster"

tree_of() { git --git-dir="$1/.pach" rev-parse "refs/heads/$2^{tree}"; }

test_expect_success SLURM 'setup: a store with six files, a pipeline, an S3 remote' '
	cd store && pach init -q . >/dev/null && pach repo create nums &&
	mkdir d && for i in 1 2 3 4 5 6; do seq $i $((i * 1000)) >d/f$i; done &&
	pach commit nums d -m six >/dev/null &&
	cat >p.yaml <<-\EOF &&
	pipeline: {name: sums}
	runtime: local
	transform: {cmd: [sh, -c, "wc -l <$nums >/pfs/out/$(basename $nums).n; echo summed $(basename $nums)"]}
	input: {pfs: {repo: nums, glob: "/*"}}
	EOF
	pach pipeline create -f p.yaml &&
	pach remote add origin "$URL" --endpoint "http://127.0.0.1:$PORT" --path-style &&
	pach config set slurm.cache "$TRASH_DIRECTORY/node-cache" &&
	pach config set slurm.output "$TRASH_DIRECTORY/slurm-%A_%a.out" &&
	pach config set slurm.pollSeconds 0.5 &&
	cd .. && cp -a store local
'

test_expect_success SLURM 'a Slurm run gives the output tree a local run gives, from nodes that cannot see the store' '
	(cd store && pach run --executor slurm --json >../run.json 2>../run.err) &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"state\"]==\"success\" and j[\"processed\"]==6, j" &&
	(cd local && pach run --executor local >/dev/null 2>&1) &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)" &&
	git_fsck store/.pach &&
	(cd store && pach logs sums >../logs) && test $(grep -c "^summed f" logs) = 6 &&
	cat slurm-*.out >workers && grep "^task " workers &&
	raw_ls >keys && grep "^jobs/[0-9a-f]*/job$" keys && grep "^jobs/[0-9a-f]*/results/0$" keys &&
	grep "^jobs/[0-9a-f]*/inputs/[0-9a-f]*\.pack$" keys &&
	! grep -x state keys   # the remote has no branch: nothing was pushed
'

test_expect_success SLURM 'the nodes cache what they fetched: running every datum again fetches nothing' '
	rm -f slurm-*.out &&
	(cd store && pach run sums --executor slurm --reprocess >/dev/null 2>&1) &&
	grep -h "^task " slurm-*.out >workers && test $(wc -l <workers) -ge 1 &&
	! grep -v "fetched 0 objects" workers &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)"
'

test_expect_success SLURM 'the nodes really cannot see the store' '
	cat >store/probe.yaml <<-EOF &&
	pipeline: {name: probe}
	runtime: local
	transform: {cmd: [sh, -c, "ls -A \"$TRASH_DIRECTORY/store\" | wc -l >/pfs/out/entries"]}
	input: {pfs: {repo: nums, glob: "/f1"}}
	EOF
	(cd store && pach pipeline create -f probe.yaml && pach run probe --executor slurm >/dev/null 2>&1 &&
	 pach cat probe@master:/entries >../entries) &&
	echo 0 >want && test_cmp want entries
'

test_expect_success SLURM 'a one-datum change ships one task of one datum, fetching that datum s object only' '
	rm -f slurm-*.out &&
	(cd store && pach push >/dev/null && seq 1 7 >d/f4 && pach commit nums d -m change >/dev/null) &&
	awscli s3 ls --recursive "s3://$BUCKET/cluster/jobs/" | grep "/inputs/.*\.pack$" | sort >before &&
	(cd store && pach run sums --executor slurm --json >../run.json 2>/dev/null) &&
	awscli s3 ls --recursive "s3://$BUCKET/cluster/jobs/" | grep "/inputs/.*\.pack$" | sort >after &&
	comm -13 before after >new && test $(wc -l <new) = 1 &&
	test $(awk "{print \$3}" new) -lt 200 &&   # one object: what the pushed branch lacks
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"processed\"]==1 and j[\"skipped\"]==5, j" &&
	cat slurm-*.out >workers && test $(grep -c "^task " workers) = 1 &&
	grep "^task [0-9]*: 1 datums, 0 failed; fetched 1 objects" workers &&
	(cd local && seq 1 7 >d/f4 && pach commit nums d -m change >/dev/null && pach run sums >/dev/null 2>&1) &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)"
'

test_expect_success SLURM 'a failing datum is retried, then failed with its log; the branch does not move' '
	cat >store/fail.yaml <<-\EOF &&
	pipeline: {name: picky}
	runtime: local
	datum_tries: 2
	transform: {cmd: [sh, -c, "case $nums in */f2) echo no f2 here; exit 3;; esac; cp $nums /pfs/out/"]}
	input: {pfs: {repo: nums, glob: "/*"}}
	EOF
	(cd store && pach pipeline create -f fail.yaml &&
	 test_expect_code 1 pach run picky --executor slurm --json >../run.json 2>/dev/null &&
	 pach logs picky >../logs && test_must_fail pach rev-parse picky@master) &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"state\"]==\"failure\" and j[\"failed\"]==1, j" &&
	test $(grep -c "no f2 here" logs) = 2 && grep "exit code 3" logs
'

test_expect_success SLURM 'a task cancelled with scancel is submitted again' '
	cat >store/slow.yaml <<-\EOF &&
	pipeline: {name: slow}
	runtime: local
	datum_set_spec: {number: 6}
	transform: {cmd: [sh, -c, "sleep 2; cp $nums /pfs/out/"]}
	input: {pfs: {repo: nums, glob: "/*"}}
	EOF
	(cd store && pach pipeline create -f slow.yaml) &&
	{ (cd store && pach run slow --executor slurm >../run.out 2>../run.err; echo $? >../run.rc) & } &&
	for i in $(seq 1 100); do squeue -h -t running -o %i | grep _ >running && break; sleep 0.2; done &&
	scancel "$(head -n 1 running)" &&
	for i in $(seq 1 300); do test -f run.rc && break; sleep 0.2; done &&
	test "$(cat run.rc)" = 0 && grep "CANCELLED" run.err && grep "submitting it again" run.err &&
	(cd store && pach ls slow@master | wc -l >../n) && test "$(cat n)" = 6
'

test_expect_success SLURM 'a task over its memory limit is reported as such' '
	cat >store/hog.yaml <<-\EOF &&
	pipeline: {name: hog}
	runtime: local
	datum_tries: 1
	resource_limits: {memory: 64M}
	transform: {cmd: [python3, -c, "import time; b = bytearray(400 << 20); time.sleep(4)"]}
	input: {pfs: {repo: nums, glob: "/f1"}}
	EOF
	(cd store && pach pipeline create -f hog.yaml 2>/dev/null &&
	 test_expect_code 1 pach run hog --executor slurm >../run.out 2>../run.err &&
	 pach logs hog >../logs) &&
	grep "memory limit" logs
'

test_expect_success SLURM 'a killed coordinator: the next run waits for what is running and submits only the rest' '
	cat >store/count.yaml <<-EOF &&
	pipeline: {name: count}
	runtime: local
	parallelism_spec: {constant: 1}
	datum_set_spec: {number: 1}
	transform: {cmd: [sh, -c, "echo \$nums >>\"$TRASH_DIRECTORY/ran\"; sleep 1; cp \$nums /pfs/out/"]}
	input: {pfs: {repo: nums, glob: "/f[1-4]"}}
	EOF
	(cd store && pach pipeline create -f count.yaml) && : >ran &&
	(cd store && exec pach run count --executor slurm >/dev/null 2>&1) & pid=$! &&
	for i in $(seq 1 150); do raw_ls | grep -q "results/0$" && break; sleep 0.2; done &&
	kill -9 $pid && wait $pid;
	(cd store && pach run count --executor slurm >../run.out 2>&1) &&
	test $(wc -l <ran) = 4 && test $(sort -u ran | wc -l) = 4 &&
	(cd store && pach ls count@master | wc -l >../n) && test "$(cat n)" = 4
'

test_expect_success SLURM 'bad input: an unknown executor, a worker given a bad key or task' '
	(cd store &&
	 test_expect_code 129 pach run --executor nosuch 2>err && grep "unknown executor" err &&
	 test_fatal pach worker --url "$URL" --endpoint "http://127.0.0.1:$PORT" --path-style --key nothex --task 0 &&
	 grep "not a job key" fatal.err &&
	 test_fatal pach worker --url "$URL" --endpoint "http://127.0.0.1:$PORT" --path-style --key $(printf "%040d" 0) --task 0 &&
	 grep "has no job" fatal.err &&
	 test_expect_code 129 pach worker --url "$URL" --key x --task -1)
'

test_expect_success SLURM 'slurmctld down: one clear line, nothing committed' '
	kill "$(cat "$SLURM_DIR/slurmctld.pid")" && sleep 1 &&
	(cd store && seq 1 9 >d/f5 && pach commit nums d -m again >/dev/null &&
	 pach rev-parse sums@master >../before &&
	 test_fatal pach run sums --executor slurm && grep "slurm: sbatch failed" fatal.err &&
	 pach rev-parse sums@master >../after) && test_cmp before after
'

test_done
