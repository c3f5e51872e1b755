#!/bin/sh
test_description='pach put from an http(s) URL or an S3 object'
. ./test-lib.sh

HPORT=$((21000 + ($$ % 500) * 3))
SPORT=$((HPORT + 1))
mkdir -p www/sub && echo "from the web" >www/hello.txt && head -c 3000000 /dev/urandom >www/sub/big.bin
(cd www && exec python3 -m http.server --bind 127.0.0.1 $HPORT >/dev/null 2>&1) &
HPID=$!
S3DIR="$TRASH_DIRECTORY/s3data"
SERVER=$PACH_BUILD_DIR/ci/s3-server.sh
stop() {
	kill $HPID 2>/dev/null
	[ -f "$TRASH_DIRECTORY/server.pid" ] && $SERVER stop "$(cat "$TRASH_DIRECTORY/server.pid")"
	rm -f "$TRASH_DIRECTORY/server.pid"
}
test_atexit stop
i=0; while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $HPORT), 1)" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
if /usr/bin/python3 -c 'import swift' 2>/dev/null && command -v memcached >/dev/null && command -v aws >/dev/null &&
	PID=$($SERVER start $SPORT "$S3DIR") && echo $PID >"$TRASH_DIRECTORY/server.pid"; then
	test_set_prereq S3
else
	say "# the S3 part needs the test server (python3-swift, memcached) and the aws CLI"
fi

test_expect_success 'setup' 'pach init && pach repo create r'

test_expect_success 'a URL is fetched and stored under its file name, or at the path given' '
	pach put r http://127.0.0.1:$HPORT/hello.txt >/dev/null && test "$(pach cat r:/hello.txt)" = "from the web" &&
	pach put r:/data/x.bin http://127.0.0.1:$HPORT/sub/big.bin >/dev/null && pach cat r:/data/x.bin | cmp - www/sub/big.bin &&
	pach put r:/both/ http://127.0.0.1:$HPORT/hello.txt "http://127.0.0.1:$HPORT/sub/big.bin?x=1" >/dev/null &&
	pach ls r:/both >out && printf "/both/big.bin\n/both/hello.txt\n" >want && test_cmp want out &&
	test -z "$(ls .pach/pach/tmp 2>/dev/null)" && git_fsck
'

test_expect_success 'a URL with --split' '
	printf "a\nb\nc\n" >www/lines.txt &&
	pach put r:/split http://127.0.0.1:$HPORT/lines.txt --split line >/dev/null && test "$(pach ls r:/split | wc -l)" = 3
'

test_expect_success 'HTTP errors, refused schemes and unusable names fail, changing nothing' '
	store_state >before &&
	test_fatal pach put r http://127.0.0.1:$HPORT/nosuch && grep "unable to fetch .http://127.0.0.1:$HPORT/nosuch.: .*404" fatal.err &&
	test_fatal pach put r http://127.0.0.1:1/x && grep "unable to fetch" fatal.err &&
	test_fatal pach put r http://127.0.0.1:$HPORT/ && grep "names no file" fatal.err &&
	test_fatal pach put r "http://user:secret@127.0.0.1:$HPORT/nosuch" && ! grep secret fatal.err &&
	store_state >after && test_cmp before after
'

test_expect_success S3 'an S3 object, with the endpoint remotes use' '
	aws --endpoint-url http://127.0.0.1:$SPORT s3 mb s3://putsrc >/dev/null &&
	aws --endpoint-url http://127.0.0.1:$SPORT s3 cp www/sub/big.bin s3://putsrc/in/big.bin >/dev/null &&
	AWS_ENDPOINT_URL=http://127.0.0.1:$SPORT pach put r:/s3/ s3://putsrc/in/big.bin >/dev/null &&
	pach cat r:/s3/big.bin | cmp - www/sub/big.bin &&
	AWS_ENDPOINT_URL=http://127.0.0.1:$SPORT test_fatal pach put r s3://putsrc/in/nosuch && grep "no such object" fatal.err
'

test_done
