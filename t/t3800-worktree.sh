#!/bin/sh
test_description='work trees: checkout, status, add, commit, diff, restore, log, switching branches'
. ./test-lib.sh

# The files of a directory, without the work tree marker, as "mode path".
listing() {
	(cd "$1" && find . \( -type f -o -type l \) ! -name .pach | sort | while read -r f; do
		printf '%s %s\n' "$(stat -c %A "$f" | cut -c1-4)" "$f"; done)
}

test_expect_success setup '
	pach init && pach repo create r &&
	mkdir src src/d src/d/e && echo one >src/a.txt && echo two >src/d/b.txt &&
	printf "#!/bin/sh\necho hi\n" >src/run.sh && chmod +x src/run.sh &&
	ln -s a.txt src/link && seq 1 1000 >src/d/e/nums &&
	pach commit r src -m first >/dev/null
'

test_expect_success 'checkout writes the branch as files, marks the work tree' '
	pach checkout r@master &&
	test_path_is_file r/.pach && grep -q "^pach worktree" r/.pach &&
	pach get r@master exported && listing exported >want && listing r >got && test_cmp want got &&
	diff -r -x .pach exported r &&
	test "$(readlink r/link)" = a.txt && test -x r/run.sh &&
	(cd r && pach status >../out) && grep -q "nothing to commit, working tree clean" out &&
	(cd r && pach status -s >../out) && test_must_be_empty out &&
	git_fsck
'

test_expect_success 'a second status hashes nothing (stat cache)' '
	sleep 1 && (cd r && pach status -s >/dev/null && PACH_TRACE_PERFORMANCE=1 pach status -s 2>../trace >/dev/null) &&
	grep "work tree scan: 5 files, 0 hashed" trace
'

test_expect_success 'checkout refuses bad input and changes nothing' '
	store_state >before &&
	mkdir full && echo x >full/x &&
	test_fatal pach checkout r@master full && grep "not an empty directory" fatal.err &&
	test_fatal pach checkout nosuch@master w2 && test_path_is_missing w2 &&
	test_fatal pach checkout r@master:/d w2 && test_path_is_missing w2 &&
	test_fatal pach checkout "r@bad..name" w2 && test_path_is_missing w2 &&
	test_expect_code 128 pach checkout r@master w2 --link sideways 2>err && test_path_is_missing w2 &&
	store_state >after && test_cmp before after
'

test_expect_success 'status: modified, deleted, untracked (short and long forms, --json)' '
	(cd r && echo changed >>a.txt && rm d/b.txt && echo new >n.txt && mkdir -p u/v && echo w >u/v/w &&
	 pach status -s >../out && pach status >../long && pach status --json >../json) &&
	cat >want <<-\EOF &&
	 M a.txt
	 D d/b.txt
	?? n.txt
	?? u/v/w
	EOF
	test_cmp want out &&
	grep "modified:   a.txt" long && grep "deleted:    d/b.txt" long && grep "	u/$" long &&
	python3 -c "import json,sys; d=json.load(open(\"json\")); assert d[\"branch\"]==\"master\" and len(d[\"files\"])==4, d"
'

test_expect_success 'diff shows unstaged changes against the index' '
	(cd r && pach diff >../out && pach diff --name-status >../ns) &&
	grep "^+changed" out && grep "^-two" out &&
	printf "M\ta.txt\nD\td/b.txt\n" >want && test_cmp want ns
'

test_expect_success 'add stages; diff --staged; commit makes exactly the staged change' '
	(cd r && pach add a.txt d u && pach status -s >../out && pach diff --staged --name-status >../staged &&
	 pach diff --name-status >../unstaged) &&
	cat >want <<-\EOF &&
	M  a.txt
	D  d/b.txt
	?? n.txt
	A  u/v/w
	EOF
	test_cmp want out && test_must_be_empty unstaged &&
	(cd r && pach diff --head --name-status >../head) && printf "M\ta.txt\nD\td/b.txt\nA\tu/v/w\n" >want &&
	test_cmp want head &&
	printf "M\ta.txt\nD\td/b.txt\nA\tu/v/w\n" >want && test_cmp want staged &&
	(cd r && pach commit -m second >../id) &&
	test "$(cat id)" = "$(git --git-dir=.pach rev-parse r/master)" &&
	pach diff r@master --name-status >got && test_cmp want got &&
	test "$(pach cat r@master:/a.txt)" = "$(printf "one\nchanged")" &&
	(cd r && pach status -s >../out) && echo "?? n.txt" >want && test_cmp want out &&
	git_fsck
