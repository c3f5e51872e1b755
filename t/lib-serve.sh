# Helpers of the `pach serve` tests (t80xx), sourced after test-lib.sh.
#
# start_serve NAME [ARGS...]: `pach serve` on a free port in the
# background; its URL in NAME.url, its stderr in NAME.err, its PID in
# NAME.pid.  $SERVE_ENV adds VAR=value words to its environment.  Commits
# made through it get the real time (aws s3 sync compares it with the
# files'; the test library fixes the time in 2005).
start_serve() {
	_srv=$1
	shift
	# shellcheck disable=SC2086
	env -u GIT_AUTHOR_DATE -u GIT_COMMITTER_DATE $SERVE_ENV pach serve --listen 127.0.0.1:0 "$@" \
		>"$_srv.url" 2>"$_srv.err" &
	echo $! >"$_srv.pid"
	i=0
	while ! [ -s "$_srv.url" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$_srv.pid")" 2>/dev/null; then
			cat "$_srv.err" >&4
			return 1
		fi
		sleep 0.1
	done
}

# stop_serve NAME: SIGTERM, and wait until it is gone.
stop_serve() { kill "$(cat "$1.pid")" && while kill -0 "$(cat "$1.pid")" 2>/dev/null; do sleep 0.1; done; }

# Tests run in subshells: every server (or helper) they start leaves a
# NAME.pid in the trash directory, and all are stopped when the script ends.
stop_all() { for f in "$TRASH_DIRECTORY"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; }
test_atexit stop_all
