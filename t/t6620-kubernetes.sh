#!/bin/sh
test_description='pach run --executor kubernetes: Indexed Job manifests checked against the Kubernetes API schema, run end to end on a one-machine stand-in for a cluster (lib-kubectl.py: real bwrap containers, real kubectl jsonpath)'
. ./test-lib.sh

if ! /usr/bin/python3 -c 'import swift, yaml' 2>/dev/null || ! command -v memcached >/dev/null || ! command -v aws >/dev/null; then
	test_skip_all "no S3 test server: python3-swift, python3-yaml, memcached and awscli are needed (ci/install-deps.sh installs them)"
fi
SCHEMA=${PACH_KUBE_SCHEMA:-/var/lib/pach-test/kube-schema}
if command -v node >/dev/null && test -d "$SCHEMA/node_modules/kubernetes-models"; then
	test_set_prereq KUBESCHEMA
else
	say "# the schema checks are skipped: no Kubernetes schema packages in $SCHEMA (ci/install-deps.sh test installs them with npm)"
fi
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null && command -v kubectl >/dev/null; then
	test_set_prereq CLUSTER
else
	say "# the end-to-end cases are skipped: they need bwrap and kubectl"
fi
command -v podman >/dev/null && timeout 60 podman info >/dev/null 2>&1 && test_set_prereq PODMAN
busybox=$(command -v busybox || echo /bin/busybox)
file -L "$busybox" 2>/dev/null | grep -q "statically linked" || test_skip_all "no static busybox (Debian: busybox-static) for the pipeline's image"

