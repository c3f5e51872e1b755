#!/bin/sh
# bench/store.sh — the store's figures against git and the hardware, all
# measured in this one run on the same data (issue 2's "must show").
#
#   BENCH_DIR (default /tmp/pach-bench) holds the data; it is reused.
#   BIG_MB (default 1024) sizes the large file; SMALL_N (default 20000).
#   Versions of big files are measured by bench/versions.sh, run at the
#   end (STORE_VERSIONS=0 skips it).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH="$ROOT/pach"
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench}
BIG_MB=${BIG_MB:-1024}
SMALL_N=${SMALL_N:-20000}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
mkdir -p "$B" && cd "$B"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

secs() { echo "$1" | cut -d' ' -f1; }
# min_of A B: the faster of two "secs rss" results (the disk and the
# neighbours of a VM are noisy; every figure is the best of a few runs, for
# pach and for its peer alike).
min_of() { if [ -z "$1" ]; then echo "$2"; else python3 -c "import sys; a,b=sys.argv[1:3]; print(a if float(a.split()[0])<=float(b.split()[0]) else b)" "$1" "$2"; fi; }
rss() { echo "$1" | cut -d' ' -f2; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mbps() { python3 -c "print(f'{$BIG_MB/$1:.0f}')"; }

echo "== data"
if [ ! -f big/big.bin ] || [ "$(stat -c %s big/big.bin)" != $((BIG_MB * 1048576)) ]; then
	rm -rf big && mkdir big && head -c $((BIG_MB * 1048576)) /dev/urandom >big/big.bin
fi
if [ ! -d small ] || [ "$(ls small/*/ | wc -l)" -lt "$SMALL_N" ]; then
	rm -rf small && mkdir small
	python3 - "$SMALL_N" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"small/d{i // 1000:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:05d}", "wb") as f:
        f.write(os.urandom(4096))
PY
fi
echo "big: $BIG_MB MiB incompressible; small: $SMALL_N x 4 KiB"
sync

echo
echo "== 1. commit of one ${BIG_MB} MiB incompressible file"
cat big/big.bin >/dev/null
r_sha=; r_dd=; r_pach=
for i in 1 2; do
	r_sha=$(min_of "$r_sha" "$($M "sha1sum big/big.bin")")
	sync; rm -f ddcopy; r_dd=$(min_of "$r_dd" "$($M "dd if=big/big.bin of=ddcopy bs=1M conv=fsync 2>/dev/null")"); rm -f ddcopy
	rm -rf s1 && $PACH init s1 >/dev/null && $PACH -C s1 repo create data >/dev/null
	sync; r_pach=$(min_of "$r_pach" "$($M "$PACH -C s1 -q commit data big -m big")")
done
rm -rf g1 && git init -q g1 && { ln big/big.bin g1/big.bin 2>/dev/null || cp big/big.bin g1/; }
sync; r_git=$($M "cd g1 && git add -A && git commit -qm big")
phys=$(python3 -c "print(max($(secs "$r_sha"), $(secs "$r_dd")))")
echo "sha1sum: $(secs "$r_sha") s   dd conv=fsync: $(secs "$r_dd") s   -> physical limit $(mbps "$phys") MB/s"
echo "pach commit: $(secs "$r_pach") s = $(mbps "$(secs "$r_pach")") MB/s, peak RSS $(($(rss "$r_pach") / 1024)) MiB"
echo "git add+commit: $(secs "$r_git") s"
echo "RESULT 1a  pach / physical limit throughput: $(ratio "$phys" "$(secs "$r_pach")")  (floor 0.6)"
echo "RESULT 1b  pach vs git add+commit: $(ratio "$(secs "$r_git")" "$(secs "$r_pach")") x  (floor 10)"
echo "RESULT 1c  pach commit peak RSS: $(($(rss "$r_pach") / 1024)) MiB  (ceiling 64)"

