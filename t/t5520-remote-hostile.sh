#!/bin/sh
test_description='a hostile remote: its state names no local path, hangs nothing, moves no undo'
. ./test-lib.sh

# A directory nothing may touch, and its listing.
sentinel_ls() { (cd "$TRASH_DIRECTORY" && find sentinel -exec stat -c '%n %s %Y %f' {} + | sort); }
# good_pack: a pack of the remote that B lacks (so B would download it).
# evil_copy: a fresh copy of the good remote to spoil.
evil_copy() { rm -rf "$TRASH_DIRECTORY/evil" && cp -r "$TRASH_DIRECTORY/remote" "$TRASH_DIRECTORY/evil"; }
# refused CMD...: one fatal line, in B nothing changed, the sentinel intact.
refused() {
	(cd B && store_state >../before.store) && sentinel_ls >before.sentinel &&
	(cd B && test_timeout 20 "$@" >../fatal.out 2>../fatal.err); code=$?
	test $code != 0 && test $code != 124 || { echo >&4 "exit $code: $*"; cat fatal.err >&4; return 1; }
	test "$(wc -l <fatal.err)" = 1 && grep -q "^fatal: " fatal.err || { cat fatal.err >&4; return 1; }
	(cd B && store_state >../after.store) && test_cmp before.store after.store &&
	sentinel_ls >after.sentinel && test_cmp before.sentinel after.sentinel
}
set_state() { printf "$1" >"$TRASH_DIRECTORY/evil/state"; }
hex40() { printf '%040d' 0 | tr 0 "$1"; }

test_expect_success 'setup: a good remote, a clone of it, a sentinel directory' '
	mkdir sentinel && echo keep >sentinel/victim && mkdir sentinel/packs &&
	pach init A >/dev/null && cd A && pach repo create data && echo one >f && pach put data f &&
	pach remote add origin "file://$TRASH_DIRECTORY/remote" && pach push >/dev/null && cd .. &&
	pach clone "file://$TRASH_DIRECTORY/remote" B >/dev/null &&
	(cd B && pach remote add evil "file://$TRASH_DIRECTORY/evil") &&
	(cd A && echo two >g && pach put data g && pach push >/dev/null) &&
	for q in $(sed -n "s/^pack \([0-9a-f]*\) .*/\1/p" remote/state); do
		test -f B/.pach/objects/pack/pack-$q.pack || good_pack=$q
	done && test -n "$good_pack" && echo "$good_pack" >good_pack
'

test_expect_success 'pack names that are paths are refused' '
	evil_copy && cp remote/packs/$(cat good_pack).pack sentinel/packs/x.pack &&
	set_state "pach-remote 1\npack ../../sentinel/packs/x 12\n" && refused pach fetch evil &&
	grep "bad state" fatal.err &&
	set_state "pach-remote 1\npack $(cat good_pack)/../../../sentinel/victim 12\n" && refused pach fetch evil &&
	set_state "pach-remote 1\npack $(hex40 A) 12\n" && refused pach fetch evil &&
	set_state "pach-remote 1\npack $(hex40 a)" && printf "\0x 12\n" >>evil/state && refused pach fetch evil &&
	test "$(cat sentinel/victim)" = keep
'

test_expect_success 'sizes: a pack listed bigger than it is, a size that is not a number' '
	evil_copy && p=$(cat good_pack) &&
	sed "s/^pack $p .*/pack $p 99999999999999/" remote/state >evil/state && refused pach fetch evil &&
	grep "listed with" fatal.err &&
	sed "s/^pack $p .*/pack $p -5/" remote/state >evil/state && refused pach fetch evil &&
	sed "s/^pack $p .*/pack $p 18446744073709551617/" remote/state >evil/state && refused pach fetch evil &&
	! ls B/.pach/pach/fetch/* 2>/dev/null | grep -q .
'

test_expect_success 'unknown lines, bad headers and bad refs are refused' '
	evil_copy && o=$(sed -n "s/^ref \([0-9a-f]*\) .*/\1/p" remote/state | head -n 1) &&
	{ cat remote/state && echo "rm -rf /"; } >evil/state && refused pach fetch evil &&
	{ echo "pach-remote 2" && tail -n +2 remote/state; } >evil/state && refused pach fetch evil &&
	: >evil/state && refused pach fetch evil &&
	for r in "refs/heads/../../x" "refs/heads/data/a..b" "refs/heads/data/x.lock" "refs/tags/v1" "HEAD" \
		 "refs/heads/data" "refs/heads/da ta/m" "refs/pach/remotes/origin/heads/data/master" \
		 "refs/pach/snapshots/../../heads/data/master"; do
		{ cat remote/state && echo "ref $o $r"; } >evil/state && refused pach fetch evil || return 1
	done &&
	{ cat remote/state && echo "ref ${o%??} refs/heads/data/x"; } >evil/state && refused pach fetch evil &&
	{ cat remote/state && tail -n 1 remote/state; } >evil/state && refused pach fetch evil &&
	grep "listed twice" fatal.err