PORT=$((22000 + ($$ % 180) * 5))
SERVER=$PACH_BUILD_DIR/ci/s3-server.sh
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN
S3PID=
cleanup() {
	for p in "$TRASH_DIRECTORY"/kube/jobs/*.pid; do
		test -f "$p" && kill -9 -- "-$(cat "$p")" 2>/dev/null
	done
	test -n "$S3PID" && $SERVER stop "$S3PID"
}
test_atexit cleanup
awscli() { aws --endpoint-url "http://127.0.0.1:$PORT" "$@"; }
BUCKET=pach-t6620
URL="s3://$BUCKET/k8s"
validate() { node "$TEST_DIRECTORY/lib-kube-validate.mjs" "$SCHEMA"; }
tree_of() { git --git-dir="$1/.pach" rev-parse "refs/heads/$2^{tree}"; }

# The stand-in cluster: kubectl is lib-kubectl.py; images are root
# filesystems here (the pipeline's: busybox; the worker's: unpacked from
# the OCI image runner/worker-image.sh builds).
mkdir -p bin kube &&
cat >bin/kubectl <<EOF &&
#!/bin/sh
exec /usr/bin/python3 "$TEST_DIRECTORY/lib-kubectl.py" "\$@"
EOF
chmod +x bin/kubectl
export KUBE_EMU_DIR="$TRASH_DIRECTORY/kube" KUBE_EMU_KUBECTL="$(command -v kubectl)"
export KUBE_EMU_IMAGES="busybox:emu=$TRASH_DIRECTORY/rootfs;pach-worker:test=$TRASH_DIRECTORY/worker-root"

S3PID=$($SERVER start $PORT "$TRASH_DIRECTORY/s3data") && awscli s3 mb "s3://$BUCKET" >/dev/null ||
	test_skip_all "the S3 test server did not start"

test_expect_success 'setup: a store, a pipeline on a busybox image, an S3 remote' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh cat cp ls echo wc basename sleep env grep; do ln -s busybox rootfs/bin/$a; done &&
	mkdir store && cd store && pach init -q . >/dev/null && pach repo create nums &&
	mkdir d && for i in 1 2 3 4 5; do seq $i $((i * 100)) >d/f$i; done &&
	pach commit nums d -m five >/dev/null &&
	cat >p.yaml <<-\EOF &&
	pipeline: {name: sums}
	transform:
	  image: busybox:emu
	  cmd: [sh, -c, "wc -l <$nums >/pfs/out/$(basename $nums).n; echo summed $(basename $nums) in $PWD"]
	input: {pfs: {repo: nums, glob: "/*"}}
	resource_requests: {cpu: 0.5, memory: 64Mi}
	resource_limits: {memory: 1Gi, gpu: {type: nvidia.com/gpu, number: 1}}
	datum_tries: 2
	job_timeout: 10m
	EOF
	pach pipeline create -f p.yaml &&
	pach remote add origin "$URL" --endpoint "http://127.0.0.1:$PORT" --path-style &&
	pach config set kubernetes.workerImage pach-worker:test &&
	pach config set kubernetes.pollSeconds 0.3
'

test_expect_success '--dry-run prints a Secret and an Indexed Job, credentials redacted, nothing written' '
	(cd store && pach run --executor kubernetes --dry-run >../m.yaml 2>../err) &&
	grep "^# sums: 5 datums: 5 would run" m.yaml &&
	grep -x "kind: \"Secret\"" m.yaml && grep -x "kind: \"Job\"" m.yaml &&
	grep "completionMode: \"Indexed\"" m.yaml && grep "completions: 5" m.yaml &&
	grep "backoffLimitPerIndex: 1" m.yaml && grep "restartPolicy: \"Never\"" m.yaml &&
	grep "activeDeadlineSeconds: 600" m.yaml &&
	grep "AWS_SECRET_ACCESS_KEY: \"REDACTED\"" m.yaml && ! grep testing m.yaml &&
	grep "cpu: \"500m\"" m.yaml && grep "memory: \"67108864\"" m.yaml && grep "memory: \"1073741824\"" m.yaml &&
	grep "\"nvidia.com/gpu\": \"1\"" m.yaml &&
	grep -x "          image: \"busybox:emu\"" m.yaml && grep -x "          image: \"pach-worker:test\"" m.yaml &&
	(cd store && test_must_fail pach rev-parse sums@master && pach job list sums >../jobs) && ! grep -v "^JOB " jobs &&
	awscli s3 ls >buckets && grep " $BUCKET$" buckets &&
	{ awscli s3 ls --recursive "s3://$BUCKET/" || :; } >keys && test_must_be_empty keys
'

test_expect_success KUBESCHEMA 'the manifests are valid against the Kubernetes API schema' '
	validate <m.yaml >v.out && cat v.out && test $(grep -c ": valid$" v.out) = 2
'

test_expect_success KUBESCHEMA 'the schema check fails on a misspelt field, a wrong type, a bad enum, a missing name' '
	sed "s/backoffLimitPerIndex/backoffLimitPerindex/" m.yaml | test_must_fail validate >v.out &&
	grep "V1JobSpec has no field .backoffLimitPerindex." v.out &&
	sed "s/completions: 5/completions: \"5\"/" m.yaml | test_must_fail validate >v.out && grep "completions" v.out &&
	sed "s/\"Indexed\"/\"Indexd\"/" m.yaml | test_must_fail validate >v.out && grep "completionMode" v.out &&
	sed "/- name: \"user\"/s/name: \"user\"/tty: false/" m.yaml | test_must_fail validate >v.out &&
	grep "required property name" v.out
'

test_expect_success 'what the API server would refuse beyond the schema: names, labels, quantities' '
	sed -n "s/^  name: \"\(.*\)\"$/\1/p" m.yaml >names && test $(wc -l <names) = 2 &&
	! grep -vE "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" names &&
	# the pods are named <job>-<index>-<random 5>: 63 at most
	job=$(sed -n 2p names) && test $((${#job} + 1 + 5 + 1 + 5)) -le 63 &&
	sed -n "s/^ *\"[a-z./-]*\": \"\(.*\)\"$/\1/p" m.yaml | sort -u >labels &&
	! grep -vE "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$" labels &&
	sed -n "s/^ *\(cpu\|memory\|ephemeral-storage\): \"\(.*\)\"$/\2/p" m.yaml >quantities &&
	test $(wc -l <quantities) = 3 && ! grep -vE "^[0-9]+m?$" quantities
'

test_expect_success 'kubernetes.secret names a Secret of the site: none is applied, the pods read it' '
	(cd store && pach config set kubernetes.secret s3-creds &&
	 pach run --executor kubernetes --dry-run >../m2.yaml && pach config unset kubernetes.secret) &&
	! grep "kind: \"Secret\"" m2.yaml && grep -A1 "secretRef:" m2.yaml | grep "name: \"s3-creds\""
'

test_expect_success 'refused: an image that is a local file, a file:// remote without a claim, an unknown executor' '
	(cd store && sed "s|busybox:emu|dir:/tmp/x|; s/name: sums/name: local-img/" p.yaml >q.yaml &&
	 pach pipeline create -f q.yaml &&
	 test_fatal pach run local-img --executor kubernetes --dry-run &&
	 grep "pulls images from a registry" fatal.err && pach pipeline delete local-img &&
	 mkdir ../shared && pach remote add shared "file://$TRASH_DIRECTORY/shared" &&
	 test_fatal pach run sums --executor kubernetes --remote shared --dry-run &&
	 grep "set kubernetes.claim" fatal.err &&
	 pach config set kubernetes.claim pach-data &&
	 pach run sums --executor kubernetes --remote shared --dry-run >../m3.yaml &&
	 pach config unset kubernetes.claim && pach remote remove shared) &&
	grep "claimName: \"pach-data\"" m3.yaml && grep "mountPath: \"$TRASH_DIRECTORY/shared\"" m3.yaml &&
	(cd store && test_expect_code 129 pach run --executor kube 2>err && grep "unknown executor" err)
'

test_expect_success KUBESCHEMA 'the file:// variant is valid too' '
	validate <m3.yaml
'

test_expect_success CLUSTER 'setup: the worker image, built and unpacked' '
	sh "$PACH_BUILD_DIR/runner/worker-image.sh" "$PACH_BUILD_DIR/build/pach" worker-image test >out &&
	grep "oci:worker-image:test" out &&
	manifest=$(sed "s/.*\"digest\":\"sha256:\([0-9a-f]*\)\".*/\1/" worker-image/index.json) &&
	layer=$(sed "s/.*\"layers\":\[{[^}]*\"digest\":\"sha256:\([0-9a-f]*\)\".*/\1/" worker-image/blobs/sha256/$manifest) &&
	echo "$(sha256sum <worker-image/blobs/sha256/$layer | cut -d" " -f1)" >got && echo $layer >want && test_cmp want got &&
	mkdir worker-root && tar -xzf worker-image/blobs/sha256/$layer -C worker-root &&
	test -x worker-root/pach/bin/pach && test -f worker-root/pach/lib/ld.so &&
	test -f worker-root/pach/lib/ca-certificates.crt && ! test -e worker-root/bin
'

test_expect_success CLUSTER,PODMAN 'podman reads the worker image and runs the worker in it' '
	podman pull -q oci:worker-image:test >id &&
	test_when_finished "podman rmi -f $(cat id) >/dev/null 2>&1" &&
	podman run --rm --network=none --ulimit nofile=$(ulimit -n):$(ulimit -n) --ulimit nproc=4096:4096 "$(cat id)" /pach/lib/ld.so --library-path /pach/lib /pach/bin/pach version >v &&
	grep "^pach version" v
'

test_expect_success CLUSTER 'the bundle runs where there is no C library at all (the busybox image)' '
	mkdir -p rootfs/pach-bin && bwrap --ro-bind rootfs / --ro-bind worker-root/pach /pach-bin --proc /proc --dev /dev \
		/pach-bin/lib/ld.so --library-path /pach-bin/lib /pach-bin/bin/pach version >v &&
	grep "^pach version" v && ! test -e rootfs/lib && ! test -e rootfs/usr
'

test_expect_success CLUSTER 'a run on the cluster gives the tree a local run gives; the pods ran the manifests as written' '
	cp -a store local &&
	(cd store && PATH="$TRASH_DIRECTORY/bin:$PATH" pach run --executor kubernetes --json >../run.json 2>../run.err) &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"state\"]==\"success\" and j[\"processed\"]==5, j" &&
	(cd local && sed "s|busybox:emu|dir:$TRASH_DIRECTORY/rootfs|" p.yaml >l.yaml && pach pipeline update -f l.yaml &&
	 pach run --runtime bwrap >/dev/null 2>&1) &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)" &&
	git_fsck store/.pach &&
	(cd store && pach logs sums >../logs) && test $(grep -c "^summed f. in /$" logs) = 5 &&
	grep -c "^apply -f -" kube/calls.log >n && echo 1 >want && test_cmp want n &&
	ls kube/pods/*/pach-init.log >/dev/null && cat kube/pods/*/user.log >workers &&
	grep "^task [0-9]*: [0-9]* datums, 0 failed" workers &&
	awscli s3 ls --recursive "s3://$BUCKET/k8s/" | awk "{print \$4}" >keys &&
	grep "/results/0$" keys && grep "/submitted$" keys && ! grep -x k8s/state keys
