#!/bin/sh
# bench/runner.sh — pach run's figures (issue 3), measured in one run.
#   1. after changing 1 of N single-file datums (local runtime), the whole
#      second `pach run` (N=10,000 and 100,000; RUNNER_QUICK=1 skips the
#      100,000 case, whose first run takes several minutes)
#   3. parallelism 2 vs 1 on CPU-bound datums
#   2. per-datum overhead of pach over a bare spawn of the same command:
#      local runtime vs fork+exec, bwrap vs bwrap
#   4. datum batching vs a process per datum (RUNNER_ONLY_2=1: only 2 and 4)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH=${PACH:-$ROOT/pach}
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench-runner}
N=${N:-10000}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
mkdir -p "$B" && cd "$B"
secs() { echo "$1" | cut -d' ' -f1; }
min_of() { if [ -z "$1" ]; then echo "$2"; else python3 -c "import sys; a,b=sys.argv[1:3]; print(a if float(a.split()[0])<=float(b.split()[0]) else b)" "$1" "$2"; fi; }

# one_of_n N: prints progress to stderr, the best second-run time to stdout
one_of_n() {
	n=$1
	rm -rf "s$n" "data$n" && mkdir "data$n"
	python3 -c "
for i in range($n):
    open('data$n/f%06d' % i, 'w').write(str(i))
"
	$PACH init "s$n" >/dev/null
	cd "s$n"
	$PACH repo create in >/dev/null
	$PACH -q commit in "../data$n" >/dev/null
	printf '%s\n' 'pipeline: {name: out}' 'runtime: local' 'transform:' \
		'  cmd: [sh, -c, "cp $in /pfs/out/"]' 'input: {pfs: {repo: in, glob: "/*"}}' \
		'parallelism_spec: {constant: 2}' >p.yaml
	$PACH pipeline create -f p.yaml >/dev/null
	r_first=$($M "$PACH -q run")
	echo "first run over $n datums (not a figure): $(secs "$r_first") s" >&2
	best=
	for i in 1 2 3; do
		echo "changed $i" >"../data$n/f000007"
		$PACH -q commit in "../data$n" >/dev/null
		best=$(min_of "$best" "$($M "$PACH -q run")")
	done
	cd ..
	echo "$best"
}

if [ -z "$RUNNER_ONLY_2" ]; then
echo "== 1. second pach run after changing 1 of $N datums"
r=$(one_of_n "$N")
echo "RESULT 1a  pach run, 1 of $N changed: $(secs "$r") s  (ceiling 0.3)"
if [ -z "$RUNNER_QUICK" ]; then
	r=$(one_of_n 100000)
	echo "RESULT 1b  pach run, 1 of 100000 changed: $(secs "$r") s  (ceiling 1.0)"
fi
fi

echo
echo "== 2. per-datum overhead over a bare spawn of the same command (-j 1, best of 3, alternating)"
# 2a local: pach's local runtime vs a shell loop forking and exec'ing the
#    same `sh -c cp` ($N2 datums);
# 2b bwrap: pach's bwrap runtime vs bwrap run by hand with the same mounts.
N2=${N2:-500}
rm -rf so sl do bare rootfs && mkdir do && for i in $(seq 1 $N2); do echo $i >do/f$i; done
mkdir -p bare/out
$PACH init sl >/dev/null && (cd sl && $PACH repo create in >/dev/null && $PACH -q commit in ../do >/dev/null &&
	printf '%s\n' 'pipeline: {name: o}' 'runtime: local' 'transform:' \
		'  cmd: [sh, -c, "cp $in /pfs/out/"]' 'input: {pfs: {repo: in, glob: "/*"}}' >o.yaml &&
	$PACH pipeline create -f o.yaml >/dev/null && $PACH -q run -j 1 >/dev/null 2>&1)
best_bare=; best_pach=
for i in 1 2 3; do
	best_bare=$(min_of "$best_bare" "$($M "cd $B/bare && for i in \$(seq 1 $N2); do in=../do/f\$i sh -c 'cp \$in out/' </dev/null; done")")
	best_pach=$(min_of "$best_pach" "$($M "cd $B/sl && $PACH -q run -j 1 --reprocess >/dev/null 2>&1")")
