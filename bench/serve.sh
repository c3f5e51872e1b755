#!/bin/sh
# bench/serve.sh — the S3 gateway's figures (issue 17), against the
# loopback Swift S3 server (ci/s3-server.sh) holding the same data, and
# against plain reads of the file, in one run:
#   1. GET of a 1 GiB object: aws s3 cp from the gateway vs from Swift;
#      curl from the gateway vs cat of the file (page cache warm, and cold
#      when the caches can be dropped), and vs the ceiling: bench/rawhttp.c,
#      the least any HTTP server does to send the file over loopback here
#   2. 20,000 small objects (4 KiB): aws s3 sync down, gateway vs Swift;
#      GetObject latency of a 4 KiB object, 16 concurrent clients (wrk on a
#      presigned URL, keep-alive): p50 and p99, gateway vs Swift
#   3. ListObjectsV2 of a 100,000-key prefix, paged by 1,000 (aws s3 ls):
#      total time, the server's peak memory
#   4. the server's peak memory under 64 concurrent clients (wrk, 20 s)
#      reading the 1 GiB object, and reading 4 KiB objects
# Transfers are the best of RUNS (default 3).  SMALL (default 20000) and
# KEYS (default 100000) scale sections 2 and 3.  SECTIONS (default 1234)
# picks sections.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACH=${PACH:-$ROOT/pach}
M="python3 $ROOT/bench/measure.py"
B=${BENCH_DIR:-/tmp/pach-bench-serve}
SPORT=${SPORT:-9450}
GPORT=${GPORT:-9460}
RUNS=${RUNS:-3}
SMALL=${SMALL:-20000}
KEYS=${KEYS:-100000}
SECTIONS=${SECTIONS:-1234}
RPORT=${RPORT:-9470}
[ -x "$PACH" ] || { echo "build pach first (make)"; exit 1; }
for c in aws wrk curl cc; do
	command -v $c >/dev/null || { echo "needs $c (apt-get install awscli wrk curl gcc)"; exit 1; }
done
on() { case $SECTIONS in *$1*) return 0 ;; esac; return 1; }
rm -rf "$B" && mkdir -p "$B" && cd "$B"
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n' >aws-config
export AWS_CONFIG_FILE="$B/aws-config"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
SW="env AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url http://127.0.0.1:$SPORT"
GW="env AWS_ACCESS_KEY_ID=AKBENCH AWS_SECRET_ACCESS_KEY=bench-secret aws --endpoint-url http://127.0.0.1:$GPORT"

SPID=$("$ROOT/ci/s3-server.sh" start $SPORT "$B/s3")
GPID= RPID=
trap '"$ROOT/ci/s3-server.sh" stop $SPID; [ -n "$GPID" ] && kill $GPID; [ -n "$RPID" ] && kill $RPID' EXIT

