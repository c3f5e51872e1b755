#!/bin/sh
# bench/scaleout.sh — the Slurm executor's figures (issue 15), all in one
# run on this machine: a real Slurm cluster (t/lib-slurm.sh) and the
# loopback S3 server (ci/s3-server.sh) started here, stopped at the end.
#   1. overhead: N_CPU CPU-bound datums (~0.2 s each) through Slurm on one
#      node of 2 CPUs vs --executor local -j 2 (floor: wall <= 1.3x local)
#   2. latency: one changed datum of N_LAT, Slurm executor: the
#      coordinator's own time (submission, and after the result came) vs
#      the whole run; bytes the worker fetched vs the datum's input
#   3. bytes: a task's fetched bytes vs its datums' input, 1 MiB and
#      100 MiB datums (ranged reads, no whole packs)
# Needs root (the cluster's daemons), slurm-wlm, munge, python3-swift,
# memcached (ci/install-deps.sh test installs them).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH=${PACH:-$ROOT/pach}
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench-scaleout}
N_CPU=${N_CPU:-1000}
N_LAT=${N_LAT:-10000}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
secs() { echo "$1" | cut -d' ' -f1; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
rm -rf "$B" && mkdir -p "$B/store" && cd "$B"

. "$ROOT/t/lib-slurm.sh"
SERVER=$ROOT/ci/s3-server.sh
PORT=$((23000 + ($$ % 180) * 5))
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
S3PID=$($SERVER start $PORT "$B/s3data")
cleanup() { set +e; stop_slurm; $SERVER stop "$S3PID"; }
trap cleanup EXIT
aws --endpoint-url "http://127.0.0.1:$PORT" s3 mb s3://bench >/dev/null
# One node of 2 CPUs: the same machine local runs use.
SLURM_NODES=1 SLURM_CPUS=2 start_slurm "$B/store"

new_store() { # DIR
	$PACH init -q "$1" >/dev/null
	(cd "$1" && $PACH remote add origin "s3://bench/$(basename "$1")" --endpoint "http://127.0.0.1:$PORT" --path-style &&
	 $PACH config set slurm.cache "$B/node-cache" && $PACH config set slurm.pollSeconds 0.2 &&
	 $PACH config set slurm.output "$B/worker-%A_%a.out")
}

echo "== 1. overhead: $N_CPU CPU-bound datums, Slurm (1 node, 2 CPUs) vs local -j 2"
new_store store/cpu
mkdir -p data-cpu && python3 -c "
for i in range($N_CPU): open('data-cpu/f%05d' % i, 'w').write(str(i))"
(cd store/cpu && $PACH repo create in >/dev/null && $PACH -q commit in ../../data-cpu >/dev/null &&
 printf '%s\n' 'pipeline: {name: spin}' 'runtime: local' \
	'transform: {cmd: [sh, -c, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; cp $in /pfs/out/"]}' \
	'input: {pfs: {repo: in, glob: "/*"}}' >p.yaml && $PACH pipeline create -f p.yaml >/dev/null)
cp -a store/cpu store/cpu-local
r_local=$($M "cd store/cpu-local && $PACH -q run --executor local -j 2 2>/dev/null")
r_slurm=$($M "cd store/cpu && $PACH -q run --executor slurm 2>/dev/null")
t1=$(git --git-dir=store/cpu/.pach rev-parse 'refs/heads/spin/master^{tree}')
t2=$(git --git-dir=store/cpu-local/.pach rev-parse 'refs/heads/spin/master^{tree}')
[ "$t1" = "$t2" ] || { echo "the Slurm run's tree differs from the local run's"; exit 1; }
echo "local -j 2: $(secs "$r_local") s   slurm: $(secs "$r_slurm") s   (same output tree $t1)"
echo "RESULT 1   slurm wall / local wall: $(ratio "$(secs "$r_slurm")" "$(secs "$r_local")")  (ceiling 1.3)"

echo
echo "== 2. latency: one changed datum of $N_LAT"
new_store store/lat
mkdir -p data-lat && python3 -c "
for i in range($N_LAT): open('data-lat/f%06d' % i, 'w').write('%d\n' % i * 100)"
(cd store/lat && $PACH repo create in >/dev/null && $PACH -q commit in ../../data-lat >/dev/null &&
 printf '%s\n' 'pipeline: {name: copy}' 'runtime: local' 'transform: {cmd: [sh, -c, "cp $in /pfs/out/"]}' \
	'input: {pfs: {repo: in, glob: "/*"}}' >p.yaml && $PACH pipeline create -f p.yaml >/dev/null &&
 $PACH -q run --executor local >/dev/null 2>&1 && $PACH -q push >/dev/null 2>&1)   # the remote has the inputs
head -c 1048576 /dev/urandom >data-lat/f000007
(cd store/lat && $PACH -q commit in ../../data-lat >/dev/null)
rm -f worker-*.out
(cd store/lat && PACH_TRACE_PERFORMANCE=1 $PACH -q run --executor slurm >/dev/null 2>../../trace)
python3 - trace <<'PY'
import sys, re
t = {}
for l in open(sys.argv[1]):
    m = re.match(r'trace:\s+([\d.]+) ms\s+(.*)', l)
    if m:
        t.setdefault(m.group(2).strip(), []).append(float(m.group(1)))
sub = t['cluster: submitted'][0]
res = t['cluster: result collected'][-1]
end = max(v[-1] for v in t.values())
coord = sub + (end - res)
print(f"whole run {end/1000:.2f} s; before submitting {sub/1000:.2f} s; after the result {(end-res)/1000:.2f} s")
print(f"RESULT 2a  coordinator time without Slurm's scheduling and the task: {coord/1000:.2f} s  (ceiling 1)")
PY
w=$(grep -h "^task " worker-*.out)
echo "worker: $w"
fetched=$(echo "$w" | sed -n 's/.*fetched [0-9]* objects (\([0-9]*\) bytes).*/\1/p')
echo "RESULT 2b  fetched bytes / datum input: $(ratio "$fetched" 1048576)  (ceiling 1.2, plus idx: once per node)"

echo
echo "== 3. bytes fetched per task vs its datums' input"
for mb in 1 100; do
	new_store store/b$mb
	mkdir -p data-b$mb && for i in 1 2; do head -c $((mb * 1048576)) /dev/urandom >data-b$mb/f$i; done
	(cd store/b$mb && $PACH repo create in >/dev/null && $PACH -q commit in ../../data-b$mb >/dev/null &&
	 printf '%s\n' 'pipeline: {name: size}' 'runtime: local' 'datum_set_spec: {number: 2}' \
		'transform: {cmd: [sh, -c, "wc -c <$in >/pfs/out/$(basename $in)"]}' \
		'input: {pfs: {repo: in, glob: "/*"}}' >p.yaml && $PACH pipeline create -f p.yaml >/dev/null)
	rm -f worker-*.out
	(cd store/b$mb && $PACH -q run --executor slurm >/dev/null 2>&1)
	w=$(grep -h "^task " worker-*.out)
	fetched=$(echo "$w" | sed -n 's/.*fetched [0-9]* objects (\([0-9]*\) bytes).*/\1/p')
	echo "$mb MiB datums: $w"
	echo "RESULT 3-${mb}M  fetched / input bytes: $(ratio "$fetched" $((2 * mb * 1048576)))"
done
