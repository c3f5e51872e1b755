#!/bin/sh
test_description='pach serve with pipelines: code reading its input through the gateway, job and datum metrics, pach stats, usage reports'
. ./test-lib.sh

command -v curl >/dev/null || test_skip_all "curl is not installed"
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox)
if [ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
	test_set_prereq BUSYBOX
fi

. "$TEST_DIRECTORY/lib-serve.sh"

test_expect_success 'setup: a repo, and a gateway that serves it to anonymous readers' '
	pach init && pach repo create data && mkdir d &&
	printf "a,b\n1,2\n" >d/x.csv && seq 1 1000 >d/y.csv && pach commit data d -m first &&
	start_serve gw --anonymous --read-only
'

test_expect_success BWRAP,BUSYBOX 'a pipeline whose code reads its input through the gateway (wget, in a container)' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh wget basename cat; do ln -s busybox rootfs/bin/$a; done &&
	url=$(cat gw.url) &&
	cat >copy.yaml <<-EOF &&
	pipeline: {name: copy}
	network: true
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh]
	  stdin: ["wget -q -O /pfs/out/\$(basename \$data) $url/master.data/\$(basename \$data)"]
	input: {pfs: {repo: data, glob: "/*"}}
	EOF
	pach pipeline create -f copy.yaml && pach run >out 2>err &&
	grep "2 processed" out &&
	pach cat copy:/x.csv | cmp - d/x.csv && pach cat copy:/y.csv | cmp - d/y.csv
'

test_expect_success BWRAP,BUSYBOX '/metrics: jobs and datums by pipeline and state, datum durations' '
	curl -sf "$(cat gw.url)/metrics" >m &&
	grep "^pach_jobs{pipeline=\"copy\",state=\"success\"} 1$" m &&
	grep "^pach_datums_total{pipeline=\"copy\",state=\"success\"} 2$" m &&
	grep "^pach_datum_seconds_count{pipeline=\"copy\"} 2$" m &&
	grep "^pach_datum_seconds_bucket{pipeline=\"copy\",le=\"+Inf\"} 2$" m &&
	grep "^pach_repo_files{repo=\"data\"} 2$" m &&
	grep "^pach_repo_bytes{repo=\"data\"} $(cat d/x.csv d/y.csv | wc -c)$" m &&
	grep "^pach_gateway_requests_total{op=\"GetObject\",status=\"200\"} 2$" m
'

test_expect_success BWRAP,BUSYBOX 'a second job shows up in the next scrape (records read once each)' '
	echo 3 >>d/x.csv && pach commit data d -m second && pach run >out &&
	curl -sf "$(cat gw.url)/metrics" >m2 &&
	grep "^pach_jobs{pipeline=\"copy\",state=\"success\"} 2$" m2 &&
	grep "^pach_datums_total{pipeline=\"copy\",state=\"success\"} 3$" m2 &&
	grep "^pach_datums_total{pipeline=\"copy\",state=\"skipped\"} 1$" m2
'

test_expect_success BWRAP,BUSYBOX 'pach stats: storage per repo, jobs and datums per pipeline, by day' '
	pach stats >st &&
	grep "^data  *1  *2 " st && grep "^pipeline copy: 2 jobs, 2 success" st &&
	grep "datums: 1 skipped 3 success" st &&
	pach stats --json >st.json &&
	python3 -c "import json,sys; d=json.load(open(\"st.json\")); p=d[\"pipelines\"][0]; \
		assert p[\"name\"]==\"copy\" and p[\"jobs\"]=={\"success\":2} and p[\"datums\"]=={\"skipped\":1,\"success\":3}, p; \
		assert sum(x[\"datums_ran\"] for x in p[\"by_day\"])==3; \
		r={x[\"name\"]:x for x in d[\"repos\"]}; assert r[\"data\"][\"files\"]==2 and d[\"pack_bytes\"]>0"
'

test_expect_success 'pushes and fetches are counted by remote: pach stats and /metrics' '
	pach remote add origin "file://$TRASH_DIRECTORY/shared" && pach push origin >/dev/null &&
	pach fetch origin >/dev/null && pach push origin >/dev/null &&
	pach stats >st && grep "^origin  *push  *2 " st && grep "^origin  *fetch  *1 " st &&
	curl -sf "$(cat gw.url)/metrics" >m3 &&
	grep "^pach_remote_transfers_total{remote=\"origin\",op=\"push\"} 2$" m3 &&
	grep "^pach_remote_bytes_total{remote=\"origin\",op=\"push\"} [1-9]" m3 &&
	pach stats --json | python3 -c "import json,sys; r=json.load(sys.stdin)[\"remotes\"]; \
		assert {(x[\"remote\"],x[\"op\"],x[\"transfers\"]) for x in r}=={(\"origin\",\"push\",2),(\"origin\",\"fetch\",1)}, r"
'

test_expect_success 'pach stats refuses arguments; --json is one JSON object' '
	test_expect_code 129 pach stats extra 2>/dev/null &&
	pach stats --json | python3 -c "import json,sys; json.load(sys.stdin)"
'

test_expect_success 'usage: off by default, the payload printable, no names in it' '
	pach stats --usage-payload >payload 2>why && grep "not sent: metrics.url is not set" why &&
	python3 -c "import json; d=json.load(open(\"payload\")); assert d[\"repos\"]>=1 and len(d[\"install_id\"])==32, d" &&
	! grep -e data -e copy -e x.csv -e "$TRASH_DIRECTORY" payload &&
	pach stats --usage-payload >payload2 2>/dev/null && test_cmp payload payload2
'

# A receiver of usage reports on loopback: each POST body to a file.
start_receiver() {
	cat >recv.py <<-\EOF
	import http.server, sys
	class H(http.server.BaseHTTPRequestHandler):
	    def do_POST(self):
	        n = int(self.headers["Content-Length"])
	        open(sys.argv[1], "ab").write(self.rfile.read(n) + b"\n")
	        self.send_response(204); self.end_headers()
	    def log_message(self, *a): pass
	s = http.server.HTTPServer(("127.0.0.1", 0), H)
	open(sys.argv[2], "w").write(str(s.server_port))
	s.serve_forever()
	EOF
	python3 recv.py "$TRASH_DIRECTORY/received" "$TRASH_DIRECTORY/recv.port" &
	echo $! >recv.pid
	i=0; while ! [ -s recv.port ]; do i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1; done
}

test_expect_success 'usage: sent to the team'"'"'s own metrics.url when the server starts; METRICS=false wins' '
	start_receiver && pach config set metrics.url "http://127.0.0.1:$(cat recv.port)/usage" &&
	SERVE_ENV=METRICS=false && start_serve off --anonymous && SERVE_ENV= && sleep 1 && stop_serve off &&
	test_path_is_missing received &&
	start_serve on --anonymous && i=0 && while ! [ -s received ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done &&
	stop_serve on && test_line_count = 1 received &&
	pach stats --usage-payload >want 2>why && grep "sent by .pach serve. to http://127.0.0.1" why &&
	test_cmp want received &&
	METRICS=false pach stats --usage-payload >/dev/null 2>why && grep "not sent: METRICS=false" why
'

test_expect_success 'a bad metrics.url is a fatal line' '
	pach config set metrics.url "ftp://example.invalid/" &&
	test_fatal pach stats --usage-payload && grep "metrics.url must be" fatal.err &&
	pach config unset metrics.url
'

test_done
