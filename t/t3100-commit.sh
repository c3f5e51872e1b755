#!/bin/sh
test_description='pach commit: snapshots that git agrees with'
. ./test-lib.sh

test_expect_success 'setup' '
	pach init && pach repo create data &&
	mkdir src && echo hello >src/a.txt && mkdir -p src/sub/deeper && echo x >src/sub/deeper/x &&
	printf "#!/bin/sh\necho hi\n" >src/run.sh && chmod +x src/run.sh &&
	: >src/empty && ln -s a.txt src/link && ln -s ../../outside src/sub/uplink &&
	printf "sp ace" >"src/with space" && printf "u" >"src/ünï" && printf "t" >"$(printf "src/tab\tname")" &&
	head -c 300000 /dev/urandom >src/random.bin
'

test_expect_success 'commit prints the new id; git sees it on the branch' '
	pach commit data@master src -m "first" >id &&
	test "$(cat id)" = "$(git --git-dir=.pach rev-parse data/master)" &&
	git --git-dir=.pach log --format=%s data/master >log && echo first >want && test_cmp want log &&
	git_fsck
'

test_expect_success 'git returns byte-identical content, modes and symlinks' '
	for f in a.txt run.sh empty "with space" "ünï" random.bin sub/deeper/x; do
		git --git-dir=.pach cat-file -p "data/master:$f" >got && cmp "src/$f" got || return 1
	done &&
	git --git-dir=.pach ls-tree data/master >tree &&
	grep "^100755 blob .*	run.sh" tree &&
	grep "^120000 blob .*	link" tree &&
	test "$(git --git-dir=.pach cat-file -p data/master:link)" = a.txt &&
	test "$(git --git-dir=.pach cat-file -p data/master:sub/uplink)" = ../../outside &&
	git --git-dir=.pach ls-tree -r --name-only data/master | grep "tab"
'

test_expect_success 'nothing changed: nothing to commit, no new commit' '
	before=$(git --git-dir=.pach rev-parse data/master) &&
	pach commit data src -m again >out &&
	grep "nothing to commit" out &&
	test "$(git --git-dir=.pach rev-parse data/master)" = "$before"
'

test_expect_success 'adds, modifies and deletes' '
	echo changed >src/a.txt && rm src/empty && echo new >src/sub/new && chmod -x src/run.sh &&
	pach commit data src -m second &&
	git --git-dir=.pach diff --name-status data/master~1 data/master >ns &&
	printf "M\ta.txt\nD\tempty\nM\trun.sh\nA\tsub/new\n" >want && test_cmp want ns &&
	git_fsck
'

test_expect_success 'a file changed with the same size and mtime second is seen' '
	echo AAAA >src/same && pach commit data src -m s1 &&
	echo BBBB >src/same && pach commit data src -m s2 &&
	test "$(git --git-dir=.pach cat-file -p data/master:same)" = BBBB
'

test_expect_success 'commit into a sub path leaves the rest alone' '
	mkdir other && echo o >other/o &&
	pach commit data@master:/models/v1 other -m sub &&
	git --git-dir=.pach ls-tree -r --name-only data/master >names &&
	grep "^models/v1/o$" names && grep "^a.txt$" names
'

test_expect_success 'committing an empty directory deletes the path' '
	mkdir emptydir && pach commit data:/models emptydir -m wipe &&
	! git --git-dir=.pach ls-tree -r --name-only data/master | grep "^models/"
'

test_expect_success 'a new branch is created by its first commit' '
	pach commit data@exp src -m exp &&
	git --git-dir=.pach rev-parse --verify data/exp
'

test_expect_success 'thousands of small files become a few packs, not loose objects' '
	mkdir many && i=0 && while [ $i -lt 2000 ]; do echo $i >many/f$i; i=$((i+1)); done &&
	pach commit data:/many many -m many &&
	test -z "$(find .pach/objects -path "*/objects/??/*" -type f)" &&
	test $(ls .pach/objects/pack/*.pack | wc -l) -lt 40 &&
	git --git-dir=.pach cat-file -p data/master:many/f1234 >got && echo 1234 >want && test_cmp want got &&
	git_fsck
'

test_expect_success 're-commit after touch without content change: nothing to commit' '
	touch many/f1 && pach commit data:/many many >out && grep "nothing to commit" out
'

test_expect_success 'any byte git allows in a name: newline, backslash, non-UTF-8' '
	mkdir odd && printf n >"odd/$(printf "new\nline")" && printf b >"odd/back\\slash" &&
	printf x >"odd/$(printf "\377\376")" && printf q >"odd/\"quote\"" &&
	pach commit data:/odd odd -m odd &&
	test "$(git --git-dir=.pach ls-tree -z data/master:odd | tr -cd "\0" | wc -c)" = 4 &&
	pach get data:/odd odd-out && diff -r odd odd-out &&
	git_fsck
'

test_expect_success '--json summary' '
	echo j >many/j && pach commit data:/many many --json >out &&
	grep "\"commit\":\"[0-9a-f]\{40\}\"" out
'

test_done
