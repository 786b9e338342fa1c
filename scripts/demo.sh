#!/usr/bin/env bash
# Builds iobufd, starts it on a temporary socket with its embedded default
# heap (sealed memfd), runs the example client against it, and stops it.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${build_packages[@]}"
build "$top/build-demo" -Dtests=false

rundir=$(mktemp -d)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
	rm -rf "$rundir"
}
trap cleanup EXIT

export IOBUFD_SOCKET=$rundir/iobufd.sock
"$top/build-demo/daemon/iobufd" --no-dbus --socket "$IOBUFD_SOCKET" &
daemon_pid=$!

for _ in $(seq 100); do
	[ -S "$IOBUFD_SOCKET" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || { echo "iobufd exited at start" >&2; exit 1; }
	sleep 0.05
done

"$top/build-demo/examples/iobuf-demo"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
echo "iobufd stopped cleanly"
