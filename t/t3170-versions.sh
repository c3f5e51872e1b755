#!/bin/sh
test_description='versions of a big file cost their changes: git deltas git reads, gc keeps them'
. ./test-lib.sh

# 40 MiB: above the 32 MiB from which a file's versions are deltas.
MB=40
mutate() { # file mode [bytes]
	python3 - "$@" <<'PY'
import os, random, sys
path, mode = sys.argv[1], sys.argv[2]
amount = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 20
random.seed(os.environ.get("SEED", "1") + mode)
size = os.path.getsize(path)
if mode == "random":   # 4 KiB pages rewritten in place
    with open(path, "r+b") as f:
        for i in range(amount // 4096):
            f.seek(random.randrange(size - 4096)); f.write(random.randbytes(4096))
elif mode == "append":
    with open(path, "ab") as f: f.write(random.randbytes(amount))
elif mode == "insert":  # in the middle: everything after it moves
    with open(path, "rb") as f: data = f.read()
    mid = size // 2 + 12345
    with open(path, "wb") as f: f.write(data[:mid] + random.randbytes(amount) + data[mid:])
PY
}
store_kib() { du -sk .pach/objects | cut -f1; }
packs() { ls .pach/objects/pack/*.pack | wc -l; }

test_expect_success setup '
	pach init && pach repo create r && mkdir d &&
	head -c $((MB << 20)) /dev/urandom >d/big && echo small >d/s &&
	pach commit r d -m v1 && cp d/big v1
'

for mode in random append insert; do
	test_expect_success "a version with 1 MiB changed ($mode) costs about 1 MiB" '
		before=$(store_kib) && npacks=$(packs) &&
		mutate d/big '$mode' && n=$(($(ls v* | wc -l) + 1)) && cp d/big v$n &&
		pach commit r d -m v$n &&
		grow=$(($(store_kib) - before)) && echo "grew $grow KiB" &&
		test $grow -lt 1400 &&
		test $(packs) -le $((npacks + 1))
	'
done

test_expect_success 'every version reads back, through pach and through git' '
	for i in 1 2 3 4; do
		pach cat r@master~$((4 - i)):/big >out && cmp out v$i &&
		git --git-dir=.pach cat-file blob r/master~$((4 - i)):big >out && cmp out v$i || return 1
	done &&
	git_fsck
'

test_expect_success 'git sees deltas, one pack holds the versions' '
	pack=$(ls -S .pach/objects/pack/*.pack | head -1) && pack=${pack%.pack}.idx &&
	git verify-pack -v "$pack" >vp &&
	grep "chain length = 3: 1 object" vp &&
	test $(grep -c " blob " vp) = 4
'

test_expect_success 'get, show and diff of an older (deltified) version' '
	pach get r@master~3:/big got && cmp got v1 &&
	pach diff r@master~3 r@master --stat >stat && grep big stat
'

test_expect_success 'unrelated new content at the same path is stored whole' '
	head -c $((MB << 20)) /dev/urandom >d/big && cp d/big v5 &&
	pach commit r d -m v5 &&
	pach cat r:/big | cmp - v5 && pach cat r@master~1:/big | cmp - v4 &&
	git_fsck
'

test_expect_success 'going back to an old version stores nothing new' '
	cp v4 d/big && before=$(store_kib) &&
	pach commit r d -m back-to-v4 &&
	test $(($(store_kib) - before)) -lt 64 &&
	pach cat r:/big | cmp - v4
'

test_expect_success 'a corrupt chunk list is ignored, never trusted' '
	for f in .pach/pach/chunks/*; do chmod u+w "$f" && printf x | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null; done &&
	cp v4 d/big && mutate d/big random 65536 && cp d/big v6 &&
	pach commit r d -m v6 &&
	pach cat r:/big | cmp - v6 && pach cat r@master~1:/big | cmp - v4 && git_fsck
'

test_expect_success 'push and clone carry the versions as deltas, checked by pach' '
	mkdir remote && pach remote add origin "file://$PWD/remote" && pach push >/dev/null &&
	test $(du -sk remote | cut -f1) -lt $(($(store_kib) + 1024)) &&
	pach clone "file://$PWD/remote" copy >/dev/null &&
	for i in 1 2 3 4; do pach -C copy cat r@master~$((7 - i)):/big | cmp - v$i || return 1; done &&
	git_fsck copy/.pach
'

test_expect_success 'push of one new version sends about what changed; fetch rebuilds it next to the old ones' '
	cp v6 d/big && mutate d/big random 262144 && cp d/big v7 &&
	pach commit r d -m v7 && before=$(du -sk remote | cut -f1) &&
	pach push >/dev/null && grow=$(($(du -sk remote | cut -f1) - before)) && echo "remote grew $grow KiB" &&
	test $grow -lt 1024 &&
	pach -C copy pull >/dev/null &&
	pach -C copy cat r:/big | cmp - v7 && pach -C copy cat r@master~1:/big | cmp - v6 &&
	git_fsck copy/.pach &&
	pack=$(ls -S copy/.pach/objects/pack/*.pack | head -1) && git verify-pack -v "${pack%.pack}.idx" >vp &&
	grep "chain length = 1" vp &&
	pach clone "file://$PWD/remote" copy2 >/dev/null &&
	pach -C copy2 cat r:/big | cmp - v7 && pach -C copy2 cat r@master~1:/big | cmp - v6 && git_fsck copy2/.pach
'

test_expect_success 'a thin pack whose base a remote no longer has is one clear error' '
	rm -rf thinless && cp -r remote thinless && chmod -R u+w thinless &&
	big=$(ls -S thinless/packs/*.pack | head -1) && name=$(basename "$big" .pack) &&
	rm -f "$big" "thinless/packs/$name.idx" && grep -v "$name" thinless/state >st && cp st thinless/state &&
	test_fatal pach clone "file://$PWD/thinless" thincopy && test $(wc -l <fatal.err) = 1 &&
	grep "^fatal: " fatal.err && ! test -e thincopy/.pach/refs/heads/r/master
'

test_expect_success 'a corrupt pack of versions from a remote is refused, nothing changes' '
	pack=$(ls -S remote/packs/*.pack | head -1) && mkdir evil && cp -r remote/* evil/ &&
	f=evil/packs/$(basename "$pack") && chmod u+w "$f" &&
	size=$(stat -c %s "$f") &&
	printf "\0" | dd of="$f" bs=1 seek=$((size - 200)) conv=notrunc 2>/dev/null &&
	test_fatal pach clone "file://$PWD/evil" evilcopy && test $(wc -l <fatal.err) = 1 &&
	! test -d evilcopy/.pach/refs/heads/r
'

test_expect_success 'gc keeps versions as deltas' '
	before=$(store_kib) && pach gc && after=$(store_kib) &&
	echo "$before -> $after KiB" && test $after -le $((before + 64)) &&
	for i in 1 2 3 4; do pach cat r@master~$((8 - i)):/big | cmp - v$i || return 1; done &&
	git_fsck
'

test_expect_success 'gc drops the versions nothing reaches any more, keeps the bases others need' '
	G="git --git-dir=.pach" &&
	c=$($G commit-tree $($G rev-parse "r/master~4^{tree}") -m cut) &&
	$G update-ref refs/heads/r/cut $c && $G update-ref -d refs/heads/r/master &&
	$G update-ref -d refs/pach/remotes/origin/heads/r/master &&
	pach cat r@cut:/big | cmp - v4 &&
	$G reflog expire --expire=now --all &&
	before=$(store_kib) && pach gc && after=$(store_kib) && echo "$before -> $after KiB" &&
	git_fsck && pach cat r@cut:/big | cmp - v4 &&
	test $after -lt $((before - 2000)) &&
	pack=$(ls -S .pach/objects/pack/*.pack | head -1) && pack=${pack%.pack}.idx && git verify-pack -v "$pack" >vp &&
	grep "chain length = 2: 1 object" vp && test $(grep -c " blob " vp) = 3
'

test_expect_success 'crash tests: a store of their own' '
	pach init k && pach -C k repo create r && mkdir kd &&
	head -c $((MB << 20)) /dev/urandom >kd/big && pach -C k commit r kd -m v1 && cp kd/big k1 &&
	pach -C k branch r first &&
	mutate kd/big random 65536 && pach -C k commit r kd -m v2 && cp kd/big k2
'

for point in version-written objects-sealed versions-published objects-published; do
	test_expect_success "a version commit killed at $point: store clean, every version there, commit again works" '
		tip=$(git --git-dir=k/.pach rev-parse r/master) && cp kd/big cur &&
		SEED='$point' mutate kd/big append 8192 && cp kd/big new &&
		test_crash_at '$point' pach -C k commit r kd -m killed &&
		test "$(git --git-dir=k/.pach rev-parse r/master)" = "$tip" &&
		git_fsck k/.pach && pach -C k fsck >/dev/null &&
		pach -C k cat r@first:/big | cmp - k1 &&
		pach -C k cat r:/big | cmp - cur &&
		pach -C k commit r kd -m again >/dev/null && pach -C k cat r:/big | cmp - new &&
		pach -C k cat r@master~1:/big | cmp - cur && git_fsck k/.pach &&
		test $(ls k/.pach/objects/pack/*.pack | wc -l) -le 12
	'
done

test_expect_success 'deltas git made (git gc, OFS_DELTA) go through the same reader' '
	pach init g && pach -C g repo create r && mkdir gd &&
	seq 1 400000 >gd/f && pach -C g commit r gd -m 1 && cp gd/f g1 &&
	seq 2 400001 >gd/f && pach -C g commit r gd -m 2 &&
	git --git-dir=g/.pach gc -q --aggressive &&
	git verify-pack -v g/.pach/objects/pack/*.idx >vp && grep "chain length = 1" vp &&
	pach -C g cat r@master~1:/f | cmp - g1 && pach -C g cat r:/f | cmp - gd/f &&
	pach -C g get r@master~1:/f got && cmp got g1
'

test_expect_success 'a corrupt delta is one clear error' '
	pach init bad && pach -C bad repo create r && mkdir e &&
	head -c $((MB << 20)) /dev/urandom >e/big && pach -C bad commit r e -m one &&
	mutate e/big random 8192 && pach -C bad commit r e -m two &&
	pack=$(ls -S bad/.pach/objects/pack/*.pack | head -1) && chmod u+w "$pack" &&
	git verify-pack -v "${pack%.pack}.idx" | awk "length(\$NF) == 40 && NF == 7 { print \$5 }" | head -1 >off &&
	test -s off &&
	printf "\377" | dd of="$pack" bs=1 seek=$(($(cat off) + 30)) conv=notrunc 2>/dev/null &&
	test_fatal pach -C bad cat r@master~1:/big &&
	test $(wc -l <fatal.err) = 1 && grep "^fatal: " fatal.err
'

test_done
