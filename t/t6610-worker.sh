#!/bin/sh
test_description='pach worker on its own: a task from a file:// remote, checked objects, hostile manifests'
. ./test-lib.sh

KEY=1111111111111111111111111111111111111111
JOBID=22222222222222222222222222222222
DATUM=3333333333333333333333333333333333333333

# job_manifest DIR KEY: a one-task job of pipeline "copy" under DIR/jobs/KEY.
job_manifest() {
	mkdir -p "$1/jobs/$2/tasks" &&
	printf 'pipeline: {name: copy}\ntransform: {cmd: [sh, -c, "cp $nums /pfs/out/"]}\ninput: {pfs: {repo: nums, glob: "/*"}}\n' >spec &&
	{ printf 'pach-job 1\nid %s\npipeline copy\nimage %%\nruntime local\ntasks 1\ndatums 1\npacks 0\nspec %s\n' \
		$JOBID $(wc -c <spec) && cat spec && echo; } >"$1/jobs/$2/job"
}
# task DIR KEY PATH OID: its one task, one datum of one file.
task() {
	printf 'pach-task 1\nobject %s\ndatum %s\nfile nums nums master - 100644 %s %% %s %% %%\n' \
		"$4" $DATUM "$4" "$3" >"$1/jobs/$2/tasks/0"
}
worker() {
	url=file://$TRASH_DIRECTORY/$1 key=$2 && shift 2 &&
	pach worker --url "$url" --key "$key" --task 0 --cache "$TRASH_DIRECTORY/cache" "$@"
}

test_expect_success 'setup: a pushed store' '
	pach init -q store >/dev/null && cd store && pach repo create nums &&
	mkdir d && seq 1 5000 >d/f1 && pach commit nums d >/dev/null &&
	pach remote add origin "file://$TRASH_DIRECTORY/remote" && pach push >/dev/null && cd .. &&
	git --git-dir=store/.pach rev-parse refs/heads/nums/master:f1 >oid && test -s oid
'

test_expect_success 'a task runs without any store: the result names an output tree and a log in its pack' '
	job_manifest remote $KEY && task remote $KEY /f1 $(cat oid) &&
	(cd / && worker remote $KEY --json >"$TRASH_DIRECTORY/w.json") &&
	python3 -c "import json; d=json.load(open(\"w.json\")); assert d[\"datums\"]==1 and d[\"fetched_objects\"]==1 and d[\"failed\"]==0, d" &&
	head -n 2 remote/jobs/$KEY/results/0 >head && grep "^pack [0-9a-f]\{40\}$" head &&
	grep "^datum $DATUM success [0-9a-f]\{40\} " remote/jobs/$KEY/results/0 &&
	pack=$(sed -n "s/^pack //p" head) && test -f remote/jobs/$KEY/packs/$pack.pack &&
	git index-pack -o pk.idx remote/jobs/$KEY/packs/$pack.pack >/dev/null
'

test_expect_success 'a second run of a done task does nothing; the node cache saves fetching' '
	worker remote $KEY >out && grep "already done" out &&
	rm -r remote/jobs/$KEY/results && worker remote $KEY --json >w.json &&
	python3 -c "import json; d=json.load(open(\"w.json\")); assert d[\"fetched_objects\"]==0, d"
'

test_expect_success 'a corrupt object on the remote is refused; no result is written' '
	cp -r remote evil && rm -rf cache &&
	for p in evil/packs/*.pack; do
		size=$(wc -c <"$p") &&
		python3 -c "
import sys
p = sys.argv[1]
b = bytearray(open(p, \"rb\").read())
for i in range(40, len(b) - 20, 7):
    b[i] ^= 0x20
open(p, \"wb\").write(b)" "$p" || exit 1
	done &&
	rm -rf evil/jobs/$KEY/results &&
	test_fatal worker evil $KEY && grep "remote object [0-9a-f]* .*corrupt\\|remote object [0-9a-f]*: \\|corrupt" fatal.err &&
	test ! -e evil/jobs/$KEY/results/0 && test -e evil/jobs/$KEY/errors/0
'

test_expect_success 'hostile manifests: a path out of /pfs, a bad object id, a task that is not there' '
	job_manifest remote 4444444444444444444444444444444444444444 &&
	task remote 4444444444444444444444444444444444444444 /.. $(cat oid) &&
	test_fatal worker remote 4444444444444444444444444444444444444444 && grep "bad path" fatal.err &&
	task remote 4444444444444444444444444444444444444444 /f1 nothex &&
	test_fatal worker remote 4444444444444444444444444444444444444444 && grep "bad manifest" fatal.err &&
	test_fatal pach worker --url "file://$TRASH_DIRECTORY/remote" --key $KEY --task 5 --cache cache &&
	grep "there is no task 5" fatal.err &&
	test ! -e "$TRASH_DIRECTORY/pfs" && test ! -e /x
'

test_done