done
per_bare=$(python3 -c "print($(secs "$best_bare")/$N2*1000)")
per_pach=$(python3 -c "print($(secs "$best_pach")/$N2*1000)")
echo "bare fork+exec: $(python3 -c "print('%.2f' % $per_bare)") ms; pach local: $(python3 -c "print('%.2f' % $per_pach)") ms/datum"
echo "RESULT 2a  per-datum overhead of pach, local runtime: $(python3 -c "print('%.2f' % ($per_pach-$per_bare))") ms  (ceiling 3)"
if command -v bwrap >/dev/null && command -v busybox >/dev/null; then
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs/in rootfs/pfs/out
	cp "$(command -v busybox)" rootfs/bin/busybox && ln -s busybox rootfs/bin/sh && ln -s busybox rootfs/bin/cp
	mkdir -p bare/in && echo 1 >bare/in/f
	$PACH init so >/dev/null && (cd so && $PACH repo create in >/dev/null && $PACH -q commit in ../do >/dev/null &&
		printf '%s\n' 'pipeline: {name: o}' 'transform:' "  image: dir:$B/rootfs" \
			'  cmd: [sh, -c, "cp $in /pfs/out/"]' 'input: {pfs: {repo: in, glob: "/*"}}' >o.yaml &&
		$PACH pipeline create -f o.yaml >/dev/null && $PACH -q run -j 1 >/dev/null 2>&1)
	best_bare=; best_pach=
	for i in 1 2 3; do
		best_bare=$(min_of "$best_bare" "$($M "for i in \$(seq 1 $N2); do bwrap --die-with-parent --unshare-all --ro-bind $B/rootfs / --proc /proc --dev /dev --tmpfs /tmp --ro-bind $B/bare /pfs --bind $B/bare/out /pfs/out --chdir /pfs --clearenv --setenv in /pfs/in/f -- sh -c 'cp \$in /pfs/out/' </dev/null; done")")
		best_pach=$(min_of "$best_pach" "$($M "cd $B/so && $PACH -q run -j 1 --reprocess >/dev/null 2>&1")")
	done
	per_bare=$(python3 -c "print($(secs "$best_bare")/$N2*1000)")
	per_pach=$(python3 -c "print($(secs "$best_pach")/$N2*1000)")
	echo "bare bwrap spawn: $(python3 -c "print('%.2f' % $per_bare)") ms; pach bwrap: $(python3 -c "print('%.2f' % $per_pach)") ms/datum"
	echo "RESULT 2b  per-datum overhead of pach, bwrap runtime: $(python3 -c "print('%.2f' % ($per_pach-$per_bare))") ms  (ceiling 3)"
else
	echo "RESULT 2b  skipped: bwrap or busybox missing (apt-get install bubblewrap busybox-static)"
fi

echo
echo "== 4. datum batching: a tiny transform over $N2 datums in a container (bwrap), batched vs one process per datum"
# The batched code uses shell builtins only (read, echo, eval): what is
# left per datum is pach's own work and the handshake.
if command -v bwrap >/dev/null && command -v busybox >/dev/null; then
	printf '%s\n' 'pipeline: {name: b}' 'transform:' "  image: dir:$B/rootfs" '  datum_batching: true' \
		'  cmd: [sh, -c, "while echo ok >$PACH_NEXT_DATUM/next; do while read -r l; do eval \"$l\"; done <$PACH_NEXT_DATUM/ready; read -r x <$in; echo \"$x\" >/pfs/out/${in##*/}; done"]' \
		'input: {pfs: {repo: in, glob: "/*"}}' >so/b.yaml
	(cd so && $PACH pipeline create -f b.yaml >/dev/null && $PACH -q run b -j 1 >/dev/null 2>&1)
	best_one=; best_batch=
	for i in 1 2 3; do
		best_one=$(min_of "$best_one" "$($M "cd $B/so && $PACH -q run o -j 1 --reprocess >/dev/null 2>&1")")
		best_batch=$(min_of "$best_batch" "$($M "cd $B/so && $PACH -q run b -j 1 --reprocess >/dev/null 2>&1")")
	done
	test "$(git --git-dir=so/.pach rev-parse refs/heads/o/master^{tree})" = "$(git --git-dir=so/.pach rev-parse refs/heads/b/master^{tree})"
	echo "one process per datum: $(secs "$best_one") s; batched: $(secs "$best_batch") s ($(python3 -c "print('%.2f' % ($(secs "$best_batch")/$N2*1000))") ms/datum)"
	echo "RESULT 4   datum batching speed-up: $(python3 -c "print('%.1f' % ($(secs "$best_one")/$(secs "$best_batch")))") x  (same output tree)"
else
	echo "RESULT 4   skipped: bwrap or busybox missing"
fi
[ -n "$RUNNER_ONLY_2" ] && exit 0

echo
echo "== 3. parallelism 2 vs 1 on CPU-bound datums"
rm -rf sp dp && mkdir dp && for i in 1 2 3 4 5 6 7 8; do echo $i >dp/f$i; done
$PACH init sp >/dev/null && cd sp && $PACH repo create in >/dev/null && $PACH -q commit in ../dp >/dev/null
printf '%s\n' 'pipeline: {name: cpu}' 'runtime: local' 'transform:' \
	'  cmd: [sh, -c, "i=0; while [ $i -lt 800000 ]; do i=$((i+1)); done; cp $in /pfs/out/"]' \
	'input: {pfs: {repo: in, glob: "/*"}}' >cpu.yaml
$PACH pipeline create -f cpu.yaml >/dev/null
r1=; r2=
for i in 1 2; do
	r1=$(min_of "$r1" "$($M "$PACH -q run --reprocess -j 1")")
	r2=$(min_of "$r2" "$($M "$PACH -q run --reprocess -j 2")")
done
cd ..
echo "8 CPU-bound datums: -j 1 $(secs "$r1") s, -j 2 $(secs "$r2") s"
echo "RESULT 3   parallelism 2 speed-up: $(python3 -c "print('%.2f' % ($(secs "$r1")/$(secs "$r2")))") x  (floor 1.7)"
