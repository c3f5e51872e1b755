#!/bin/sh
test_description='remotes on a real S3 server (Swift + s3api on 127.0.0.1): the remote suite, interop with the aws CLI, faults'
. ./test-lib.sh

if ! /usr/bin/python3 -c 'import swift' 2>/dev/null || ! command -v memcached >/dev/null; then
	test_skip_all "no S3 test server: python3-swift and memcached are not installed (ci/install-deps.sh installs them)"
fi
command -v aws >/dev/null && test_set_prereq AWSCLI

PORT=$((19000 + ($$ % 180) * 5))
S3DIR="$TRASH_DIRECTORY/s3data"
SERVER=$PACH_BUILD_DIR/ci/s3-server.sh
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN
# Faults are tested with short retry budgets; the rest keeps the default.
start_server() { PID=$($SERVER start $PORT "$S3DIR") && echo $PID >"$TRASH_DIRECTORY/server.pid"; }
stop_server() { [ -f "$TRASH_DIRECTORY/server.pid" ] && $SERVER stop "$(cat "$TRASH_DIRECTORY/server.pid")"; rm -f "$TRASH_DIRECTORY/server.pid"; }
test_atexit stop_server

if start_server; then
	test_set_prereq S3
else
	say "# could not start the S3 server"
fi
awscli() { aws --endpoint-url "http://127.0.0.1:$PORT" "$@"; }

BUCKET=pach-t5510
URL="s3://$BUCKET/team/store"
ADDOPTS="--endpoint http://127.0.0.1:$PORT --path-style"
PREREQ=S3,AWSCLI
raw_ls() { awscli s3 ls --recursive "s3://$BUCKET/team/store/" | awk '{print $4}' | sed 's|^team/store/||' | sort; }
# A copy of the remote whose new packs have one byte changed.
EVIL_URL="s3://$BUCKET/team/evil"
make_corrupt_copy() {
	rm -rf evil && awscli s3 cp --recursive "s3://$BUCKET/team/store/" evil/ >/dev/null &&
	for p in $new_packs; do
		printf 'X' | dd of="evil/$p" bs=1 seek=100 conv=notrunc 2>/dev/null || return 1
	done &&
	awscli s3 cp --recursive evil/ "s3://$BUCKET/team/evil/" >/dev/null
}

test_expect_success S3,AWSCLI 'setup: a bucket' '
	awscli s3 mb s3://$BUCKET
'

. "$TEST_DIRECTORY/lib-remote.sh"

test_expect_success S3,AWSCLI 'interop: the aws CLI lists and downloads what pach wrote, in the documented layout' '
	awscli s3 cp s3://$BUCKET/team/store/state state >/dev/null && head -1 state >first &&
	echo "pach-remote 1" >want && test_cmp want first &&
	grep "^ref [0-9a-f]\{40\} refs/heads/images/master$" state && grep "^ref [0-9a-f]\{40\} refs/pach/meta$" state &&
	grep "^pack [0-9a-f]\{40\} [0-9]*$" state | while read -r _ name size; do
		awscli s3 cp s3://$BUCKET/team/store/packs/$name.pack p.pack >/dev/null &&
		test "$(wc -c <p.pack)" = "$size" && git index-pack -o p.idx p.pack >out &&
		test "$(cat out)" = "$name" || exit 1
	done
'

test_expect_success S3,AWSCLI 'credentials from ~/.aws/credentials and AWS_PROFILE; never printed' '
	mkdir -p "$HOME/.aws" && printf "[ci]\naws_access_key_id = test:tester\naws_secret_access_key = testing\n" >"$HOME/.aws/credentials" &&
	(cd B && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$HOME/.aws/credentials" AWS_PROFILE=ci pach fetch >out 2>&1) &&
	(cd B && env -u AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=wrong-secret AWS_SHARED_CREDENTIALS_FILE="$HOME/.aws/credentials" AWS_PROFILE=ci pach fetch >out 2>&1) &&
	! grep -r "testing\|wrong-secret" B/out
'

test_expect_success S3,AWSCLI 'a wrong secret: one fatal line naming the S3 error, nothing changed' '
	cd A && echo more >d/more && pach commit images d && store_state >before &&
	AWS_SECRET_ACCESS_KEY=not-the-secret test_fatal pach push images &&
	grep "SignatureDoesNotMatch\|AccessDenied" fatal.err && ! grep "not-the-secret" fatal.err &&
	store_state >after && test_cmp before after && cd ..
'

test_expect_success S3,AWSCLI 'a missing bucket: one clear fatal line' '
	cd A && pach remote add nobucket s3://no-such-bucket-here/x $ADDOPTS &&
	test_fatal pach push nobucket images && grep "bucket .no-such-bucket-here. does not exist" fatal.err &&
	test_fatal pach fetch nobucket && cd ..
'

test_expect_success S3,AWSCLI 'server killed mid-push: clear error, store intact; after a restart the push resumes' '
	cd A && head -c 300000000 /dev/urandom >d/huge.bin && pach commit images d >/dev/null &&
	{ (PACH_REMOTE_RETRY_SECONDS=2 pach push images >push.out 2>push.err; echo $? >push.rc) & } &&
	sleep 0.7 && stop_server && wait &&
	test "$(cat push.rc)" = 128 && grep "^fatal: remote .origin.:" push.err && test_line_count = 1 push.err &&
	git_fsck && start_server &&
	pach push images >out && grep images@master out && cd .. &&
	(cd B && pach pull images >/dev/null && pach cat images:/huge.bin | cmp - ../A/d/huge.bin)
'

test_expect_success S3,AWSCLI 'server down for a few seconds: retried, the push completes' '
	cd A && head -c 30000000 /dev/urandom >d/huge2.bin && pach commit images d >/dev/null &&
	stop_server &&
	{ (PACH_REMOTE_RETRY_SECONDS=60 pach push images >push.out 2>push.err; echo $? >push.rc) & } &&
	sleep 2 && start_server && wait &&
	test "$(cat push.rc)" = 0 && grep images@master push.out && cd .. &&
	(cd B && pach pull images >/dev/null) && test "$(tip B images@master)" = "$(tip A images@master)"
'

test_expect_success S3,AWSCLI 'kill -9 of a push: store intact, the next push completes' '
	cd A && head -c 300000000 /dev/urandom >d/huge3.bin && pach commit images d >/dev/null &&
	test_crash_at s3-part:2 pach push images &&
	git_fsck && pach push images >out && grep images@master out && cd .. &&
	(cd B && pach pull images >/dev/null && git_fsck) && test "$(tip B images@master)" = "$(tip A images@master)"
'

test_expect_success S3,AWSCLI 'no incomplete multipart upload is left behind' '
	awscli s3api list-multipart-uploads --bucket $BUCKET >uploads.json &&
	! grep "UploadId" uploads.json
'

stop_server
test_done