'

test_expect_success 'a state that is a FIFO, a symlink, a directory or too big: refused, no hang' '
	evil_copy && rm evil/state && mkfifo evil/state && refused pach fetch evil &&
	grep "not a regular file" fatal.err &&
	rm evil/state && ln -s "$TRASH_DIRECTORY/remote/state" evil/state && refused pach fetch evil &&
	rm evil/state && mkdir evil/state && refused pach fetch evil &&
	rmdir evil/state && cp remote/state evil/state && truncate -s 70M evil/state && refused pach fetch evil &&
	grep "larger than" fatal.err
'

test_expect_success 'a pack that is a FIFO: refused, no hang' '
	evil_copy && (cd B && pach fetch evil >/dev/null) && (cd A && echo three >h && pach put data h &&
	pach push >/dev/null) && evil_copy &&
	for q in $(sed -n "s/^pack \([0-9a-f]*\) .*/\1/p" remote/state); do
		test -f B/.pach/objects/pack/pack-$q.pack || p=$q
	done && test -n "$p" &&
	rm evil/packs/$p.pack && mkfifo evil/packs/$p.pack && refused pach fetch evil
'

test_expect_success 'a remote branch whose tree holds "..": fetch refuses it, tracking refs unchanged' '
	rm -rf H && pach init H >/dev/null && (cd H && pach repo create data) &&
	x=$(printf pwned | git --git-dir=H/.pach hash-object -w --stdin) &&
	raw_tree() { python3 -c "import sys; sys.stdout.buffer.write(sys.argv[1].encode() + b\"\\0\" + bytes.fromhex(sys.argv[2]))" "$1" "$2" |
		git --git-dir=H/.pach hash-object -t tree --literally -w --stdin; } &&
	sub=$(raw_tree "100644 x" $x) && top=$(raw_tree "40000 .." $sub) &&
	c=$(git --git-dir=H/.pach commit-tree -m evil $top) &&
	evil_copy && printf "%s\n" $c | git --git-dir=H/.pach pack-objects --revs -q pk >/dev/null &&
	sum=$(tail -c 20 pk-*.pack | od -An -tx1 | tr -d " \n") &&
	mv pk-*.pack evil/packs/$sum.pack && mv pk-*.idx evil/packs/$sum.idx &&
	{ cat remote/state && echo "pack $sum $(stat -c %s evil/packs/$sum.pack)" &&
	  echo "ref $c refs/heads/data/evil"; } >evil/state &&
	git --git-dir=B/.pach for-each-ref >refs.before &&
	(cd B && test_fatal pach fetch evil) && grep "hasDotdot" B/fatal.err &&
	git --git-dir=B/.pach for-each-ref >refs.after && test_cmp refs.before refs.after &&
	! git --git-dir=B/.pach rev-parse -q --verify refs/pach/remotes/evil/heads/data/evil &&
	(cd B && pach gc >/dev/null && pach fsck >/dev/null)
'

test_expect_success 'a snapshot received by pull does not drive rollback --undo' '
	pach init P >/dev/null && (cd P && pach repo create d && echo 1 >f && pach put d f &&
	pach remote add origin "file://$TRASH_DIRECTORY/r2" && pach push >/dev/null) &&
	pach clone "file://$TRASH_DIRECTORY/r2" Q >/dev/null &&
	(cd Q && pach snapshot q1 >/dev/null && echo 3 >f3 && pach put d f3 && pach rev-parse d@master >../c3 &&
	 pach rollback --to q1 >/dev/null) &&
	sleep 1 &&
	(cd P && echo 4 >f4 && pach put d f4 && pach snapshot p1 >/dev/null && echo 5 >f5 && pach put d f5 &&
	 pach rev-parse d@master >../c5 && pach rollback --to p1 >/dev/null && pach push >/dev/null) &&
	(cd Q && pach pull >/dev/null && pach snapshot list >../list) && test $(grep -c before-rollback list) = 2 &&
	(cd Q && pach rollback --undo >/dev/null && pach rev-parse d@master >../now) && test_cmp c3 now
'

test_expect_success 'an S3 endpoint answering with more than pach accepts: one clear line, never a cut answer' '
	port=$((22000 + ($$ % 500) * 2)) &&
	{ python3 "$TEST_DIRECTORY/lib-s3-hostile.py" $port & } && spid=$! &&
	test_when_finished "kill $spid" &&
	pach init big >/dev/null && (cd big && pach repo create r >/dev/null && echo a >a && pach put r:/a a >/dev/null &&
	pach remote add o s3://bkt --endpoint http://127.0.0.1:$port --path-style &&
	for i in 1 2 3 4 5 6 7 8 9 10; do python3 -c "import socket; socket.create_connection((\"127.0.0.1\", $port))" 2>/dev/null && break; sleep 0.2; done &&
	export AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=b && test_fatal test_timeout 60 pach push &&
	grep "the answer is larger than pach accepts" fatal.err)
'

test_done
