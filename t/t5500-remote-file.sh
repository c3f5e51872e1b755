#!/bin/sh
test_description='remotes in a directory (file://): push, fetch, pull, clone, races, corruption'
. ./test-lib.sh

URL="file://$TRASH_DIRECTORY/remote"
ADDOPTS=
PREREQ=
raw_ls() { (cd "$TRASH_DIRECTORY/remote" && find . -type f ! -name .lock | sed 's|^\./||' | sort); }
# A copy of the remote whose new packs have one byte changed.
EVIL_URL="file://$TRASH_DIRECTORY/evil"
make_corrupt_copy() {
	rm -rf "$TRASH_DIRECTORY/evil" && cp -r "$TRASH_DIRECTORY/remote" "$TRASH_DIRECTORY/evil" &&
	for p in $new_packs; do
		f="$TRASH_DIRECTORY/evil/$p"
		chmod u+w "$f" && printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null || return 1
	done
}
. "$TEST_DIRECTORY/lib-remote.sh"

test_expect_success 'remote.jobs and friends: bad values are one clear line; the environment wins over config' '
	pach init tune >/dev/null && mkdir tune-remote && (cd tune && pach repo create r >/dev/null &&
	echo a >a && pach put r:/a a >/dev/null && pach remote add o "file://$PWD/../tune-remote" &&
	git --git-dir=.pach config remote.jobs 0 &&
	test_fatal pach push && grep "remote.jobs .0.: expected a whole number from 1 to 256" fatal.err &&
	PACH_REMOTE_JOBS=3 pach push >/dev/null 2>&1 &&
	git --git-dir=.pach config --unset remote.jobs &&
	export PACH_S3_PART_MB=1 && test_fatal pach push && grep "PACH_S3_PART_MB .1.: expected" fatal.err)
'

test_done
