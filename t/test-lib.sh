# t/test-lib.sh — git's test-lib in miniature.
#
# A test script sources this, sets test_description, then calls
# test_expect_success / test_expect_failure, and ends with test_done.
# Each script runs in its own trash directory with a fixed identity and
# fixed dates, so commit ids are reproducible.
#
# Options (also via environment): -v/--verbose shows commands' output,
# -i/--immediate stops at the first failure, --debug keeps the trash dir.

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
PACH_BUILD_DIR=$(cd "$TEST_DIRECTORY/.." && pwd)
# PACH_TEST_BUILD_DIR: the directory of another pach binary to test (make
# asan-test); sources, docs and scripts still come from PACH_BUILD_DIR.
PATH="$(cd "${PACH_TEST_BUILD_DIR:-$PACH_BUILD_DIR}" && pwd):$PATH"
export PATH

for arg in "$@"; do
	case "$arg" in
	-v|--verbose) verbose=t ;;
	-i|--immediate) immediate=t ;;
	-d|--debug) debug=t ;;
	esac
done

unset PACH_DIR CDPATH
export LC_ALL=C TZ=UTC
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL="author@example.com"
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL="committer@example.com"
export GIT_AUTHOR_DATE="1112911993 -0700" GIT_COMMITTER_DATE="1112911993 -0700"
export HOME="$TEST_DIRECTORY/trash-home.$(basename "$0" .sh)"
export GIT_CONFIG_NOSYSTEM=1

test_name=$(basename "$0" .sh)
TRASH_DIRECTORY="$TEST_DIRECTORY/trash directory.$test_name"
rm -rf "$TRASH_DIRECTORY" "$HOME"
mkdir -p "$TRASH_DIRECTORY" "$HOME" || exit 1
cd "$TRASH_DIRECTORY" || exit 1

test_count=0
test_success=0
test_failure=0
test_skipped=0
test_fixed=0
test_broken=0

if [ -n "$verbose" ]; then
	exec 4>&2 3>&1
else
	exec 4>/dev/null 3>/dev/null
fi

say() { printf '%s\n' "$*"; }

# Prerequisites, as git: test_set_prereq NAME; a test with NAME in its
# prerequisite list is skipped (with the reason) unless NAME is set.
satisfied_prereq=" "
test_set_prereq() { satisfied_prereq="$satisfied_prereq$1 "; }
test_have_prereq() {
	for p in $(echo "$1" | tr ',' ' '); do
		case "$satisfied_prereq" in *" $p "*) ;; *) return 1 ;; esac
	done
}

command -v git >/dev/null && test_set_prereq GIT
[ "$(id -u)" != 0 ] && test_set_prereq SANITY

# The body runs in a subshell; cleanups registered with test_when_finished
# run after it, in reverse order, whether it passed or not.  A failing
# cleanup fails the test.
test_run_() {
	( test_cleanup=:; eval "$1"; eval_ret=$?; eval "$test_cleanup"; exit $eval_ret ) >&3 2>&4
}

# test_when_finished CMD...: run CMD when this test ends (as git's).
test_when_finished() {
	test_cleanup="{ $*
	} && (exit \"\$eval_ret\"); eval_ret=\$?; $test_cleanup"
}

