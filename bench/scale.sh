#!/bin/sh
# bench/scale.sh — the store with many files (issue 16): ingest rate and
# peak memory of commit, re-commit, one change, diff and work-tree status
# at N files, against git on the same tree in the same run.
#
#   BENCH_DIR (default /tmp/pach-bench) holds the data; SCALE_N (default
#   1000000) files of 64 bytes in directories of 1,000.  SCALE_GIT=0 leaves
#   out git (its copy of the tree) and SCALE_WT=0 the work tree (another
#   copy): at 10M files each copy takes 10M inodes.  Ten million 64-byte
#   files fit on an ext4 image made with -O inline_data (data in the inode);
#   SCALE_WARM=0 reads only their inodes first, not their content (which
#   takes longer than the benchmark there).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH="$ROOT/pach"
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench}/scale
N=${SCALE_N:-1000000}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
mkdir -p "$B" && cd "$B"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

secs() { echo "$1" | cut -d' ' -f1; }
mib() { echo $(($(echo "$1" | cut -d' ' -f2) / 1024)); }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "== data: $N files of 64 bytes, 1,000 per directory (read once first: figures are with a warm cache)"
if [ ! -f "data.$N" ]; then
	rm -rf data data.* && mkdir data
	python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1])
for d in range((n + 999) // 1000):
    os.makedirs(f"data/d{d:05d}")
    for i in range(d * 1000, min(n, d * 1000 + 1000)):
        with open(f"data/d{d:05d}/f{i:07d}", "wb") as f:
            f.write(os.urandom(32).hex().encode())
PY
	touch "data.$N"
fi
sync
if [ "${SCALE_WARM:-1}" = 0 ]; then
	find data -type f | wc -l >/dev/null   # names and inodes only
else
	find data -type f -print0 | xargs -0 cat >/dev/null
fi

echo
echo "== S1. first commit (ingest)"
rm -rf s && "$PACH" init s >/dev/null && "$PACH" -C s repo create r >/dev/null
r1=$($M "$PACH -C s -q commit r data -m one")
echo "RESULT S1  ingest: $(python3 -c "print(int($N / $(secs "$r1")))") files/s, peak RSS $(mib "$r1") MiB  (floor 30,000 files/s; ceiling 256 MiB at 1M, 512 MiB at 10M)"

echo
echo "== S2. re-commit, nothing changed (a full scan)"
r2=$($M "$PACH -C s -q commit r data -m two")
echo "RESULT S2  re-commit: $(secs "$r2") s, peak RSS $(mib "$r2") MiB"

echo
echo "== S3. one file of $N changed"
date +%s%N >data/d00007/f0007001   # new content every run
r3=$($M "$PACH -C s -q commit r data -m three")
if [ "${SCALE_GIT:-1}" = 0 ]; then
	echo "RESULT S3  one changed file: pach commit $(secs "$r3") s, peak RSS $(mib "$r3") MiB (git left out: SCALE_GIT=0)"
else
	if [ ! -d g/.git ]; then
		rm -rf g && mkdir g && cp -a data g/data && (cd g && git init -q && git add -A && git commit -qm one)
	fi
	date +%s%N >g/data/d00007/f0007001
	git -C g status --porcelain >/dev/null
	rg=$($M "git -C g status --porcelain")
	echo "pach commit $(secs "$r3") s ($(mib "$r3") MiB); git status $(secs "$rg") s ($(mib "$rg") MiB)"
	echo "RESULT S3  one changed file: pach commit / git status: $(ratio "$(secs "$r3")" "$(secs "$rg")")  (ceiling 1.3 without a monitor), peak RSS $(mib "$r3") MiB"
fi

echo
echo "== S3m. one file of $N changed, with a file-system monitor (pach monitor; git: core.fsmonitor with watchman)"
"$PACH" -C s monitor start data >/dev/null
"$PACH" -C s -q commit r data -m m0 >/dev/null   # the first commit with it walks everything
date +%s%N >data/d00007/f0007002
r3m=$($M "$PACH -C s -q commit r data -m m1")
"$PACH" -C s monitor stop data >/dev/null
peer="git's monitor left out"
if [ "${SCALE_GIT:-1}" != 0 ] && command -v watchman >/dev/null; then
	hook=/usr/share/git-core/templates/hooks/fsmonitor-watchman.sample
	cp "$hook" g/.git/hooks/fsmonitor-watchman && chmod +x g/.git/hooks/fsmonitor-watchman
	git -C g config core.fsmonitor .git/hooks/fsmonitor-watchman && git -C g config core.untrackedCache true
	git -C g status --porcelain >/dev/null && git -C g status --porcelain >/dev/null   # watchman crawls once
	date +%s%N >g/data/d00007/f0007002
	rgm=$($M "git -C g status --porcelain")
	git -C g config --unset core.fsmonitor
	watchman watch-del "$B/g" >/dev/null 2>&1 || true
	watchman shutdown-server >/dev/null 2>&1 || true
	peer="git status with watchman $(secs "$rgm") s: $(ratio "$(secs "$r3m")" "$(secs "$rgm")")"
fi
echo "RESULT S3m one changed file with the monitor: pach commit $(secs "$r3m") s (ceiling 1 s), peak RSS $(mib "$r3m") MiB; $peer"

echo
echo "== S4. diff of two commits differing in one file"
r4=$($M "$PACH -C s diff r@master~1 r@master --stat")
echo "RESULT S4  diff: $(secs "$r4") s, peak RSS $(mib "$r4") MiB"

echo
echo "== S5. datums of a pipeline over the N files, glob /* (one datum per directory)"
cat >spec.yaml <<'EOF2'
pipeline:
  name: count
input:
  pfs:
    repo: r
    glob: "/*"
transform:
  cmd: ["sh", "-c", "ls /pfs/r | wc -l > /pfs/out/n"]
EOF2
r5=$($M "$PACH -C s datums -f spec.yaml")
echo "RESULT S5  datum listing: $(secs "$r5") s, peak RSS $(mib "$r5") MiB"

if [ "${SCALE_WT:-1}" != 0 ]; then
	echo
	echo "== S6. a work tree of the N files: checkout, then status with one file changed"
	rm -rf wt
	r6=$($M "$PACH -C s checkout r@master wt")
	echo "RESULT S6a checkout: $(python3 -c "print(int($N / $(secs "$r6")))") files/s, peak RSS $(mib "$r6") MiB"
	(cd wt && "$PACH" status >/dev/null)
	date +%s%N >wt/d00007/f0007001
	r7=$($M "cd wt && $PACH status")
	if [ "${SCALE_GIT:-1}" = 0 ]; then
		echo "RESULT S6b status: $(secs "$r7") s, peak RSS $(mib "$r7") MiB"
	else
		echo "RESULT S6b status / git status: $(ratio "$(secs "$r7")" "$(secs "$rg")") ($(secs "$r7") s), peak RSS $(mib "$r7") MiB (git $(mib "$rg") MiB)"
	fi
	"$PACH" -C s monitor start wt >/dev/null
	(cd wt && "$PACH" status >/dev/null)   # the first status with it walks
	date +%s%N >wt/d00007/f0007002
	r8=$($M "cd wt && $PACH status")
	"$PACH" -C s monitor stop wt >/dev/null
	echo "RESULT S6c status with the monitor: $(secs "$r8") s, peak RSS $(mib "$r8") MiB"
	# The other work-tree commands, one file changed each time; git's
	# own on its copy (g) when it is there.
	peer() {   # peer LABEL PACH_RESULT GIT_COMMAND
		if [ "${SCALE_GIT:-1}" = 0 ]; then
			echo "RESULT S6d $1: $(secs "$2") s, peak RSS $(mib "$2") MiB"
		else
			gr=$($M "cd g && $3")
			echo "RESULT S6d $1 / git: $(ratio "$(secs "$2")" "$(secs "$gr")") ($(secs "$2") s vs $(secs "$gr") s), peak RSS $(mib "$2") MiB (git $(mib "$gr") MiB)"
		fi
	}
	date +%s%N >wt/d00007/f0007003; [ "${SCALE_GIT:-1}" = 0 ] || date +%s%N >g/data/d00007/f0007003
	r=$($M "cd wt && $PACH diff --name-status"); peer "diff (files against the index)" "$r" "git diff --name-status"
	r=$($M "cd wt && $PACH add d00007/f0007003"); peer "add of one file" "$r" "git add data/d00007/f0007003"
	r=$($M "cd wt && $PACH restore --staged d00007/f0007003"); peer "restore --staged of it" "$r" "git restore --staged data/d00007/f0007003"
	r=$($M "cd wt && $PACH restore d00007/f0007003"); peer "restore of it" "$r" "git restore data/d00007/f0007003"
	date +%s%N >wt/d00007/f0007004; [ "${SCALE_GIT:-1}" = 0 ] || date +%s%N >g/data/d00007/f0007004
	r=$($M "cd wt && $PACH commit -a -m one"); peer "commit -a, one changed" "$r" "git commit -qam one"
	(cd wt && "$PACH" checkout -b side >/dev/null 2>&1 && date +%s%N >d00008/f0008001 && "$PACH" commit -a -m side >/dev/null)
	[ "${SCALE_GIT:-1}" = 0 ] || (cd g && git switch -qc side && date +%s%N >data/d00008/f0008001 && git commit -qam side)
	r=$($M "cd wt && $PACH checkout master"); peer "switch to a branch one file apart" "$r" "git switch -q master"
	rm -rf wt
fi