'

test_expect_success CLUSTER 'user code sees the image s environment, never the credentials' '
	cat >store/env.yaml <<-\EOF &&
	pipeline: {name: envs}
	transform: {image: busybox:emu, cmd: [sh, -c, "env | cut -d= -f1 | sort >/pfs/out/names"], env: {MINE: x}}
	input: {pfs: {repo: nums, glob: "/f1"}}
	EOF
	(cd store && pach pipeline create -f env.yaml &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" pach run envs --executor kubernetes >/dev/null 2>&1 &&
	 pach cat envs@master:/names >../names) &&
	grep -x MINE names && grep -x JOB_COMPLETION_INDEX names && grep -x PACH_DATUM_ID names &&
	! grep AWS_ names && ! grep PACH_WORKER names
'

test_expect_success CLUSTER 'a one-datum change is one Job of one index' '
	(cd store && seq 1 7 >d/f4 && pach commit nums d -m change >/dev/null &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" pach run sums --executor kubernetes --dry-run >../m4.yaml &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" pach run sums --executor kubernetes --json >../run.json 2>/dev/null) &&
	grep "completions: 1$" m4.yaml &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"processed\"]==1 and j[\"skipped\"]==4, j" &&
	(cd local && seq 1 7 >d/f4 && pach commit nums d -m change >/dev/null && pach run --runtime bwrap >/dev/null 2>&1) &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)"
