#!/bin/sh
test_description='cron inputs: pach run commits the ticks that are due'
. ./test-lib.sh

start=1767225600 # 2026-01-01T00:00:00Z

test_expect_success 'setup' '
	pach init &&
	cat >tick.yaml <<-\EOF
	pipeline: {name: tick}
	runtime: local
	transform:
	  cmd: [sh, -c, "cp $clock /pfs/out/ 2>/dev/null; ls /pfs/clock >/pfs/out/seen-$(basename $clock)"]
	input: {cron: {name: clock, spec: "@every 5m", start: "2026-01-01T00:00:00Z"}}
	EOF
	pach pipeline create -f tick.yaml && pach repo list | grep "^tick_clock "
'

test_expect_success 'every due tick is committed, each one a datum' '
	PACH_NOW=$((start + 12 * 60)) pach run >out && grep "3 processed" out &&
	pach ls tick_clock >ticks &&
	printf "/2026-01-01T00:00:00Z\n/2026-01-01T00:05:00Z\n/2026-01-01T00:10:00Z\n" >want && test_cmp want ticks
'

test_expect_success 'later, only the new tick runs' '
	PACH_NOW=$((start + 16 * 60)) pach run >out && grep "1 processed, 3 skipped" out &&
	PACH_NOW=$((start + 16 * 60)) pach run >out && grep "up to date" out
'

test_expect_success 'overwrite keeps only the latest tick' '
	cat >ow.yaml <<-\EOF
	pipeline: {name: ow}
	runtime: local
	transform: {cmd: [sh, -c, "ls /pfs/hourly >/pfs/out/ticks"]}
	input: {cron: {name: hourly, spec: "0 * * * *", start: "2026-01-01T00:00:00Z", overwrite: true}}
	EOF
	pach pipeline create -f ow.yaml &&
	PACH_NOW=$((start + 150 * 60)) pach run ow >out &&
	pach ls ow_hourly >ticks && echo /2026-01-01T02:00:00Z >want && test_cmp want ticks &&
	test "$(git --git-dir=.pach rev-list --count ow_hourly/master)" = 3
'

test_expect_success 'a bad cron spec names the file, line and field' '
	printf "pipeline: {name: bad}\nruntime: local\ntransform: {cmd: [sh]}\ninput:\n  cron: {name: c, spec: \"61 * * * *\"}\n" >bad.yaml &&
	test_fatal pach pipeline create -f bad.yaml && grep "bad.yaml:5: field .input.cron.spec.: bad cron spec" fatal.err
'

test_done
