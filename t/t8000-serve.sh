#!/bin/sh
test_description='pach serve: the S3 gateway, tried with the aws CLI, boto3, rclone and s3cmd'
. ./test-lib.sh

command -v curl >/dev/null || test_skip_all "curl is not installed"
command -v aws >/dev/null && test_set_prereq AWSCLI
python3 -c 'import boto3' 2>/dev/null && test_set_prereq BOTO3
command -v rclone >/dev/null && test_set_prereq RCLONE
command -v s3cmd >/dev/null && test_set_prereq S3CMD
command -v openssl >/dev/null && test_set_prereq OPENSSL

AK=AKIDPACHTEST SK=pach-test-secret
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN AWS_CA_BUNDLE

. "$TEST_DIRECTORY/lib-serve.sh"
awss3() { aws --endpoint-url "$(cat main.url)" "$@"; }

test_expect_success 'setup: a store with files, credentials set' '
	pach init && pach repo create data && mkdir -p d/e &&
	printf "a,b\n1,2\n" >d/x.csv && echo hi >d/e/f.txt && echo yo >d/g.txt &&
	head -c 3000000 /dev/urandom >d/rand.bin && ln -s x.csv d/link &&
	pach commit data d -m first &&
	pach config set serve.accessKey $AK && pach config set serve.secretKey $SK &&
	printf "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n" >aws-config
'
export AWS_CONFIG_FILE="$TRASH_DIRECTORY/aws-config"

test_expect_success 'bad invocations: one fatal line each, nothing listens' '
	test_fatal pach serve --listen nowhere &&
	grep "bad address" fatal.err &&
	test_fatal pach serve --listen 127.0.0.1:99999 &&
	test_fatal pach serve --listen 10.1.2.3.4:80 &&
	test_expect_code 129 pach serve --tls-cert x 2>err && grep "go together" err &&
	test_fatal pach -C nowhere serve
'

test_expect_success 'without credentials it refuses to start, unless --anonymous' '
	mkdir nocreds && (cd nocreds && pach init >/dev/null && test_fatal pach serve --listen 127.0.0.1:0 &&
	grep "serve.accessKey" fatal.err)
'

test_expect_success 'serve starts and prints its URL' '
	start_serve main && grep "^http://127.0.0.1:[0-9]*$" main.url && grep "S3 gateway" main.err
'

test_expect_success 'a port in use is a fatal line' '
	test_fatal pach serve --listen "$(sed "s|http://||" main.url)" && grep "Address already in use" fatal.err
'

test_expect_success AWSCLI 'aws s3 ls: a bucket per branch, keys as pach ls -r has them' '
	awss3 s3 ls >buckets && grep " master.data$" buckets &&
	awss3 s3 ls --recursive s3://master.data/ | awk "{print \$4}" >keys &&
	pach ls -r data | sed "s|^/||" | grep -v "/$" | sort >want && sort keys >got && test_cmp want got
'

test_expect_success AWSCLI 'aws s3 cp down: every byte as pach cat gives it' '
	for f in x.csv e/f.txt rand.bin link; do
		awss3 s3 cp s3://master.data/$f got.$$ >/dev/null && pach cat data:/$f >want.$$ &&
		cmp got.$$ want.$$ || return 1
	done
'

test_expect_success 'an uploaded page opened in a browser cannot run scripts on this origin' '
	echo "<script>alert(1)</script>" >page.html && pach put data@master:/page.html page.html >/dev/null &&
	start_serve pages --anonymous --read-only &&
	curl -sfD hdr -o /dev/null "$(cat pages.url)/master.data/page.html" && stop_serve pages &&
	grep -i "^content-security-policy: default-src .none.; sandbox" hdr && grep -i "^x-content-type-options: nosniff" hdr
'

test_expect_success AWSCLI 'aws s3 cp up: one commit, fsck --strict is clean' '
	before=$(pach rev-parse data@master) &&
	echo new >new.txt && awss3 s3 cp new.txt s3://master.data/up/new.txt >/dev/null &&
	test "$(pach cat data:/up/new.txt)" = new &&
	test "$(pach rev-parse data@master~1)" = "$before" &&
	pach log data -n 1 >log && grep "s3: put up/new.txt" log &&
	git_fsck
'

