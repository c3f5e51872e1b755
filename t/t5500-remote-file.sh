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

test_done
