#!/bin/sh
test_description='--json: every documented command prints one JSON value with the fields pach(1) lists'
. ./test-lib.sh

command -v python3 >/dev/null && test_set_prereq PYTHON

test_expect_success setup '
	pach init && pach repo create r -d "raw data" && mkdir s && echo a >s/a && echo b >s/b &&
	pach commit r s -m one >/dev/null && pach put r:/c s/a >/dev/null &&
	cat >p.yaml <<-\EOF &&
	pipeline: {name: up}
	runtime: local
	transform: {cmd: [sh, -c, "cp /pfs/r/* /pfs/out/"]}
	input: {pfs: {repo: r, glob: "/*"}}
	EOF
	pach pipeline create -f p.yaml && pach run >/dev/null 2>&1 &&
	mkdir rem && pach remote add o "file://$PWD/rem" && pach push >/dev/null 2>&1 &&
	pach checkout r@master w 2>/dev/null && echo new >w/new
'

# Every shape in pach(1)'s JSON OUTPUT list, run for real.  The label is
# the documented command; the command line gives it arguments.
test_expect_success PYTHON 'outputs match the documented shapes' '
	job=$(pach job list --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	cat >cases <<-EOF &&
	pach commit, put, rm, commit (work tree) --json|pach put r:/d s/b --json
	pach repo list --json|pach repo list --json
	pach repo inspect --json|pach repo inspect r --json
	pach branch --json|pach branch r --json
	pach log --json|pach log r --json
	pach show --json|pach show r --json
	pach ls --json|pach ls r --json
	pach glob --json|pach glob r "/*" --json
	pach diff --json|pach diff r@master --json
	pach get --json|pach get r out --json
	pach checkout --json|pach checkout r@master w2 --json
	pach status --json|pach -C w status --json
	pach pipeline list --json|pach pipeline list --json
	pach pipeline inspect --json|pach pipeline inspect up --json
	pach datums --json|pach datums -f p.yaml --json
	pach run --json|pach run --json
	pach job list --json|pach job list --json
	pach job inspect --json|pach job inspect $job --json
	pach datum list --json|pach datum list $job --json
	pach remote list --json|pach remote list --json
	pach remote show --json|pach remote show o --json
	pach push, fetch, pull --json|pach push --json
	pach fsck --json|pach fsck --json
	pach gc --json|pach gc --json
	pach config list --json|pach config list --json
	pach ls-tree --json|pach ls-tree r/master --json
	pach version --json|pach version --json
	pach reflog --json|pach reflog --json
	pach revert --json|pach revert r@master master --json
	pach rollback --json|pach rollback --to "1 hour ago" --dry-run --json
	pach snapshot, snapshot list --json|pach snapshot s1 >/dev/null && pach snapshot list --json
	EOF
	python3 - "$PACH_BUILD_DIR/Documentation/pach.adoc" <<-\PY
	import json, re, subprocess, sys
	doc = open(sys.argv[1]).read().split("== JSON OUTPUT")[1].split("\n----\n")[1]
	lines = doc.splitlines()
	shapes = {lines[i].strip(): lines[i + 1].strip() for i in range(0, len(lines) - 1, 2)}
	cases = [l.split("|", 1) for l in open("cases").read().splitlines()]
	assert set(shapes) == {c[0] for c in cases}, (set(shapes) ^ {c[0] for c in cases})
	def keys(v, out, skip=False):
	    if isinstance(v, dict):
	        for k, x in v.items():
	            if not skip:
	                out.add(k)
	            keys(x, out, k == "inputs")
	    elif isinstance(v, list):
	        for x in v:
	            keys(x, out)
	    return out
	bad = []
	for label, cmd in cases:
	    p = subprocess.run(cmd, shell=True, capture_output=True, text=True)
	    if p.returncode != 0:
	        bad.append("%s: exit %d %s" % (cmd, p.returncode, p.stderr))
	        continue
	    try:
	        v = json.loads(p.stdout)
	    except ValueError as e:
	        bad.append("%s: not one JSON value: %s" % (cmd, e))
	        continue
	    want = set(re.findall(r"\"(\w+)\":", shapes[label]))
	    got = keys(v, set())
	    if isinstance(v, list) and not v:
	        bad.append("%s: empty list, nothing checked" % cmd)
	    elif got != want:
	        bad.append("%s: fields %s, documented %s" % (cmd, sorted(got), sorted(want)))
	if bad:
	    sys.exit("\n".join(bad))
	PY
'

test_expect_success '--json on a command without JSON output is a usage error' '
	test_expect_code 129 pach cat r:/a --json 2>err && grep "no JSON output" err &&
	test_expect_code 129 pach init --json again 2>err
'

test_done
