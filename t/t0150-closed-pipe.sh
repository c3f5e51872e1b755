#!/bin/sh
test_description='writing into a closed pipe ends quietly, as git does'
. ./test-lib.sh

# Run "$@" with standard output into `head -c 1`; record its exit status.
into_head() {
	{ "$@" 2>err; echo $? >rc; } | head -c 1 >/dev/null
}

test_expect_success 'setup: a big file and many names' '
	pach init && pach repo create r && mkdir d &&
	head -c 8388608 /dev/urandom >d/big &&
	python3 -c "
for i in range(12000):
    open(\"d/file-with-a-long-name-%05d\" % i, \"w\").write(str(i))
" &&
	pach commit r d >/dev/null
'

# Each writes far more than a pipe holds (64 KiB).
for cmd in "pach cat r:/big" "pach ls r" "pach ls -l r" "pach ls-tree -r r@master" "pach ls --json r" "pach cat-file -p r@master:big"; do
	test_expect_success "$cmd | head: exit 141, nothing on stderr" "
		into_head $cmd && test \"\$(cat rc)\" = 141 && test_must_be_empty err
	"
done

test_expect_success 'a real write error still says so' '
	! pach cat r:/big >/dev/full 2>err && grep "fatal: unable to write" err
'

test_done
