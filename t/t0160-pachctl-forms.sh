#!/bin/sh
test_description='pachctl verb-noun commands: aliases where pach has the command, hints where it does not'
. ./test-lib.sh

test_expect_success 'setup' '
	pach init && mkdir d && echo a >d/a && echo "pipeline: {name: p}
transform: {cmd: [sh, -c, \"cp \$r /pfs/out/\"]}
input: {pfs: {repo: r, glob: \"/*\"}}" >p.yaml
'

test_expect_success 'create/list/inspect/delete repo run pach repo' '
	pach create repo r && pach list repo >out && grep "^r " out &&
	pach inspect repo r >out && grep "^Name: r" out &&
	pach create repo gone && pach delete repo gone && pach repo list >out && ! grep "^gone" out
'

test_expect_success 'create/update/list/inspect pipeline; list commit, file, branch; list job, datum' '
	pach commit r d >/dev/null && pach create pipeline -f p.yaml && pach update pipeline -f p.yaml &&
	pach list pipeline >out && grep "^p " out && pach inspect pipeline p >out && grep "name: p" out &&
	pach run >/dev/null 2>&1 && pach list commit p >out && grep "^commit " out &&
	pach list file p >out && test "$(cat out)" = /a && pach list branch r >out && grep master out &&
	pach list job --json >jobs && id=$(python3 -c "import json; print(json.load(open(\"jobs\"))[0][\"id\"])") &&
	pach inspect job $id >out && grep "$id" out && pach list datum $id >out && grep success out &&
	pach inspect commit p >out && grep "^commit " out
'

test_expect_success 'forms pach spells otherwise get the pach command as a hint' '
	test_fatal pach put file r@master:/x -f d/a && grep "did you mean .pach put <repo>" fatal.err &&
	test_fatal pach get file r@master:/a && grep "did you mean .pach cat" fatal.err &&
	test_fatal pach delete branch r@master && grep "pach branch -d" fatal.err &&
	test_fatal pach restart datum p 1234 && grep "pach run <pipeline>" fatal.err &&
	test_fatal pach list && grep "pachctl verb; pach puts the noun first: .pach repo list." fatal.err
'

test_expect_success 'pach put of a repo named file still works' '
	pach create repo file && pach put file d/a >/dev/null && test "$(pach cat file:/a)" = a
'

test_done