'

test_expect_success CLUSTER 'a failing datum: retried in the pod, FAILED with its log; the branch does not move' '
	cat >store/fail.yaml <<-\EOF &&
	pipeline: {name: picky}
	datum_tries: 2
	transform: {image: busybox:emu, cmd: [sh, -c, "case $nums in */f2) echo no f2 here; exit 3;; esac; cp $nums /pfs/out/"]}
	input: {pfs: {repo: nums, glob: "/*"}}
	EOF
	(cd store && pach pipeline create -f fail.yaml &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" test_expect_code 1 pach run picky --executor kubernetes --json >../run.json 2>/dev/null &&
	 pach logs picky >../logs && test_must_fail pach rev-parse picky@master) &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"state\"]==\"failure\" and j[\"failed\"]==1, j" &&
	test $(grep -c "no f2 here" logs) = 2 && grep "exit code 3" logs
'

test_expect_success CLUSTER 'a pod whose worker dies is run again by Kubernetes (backoffLimitPerIndex), then the task fails' '
	cat >store/die.yaml <<-\EOF &&
	pipeline: {name: dies}
	datum_tries: 2
	transform: {image: busybox:emu, cmd: [sh, -c, "kill -9 $PPID"]}
	input: {pfs: {repo: nums, glob: "/f1"}}
	EOF
	(cd store && pach pipeline create -f die.yaml &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" test_expect_code 1 pach run dies --executor kubernetes >../out 2>../err &&
	 pach logs dies >../logs) &&
	ls -d kube/pods/pach-dies-*-0-1 kube/pods/pach-dies-*-0-2 &&
	grep "index 0 failed (Error, exit code 137)" logs && grep "after 2 tries" logs
