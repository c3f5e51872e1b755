#!/bin/sh
test_description='names from data are safe to print: quoted in human output, valid JSON, no echoed credentials'
. ./test-lib.sh
. "$TEST_DIRECTORY/lib-hostile.sh"

test_expect_success 'setup: a tree with a newline, an escape sequence and bytes that are not UTF-8' '
	pach init . >/dev/null && pach repo create data && echo ok >f && pach put data f >/dev/null &&
	x=$(blob "x") &&
	t=$(mktree_raw "100644 a\\nfake-line $x" "100644 b\\033]0;title\\007 $x" "100644 c\\377\\376 $x" \
		       "100644 d\\303\\274 $x" "100644 e\"q\\\\ $x") &&
	evil_branch "$t" names
'

test_expect_success 'ls, ls -r, glob, diff, ls-tree: one line per name, quoted as git does' '
	pach ls data@names >out && test_line_count = 5 out &&
	grep -Fx "\"/a\\nfake-line\"" out && grep -Fx "\"/b\\033]0;title\\a\"" out &&
	grep -Fx "\"/c\\377\\376\"" out && grep -Fx "\"/d\\303\\274\"" out && grep -Fx "\"/e\\\"q\\\\\"" out &&
	! grep -q "$(printf "\\033")" out &&
	pach ls -r data@names >out && test_line_count = 5 out &&
	pach glob data@names "/*" >out && test_line_count = 5 out &&
	pach diff --name-only data@master data@names >out && test_line_count = 6 out &&
	pach ls-tree -r data@names >out && test_line_count = 5 out &&
	! grep -q "$(printf "\\033")" out
'

test_expect_success '--json is valid JSON for any name; non-UTF-8 bytes come back with surrogateescape' '
	for cmd in "ls data@names" "ls -r data@names" "glob data@names /*" "ls-tree -r data@names" \
		   "diff --name-only data@master data@names"; do
		(set -f; pach $cmd --json) >j.json &&
		python3 -c "import json,sys; json.load(open(\"j.json\"))" || { echo >&4 "$cmd"; cat j.json >&4; return 1; }
	done &&
	pach ls data@names --json >j.json &&
	python3 - <<-\PY
	import json
	names = sorted(e["path"].lstrip("/").encode("utf-8", "surrogateescape") for e in json.load(open("j.json")))
	assert names == sorted([b"a\nfake-line", b"b\x1b]0;title\x07", b"c\xff\xfe", "dü".encode(), b"e\"q\\"]), names
	PY
'

test_expect_success 'credentials typed in a URL are refused and never echoed' '
	test_fatal pach remote add o "s3://AKIAEXAMPLE:s3cr3tvalue@bucket/p" && ! grep s3cr3t fatal.err &&
	test_fatal pach remote add o s3://bucket/p --endpoint "http://user:s3cr3tvalue@127.0.0.1:1" &&
	! grep s3cr3t fatal.err && test_fatal pach clone "s3://k:s3cr3tvalue@bucket/p" c && ! grep s3cr3t fatal.err &&
	git --git-dir=.pach config pach-remote.old.url s3://bucket/p &&
	git --git-dir=.pach config pach-remote.old.endpoint "http://user:s3cr3tvalue@127.0.0.1:1" &&
	pach config list >out && ! grep s3cr3t out && grep "http://\*\*\*@127.0.0.1:1" out &&
	pach remote show old >out 2>&1; ! grep s3cr3t out &&
	pach remote list --json >out && ! grep s3cr3t out &&
	test_must_fail pach fetch old 2>err && ! grep s3cr3t err
'

test_done
