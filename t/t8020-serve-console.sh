#!/bin/sh
test_description='pach serve: the web console in a real browser (headless Chromium), its API, access and live updates'
. ./test-lib.sh

command -v curl >/dev/null || test_skip_all "curl is not installed"
CHROMIUM=$(command -v chromium || command -v chromium-browser)
MODULES=${PACH_KUBE_SCHEMA:-/var/lib/pach-test/kube-schema}/node_modules
if [ -n "$CHROMIUM" ] && command -v node >/dev/null && [ -d "$MODULES/playwright-core" ]; then
	test_set_prereq CHROMIUM
else
	say "# the browser tests need chromium, node and playwright-core in $MODULES (ci/install-deps.sh test)"
fi
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox)
if [ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
	test_set_prereq BUSYBOX
fi
# Screenshots of every page are kept here, as the run's artefacts.
SHOTS="$TEST_DIRECTORY/results/t8020-screenshots"
rm -rf "$SHOTS" && mkdir -p "$SHOTS"

. "$TEST_DIRECTORY/lib-serve.sh"

# page NAME HASH: the console at #HASH in headless Chromium (driven by
# playwright-core, t/lib-console.mjs) once drawn: its DOM in NAME.html,
# a screenshot in $SHOTS/NAME.png.  The page must log no error (a script
# error, a refused Content-Security-Policy).
page() {
	CHROMIUM=$CHROMIUM test_timeout 120 node "$TEST_DIRECTORY/lib-console.mjs" "$MODULES" "$(cat con.url)" \
		"$TRASH_DIRECTORY" "$SHOTS" "$1=$2" || { cat "$1.console" "$1.html" >&4; return 1; }
	test_must_be_empty "$1.console"
}

test_expect_success 'setup: repos with text, CSV, an image and a hostile name; a console for anonymous readers' '
	pach init && pach repo create images -d "demo photos" && mkdir d &&
	echo "a cat" >d/cat.txt && echo "a dog" >d/dog.txt &&
	printf "name,legs\ncat,4\nbird,2\n" >d/animals.csv &&
	python3 -c "import zlib,struct
def chunk(t,b): return struct.pack(\">I\",len(b))+t+b+struct.pack(\">I\",zlib.crc32(t+b))
raw=b\"\".join(b\"\\0\"+b\"\\xff\\x00\\x00\"*8 for _ in range(8))
open(\"d/red.png\",\"wb\").write(b\"\\x89PNG\\r\\n\\x1a\\n\"+chunk(b\"IHDR\",struct.pack(\">IIBBBBB\",8,8,8,2,0,0,0))+chunk(b\"IDAT\",zlib.compress(raw))+chunk(b\"IEND\",b\"\"))" &&
	echo evil >"d/<img src=x onerror=alert(1)>.txt" &&
	pach commit images d -m "first photos" &&
	echo "a fat cat" >d/cat.txt && pach commit images d -m "fatter cat" &&
	start_serve con --anonymous --read-only
'

test_expect_success BWRAP,BUSYBOX 'setup: a pipeline that ran (logs, datums, provenance)' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox && for a in sh tr basename echo; do ln -s busybox rootfs/bin/$a; done &&
	cat >shout.yaml <<-EOF &&
	pipeline: {name: shout}
	description: upper-cases text
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh]
	  stdin: ["n=\"\$(basename \"\$images\")\"", "echo shouting \"\$n\" >&2", "tr a-z A-Z <\"\$images\" >\"/pfs/out/\$n\""]
	input: {pfs: {repo: images, glob: "/*.txt"}}
	EOF
	pach pipeline create -f shout.yaml && pach run >/dev/null && touch pipeline.ok
'
# (Tests run in subshells: the prerequisite is set out here.)
[ -f pipeline.ok ] && test_set_prereq PIPELINE

test_expect_success 'the API answers JSON; the pages and scripts come from this server only' '
	url=$(cat con.url) &&
	curl -sf "$url/api/v1/repos" | python3 -c "import json,sys; r=json.load(sys.stdin); assert \"images\" in [x[\"name\"] for x in r], r" &&
	curl -sfI "$url/console/" >head && grep -i "^content-security-policy: default-src .self." head &&
	curl -sf "$url/console/" >index.html && ! grep -i "https\\?://" index.html &&
	curl -sf "$url/console/app.js" >app.js && ! grep -i "https\\?://[a-z]" app.js | grep -v "www.w3.org/2000/svg" &&
	curl -s -o /dev/null -w "%{http_code}" "$url/api/v1/tree?repo=images&ref=master&path=../../etc" >code && test "$(cat code)" = 400 &&
	curl -s -o /dev/null -w "%{http_code}" "$url/api/v1/tree?repo=nope" >code && test "$(cat code)" = 404 &&
	curl -s -o /dev/null -w "%{http_code}" -X POST "$url/api/v1/repos" >code && test "$(cat code)" = 405
'

test_expect_success CHROMIUM 'repos page: the table and the drawn DAG' '
	page repos "/" && grep ">images</a>" repos.html && grep "demo photos" repos.html &&
	grep "<svg[^>]*id=\"dag\"" repos.html && grep "data-node=\"images\"" repos.html
'

test_expect_success CHROMIUM,PIPELINE 'the DAG draws the pipeline fed by its input repo' '
	page pipelines "/pipelines" && grep "data-node=\"shout\"" pipelines.html &&
	grep "class=\"edge\"" pipelines.html && grep "state-success" pipelines.html
'

test_expect_success CHROMIUM 'log and commit pages: history, changes, a text diff on demand' '
	page log "/repo/images/log/master" && grep "fatter cat" log.html && grep "first photos" log.html &&
	c=$(pach rev-parse images@master) && page commit "/repo/images/commit/$c" &&
	grep ">cat.txt</a>" commit.html && grep "class=\"M\"" commit.html &&
	curl -sf "$(cat con.url)/api/v1/commit?repo=images&ref=$c&path=cat.txt" >patch.json &&
	grep "+a fat cat" patch.json && grep -- "-a cat" patch.json
'

test_expect_success CHROMIUM 'file browser: text, CSV as a table, the image shown, hostile names as text' '
	page tree "/repo/images/tree/master/" && grep ">animals.csv</a>" tree.html &&
	grep "&lt;img src=x onerror=alert(1)&gt;.txt" tree.html && ! grep "<img src=\"x\"" tree.html &&
	page text "/repo/images/tree/master/cat.txt" && grep "<pre id=\"preview\">a fat cat" text.html &&
	page csv "/repo/images/tree/master/animals.csv" && grep "<th>legs</th>" csv.html && grep "<td>bird</td>" csv.html &&
	page png "/repo/images/tree/master/red.png" && grep "id=\"preview\"[^>]*data-loaded=\"1\"" png.html &&
	grep "id=\"download\"" png.html &&
	curl -sfD hdr -o got.png "$(cat con.url)/api/v1/file?repo=images&ref=master&path=red.png&download=1" &&
	cmp got.png d/red.png && grep -i "^content-disposition: attachment" hdr
'

test_expect_success CHROMIUM,PIPELINE 'jobs, datums and their logs' '
	page jobs "/jobs/shout" && grep "state-success" jobs.html &&
	id=$(curl -sf "$(cat con.url)/api/v1/jobs?pipeline=shout" | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	page job "/job/shout/$id" && grep "images:/cat.txt" job.html && grep ">log</a>" job.html &&
	datum=$(curl -sf "$(cat con.url)/api/v1/job?pipeline=shout&id=$id" | python3 -c "import json,sys; print([d[\"id\"] for d in json.load(sys.stdin)[\"datums\"] if \"images:/cat.txt\" in d[\"files\"]][0])") &&
	page dlog "/log/shout/$id/$datum" && grep "shouting cat.txt" dlog.html
'

test_expect_success CHROMIUM,PIPELINE 'provenance: an output file links to the job, datum and input commit that made it' '
	page prov "/repo/shout/tree/master/cat.txt" && grep "A FAT CAT" prov.html &&
	grep "Made by" prov.html && grep "images:/cat.txt" prov.html &&
	grep "$(pach rev-parse images@master | cut -c1-10)" prov.html
'

test_expect_success 'live updates: a commit is announced on /api/v1/events' '
	(test_timeout 6 curl -sN "$(cat con.url)/api/v1/events" >events || :) &
	sleep 1.5 && echo "a mouse" >d/mouse.txt && pach commit images d -m mouse >/dev/null && wait &&
	grep "^event: hello" events && grep "^event: change" events
'

test_expect_success BWRAP,BUSYBOX,PIPELINE 'live updates: a job recorded is announced too' '
	(test_timeout 6 curl -sN "$(cat con.url)/api/v1/events" >events2 || :) &
	sleep 1.5 && echo "a hen" >d/hen.txt && pach commit images d -m hen >/dev/null &&
	sleep 1.2 && pach run >/dev/null && wait &&
	test "$(grep -c "^event: change" events2)" -ge 2
'

test_expect_success 'without --anonymous the console asks for the key pair (HTTP Basic)' '
	pach config set serve.accessKey AKCONSOLE && pach config set serve.secretKey s3cret &&
	start_serve auth --read-only && url=$(cat auth.url) &&
	curl -s -o /dev/null -D hdr -w "%{http_code}" "$url/console/" >code && test "$(cat code)" = 401 &&
	grep -i "^www-authenticate: Basic" hdr &&
	curl -s -o /dev/null -w "%{http_code}" -u AKCONSOLE:wrong "$url/api/v1/repos" >code && test "$(cat code)" = 401 &&
	curl -sf -u AKCONSOLE:s3cret "$url/api/v1/repos" | grep "\"images\""
'

test_done
