#!/bin/sh
# Run every libFuzzer target for SECONDS each, from its seed corpus in
# fuzz/corpus/<target> (which also keeps the inputs of past findings), and
# print executions and coverage per target.  Exit 1 if any target found
# a crash, a sanitizer report, a leak or a timeout; its input is kept in
# BUILD/findings/ (add it to fuzz/corpus/<target> once fixed).
#   usage: fuzz/run.sh SECONDS [BUILD]
secs=${1:-10}
build=${2:-build-fuzz}
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$build/findings" "$build/work"
status=0
printf '%-8s %10s %8s %8s %s\n' target execs cov ft result
for bin in "$build"/*-fuzz; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin" -fuzz)
	work="$build/work/$name"
	mkdir -p "$work"
	log="$build/work/$name.log"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/findings/$name-" "$work" "fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	if [ $rc = 0 ]; then
		result=ok
	else
		result="FAILED (see $log)"
		status=1
	fi
	printf '%-8s %10s %8s %8s %s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $status