'

test_expect_success CLUSTER 'an image the cluster cannot pull: a clear failure, the Job deleted, nothing committed' '
	sed "s/busybox:emu/busybox:nowhere/; s/name: sums/name: nopull/" store/p.yaml >store/np.yaml &&
	(cd store && pach pipeline create -f np.yaml &&
	 PATH="$TRASH_DIRECTORY/bin:$PATH" test_expect_code 1 pach run nopull --executor kubernetes >../out 2>../err &&
	 pach logs nopull >../logs && test_must_fail pach rev-parse nopull@master) &&
	grep "ErrImagePull" logs && grep "^delete job pach-nopull-" kube/calls.log
'

test_expect_success CLUSTER 'the cluster unreachable: one clear line, nothing committed' '
	(cd store && seq 1 9 >d/f5 && pach commit nums d -m again >/dev/null) &&
	touch kube/down &&
	(cd store && PATH="$TRASH_DIRECTORY/bin:$PATH" test_fatal pach run sums --executor kubernetes) &&
	rm kube/down &&
	grep "^fatal: kubernetes: kubectl apply failed: The connection to the server" store/fatal.err &&
	test $(wc -l <store/fatal.err) = 1 &&
	test "$(tree_of store sums/master)" = "$(tree_of local sums/master)"
'

test_expect_success CLUSTER 'a coordinator killed mid-run: the next run waits for the same Job, applies nothing new' '
	cat >store/slow.yaml <<-\EOF &&
	pipeline: {name: slow}
	transform: {image: busybox:emu, cmd: [sh, -c, "sleep 3; cp $nums /pfs/out/"]}
	input: {pfs: {repo: nums, glob: "/*"}}
	EOF
	(cd store && pach pipeline create -f slow.yaml) &&
	{ (cd store && PATH="$TRASH_DIRECTORY/bin:$PATH" exec pach run slow --executor kubernetes >/dev/null 2>&1) & } &&
	pid=$! &&
	for i in $(seq 1 100); do grep -q "^apply -f -" kube/calls.log && ls kube/jobs/pach-slow-*.pid >/dev/null 2>&1 && break; sleep 0.1; done &&
	kill -9 $pid && wait $pid; grep -c "^apply -f -" kube/calls.log >before &&
	(cd store && PATH="$TRASH_DIRECTORY/bin:$PATH" pach run slow --executor kubernetes --json >../run.json 2>../err) &&
	grep -c "^apply -f -" kube/calls.log >after && test_cmp before after &&
	python3 -c "import json; j=json.load(open(\"run.json\"))[0]; assert j[\"state\"]==\"success\" and j[\"processed\"]==5, j"
'

test_expect_success CLUSTER 'interrupted: the Jobs are deleted, finished tasks kept for the next run' '
	(cd store && sed "s/sleep 3/sleep 30/; s/name: slow/name: slower/" slow.yaml >slower.yaml &&
	 pach pipeline create -f slower.yaml) &&
	{ (cd store && PATH="$TRASH_DIRECTORY/bin:$PATH" exec pach run slower --executor kubernetes >../out 2>../err) & } &&
	pid=$! &&
	for i in $(seq 1 100); do ls kube/jobs/pach-slower-*.pid >/dev/null 2>&1 && break; sleep 0.1; done &&
	kill -INT $pid && { wait $pid; echo $? >rc; } &&
	test "$(cat rc)" = 128 && grep "interrupted: deleted Kubernetes job pach-slower-" err &&
	grep "^delete job --ignore-not-found --wait=false pach-slower-" kube/calls.log &&
	! ls kube/jobs/pach-slower-*.pid 2>/dev/null &&
	(cd store && test_must_fail pach rev-parse slower@master)
'

test_done
