#!/bin/sh
test_description='pipeline specs: parse, validate, store, version'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create images && mkdir d && echo a >d/a && pach commit images d -m one &&
	cat >edges.yaml <<-\EOF
	pipeline:
	  name: edges
	description: detect edges
	transform:
	  image: busybox
	  cmd: [sh]
	  stdin: ["cp /pfs/images/* /pfs/out/"]
	  env: {MODE: fast}
	input:
	  pfs:
	    repo: images
	    glob: "/*"
	parallelism_spec:
	  constant: 2
	datum_tries: 2
	datum_timeout: 30s
	autoscaling: true
	EOF
	cat >montage.json <<-\EOF
	{"pipeline": {"name": "montage"},
	 "transform": {"image": "busybox", "cmd": ["sh", "-c", "ls /pfs"]},
	 "input": {"cross": [{"pfs": {"repo": "edges", "glob": "/"}},
	                     {"pfs": {"repo": "images", "glob": "/"}}]}}
	EOF
	store_state >empty-state
'

test_expect_success 'create: specs load, unsupported fields warn with file and line' '
	pach pipeline create -f edges.yaml -f montage.json >out 2>err &&
	grep "created pipeline .edges." out && grep "created pipeline .montage." out &&
	grep "^edges.yaml:17: warning: field .autoscaling. is not supported" err &&
	pach repo list | grep "^edges " && pach repo list | grep "^montage " &&
	git_fsck
'

test_expect_success 'list, inspect, draw' '
	pach pipeline list >out && grep "^edges .*images@master:/\*" out &&
	pach pipeline list --json | python3 -c "import json,sys; d=json.load(sys.stdin); assert sorted(p[\"name\"] for p in d)==[\"edges\",\"montage\"]" &&
	pach pipeline inspect edges >out && grep "^Name: edges" out && grep "^  v1 " out && grep "cp /pfs/images" out &&
	pach pipeline draw >out && grep "images --> \[edges\] --> edges@master" out &&
	grep "edges, images --> \[montage\]" out
'

test_expect_success 'create again is refused; update makes a new version' '
	test_fatal pach pipeline create -f edges.yaml && grep "already exists" fatal.err &&
	sed "s/MODE: fast/MODE: slow/" edges.yaml >edges2.yaml &&
	old=$(pach pipeline inspect edges --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"transform_hash\"])") &&
	pach pipeline update -f edges2.yaml 2>/dev/null &&
	pach pipeline inspect edges >out && grep "^  v2 " out && grep "MODE: slow" out &&
	new=$(pach pipeline inspect edges --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"transform_hash\"])") &&
	test "$old" != "$new"
'

test_expect_success 'update --keep-outputs keeps the transform hash datums are keyed by' '
	before=$(pach pipeline inspect edges --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"transform_hash\"])") &&
	pach pipeline update -f edges.yaml --keep-outputs 2>/dev/null &&
	after=$(pach pipeline inspect edges --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"transform_hash\"])") &&
	test "$before" = "$after" &&
	pach pipeline inspect edges | grep "^  v3 "
'

test_expect_success 'specs travel in git objects' '
	git --git-dir=.pach show refs/pach/meta:pipelines/edges/spec | grep "name: edges"
'

check_error() {
	file=$1 pattern=$2
	store_state >before && test_fatal pach pipeline create -f "$file" &&
	grep "$pattern" fatal.err && store_state >after && test_cmp before after
}

test_expect_success 'errors name the file, line and field' '
	printf "pipeline:\n  name: p1\ntransform:\n  image: x\ninput:\n  pfs: {repo: images, glob: /}\n" >nocmd.yaml &&
	check_error nocmd.yaml "^fatal: nocmd.yaml:4: field .transform.cmd.: missing" &&
	printf "pipeline: {name: p2}\ntransform: {image: x, cmd: [sh]}\ninput:\n  pfs:\n    repo: nosuch\n    glob: /\n" >norepo.yaml &&
	check_error norepo.yaml "^fatal: norepo.yaml:4: field .input.pfs.repo.: repo .nosuch. not found" &&
	printf "pipeline: {name: p3}\ntransform: {image: x, cmd: [sh]}\ninput:\n  pfs:\n    repo: images\n    glob: \"/[ab\"\n" >badglob.yaml &&
	check_error badglob.yaml "^fatal: badglob.yaml:6: field .input.pfs.glob.: bad glob pattern" &&
	printf "pipeline: {name: p4}\ntransform: {image: x, cmd: [sh]}\ninput:\n  cross:\n  - pfs: {repo: images, glob: /}\n  - pfs: {repo: images, glob: /*}\n" >dup.yaml &&
	check_error dup.yaml "field .input.: duplicate input name .images." &&
	printf "pipeline: {name: p5\ntransform: [\n" >syntax.yaml &&
	check_error syntax.yaml "^fatal: syntax.yaml:[0-9]*: " &&
	printf "pipeline: {name: p6}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: images, glob: /}}\ndatum_timeout: soon\n" >dur.yaml &&
	check_error dur.yaml "^fatal: dur.yaml:4: field .datum_timeout.: bad duration" &&
	test_fatal pach pipeline create -f nosuchfile.yaml
'

test_expect_success 'input names are names, not paths; cron never writes into a repo of data' '
	for n in "../../x" "a/b" "." ".." "" "x y"; do
		printf "pipeline: {name: pn}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: images, glob: /, name: \"%s\"}}\n" "$n" >pn.yaml &&
		check_error pn.yaml "^fatal: pn.yaml:3: field .input.pfs.name.: invalid input name" || return 1
	done &&
	printf "pipeline: {name: pc}\ntransform: {image: x, cmd: [sh]}\ninput: {cron: {name: \"../t\", spec: \"@every 1h\"}}\n" >pc.yaml &&
	check_error pc.yaml "invalid input name" &&
	printf "pipeline: {name: pc}\ntransform: {image: x, cmd: [sh]}\ninput: {cron: {name: t, repo: images, spec: \"@every 1h\", overwrite: true}}\n" >pc.yaml &&
	check_error pc.yaml "repo .images. exists and does not hold cron ticks" &&
	pach ls images >/dev/null && test_fatal pach pipeline inspect pn && test_fatal pach pipeline inspect pc
'

test_expect_success 'a cycle in the DAG is refused' '
	printf "pipeline: {name: ca}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: cb, glob: /}}\n---\npipeline: {name: cb}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: ca, glob: /}}\n" >cycle.yaml &&
	check_error cycle.yaml "cycle in the pipeline graph"
'

test_expect_success 'delete: refused while another pipeline reads its output' '
	test_fatal pach pipeline delete edges && grep "montage" fatal.err &&
	pach pipeline delete montage && pach pipeline delete edges &&
	pach pipeline list >out && ! grep "^edges" out &&
	pach repo list | grep "^edges " &&
	test_fatal pach pipeline inspect edges && git_fsck
'

test_done
