#!/bin/sh
# bench/versions.sh — what a new version of a big file costs (issue 16):
# store growth, commit and read speed, against the hardware, git-lfs and
# git, all measured in this one run on the same data.  bench/store.sh runs
# it; it also runs alone.
#
#   BENCH_DIR (default /tmp/pach-bench), VER_MB (1024) the file's size,
#   VERSIONS (10) versions with ~1 MiB changed in 4 KiB pages at random
#   places, SHIFT_VERSIONS (3) versions each for "1 MiB appended" and
#   "1 MiB inserted in the middle".  TAR_REPO: a git repository whose
#   release tags v2.40.0.. are archived as successive source tars (skipped
#   if absent).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH="$ROOT/pach"
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench}/versions
VER_MB=${VER_MB:-1024}
VERSIONS=${VERSIONS:-10}
SHIFT_VERSIONS=${SHIFT_VERSIONS:-3}
TAR_REPO=${TAR_REPO:-/work/.mirror/git+git/repo}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
rm -rf "$B" && mkdir -p "$B" && cd "$B"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

secs() { echo "$1" | cut -d' ' -f1; }
kib() { du -sk "$1" | cut -f1; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mib() { python3 -c "print(f'{$1/1024:.2f}')"; }
mutate() { # file mode bytes
	python3 - "$@" <<'PY'
import os, random, sys
path, mode, amount = sys.argv[1], sys.argv[2], int(sys.argv[3])
size = os.path.getsize(path)
if mode == "random":
    with open(path, "r+b") as f:
        for i in range(amount // 4096):
            f.seek(random.randrange(size - 4096) & ~4095); f.write(os.urandom(4096))
elif mode == "append":
    with open(path, "ab") as f: f.write(os.urandom(amount))
elif mode == "insert":
    mid = size // 2 + 777
    with open(path, "rb") as f, open(path + ".new", "wb") as g:
        left = mid
        while left:
            b = f.read(min(left, 1 << 20)); g.write(b); left -= len(b)
        g.write(os.urandom(amount))
        while True:
            b = f.read(1 << 20)
            if not b: break
            g.write(b)
    os.replace(path + ".new", path)
PY
}

# versions MODE N: commit N versions of w/big.bin changed by MODE into a
# fresh store; prints growth per version (KiB) and keeps commit timings.
versions() {
	mode=$1 n=$2
	rm -rf s w && "$PACH" init s >/dev/null && "$PACH" -C s repo create data >/dev/null && mkdir w
	head -c $((VER_MB << 20)) /dev/urandom >w/big.bin
	"$PACH" -C s -q commit data w -m v1 >/dev/null
	: >growth.$mode; : >commit.$mode; : >sha.$mode
	i=2
	while [ $i -le "$n" ]; do
		mutate w/big.bin "$mode" $((1 << 20))
		sync
		before=$(kib s/.pach/objects)
		cat w/big.bin >/dev/null
		$M "sha1sum w/big.bin" | cut -d' ' -f1 >>sha.$mode
		$M "$PACH -C s -q commit data w -m v$i" | cut -d' ' -f1 >>commit.$mode
		echo $(($(kib s/.pach/objects) - before)) >>growth.$mode
		i=$((i + 1))
	done
}
stats() { python3 -c "import sys; v=[float(x) for x in open(sys.argv[1])]; print(f'mean {sum(v)/len(v)/1024:.2f} MiB, max {max(v)/1024:.2f} MiB over {len(v)} versions')" "$1"; }

echo "== 6. versions of a ${VER_MB} MiB incompressible file"
versions random "$VERSIONS"
echo "RESULT 6a  store growth per version, 1 MiB changed in 4 KiB pages: $(stats growth.random)  (ceiling 2 MiB + metadata; whole copies: $VER_MB MiB)"
python3 - commit.random sha.random <<'PY'
import sys
c = [float(x) for x in open(sys.argv[1])]
s = [float(x) for x in open(sys.argv[2])]
# The first delta also chunks the first version (read once, then cached).
later = c[1:] or c
print(f"commit of a changed version: first {c[0]:.2f} s, then best {min(later):.2f} s, median {sorted(later)[len(later)//2]:.2f} s; sha1sum of it {min(s):.2f} s")
print(f"RESULT 6b  commit / physical limit of reading the file (sha1sum, which any git id needs): {min(s)/sorted(later)[len(later)//2]:.2f}  (floor 0.5)")
PY
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && cold=$($M "cat w/big.bin" | cut -d' ' -f1) &&
	echo "cold cat of the file: $cold s"

# Reading: the newest version is whole; the oldest is at the end of the
# longest chain.
newest=$("$PACH" -C s rev-parse data@master)
best() { b=; for k in 1 2 3; do t=$($M "$1" | cut -d' ' -f1); b=$(python3 -c "print(min(float('$t'), float('${b:-1e9}')))"); done; echo "$b"; }
t_whole=$(best "$PACH -C s cat data@master:/big.bin >/dev/null")
t_old=$(best "$PACH -C s cat data@master~$((VERSIONS - 1)):/big.bin >/dev/null")
t_mid=$(best "$PACH -C s cat data@master~$((VERSIONS / 2)):/big.bin >/dev/null")
echo "pach cat: whole $t_whole s, version 1 (chain of $((VERSIONS - 1))) $t_old s, version $((VERSIONS - VERSIONS / 2)) $t_mid s"
echo "RESULT 6c  pach cat of the oldest (deltified) version / of the whole one, throughput: $(ratio "$t_whole" "$t_old")  (floor 0.5)"
"$PACH" -C s cat data@master~$((VERSIONS - 1)):/big.bin | sha1sum >/dev/null
git --git-dir=s/.pach fsck --strict --no-dangling 2>&1 | grep -v '^notice' || true

for mode in append insert; do
	versions $mode "$SHIFT_VERSIONS"
	echo "RESULT 6d  store growth per version, 1 MiB ${mode}ed: $(stats growth.$mode)  (ceiling 2 MiB + metadata)"
done

echo
echo "== 6e. the same $VERSIONS random-edit versions in git-lfs (3 versions) and plain git"
if git lfs version >/dev/null 2>&1; then
	rm -rf lfs && git init -q lfs && (cd lfs && git lfs install --local >/dev/null && git lfs track '*.bin' >/dev/null && git add .gitattributes && git commit -qm attrs)
	head -c $((VER_MB << 20)) /dev/urandom >lfs/big.bin && (cd lfs && git add big.bin && git commit -qm v1)
	before=$(kib lfs/.git)
	mutate lfs/big.bin random $((1 << 20)) && (cd lfs && git add big.bin && git commit -qm v2)
	echo "RESULT 6e  git-lfs store growth for one version: $(mib $(($(kib lfs/.git) - before))) MiB"
	rm -rf lfs
else
	echo "git-lfs not installed: skipped"
fi

echo
echo "== 7. real-world versions: a SQLite database and source tars (store size in MiB)"
realworld() { # name: versions are files $name.1 .. $name.N in this directory
	name=$1
	rm -rf rs rg && "$PACH" init rs >/dev/null && "$PACH" -C rs repo create d >/dev/null && mkdir -p rw && git init -q rg
	copies=0
	for f in $(ls $name.* | sort -t. -k2 -n); do
		cp "$f" rw/file && "$PACH" -C rs -q commit d rw -m "$f" >/dev/null
		cp "$f" rg/file && (cd rg && git add file && git commit -qm "$f")
		copies=$((copies + $(kib "$f")))
	done
	(cd rg && git gc -q --aggressive)
	echo "RESULT 7   $name, $(ls $name.* | wc -l) versions: plain copies $(mib $copies), pach $(mib $(kib rs/.pach/objects)), git gc --aggressive $(mib $(kib rg/.git/objects))"
	git --git-dir=rs/.pach fsck --strict --no-dangling 2>&1 | grep -v '^notice' || true
	rm -rf rs rg rw
}
python3 - <<'PY'
import os, random, sqlite3, shutil
random.seed(7)
db = sqlite3.connect("db.sqlite")
db.execute("create table t (id integer primary key, name text, v real, note text)")
words = [f"w{i}" for i in range(5000)]
db.executemany("insert into t values (?,?,?,?)",
               ((i, random.choice(words), random.random(), " ".join(random.choices(words, k=12))) for i in range(600000)))
db.commit()
for k in range(1, 7):
    db.execute("update t set v = v + 1, note = ? where id % 997 = ?", (f"edit {k}", k))
    db.executemany("insert into t (name, v, note) values (?,?,?)",
                   ((random.choice(words), random.random(), "new") for i in range(3000)))
    db.execute("delete from t where id % 1999 = ?", (k,))
    db.commit()
    shutil.copy("db.sqlite", f"sqlite.{k}")
PY
echo "sqlite: $(ls -la sqlite.1 | awk '{print $5}') bytes per version"
realworld sqlite
if [ -d "$TAR_REPO" ] && git --git-dir="$TAR_REPO" rev-parse -q --verify v2.40.0 >/dev/null; then
	k=1
	for v in v2.40.0 v2.41.0 v2.42.0 v2.43.0 v2.44.0 v2.45.0; do
		git --git-dir="$TAR_REPO" archive --prefix=git/ "$v" >tar.$k 2>/dev/null || true
		k=$((k + 1))
	done
	echo "tars: git's source, releases v2.40.0..v2.45.0, $(ls -la tar.1 | awk '{print $5}') bytes each"
	realworld tar
else
	echo "no TAR_REPO with release tags: source tars skipped"
fi

echo
echo "== 6f. push of one new version (1 MiB changed) of the ${VER_MB} MiB file"
rm -rf s w remote && "$PACH" init s >/dev/null && "$PACH" -C s repo create data >/dev/null && mkdir w remote
head -c $((VER_MB << 20)) /dev/urandom >w/big.bin
"$PACH" -C s -q commit data w -m v1 >/dev/null
"$PACH" -C s remote add origin "file://$B/remote" && "$PACH" -C s -q push >/dev/null
mutate w/big.bin random $((1 << 20)) && "$PACH" -C s -q commit data w -m v2 >/dev/null
before=$(kib remote)
t_push=$($M "$PACH -C s -q push" | cut -d' ' -f1)
echo "RESULT 6f  push of one new version sent $(mib $(($(kib remote) - before))) MiB in $t_push s  (ceiling 2 MiB)"
rm -rf c && "$PACH" clone "file://$B/remote" c >/dev/null && "$PACH" -C c cat data@master:/big.bin | cmp - w/big.bin && echo "a clone reads it back"
rm -rf s w remote c