test_expect_success AWSCLI 'aws s3 sync up and down (200 files and a 20 MB multipart one)' '
	mkdir -p src/a src/b && for i in $(seq 1 200); do echo $i >src/a/$i.txt; done &&
	head -c 20000000 /dev/urandom >src/b/big.bin &&
	awss3 s3 sync src s3://master.data/sync/ >/dev/null &&
	awss3 s3 sync s3://master.data/sync/ dst/ >/dev/null && diff -r src dst &&
	pach get data@master:/sync out && diff -r src out &&
	awss3 s3 sync src s3://master.data/sync/ >again && test_must_be_empty again &&
	git_fsck
'

test_expect_success BOTO3 'boto3: listing, ranges, ETags, conditionals, deletes, copies, versions, multipart, presigned URLs, signatures, concurrency' '
	python3 "$TEST_DIRECTORY/lib-serve-boto3.py" "$(cat main.url)" $AK $SK "$TRASH_DIRECTORY" \
		"$PACH_BUILD_DIR/pach" >boto.out 2>&1; code=$?;
	cat boto.out >&4; test $code = 0 && ! grep FAIL boto.out && test "$(grep -c "^ok" boto.out)" -ge 26
'

test_expect_success RCLONE 'rclone: copy up and down, check by MD5' '
	cat >rclone.conf <<-EOF &&
	[pach]
	type = s3
	provider = Other
	access_key_id = $AK
	secret_access_key = $SK
	endpoint = $(cat main.url)
	region = us-east-1
	force_path_style = true
	list_version = 2
	EOF
	mkdir rsrc && for i in 1 2 3; do echo r$i >rsrc/r$i; done &&
	rclone --config rclone.conf copy rsrc pach:master.data/rc &&
	rclone --config rclone.conf copy pach:master.data/sync rdst && diff -r src rdst &&
	rclone --config rclone.conf check src pach:master.data/sync 2>check.err &&
	grep "0 differences found" check.err &&
	test "$(pach cat data:/rc/r2)" = r2
'

test_expect_success S3CMD 's3cmd: ls, put, get (checked against the ETag)' '
	hp=$(sed "s|http://||" main.url) &&
	printf "[default]\naccess_key = $AK\nsecret_key = $SK\nhost_base = $hp\nhost_bucket = $hp\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n" >s3cmd.cfg &&
	s3cmd -c s3cmd.cfg ls s3://master.data/ >ls.out && grep "s3://master.data/x.csv" ls.out &&
	s3cmd -c s3cmd.cfg put new.txt s3://master.data/s3cmd/new.txt >/dev/null &&
	s3cmd -c s3cmd.cfg get s3://master.data/d/../x.csv got.csv >/dev/null 2>&1; test_path_is_missing got.csv &&
	s3cmd -c s3cmd.cfg get s3://master.data/s3cmd/new.txt got.txt >/dev/null && test_cmp new.txt got.txt
'

test_expect_success BOTO3 '--domain: buckets by virtual host (boto3), path style still served' '
	test_fatal pach serve --domain "S3..test" && grep "bad domain" fatal.err &&
	test_fatal pach serve --domain "a/b" &&
	start_serve vhost --domain s3.test &&
	port=$(sed "s/.*://" vhost.url) &&
	python3 "$TEST_DIRECTORY/lib-serve-vhost.py" $port $AK $SK >vhost.out 2>&1 ||
	{ cat vhost.out; false; } &&
	cat vhost.out && test $(grep -c "^ok" vhost.out) = 5 &&
	pach cat "data@master:/vhost/a b.txt" >got && echo virtual >want && test_cmp want got &&
	pach cat data@master:/metrics >got && echo m >want && test_cmp want got &&
	curl -sf "$(cat vhost.url)/metrics" | grep -q "^pach_gateway_requests_total" &&
	stop_serve vhost
'

