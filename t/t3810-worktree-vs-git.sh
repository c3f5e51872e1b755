#!/bin/sh
test_description='work trees against git: random edits, adds, restores, commits and switches agree with a git work tree; streamed commands keep their promises'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r &&
	mkdir src && echo one >src/a && mkdir src/d && echo two >src/d/e &&
	pach commit r src -m first >/dev/null && pach checkout r@master w 2>/dev/null
'

# Each seed: the same random steps in a git work tree and a pach one; after
# every step status, the commit tree and the staged changes must agree.
for seed in 1 2 3 4; do
	test_expect_success "random steps agree with git (seed $seed)" '
		rm -rf rnd && mkdir rnd && (
			cd rnd &&
			git init -q g && git -C g config user.email t@t && git -C g config user.name t &&
			git -C g config status.renames false &&
			echo base >g/a && mkdir g/d && echo e >g/d/e && git -C g add -A && git -C g commit -qm base &&
			pach init s >/dev/null && pach -C s repo create r && mkdir -p src/d && echo base >src/a &&
			echo e >src/d/e && pach -C s commit r src -m base >/dev/null &&
			pach -C s checkout r@master w 2>/dev/null &&
			python3 "$TEST_DIRECTORY/lib-worktree-vs-git.py" '"$seed"' 100 >out 2>&1 || { cat out; false; }
		)
	'
done

test_expect_success 'commit -a stores the changed tracked files, never an untracked one' '
	(cd w && echo changed >a && echo secret-untracked >untracked && pach commit -a -m a >/dev/null) &&
	b=$(echo secret-untracked | git hash-object --stdin) &&
	test_must_fail git --git-dir=.pach cat-file -e $b &&
	test "$(pach cat r@master:/a)" = changed && rm w/untracked && git_fsck
'

test_expect_success 'a switch that would lose an untracked file refuses before touching anything' '
	mkdir flat && echo changed >flat/a && echo file >flat/d && pach commit r@flat flat -m flat >/dev/null &&
	echo precious >w/d/mine &&
	(cd w && pach status -s >../before) && store_state >state.before &&
	(cd w && test_fatal pach checkout flat; code=$?; mv fatal.err fatal.out .. && exit $code) &&
	grep "would lose .d/mine." fatal.err &&
	(cd w && pach status -s >../after 2>../err) && test_cmp before after && test_must_be_empty err &&
	store_state >state.after && test_cmp state.before state.after &&
	test "$(cat w/d/mine)" = precious && test "$(cat w/d/e)" = two &&
	rm w/d/mine && (cd w && pach checkout flat 2>/dev/null) && test "$(cat w/d)" = file &&
	(cd w && pach checkout master 2>/dev/null) && test "$(cat w/d/e)" = two
'

test_expect_success 'add of an empty directory is no error; add of a file whose directory became a file stages its deletion' '
	mkdir w/empty && (cd w && pach add empty) && rmdir w/empty &&
	rm -r w/d && echo f >w/d && (cd w && pach add d/e && pach status -s >../out) &&
	printf "?? d\nD  d/e\n" >want && test_cmp want out &&
	rm w/d && (cd w && pach restore --staged d/e && pach restore d/e) && test "$(cat w/d/e)" = two
'

test_expect_success 'restore and switch keep the stat cache: the next status hashes nothing' '
	(cd w && echo x >a && pach restore a && pach checkout flat >/dev/null 2>&1 && pach checkout master >/dev/null 2>&1) &&
	sleep 1 && (cd w && pach status -s >/dev/null && PACH_TRACE_PERFORMANCE=1 pach status -s 2>../trace >/dev/null) &&
	grep "work tree scan: [0-9]* files, 0 hashed" trace
'

test_done
