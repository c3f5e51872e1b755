#!/bin/sh
# bench/worktree.sh — work tree and completion figures (issue 6), one run,
# best of N for each, against git on the same files in the same run:
#   1. checkout of 20,000 small files: pach checkout vs git checkout (clone
#      of the same commit into a fresh work tree)
#   2. status of that unchanged work tree: pach status vs git status
#   3. status after one file changed
#   4. completion on a store with 1,000 branches: pach __complete for
#      `pach cat images@` and for a path inside a commit (ceiling 50 ms)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH=${PACH:-$ROOT/pach}
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench-worktree}
N=${N:-5}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
rm -rf "$B" && mkdir -p "$B" && cd "$B"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
best() { # best wall time of N runs of a command
	b=
	for i in $(seq 1 "$N"); do
		t=$($M "$1" | cut -d' ' -f1)
		b=$(python3 -c "import sys; print(min(float(x) for x in sys.argv[1:] if x))" $b $t)
	done
	echo "$b"
}
ratio() { python3 -c "import sys; print('%.2fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

echo "== data: 20,000 files in 50 directories"
python3 -c "
import os
for i in range(20000):
    d = 'src/d%02d' % (i % 50)
    os.makedirs(d, exist_ok=True)
    open('%s/f%05d.txt' % (d, i), 'w').write('file %d\n' % i * 20)
"
$PACH init >/dev/null && $PACH repo create images >/dev/null && $PACH commit images src -m data >/dev/null
git init -q gitsrc && git -C gitsrc config gc.auto 0 && cp -r src/. gitsrc/ && git -C gitsrc add -A &&
	git -C gitsrc commit -qm data && git -C gitsrc gc -q   # packed, as a real repository

echo "== 1. checkout of 20,000 files"
# Fresh directories, alternating, nothing deleted in between: ext4 makes
# creating files right after deleting thousands of others far slower
# (inode reuse checks), which would measure the order of the runs.
sync
pc= gc=
for i in $(seq 1 "$N"); do
	t=$($M "$PACH -q checkout images@master $B/wt$i 2>/dev/null" | cut -d' ' -f1)
	pc=$(python3 -c "import sys; print(min(float(x) for x in sys.argv[1:] if x))" $pc $t)
	t=$($M "git clone -q --no-hardlinks gitsrc $B/gw$i" | cut -d' ' -f1)
	gc=$(python3 -c "import sys; print(min(float(x) for x in sys.argv[1:] if x))" $gc $t)
done
echo "pach checkout: ${pc}s   git clone (local, no hardlinks): ${gc}s   pach/git: $(ratio "$pc" "$gc")"
mv wt1 wt && mv gw1 gw
sleep 1
(cd wt && $PACH status >/dev/null) && git -C gw status >/dev/null

echo "== 2. status, nothing changed"
ps=$(best "cd $B/wt && $PACH status")
gs=$(best "cd $B/gw && git status")
echo "pach status: ${ps}s   git status: ${gs}s   pach/git: $(ratio "$ps" "$gs")"

echo "== 3. status, one file changed"
echo changed >>wt/d07/f00007.txt && echo changed >>gw/d07/f00007.txt
ps=$(best "cd $B/wt && $PACH status")
gs=$(best "cd $B/gw && git status")
echo "pach status: ${ps}s   git status: ${gs}s   pach/git: $(ratio "$ps" "$gs")"

echo "== 4. completion with 1,000 branches"
c=$(git --git-dir=.pach rev-parse images/master)
for i in $(seq 1 1000); do echo "create refs/heads/images/b$i $c"; done | git --git-dir=.pach update-ref --stdin
n=$($PACH __complete cat images@ | wc -l)
c1=$(N=20 best "$PACH __complete cat images@")
c2=$(N=20 best "$PACH __complete cat images@b500:/d1")
echo "pach __complete cat images@ ($n candidates): ${c1}s   cat images@b500:/d1: ${c2}s   (ceiling 0.050)"
git --git-dir=.pach pack-refs --all
c3=$(N=20 best "$PACH __complete cat images@")
echo "same, refs packed: ${c3}s"
