#!/bin/sh
# ci/s3-server.sh start PORT DIR  -- start the loopback S3 server (ci/s3-server.py)
#                                     in the background; prints its PID once it answers
# ci/s3-server.sh stop PID        -- stop it (and everything it started)
# Needs python3-swift and memcached (ci/install-deps.sh installs them).
set -e
here=$(cd "$(dirname "$0")" && pwd)
case "$1" in
start)
	port=${2:?port}; dir=${3:?directory}
	mkdir -p "$dir/logs"
	emd=; command -v eatmydata >/dev/null && emd=eatmydata   # test data: no fsync needed
	setsid $emd /usr/bin/python3 "$here/s3-server.py" "$dir" "$port" </dev/null >>"$dir/logs/server.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 600 ]; do
		if ! kill -0 $pid 2>/dev/null; then
			echo "s3 server exited:" >&2; tail -5 "$dir/logs/server.log" >&2; exit 1
		fi
		# Any HTTP answer from the S3 port, and the object server listening, means ready.
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)
		if [ "$code" != 000 ] && curl -s -o /dev/null "http://127.0.0.1:$((port + 3))/" 2>/dev/null; then
			echo $pid; exit 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	echo "s3 server did not answer on port $port" >&2; kill $pid; exit 1 ;;
stop)
	pid=${2:?pid}
	kill -TERM "$pid" 2>/dev/null || exit 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$pid" 2>/dev/null || true ;;
*)
	echo "usage: $0 start PORT DIR | stop PID" >&2; exit 2 ;;
esac