'

test_expect_success 'commit -a stages modified and deleted files, not untracked ones' '
	(cd r && echo more >>d/e/nums && rm run.sh && pach commit -a -m third >/dev/null &&
	 pach status -s >../out) &&
	echo "?? n.txt" >want && test_cmp want out &&
	pach ls -r r@master >ls && ! grep run.sh ls && ! grep n.txt ls &&
	pach cat r@master:/d/e/nums | tail -1 | grep -x more
'

test_expect_success 'commit with nothing staged says so and makes no commit' '
	before=$(git --git-dir=.pach rev-parse r/master) &&
	(cd r && pach commit -m nothing >../out) && grep "nothing to commit" out &&
	test "$(git --git-dir=.pach rev-parse r/master)" = "$before"
'

test_expect_success 'restore puts back files; restore --staged unstages' '
	(cd r && echo junk >a.txt && rm link && pach restore a.txt link &&
	 test "$(cat a.txt)" = "$(printf "one\nchanged")" && test "$(readlink link)" = a.txt &&
	 echo staged >a.txt && pach add a.txt && pach restore --staged a.txt && pach status -s >../out &&
	 cat a.txt >../content) &&
	printf " M a.txt\n?? n.txt\n" >want && test_cmp want out && test "$(cat content)" = staged &&
	(cd r && pach restore a.txt) &&
	test_fatal sh -c "cd r && pach restore nosuch"
'

test_expect_success 'paths are relative to the current directory; -C works' '
	(cd r/d && echo sub >e/new && pach add e/new && pach status -s >../../out) &&
	grep "^A  d/e/new" out &&
	pach -C r status -s >out2 && test_cmp out out2 &&
	test_fatal sh -c "cd r && pach add ../src" && grep "outside the work tree" fatal.err &&
	(cd r && pach restore --staged d/e/new && rm d/e/new)
'

test_expect_success 'log in a work tree starts at its commit' '
	(cd r && pach log --oneline >../out) && test_line_count = 3 out &&
	head -1 out | grep third
'

test_expect_success 'checkout another branch: files follow, unrelated local changes stay' '
	pach branch r dev master~2 &&
	mkdir devsrc && echo devonly >devsrc/only-dev && pach put r@dev:/ devsrc/only-dev >/dev/null &&
	(cd r && ln -sf n.txt link && pach checkout dev 2>../err && pach status -s >../out) &&
	grep "Switched to branch" err &&
	test_path_is_file r/only-dev && test_path_is_file r/run.sh && test_path_is_file r/d/b.txt &&
	test_path_is_missing r/u &&
	printf " M link\n?? n.txt\n" >want && test_cmp want out &&
	(cd r && pach restore link && pach checkout master) && test_path_is_missing r/only-dev &&
	test_path_is_missing r/run.sh
'

test_expect_success 'checkout refuses to overwrite a local change, and changes nothing' '
	(cd r && echo mine >a.txt) &&
	listing r >before && sum_before=$(cat r/a.txt) && cp .pach/pach/worktrees/*/state state.before &&
	test_fatal sh -c "cd r && pach checkout dev" && grep "a.txt" fatal.err &&
	listing r >after && test_cmp before after && test "$(cat r/a.txt)" = mine &&
	test_cmp state.before .pach/pach/worktrees/*/state &&
	(cd r && pach restore a.txt)
'

test_expect_success 'an untracked file in the way is a local change too' '
	(cd r && echo mine >only-dev) &&
	test_fatal sh -c "cd r && pach checkout dev" && test "$(cat r/only-dev)" = mine && rm r/only-dev