test_expect_success 'unsigned and badly signed requests are refused; the store does not change' '
	url=$(cat main.url) && store_state >before &&
	curl -s -o resp -w "%{http_code}" "$url/master.data/x.csv" >code && test "$(cat code)" = 403 &&
	grep "<Code>AccessDenied</Code>" resp &&
	curl -s -o resp -w "%{http_code}" -X PUT --data-binary @new.txt "$url/master.data/evil" >code &&
	test "$(cat code)" = 403 &&
	curl -s -o resp -w "%{http_code}" -H "Authorization: AWS4-HMAC-SHA256 Credential=$AK/20260101/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00" \
		-H "x-amz-date: 20260101T000000Z" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT --data-binary @new.txt "$url/master.data/evil" >code &&
	test "$(cat code)" = 403 && grep "RequestTimeTooSkewed" resp &&
	curl -s -o resp -w "%{http_code}" -H "Authorization: AWS $AK:abc" "$url/master.data/x.csv" >code &&
	test "$(cat code)" = 400 && grep "version 2 is not supported" resp &&
	curl -s -o resp -w "%{http_code}" "$url/master.data/a%zz" >code && test "$(cat code)" = 400 &&
	store_state >after && test_cmp before after
'

test_expect_success AWSCLI 'writes to a commit bucket, or with --read-only, are refused' '
	c=$(pach rev-parse data@master) &&
	awss3 s3 cp s3://$c.data/x.csv fromcommit >/dev/null && pach cat data:/x.csv | cmp - fromcommit &&
	{ awss3 s3 cp new.txt s3://$c.data/no 2>err; test $? = 1; } && grep AccessDenied err &&
	start_serve ro --read-only && store_state >before &&
	{ aws --endpoint-url "$(cat ro.url)" s3 cp new.txt s3://master.data/no 2>err; test $? = 1; } &&
	grep "read-only" err &&
	aws --endpoint-url "$(cat ro.url)" s3 cp s3://master.data/x.csv ro.csv >/dev/null &&
	store_state >after && test_cmp before after && stop_serve ro
'

test_expect_success '--anonymous: unsigned requests read, never write' '
	start_serve anon --anonymous --read-only && url=$(cat anon.url) &&
	curl -sf "$url/master.data/x.csv" >anon.csv && pach cat data:/x.csv | cmp - anon.csv &&
	curl -sf "$url/master.data?list-type=2&prefix=e/" >list.xml && grep "<Key>e/f.txt</Key>" list.xml &&
	curl -s -o nul.xml -w "%{http_code}" "$url/master.data/a%00b" >code && test "$(cat code)" = 400 &&
	grep "<Code>InvalidArgument</Code>" nul.xml && python3 -c "import xml.dom.minidom as m; m.parse(\"nul.xml\")" &&
	curl -s -o resp -w "%{http_code}" -X PUT --data-binary @new.txt "$url/master.data/evil" >code &&
	test "$(cat code)" = 403 && stop_serve anon
'

test_expect_success OPENSSL 'TLS with a given certificate' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 2>/dev/null &&
	start_serve tls --anonymous --tls-cert cert.pem --tls-key key.pem && grep "^https://" tls.url &&
	curl -sf --cacert cert.pem "$(cat tls.url)/master.data/x.csv" >tls.csv && pach cat data:/x.csv | cmp - tls.csv &&
	! curl -sf "$(cat tls.url)/master.data/x.csv" && stop_serve tls
'

test_expect_success '/metrics: requests by operation and status, in Prometheus text format' '
	curl -sf "$(cat main.url)/metrics" >m &&
	grep "^pach_gateway_requests_total{op=\"GetObject\",status=\"200\"} [1-9]" m &&
	grep "^pach_gateway_requests_total{op=\"PutObject\",status=\"200\"} [1-9]" m &&
	grep "^pach_gateway_request_seconds_bucket{op=\"GetObject\",le=\"+Inf\"} [1-9]" m &&
	grep "^pach_store_repos [1-9]" m && grep "^# TYPE pach_gateway_request_seconds histogram" m
'

test_expect_success 'the server stops on SIGTERM and leaves no staged files' '
	stop_serve main && ls .pach/pach/tmp >left && test_must_be_empty left &&
	git_fsck
'

test_expect_success 'staged bodies of a killed server are removed at start; a live one'"'"'s stay' '
	sleep 1000 & echo $! >sleeper.pid && live=$(cat sleeper.pid) &&
	: >.pach/pach/tmp/s3-put999999999-0 && : >".pach/pach/tmp/s3-put$live-0" &&
	start_serve again && test_path_is_missing .pach/pach/tmp/s3-put999999999-0 &&
	test_path_is_file ".pach/pach/tmp/s3-put$live-0" && stop_serve again && rm ".pach/pach/tmp/s3-put$live-0"
'

test_done