echo
echo "== 2. commit of $SMALL_N x 4 KiB files"
r_pach2=; r_git2=
for i in 1 2 3; do
	rm -rf s2 && $PACH init s2 >/dev/null && $PACH -C s2 repo create data >/dev/null
	sync; r_pach2=$(min_of "$r_pach2" "$($M "$PACH -C s2 -q commit data small -m small")")
done
for i in 1 2; do
	rm -rf g2 && git init -q g2 && cp -r small g2/
	sync; r_git2=$(min_of "$r_git2" "$($M "cd g2 && git add -A && git commit -qm small")")
done
echo "pach: $(secs "$r_pach2") s   git add -A && git commit: $(secs "$r_git2") s"
echo "RESULT 2   pach vs git: $(ratio "$(secs "$r_git2")" "$(secs "$r_pach2")") x faster  (floor 5)"

echo
echo "== 3. re-commit of the unchanged $SMALL_N files"
sleep 1
$PACH -C s2 -q commit data small -m warm >/dev/null   # settles racy stat-cache entries
(cd g2 && git status >/dev/null)
r_re=; r_st=
for i in 1 2 3 4 5; do
	r_re=$(min_of "$r_re" "$($M "$PACH -C s2 -q commit data small -m again")")
	r_st=$(min_of "$r_st" "$($M "cd g2 && git status")")
done
echo "pach re-commit: $(secs "$r_re") s   git status: $(secs "$r_st") s"
echo "RESULT 3   pach re-commit / git status: $(ratio "$(secs "$r_re")" "$(secs "$r_st")")  (ceiling 1.5)"

echo
echo "== 4. pach cat of the ${BIG_MB} MiB file"
cat big/big.bin >/dev/null
$PACH -C s1 cat data:/big.bin >/dev/null
r_cat=; r_pcat=; r_cat_p=; r_pcat_p=
for i in 1 2 3; do
	r_cat=$(min_of "$r_cat" "$($M "cat big/big.bin >/dev/null")")
	r_pcat=$(min_of "$r_pcat" "$($M "$PACH -C s1 cat data:/big.bin >/dev/null")")
	r_cat_p=$(min_of "$r_cat_p" "$($M "cat big/big.bin | cat >/dev/null")")
	r_pcat_p=$(min_of "$r_pcat_p" "$($M "$PACH -C s1 cat data:/big.bin | cat >/dev/null")")
done
echo "to /dev/null: cat $(secs "$r_cat") s, pach cat $(secs "$r_pcat") s (peak RSS $(($(rss "$r_pcat") / 1024)) MiB)"
echo "through a pipe: cat $(secs "$r_cat_p") s, pach cat $(secs "$r_pcat_p") s"
echo "RESULT 4a  pach cat / cat throughput (to /dev/null): $(ratio "$(secs "$r_cat")" "$(secs "$r_pcat")")  (floor 0.5)"
echo "RESULT 4b  pach cat / cat throughput (pipe): $(ratio "$(secs "$r_cat_p")" "$(secs "$r_pcat_p")")  (floor 0.5)"
echo "RESULT 4c  pach cat peak RSS: $(($(rss "$r_pcat") / 1024)) MiB  (ceiling 64)"

echo
echo "== 5. diff between commits differing in 1 of $SMALL_N files"
f=$(ls small/d007 | head -n 1)
cp small/d007/$f saved && head -c 4096 /dev/urandom >small/d007/$f
$PACH -C s2 -q commit data small -m one-change >/dev/null
cp saved small/d007/$f && rm saved
$PACH -C s2 diff data@master~1 data@master --name-status
best=9
for i in 1 2 3 4 5; do
	t=$(secs "$($M "$PACH -C s2 diff data@master~1 data@master --name-status")")
	best=$(python3 -c "print(min($best, $t))")
done
echo "RESULT 5   pach diff: $(python3 -c "print(int($best*1000))") ms  (ceiling 50)"

if [ "${STORE_VERSIONS:-1}" != 0 ]; then
	echo
	BENCH_DIR="$B" sh "$ROOT/bench/versions.sh"
fi
