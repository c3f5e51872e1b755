#!/bin/sh
test_description='progress on a terminal for commit, get, checkout, push, pull and run; -q, --no-progress, --progress'
. ./test-lib.sh

command -v script >/dev/null && test_set_prereq SCRIPT
# Show progress at once (as GIT_PROGRESS_DELAY): these operations are short.
export PACH_PROGRESS_DELAY=0

# Run a command with a terminal as its stdout and stderr (util-linux
# script); everything it printed ends up in tty.out, \r turned into \n.
on_tty() {
	script -qec "$*" /dev/null >tty.raw </dev/null && tr '\r' '\n' <tty.raw >tty.out
}

test_expect_success setup '
	pach init && pach repo create r && mkdir s &&
	head -c 3000000 /dev/urandom >s/big && echo small >s/small &&
	mkdir rem && pach remote add origin "file://$PWD/rem" &&
	cat >p.yaml <<-\EOF
	pipeline: {name: copy}
	runtime: local
	transform: {cmd: [sh, -c, "cp /pfs/r/* /pfs/out/"]}
	input: {pfs: {repo: r, glob: "/*"}}
	EOF
'

test_expect_success SCRIPT 'commit shows its progress on a terminal, with a final done line' '
	on_tty pach commit r s && grep "^Reading files: [0-9]*, .*MiB" tty.out && grep "^Reading files: 2, .*, done\." tty.out
'

test_expect_success SCRIPT 'get, checkout, push, pull and run show theirs' '
	on_tty pach get r exported && grep "^Exporting files: .*done\." tty.out &&
	on_tty pach checkout r@master wt && grep "^Checking out files: 2, .*done\." tty.out &&
	on_tty pach push && grep "^Uploading packs: .*done\." tty.out &&
	pach clone "file://$PWD/rem" other >/dev/null 2>&1 &&
	echo more >s/more && pach commit r s >/dev/null && pach push >/dev/null 2>&1 &&
	(cd other && on_tty pach pull && grep "^Receiving packs: .*done\." tty.out) &&
	pach pipeline create -f p.yaml && on_tty pach run && grep "^Processing datums: 100% (3/3).*done\." tty.out
'

test_expect_success 'no progress when stderr is not a terminal' '
	echo changed >s/small && pach commit r s 2>err >/dev/null && test_must_be_empty err &&
	pach get r e2 2>err && test_must_be_empty err
'

test_expect_success SCRIPT '-q and --no-progress silence it on a terminal' '
	head -c 1000000 /dev/urandom >s/big2 &&
	on_tty pach -q commit r s && ! grep "Reading" tty.out &&
	head -c 1000000 /dev/urandom >s/big3 &&
	on_tty pach commit --no-progress r s && ! grep "Reading" tty.out &&
	on_tty pach --no-progress get r e3 && ! grep "Exporting" tty.out &&
	on_tty pach get -q r e4 && ! grep "Exporting" tty.out
'

test_expect_success '--progress shows it even without a terminal' '
	pach get --progress r e5 2>err && grep "Exporting files: .*done\." err &&
	pach --progress get r e6 2>err && grep "Exporting files" err
'

test_done