'

test_expect_success 'branch moved by someone else: commit refused (exit 2), checkout updates, then commit' '
	pach put r@master:/other.txt src/a.txt >/dev/null &&
	(cd r && echo edit >>a.txt && test_expect_code 2 pach commit -a -m late 2>../err) &&
	grep "moved" err && grep "pach checkout" err &&
	(cd r && pach checkout 2>../err && test_path_is_file other.txt && pach commit -a -m late >/dev/null) &&
	grep Updated err &&
	pach cat r@master:/a.txt | tail -1 | grep -x edit && pach cat r@master:/other.txt &&
	git_fsck
'

test_expect_success 'gc keeps staged blobs; forgets deleted work trees after three months unused (fsck changes nothing)' '
	head -c 100000 /dev/urandom >r/staged.bin && (cd r && pach add staged.bin) &&
	pach gc >/dev/null && pach fsck >/dev/null &&
	(cd r && pach commit -m staged >/dev/null) && pach cat r@master:/staged.bin | cmp - r/staged.bin &&
	pach checkout r@master gone && test "$(ls .pach/pach/worktrees | wc -l)" = 2 &&
	rm -rf gone && pach gc >/dev/null && test "$(ls .pach/pach/worktrees | wc -l)" = 2 &&
	touch -d "100 days ago" .pach/pach/worktrees/*/state && (cd r && pach status >/dev/null) &&
	find .pach/pach/worktrees -type f | sort >wt.before && pach fsck >/dev/null &&
	find .pach/pach/worktrees -type f | sort >wt.after && test_cmp wt.before wt.after &&
	pach gc >/dev/null && test "$(ls .pach/pach/worktrees | wc -l)" = 1 &&
	git_fsck
'

test_expect_success 'a moved work tree keeps working; a copy is refused while the original exists' '
	pach checkout r@master mv1 2>/dev/null && mv mv1 mv2 && (cd mv2 && pach status -s >../out) &&
	grep -q "path $PWD/mv2" .pach/pach/worktrees/*/state &&
	cp -r mv2 cp1 && test_fatal sh -c "cd cp1 && pach status" && grep "is a copy of the work tree" fatal.err &&
	(cd mv2 && pach status -s >/dev/null) && rm -rf mv2 cp1
'

test_expect_success 'an empty branch can be checked out and committed from' '
	pach repo create fresh && pach checkout fresh@master fw &&
	(cd fw && pach status >../out && echo hello >h && pach add h && pach commit -m start >/dev/null &&
	 pach log --oneline >../log) &&
	grep "No commits yet" out && test_line_count = 1 log && test "$(pach cat fresh:/h)" = hello
'

test_expect_success 'hardlink mode shares read-only files with the store cache' '
	pach repo create big && mkdir bigsrc && head -c 3000000 /dev/urandom >bigsrc/blob &&
	pach commit big bigsrc >/dev/null &&
	pach checkout big@master h1 --link hardlink && pach checkout big@master h2 --link hardlink &&
	test "$(stat -c %h h1/blob)" = 3 && test "$(stat -c %a h1/blob)" = 444 &&
	test "$(stat -c %i h1/blob)" = "$(stat -c %i h2/blob)" && cmp h1/blob bigsrc/blob &&
	pach checkout big@master h3 --link copy && test "$(stat -c %h h3/blob)" = 1 && cmp h3/blob bigsrc/blob &&
	(cd h1 && pach status -s >../out) && test_must_be_empty out
'

test_expect_success 'reflink is refused, before anything is written, where the filesystem cannot' '
	if filefrag -v .pach/HEAD >/dev/null 2>&1 && pach checkout big@master rl --link reflink 2>err; then
		echo "this filesystem reflinks: covered by the XFS test"
	else
		test_path_is_missing rl && grep -q "cannot reflink" err
	fi
'

