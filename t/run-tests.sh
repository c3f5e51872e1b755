#!/bin/sh
# Run the doctest unit tests, then every t/tNNNN-*.sh, and end with
# "N passed, N failed" (counting unit test cases and shell test cases).
cd "$(dirname "$0")" || exit 1
unit=${1:-../build/unit-tests}
rm -rf results && mkdir -p results
passed=0 failed=0 skipped=0

if [ -x "$unit" ] || [ -x "../$unit" ]; then
	[ -x "$unit" ] || unit=../$unit
	out=$("$unit" --no-intro 2>&1)
	echo "$out" | tail -n 4
	line=$(echo "$out" | grep 'test cases:' | tail -n 1)
	up=$(echo "$line" | sed -n 's/.*| *\([0-9]*\) passed.*/\1/p')
	uf=$(echo "$line" | sed -n 's/.*| *\([0-9]*\) failed.*/\1/p')
	passed=$((passed + ${up:-0}))
	failed=$((failed + ${uf:-1}))
	echo "unit tests: ${up:-0} passed, ${uf:-?} failed"
fi

# The fuzz targets (make fuzz), each for PACH_FUZZ_SECONDS (default 10)
# from its seed corpus and past findings: each target is one test.
if [ -x ../build-fuzz/tree-fuzz ] && [ "${PACH_FUZZ_SECONDS:-10}" != 0 ]; then
	echo "*** fuzzing: each target for ${PACH_FUZZ_SECONDS:-10} s"
	out=$(../fuzz/run.sh "${PACH_FUZZ_SECONDS:-10}" build-fuzz 2>&1)
	echo "$out"
	fp=$(echo "$out" | grep -c ' ok$')
	ff=$(echo "$out" | grep -c 'FAILED')
	passed=$((passed + fp))
	failed=$((failed + ff))
fi

for t in t[0-9][0-9][0-9][0-9]-*.sh; do
	[ -f "$t" ] || continue
	echo "*** $t"
	sh "$t" ${PACH_TEST_OPTS} 2>&1 | grep -v '^ok '
	name=$(basename "$t" .sh)
	if [ -f "results/$name.counts" ]; then
		read -r s f k b <"results/$name.counts"
		passed=$((passed + s))
		failed=$((failed + f))
		skipped=$((skipped + k))
	else
		echo "$t: did not finish"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