secs() { echo "$1" | cut -d' ' -f1; }
best() { # best CMD: the fastest of RUNS runs, "<seconds> <rss>"
	b=
	for r in $(seq 1 $RUNS); do
		t=$($M "$1")
		if [ -z "$b" ] || python3 -c "import sys; sys.exit(0 if float('$t'.split()[0]) < float('$b'.split()[0]) else 1)"; then b=$t; fi
	done
	echo "$b"
}
mbs() { python3 -c "print(f'{$1/1048576/$2:.0f}')"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
hwm() { awk '/VmHWM/ {print $2}' /proc/$GPID/status; }       # KiB
reset_hwm() { echo 5 >/proc/$GPID/clear_refs; }

echo "== data"
mkdir -p big small list/keys
head -c 1073741824 /dev/urandom >big/big.bin
python3 - "$SMALL" "$KEYS" <<'EOF'
import os, sys
n, keys = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    d = "small/d%02d" % (i % 20)
    os.makedirs(d, exist_ok=True)
    open("%s/f%05d" % (d, i), "wb").write(os.urandom(4096))
for i in range(keys):
    open("list/keys/k%06d" % i, "wb").write(b"%d\n" % i)
EOF
$PACH init store >/dev/null
cd store
$PACH repo create b >/dev/null
$PACH -q put b@master:/big.bin ../big/big.bin >/dev/null
$PACH -q put b@master:/small ../small >/dev/null
$PACH -q put b@master:/list ../list >/dev/null
$PACH config set serve.accessKey AKBENCH && $PACH config set serve.secretKey bench-secret
$PACH serve --listen 127.0.0.1:$GPORT >/dev/null 2>../serve.err &
GPID=$!
cd ..
sleep 1
$SW s3 mb s3://bench >/dev/null
$SW s3 cp --only-show-errors big/big.bin s3://bench/big.bin
if on 2; then
	echo "uploading $SMALL objects to Swift (aws s3 sync) ..."
	$SW s3 sync --only-show-errors small s3://bench/small/
fi

GURL=$($GW s3 presign s3://master.b/big.bin --expires-in 3600)
f=$(cd small && ls d00 | head -1)

if on 1; then
echo "== 1. GET of a 1 GiB object"
BYTES=1073741824
cat big/big.bin >/dev/null
cat_t=$(secs "$(best "cat big/big.bin >/dev/null")")
pipe_t=$(secs "$(best "cat big/big.bin | cat >/dev/null")")
sw_t=$(secs "$(best "$SW s3 cp --only-show-errors s3://bench/big.bin - >/dev/null")")
gw_t=$(secs "$(best "$GW s3 cp --only-show-errors s3://master.b/big.bin - >/dev/null")")
curl_t=$(secs "$(best "curl -sf -o /dev/null '$GURL'")")
# The ceiling: the same file over loopback by a server that does nothing
# else, with whichever of read/write and sendfile(2) is faster here.
cc -O2 -o rawhttp "$ROOT/bench/rawhttp.c"
raw_t=
for mode in copy sendfile; do
	./rawhttp $RPORT big/big.bin $mode & RPID=$!
	sleep 0.3
	t=$(secs "$(best "curl -sf -o /dev/null http://127.0.0.1:$RPORT/")")
	kill $RPID; wait $RPID 2>/dev/null || true; RPID=
	echo "  curl from rawhttp ($mode): $t s ($(mbs $BYTES $t) MB/s)"
	if [ -z "$raw_t" ] || python3 -c "import sys; sys.exit(0 if $t < $raw_t else 1)"; then raw_t=$t; fi
done
echo "  aws s3 cp from Swift:     $sw_t s ($(mbs $BYTES $sw_t) MB/s)"
echo "  aws s3 cp from gateway:   $gw_t s ($(mbs $BYTES $gw_t) MB/s)   gateway/Swift throughput $(ratio $sw_t $gw_t) [>= 1.5]"
echo "  curl from gateway:        $curl_t s ($(mbs $BYTES $curl_t) MB/s)   gateway/ceiling throughput $(ratio $raw_t $curl_t)"
echo "  cat of the file:          $cat_t s ($(mbs $BYTES $cat_t) MB/s)   curl-from-gateway/cat $(ratio $cat_t $curl_t) [>= 0.5]; ceiling/cat $(ratio $cat_t $raw_t)"
echo "  cat of the file to a pipe: $pipe_t s ($(mbs $BYTES $pipe_t) MB/s)   curl-from-gateway/cat-to-a-pipe $(ratio $pipe_t $curl_t)"
if [ -w /proc/sys/vm/drop_caches ]; then
	cold() { # cold CMD: the fastest of RUNS runs, each after dropping the page cache
		b=
		for r in $(seq 1 $RUNS); do
			sync; echo 3 >/proc/sys/vm/drop_caches
			t=$(secs "$($M "$1")")
			if [ -z "$b" ] || python3 -c "import sys; sys.exit(0 if $t < $b else 1)"; then b=$t; fi
		done
		echo "$b"
	}
	ccat_t=$(cold "cat big/big.bin >/dev/null")
	ccurl_t=$(cold "curl -sf -o /dev/null '$GURL'")
	echo "  cold cache: curl from gateway $ccurl_t s, cat $ccat_t s   curl-from-gateway/cat $(ratio $ccat_t $ccurl_t)"
else
	echo "  cold cache: skipped (cannot drop the page cache: /proc/sys/vm/drop_caches is not writable)"
fi
fi

if on 2; then
echo "== 2. $SMALL small objects"
sw_t=$(secs "$(best "rm -rf down-sw && $SW s3 sync --only-show-errors s3://bench/small/ down-sw/")")
gw_t=$(secs "$(best "rm -rf down-gw && $GW s3 sync --only-show-errors s3://master.b/small/ down-gw/")")
diff -r small down-gw
echo "  aws s3 sync down from Swift:   $sw_t s"
echo "  aws s3 sync down from gateway: $gw_t s   gateway/Swift time $(ratio $gw_t $sw_t)"
for who in Swift gateway; do
	if [ $who = Swift ]; then u=$($SW s3 presign s3://bench/small/d00/$f --expires-in 3600); else u=$($GW s3 presign s3://master.b/small/d00/$f --expires-in 3600); fi
	reset_hwm
	wrk -t2 -c16 -d10s --latency "$u" >wrk-$who.out
	p50=$(awk '$1=="50%" {print $2}' wrk-$who.out)
	p99=$(awk '$1=="99%" {print $2}' wrk-$who.out)
	rps=$(awk '/Requests\/sec/ {print $2}' wrk-$who.out)
	non2xx=$(awk '/Non-2xx/ {print $4}' wrk-$who.out)
	echo "  GetObject 4 KiB, 16 clients, $who: p50 $p50, p99 $p99, $rps req/s${non2xx:+, $non2xx non-2xx}"
done
echo "  (goal: gateway p50 < 2 ms)"

fi

if on 3; then
echo "== 3. ListObjectsV2 of a $KEYS-key prefix, paged by 1,000"
reset_hwm
lt=$($M "$GW s3 ls s3://master.b/list/keys/ >listed")
n=$(wc -l <listed)
echo "  aws s3 ls: $(secs "$lt") s for $n keys ($(( n / 1000 )) pages); server peak RSS $(( $(hwm) / 1024 )) MiB"
test "$n" = "$KEYS"

fi

if on 4; then
echo "== 4. server memory under 64 concurrent clients"
reset_hwm
before=$(hwm)
wrk -t2 -c64 -d20s "$GURL" >wrk-big.out
echo "  64 clients reading the 1 GiB object for 20 s: peak RSS $(( $(hwm) / 1024 )) MiB ($(awk '/Transfer\/sec/ {print $2}' wrk-big.out)/s)"
u=$($GW s3 presign s3://master.b/small/d00/$f --expires-in 3600)
reset_hwm
wrk -t2 -c64 -d20s "$u" >wrk-small.out
echo "  64 clients reading a 4 KiB object for 20 s: peak RSS $(( $(hwm) / 1024 )) MiB ($(awk '/Requests\/sec/ {print $2}' wrk-small.out) req/s)"
fi