if command -v mkfs.xfs >/dev/null && command -v filefrag >/dev/null && [ "$(id -u)" = 0 ]; then
	truncate -s 320M "$TRASH_DIRECTORY/xfs.img" && mkfs.xfs -q "$TRASH_DIRECTORY/xfs.img" 2>/dev/null &&
	mkdir "$TRASH_DIRECTORY/xfs" && mount -o loop "$TRASH_DIRECTORY/xfs.img" "$TRASH_DIRECTORY/xfs" 2>/dev/null &&
	test_set_prereq XFS
fi

test_expect_success XFS 'on XFS, auto mode reflinks large files: extents shared, edits stay private' '
	test_when_finished "umount \"\$TRASH_DIRECTORY/xfs\"" &&
	(cd xfs && pach init && pach repo create d && mkdir s && head -c 8000000 /dev/urandom >s/big &&
	 pach commit d s >/dev/null && pach checkout d@master w1 && pach checkout d@master w2 &&
	 filefrag -v w1/big >../frag && cmp w1/big s/big && cmp w2/big s/big &&
	 echo x >>w1/big && cmp w2/big s/big && (cd w1 && pach status -s >../../st)) &&
	grep -q shared frag && echo " M big" >want && test_cmp want st
'
test_have_prereq XFS || say "# skipping the XFS reflink test: needs root, mkfs.xfs, filefrag and a loop mount"

test_expect_success 'a branch switch killed midway: the same checkout finishes it' '
	pach repo create k && mkdir ka kb && for i in $(seq 1 3000); do echo "a$i" >ka/f$i; echo "b$i" >kb/f$i; done &&
	pach commit k ka >/dev/null && pach branch k other master >/dev/null && pach commit k@other kb >/dev/null &&
	pach checkout k@master kw 2>/dev/null &&
	(cd kw && { pach checkout other 2>/dev/null & } && pid=$! && sleep 0.2 && kill -9 $pid; wait $pid; true) &&
	(cd kw && pach checkout other 2>../err && pach status -s >../out) && test_must_be_empty out &&
	pach get k@other kexp && diff -r -x .pach kexp kw &&
	(cd kw && pach status -s 2>../err2) && test_must_be_empty err2
'

test_expect_success 'status says when the branch moved since the checkout; add -A; checkout -b keeps local changes' '
	pach repo create mv && mkdir mvd && echo 1 >mvd/a && pach commit mv mvd >/dev/null &&
	pach checkout mv@master mvw 2>/dev/null && echo 2 >mvd/a && pach commit mv mvd >/dev/null &&
	(cd mvw && pach status >../out && pach status --json >../json) &&
	grep "The branch moved since this work tree.s commit" out &&
	python3 -c "import json; j = json.load(open(\"json\")); assert j[\"branch_head\"] != j[\"head\"], j" &&
	(cd mvw && pach checkout 2>/dev/null && pach status >../out) && ! grep "moved" out &&
	(cd mvw && echo new >n && echo changed >a && rm -f x && pach add -A && pach status -s >../out) &&
	printf "M  a\nA  n\n" >want && test_cmp want out &&
	(cd mvw && pach checkout -b topic 2>../err && pach status -s >../out2 && pach commit -m topic >/dev/null) &&
	grep "Switched to a new branch .topic." err && test_cmp want out2 &&
	test "$(pach cat mv@topic:/n)" = new && test "$(pach cat mv@master:/a)" = 2 &&
	(cd mvw && test_fatal pach checkout -b topic && grep "already exists" fatal.err)
'

test_expect_success 'commands that need a work tree say so outside one' '
	test_fatal pach status && grep "not in a work tree" fatal.err &&
	test_fatal pach add x && test_fatal pach restore x &&
	test_fatal pach commit -a -m x && grep "not in a work tree" fatal.err &&
	test_expect_code 129 pach commit r 2>err
'

test_expect_success 'diff --staged on a branch with no commit yet honours its paths (the empty tree read as any tree)' '
	pach init nc >/dev/null && (cd nc && pach repo create fresh >/dev/null && pach checkout fresh@master fr >/dev/null 2>&1) &&
	(cd nc/fr && echo a >a && echo b >b && pach add a b && pach diff --staged --name-only a >../../names) &&
	echo a >want && test_cmp want names
'

test_done
