# t/lib-hostile.sh — crafting hostile objects with the real git.

# mktree_raw "MODE NAME OID" ...: write a tree object with exactly these
# entries (in the order given, names taken as bytes; \ooo escapes allowed)
# and print its id.  git mktree would refuse most of them.
mktree_raw() {
	python3 - "$@" <<-\PY | git --git-dir="${GIT_DIR:-.pach}" hash-object -t tree --literally -w --stdin
	import sys, codecs
	out = b""
	for a in sys.argv[1:]:
	    mode, name, oid = a.split(" ", 2)
	    name = codecs.escape_decode(name.encode())[0]
	    out += mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)
	sys.stdout.buffer.write(out)
	PY
}
blob() { printf '%s' "$1" | git --git-dir="${GIT_DIR:-.pach}" hash-object -w --stdin; }
# commit_tree TREE: a commit of TREE on branch data@evil (the branch is made).
evil_branch() {
	c=$(git --git-dir="${GIT_DIR:-.pach}" commit-tree -m evil "$1") &&
	git --git-dir="${GIT_DIR:-.pach}" update-ref "refs/heads/data/${2:-evil}" "$c"
}
# A listing of a directory nothing may touch.
sentinel_ls() { (cd "$TRASH_DIRECTORY" && find sentinel -exec stat -c '%n %s %Y %f' {} + | sort); }
# no_escape CMD...: CMD fails with one fatal line and the sentinel is as before.
no_escape() {
	sentinel_ls >before.sentinel &&
	test_timeout 60 "$@" >fatal.out 2>fatal.err; code=$?
	test $code != 0 && test $code != 124 && test $code -le 129 || { echo >&4 "exit $code: $*"; cat fatal.err >&4; return 1; }
	test "$(wc -l <fatal.err)" = 1 && grep -q "^fatal: " fatal.err || { echo >&4 "stderr of $*:"; cat fatal.err >&4; return 1; }
	sentinel_ls >after.sentinel && test_cmp before.sentinel after.sentinel
}
