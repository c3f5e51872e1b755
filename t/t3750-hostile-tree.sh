#!/bin/sh
test_description='hostile trees: bad names never become paths, symlinks are never written through, deep trees do not crash'
. ./test-lib.sh
. "$TEST_DIRECTORY/lib-hostile.sh"

test_expect_success 'setup' '
	mkdir sentinel && echo keep >sentinel/victim &&
	pach init . >/dev/null && pach repo create data && echo ok >f && pach put data f >/dev/null &&
	x=$(blob "pwned") && echo "$x" >x.oid &&
	sub=$(mktree_raw "100644 x $x") && echo "$sub" >sub.oid &&
	cfg=$(blob "[core]
	fsmonitor = touch $TRASH_DIRECTORY/sentinel/fsmonitor-ran") &&
	gitdir=$(mktree_raw "100644 config $cfg") && echo "$gitdir" >gitdir.oid
'

# name: a tree whose one entry has that name; every reading command refuses it.
bad_names="..|.|.git|.GIT|.Git|.git.|.git\\040|git~1|GIT~1.|.g\\342\\200\\214it|.pach|.PACH|a/b|../x|x.pach-tmp|"
test_expect_success 'a bad entry name: get, checkout, ls, cat, glob refuse; nothing written outside' '
	sub=$(cat sub.oid) && i=0 &&
	IFS="|" && for n in $bad_names; do
		unset IFS && i=$((i + 1)) &&
		t=$(mktree_raw "40000 $n $sub") && evil_branch "$t" evil$i &&
		rm -rf out && mkdir out &&
		no_escape pach get data@evil$i:/ out && grep "not safe" fatal.err &&
		! find out -mindepth 1 | grep -q . &&
		no_escape pach checkout data@evil$i wt$i && test_path_is_missing wt$i/x &&
		no_escape pach ls -r data@evil$i &&
		no_escape pach glob data@evil$i "/**" || { echo >&4 "name: $n"; return 1; }
		IFS="|"
	done; unset IFS
'

test_expect_success 'a .git directory with a config that would run a command is refused' '
	t=$(mktree_raw "40000 .git $(cat gitdir.oid)" "100644 f $(cat x.oid)") && evil_branch "$t" gitcfg &&
	no_escape pach get data@gitcfg:/ out2 && test_path_is_missing out2/.git &&
	no_escape pach checkout data@gitcfg wt && test_path_is_missing wt/.git &&
	test_path_is_missing sentinel/fsmonitor-ran
'

test_expect_success 'malformed trees: duplicates, file and directory of one name, bad modes, order, long names' '
	x=$(cat x.oid) && sub=$(cat sub.oid) && long=$(printf "%0256d" 0) &&
	for spec in "100644 a $x|100644 a $x" "100644 a $x|40000 a $sub" "100664 a $x" "040000 a $sub" \
		    "100644 b $x|100644 a $x" "100644 $long $x" "100644 a 0000000000000000000000000000000000000000" \
		    "120000 .gitmodules $x" "1006440 a $x"; do
		IFS="|" && set -- $spec && unset IFS &&
		t=$(mktree_raw "$@") && evil_branch "$t" m &&
		no_escape pach get data@m:/ outm && no_escape pach ls -r data@m || { echo >&4 "spec: $spec"; return 1; }
	done
'

test_expect_success 'pach fsck reports what git fsck --strict reports' '
	sub=$(cat sub.oid) && x=$(cat x.oid) &&
	for spec in "40000 .. $sub" "40000 . $sub" "40000 .git $sub" "40000 .GIT $sub" "40000 git~1 $sub" \
		    "100644 a $x|100644 a $x" "100664 a $x" "040000 a $sub" "100644 b $x|100644 a $x" \
		    "100644 a/b $x" "100644 .g\\342\\200\\214it $x" "120000 .gitmodules $x"; do
		pach init fs >/dev/null 2>&1; rm -rf fs && pach init fs >/dev/null && (cd fs && pach repo create data) &&
		IFS="|" && set -- $spec && unset IFS &&
		t=$(GIT_DIR=fs/.pach mktree_raw "$@") && (cd fs && evil_branch "$t" m) &&
		{ git --git-dir=fs/.pach fsck --strict 2>&1 | sed -n "s/.*tree [0-9a-f]*: \([a-zA-Z]*\):.*/\1/p" | sort -u >want; } &&
		{ (cd fs && pach fsck >../pach.out 2>&1); test $? = 1; } &&
		sed -n "s/.*tree [0-9a-f]*: \"\{0,1\}\([a-zA-Z]*\):.*/\1/p" pach.out | sort -u >got &&
		test -s want && test_cmp want got || { echo >&4 "spec: $spec"; cat pach.out >&4; return 1; }
	done
'

test_expect_success 'a symlink in the way: get into a directory holding a symlink does not write through it' '
	x=$(cat x.oid) && sub=$(cat sub.oid) &&
	t=$(mktree_raw "40000 a $sub") && evil_branch "$t" dir &&
	rm -rf out3 && mkdir out3 && ln -s "$TRASH_DIRECTORY/sentinel" out3/a &&
	no_escape pach get data@dir:/ out3 && grep "symbolic link" fatal.err && test_path_is_missing sentinel/x
'

test_expect_success 'a work tree: symlink in one commit, directory in the next; switching never writes through it' '
	x=$(cat x.oid) && sub=$(cat sub.oid) &&
	t1=$(mktree_raw "120000 a $(blob "$TRASH_DIRECTORY/sentinel")") && evil_branch "$t1" sw1 &&
	t2=$(mktree_raw "40000 a $sub") && evil_branch "$t2" sw2 &&
	pach checkout data@sw1 wts >/dev/null && test -L wts/a &&
	(cd wts && pach checkout sw2 >/dev/null 2>&1) &&
	test_path_is_missing sentinel/x && test "$(cat sentinel/victim)" = keep &&
	(test ! -L wts/a && test -f wts/a/x || { cd wts && pach status; false; })
'

test_expect_success 'a work tree: removing a file under a path that became a symlink leaves the target alone' '
	x=$(cat x.oid) && sub=$(cat sub.oid) && echo keep >sentinel/x &&
	t1=$(mktree_raw "40000 a $sub") && evil_branch "$t1" rm1 &&
	t2=$(mktree_raw "100644 b $x") && evil_branch "$t2" rm2 &&
	pach checkout data@rm1 wtr >/dev/null && rm -r wtr/a && ln -s "$TRASH_DIRECTORY/sentinel" wtr/a &&
	(cd wtr && pach checkout rm2 >/dev/null 2>&1); test "$(cat sentinel/x)" = keep && rm sentinel/x
'

test_expect_success 'what pach writes it would read back: put, add and commit refuse or skip reserved names' '
	echo x >y && for n in .git/config .GIT/hooks/x .pach x.pach-tmp d/.git/config ".git\\040/x"; do
		test_fatal pach put "data@master:/$n" y || { echo >&4 "$n"; return 1; }
	done &&
	mkdir -p src/.git src/.pach src/ok && echo bad >src/.git/config && echo bad >src/.pach/x &&
	echo good >src/ok/f && echo tmp >src/ok/f.pach-tmp &&
	pach commit data@cm src >/dev/null 2>&1 && pach ls -r data@cm >ls.out && test_line_count = 1 ls.out &&
	grep "/ok/f$" ls.out
'

test_expect_success 'pach add refuses paths beyond a symlink, as git does' '
	pach checkout data@master wta >/dev/null && mkdir -p outside && echo secret >outside/s &&
	ln -s "$TRASH_DIRECTORY/outside" wta/l &&
	(cd wta && test_fatal pach add l/s && grep "beyond a symbolic link" fatal.err &&
	 test_fatal pach add .git && pach status --json >st.json) &&
	! grep -q "\"l/s\"" wta/st.json
'

test_expect_success 'a tree 100,000 levels deep: one clear line, no crash' '
	pach init deep >/dev/null && cd deep && pach repo create data && echo ok >f && pach put data f >/dev/null &&
	x=$(blob pwned) &&
	python3 - "$x" <<-\PY >deep.oid &&
	import sys, zlib, hashlib, os
	blob = bytes.fromhex(sys.argv[1])
	objs = []
	t = b"100644 f\0" + blob
	def put(body):
	    raw = b"tree %d\0" % len(body) + body
	    h = hashlib.sha1(raw).hexdigest()
	    objs.append((h, raw))
	    return h
	h = put(t)
	for i in range(100000):
	    h = put(b"40000 d\0" + bytes.fromhex(h))
	for oid, raw in objs:
	    d = ".pach/objects/" + oid[:2]
	    os.makedirs(d, exist_ok=True)
	    p = d + "/" + oid[2:]
	    if not os.path.exists(p):
	        open(p, "wb").write(zlib.compress(raw, 1))
	print(h)
	PY
	evil_branch "$(cat deep.oid)" deep && set -f && pach remote add o "file://$TRASH_DIRECTORY/deep-remote" &&
	for cmd in "get data@deep:/ outd" "ls -r data@deep" "glob data@deep /**" "checkout data@deep wtd" \
		   "diff data@master data@deep" "fsck" "gc" "push o"; do
		test_timeout 120 pach $cmd >cmd.out 2>err; code=$?
		test $code != 124 && test $code -le 129 || { echo >&4 "pach $cmd: exit $code"; cat err >&4; return 1; }
		test $code = 0 || { test "$(wc -l <err)" = 1 && grep -q "^fatal:" err; } || { echo >&4 "pach $cmd"; cat err >&4; return 1; }
	done && cd ..
'

test_done
