#!/bin/sh
# bench/remote.sh — remote figures (issue 4), against the aws CLI on the
# same data and the same loopback S3 server (ci/s3-server.sh), one run:
#   1. push of one 1 GiB file / of 2,000 x 512 KiB files vs aws s3 cp / sync
#   2. clone of each vs aws s3 cp --recursive (download)
#   3. a push with nothing new: time and requests, small and large remote
#   4. one new small file onto remotes of 2,000 and 20,000 files: requests
# Each transfer is the best of RUNS (default 2) runs, for pach and aws alike.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH=${PACH:-$ROOT/pach}
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench-remote}
PORT=${PORT:-9400}
RUNS=${RUNS:-2}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
command -v aws >/dev/null || { echo "needs the aws CLI (apt-get install awscli)"; exit 1; }
rm -rf "$B" && mkdir -p "$B" && cd "$B"
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
EP=http://127.0.0.1:$PORT
AWS="aws --endpoint-url $EP"
PID=$("$ROOT/ci/s3-server.sh" start $PORT "$B/s3")
trap '"$ROOT/ci/s3-server.sh" stop $PID' EXIT
$AWS s3 mb s3://bench >/dev/null

secs() { echo "$1" | cut -d' ' -f1; }
min_of() { if [ -z "$1" ]; then echo "$2"; else python3 -c "import sys; a,b=sys.argv[1:3]; print(a if float(a.split()[0])<=float(b.split()[0]) else b)" "$1" "$2"; fi; }
mbs() { python3 -c "print(f'{$1/1048576/$2:.0f}')"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "== data"
mkdir big small
head -c 1073741824 /dev/urandom >big/big.bin
python3 -c "
import os
for i in range(2000):
    open('small/f%04d' % i, 'wb').write(os.urandom(512 * 1024))
"
BYTES=1073741824
for d in big small; do
	$PACH init "s-$d" >/dev/null && (cd "s-$d" && $PACH repo create $d >/dev/null && $PACH -q commit $d ../$d >/dev/null)
done

# transfer NAME DIR: push (fresh prefix each run), clone, and the aws peers.
transfer() {
	name=$1 dir=$2
	best_push= best_aws_up= best_clone= best_aws_down=
	for r in $(seq 1 $RUNS); do
		(cd "s-$name" && $PACH remote remove b$r >/dev/null 2>&1 || true;
		 $PACH remote add b$r s3://bench/pach-$name-$r --endpoint $EP --path-style)
		best_push=$(min_of "$best_push" "$($M "cd s-$name && $PACH -q push b$r")")
		if [ $name = big ]; then
			best_aws_up=$(min_of "$best_aws_up" "$($M "$AWS s3 cp --only-show-errors big/big.bin s3://bench/aws-$name-$r/big.bin")")
		else
			best_aws_up=$(min_of "$best_aws_up" "$($M "$AWS s3 sync --only-show-errors small s3://bench/aws-$name-$r/")")
		fi
		rm -rf c-$name down-$name
		best_clone=$(min_of "$best_clone" "$($M "$PACH -q clone s3://bench/pach-$name-$r c-$name --endpoint $EP --path-style")")
		best_aws_down=$(min_of "$best_aws_down" "$($M "$AWS s3 cp --only-show-errors --recursive s3://bench/aws-$name-$r/ down-$name/")")
	done
	p=$(secs "$best_push") a=$(secs "$best_aws_up") c=$(secs "$best_clone") d=$(secs "$best_aws_down")
	echo "push $name: pach $p s ($(mbs $BYTES $p) MB/s, peak RSS $(echo "$best_push" | cut -d' ' -f2) KiB), aws $a s ($(mbs $BYTES $a) MB/s)"
	echo "RESULT 1$3 push $dir: $(ratio $a $p) x aws s3 $4  (floor 1.0)"
	echo "clone $name: pach $c s ($(mbs $BYTES $c) MB/s, peak RSS $(echo "$best_clone" | cut -d' ' -f2) KiB), aws download $d s ($(mbs $BYTES $d) MB/s)"
	echo "RESULT 2$3 clone $dir: $(ratio $d $c) x aws s3 cp --recursive  (floor 1.0)"
	(cd c-$name && $PACH fsck >/dev/null) || { echo "clone of $name fails fsck"; exit 1; }
}

echo
echo "== 1, 2. transfers (best of $RUNS)"
transfer big "one 1 GiB file" a cp
transfer small "2,000 x 512 KiB" b sync

echo
echo "== 3. a push with nothing new"
for name in big small; do
	best=
	for r in 1 2 3; do best=$(min_of "$best" "$($M "cd s-$name && $PACH -q push b1")"); done
	req=$(cd s-$name && $PACH push b1 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['requests'])")
	echo "RESULT 3  nothing-new push to a remote of $name: $(secs "$best") s, $req request(s)  (ceiling 0.3 s, constant)"
done

echo
echo "== 4. one new small file onto remotes of 2,000 and 20,000 files"
for n in 2000 20000; do
	rm -rf many && mkdir many && python3 -c "
for i in range($n):
    open('many/f%05d' % i, 'w').write(str(i))
"
	rm -rf s-many && $PACH init s-many >/dev/null && cd s-many && $PACH repo create many >/dev/null &&
		$PACH -q commit many ../many >/dev/null &&
		$PACH remote add o s3://bench/many-$n --endpoint $EP --path-style && $PACH -q push >/dev/null &&
		echo new >../many/new-file && $PACH -q commit many ../many >/dev/null &&
		out=$($PACH push --json) && t=$($M "true") && cd ..
	req=$(echo "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)['requests'])")
	echo "RESULT 4  push of 1 new file onto $n files: $req requests"
done