test_expect_success() {
	if [ $# = 3 ]; then prereq=$1; shift; else prereq=; fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		test_skipped=$((test_skipped + 1))
		say "ok $test_count # skip $1 (missing $prereq)"
		return
	fi
	if test_run_ "$2"; then
		test_success=$((test_success + 1))
		say "ok $test_count - $1"
	else
		test_failure=$((test_failure + 1))
		say "not ok $test_count - $1"
		printf '%s\n' "$2" | sed 's/^/#	/'
		[ -n "$immediate" ] && { test_done; }
	fi
}

test_expect_failure() {
	test_count=$((test_count + 1))
	if test_run_ "$2"; then
		test_fixed=$((test_fixed + 1))
		say "ok $test_count - $1 # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		say "not ok $test_count - $1 # TODO known breakage"
	fi
}

test_skip_all() {
	say "1..0 # SKIP $*"
	test_skipped=1
	write_results
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY" "$HOME"
	exit 0
}

# Helpers.
test_must_fail() {
	"$@" 2>&4
	code=$?
	if [ $code = 0 ]; then
		echo >&4 "test_must_fail: command succeeded: $*"
		return 1
	elif [ $code -gt 129 ] && [ $code -le 192 ]; then
		echo >&4 "test_must_fail: died by signal $((code - 128)): $*"
		return 1
	elif [ $code = 127 ]; then
		echo >&4 "test_must_fail: command not found: $*"
		return 1
	fi
	return 0
}

# test_expect_code N cmd...: the command exits with exactly N.
test_expect_code() {
	want=$1
	shift
	"$@"
	code=$?
	[ $code = "$want" ] && return 0
	echo >&4 "test_expect_code: expected exit $want, got $code: $*"
	return 1
}

# Run a command that must fail with one "fatal: ..." line on stderr.
test_fatal() {
	"$@" >fatal.out 2>fatal.err
	code=$?
	if [ $code = 0 ]; then
		echo >&4 "test_fatal: command succeeded: $*"
		return 1
	fi
	if [ "$(wc -l <fatal.err)" != 1 ] || ! grep -q '^fatal: ' fatal.err; then
		echo >&4 "test_fatal: expected one 'fatal:' line, got:"
		cat fatal.err >&4
		return 1
	fi
	return 0
}

test_cmp() { diff -u "$@"; }
# test_timeout SECONDS CMD...: timeout(1), scaled by PACH_TEST_TIMEOUT_SCALE
# (a sanitized build is several times slower); 124 means it hung.
test_timeout() { _tt_secs=$1; shift; timeout $((_tt_secs * ${PACH_TEST_TIMEOUT_SCALE:-1})) "$@"; }
test_line_count() {
	n=$(wc -l <"$3")
	if ! [ "$n" "$1" "$2" ]; then
		echo >&4 "test_line_count: $3 has $n lines, expected $1 $2"
		cat "$3" >&4
		return 1
	fi
}
test_must_be_empty() { ! [ -s "$1" ] || { echo >&4 "not empty: $1"; cat "$1" >&4; return 1; }; }
test_path_is_file() { [ -f "$1" ] || { echo >&4 "not a file: $1"; return 1; }; }
test_path_is_dir() { [ -d "$1" ] || { echo >&4 "not a directory: $1"; return 1; }; }
test_path_is_missing() { ! [ -e "$1" ] && ! [ -L "$1" ] || { echo >&4 "exists: $1"; return 1; }; }

# test_crash_at POINT[:N] CMD...: CMD must die by SIGKILL at its named
# crash point (PACH_TEST_CRASH_AT, plumbing/crash.cc), the Nth time it
# passes there: a kill at a known moment, however fast the command is.
test_crash_at() {
	_point=$1 && shift &&
	PACH_TEST_CRASH_AT=$_point "$@" >"$TRASH_DIRECTORY/crash.out" 2>"$TRASH_DIRECTORY/crash.err"; _code=$?
	test $_code = 137 && grep -q "PACH_TEST_CRASH_AT: killed" "$TRASH_DIRECTORY/crash.err" ||
		{ echo >&4 "$*: exit $_code, not killed at $_point"; cat "$TRASH_DIRECTORY/crash.err" >&4; return 1; }
}

# The real git binary is our referee.
# git's own tree of a directory, as `git add -A` and `git write-tree` make it.
git_tree_of() {
	rm -rf "$TRASH_DIRECTORY/gitidx" &&
	GIT_DIR="$TRASH_DIRECTORY/gitidx" git init -q &&
	(cd "$1" && GIT_DIR="$TRASH_DIRECTORY/gitidx" GIT_WORK_TREE=. git add -A &&
	 GIT_DIR="$TRASH_DIRECTORY/gitidx" git write-tree)
}
git_fsck() { git --git-dir="${1:-.pach}" fsck --strict --no-dangling --no-progress 2>fsck.err >&4 && ! grep -v '^notice:' fsck.err | grep -q .; }

# A snapshot of everything in the store that must not change on a failed
# command: refs and the object listing.
store_state() {
	(cd "${1:-.pach}" && find refs objects -type f | sort && git --git-dir=. for-each-ref) 2>/dev/null
}

write_results() {
	mkdir -p "$TEST_DIRECTORY/results"
	echo "$test_success $test_failure $test_skipped $test_broken" >"$TEST_DIRECTORY/results/$test_name.counts"
}

# test_atexit CMD: run CMD when the script ends (servers started by the
# script, stopped by PID), before test_done removes the trash directory
# that may hold their pid files, and also on any other way out.
test_atexit_cmds=
test_atexit() {
	test_atexit_cmds="$test_atexit_cmds
$*"
}
test_atexit_run() {
	cmds=$test_atexit_cmds
	test_atexit_cmds=
	eval "$cmds"
}
trap 'test_atexit_run' EXIT

test_done() {
	test_atexit_run
	write_results
	say "# passed $test_success, failed $test_failure, skipped $test_skipped, known breakage $test_broken"
	cd "$TEST_DIRECTORY" || exit 1
	if [ "$test_failure" = 0 ] && [ -z "$debug" ]; then
		rm -rf "$TRASH_DIRECTORY" "$HOME"
	fi
	[ "$test_failure" = 0 ]
	exit $?
}
