#!/bin/bash
# `systemctl restart iobufd.service` under a real systemd while a client
# holds buffers from the socket and from D-Bus (on a private dbus-daemon,
# charged to another task): the client's connection, buffers, contents,
# purgeable states and charges all survive, through systemd's fd store, and before and after the restart
# what iobufd charges and holds is what the kernel says the client's fds are.
#
# systemd runs as a user manager in a private mount namespace (it wants
# /run/systemd/system, which only a system booted with systemd has), with
# the shipped iobufd.socket and iobufd.service. A manager that finds itself
# in the root cgroup moves every process of the machine into init.scope, so
# this runs in the vm suite's guest, not on the host. Of the service's settings
# it keeps those that make the restart what it is (Type, ExecStart,
# WatchdogSec, Restart, FileDescriptorStoreMax, Environment): sandboxing
# needs namespaces a container may not grant, and is checked by
# check-units.sh instead.
#
# Usage: check-restart.sh SOURCE_SYSTEMD_DIR BUILD_SYSTEMD_DIR IOBUFD RESTART_CLIENT
# $IOBUF_RESTART_HEAPS: the daemon's --heaps (default memfd).
set -euo pipefail

if [ "${1:-}" != --inside ]; then
	exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
src=$1 built=$2 iobufd=$3 client=$4
dir=$(mktemp -d /tmp/iobufd-restart.XXXXXX)
export XDG_RUNTIME_DIR=$dir/run XDG_CONFIG_HOME=$dir/config
# The vm guest runs its commands chrooted into the host's root.
export SYSTEMD_IGNORE_CHROOT=1
units=$XDG_CONFIG_HOME/systemd/user
manager= bus=

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "--- iobufd's log"; cat "$dir/iobufd.log" 2>/dev/null || true
		echo "--- client"; cat "$dir/client.out" 2>/dev/null || true
		echo "--- systemd"; cat "$dir/manager.log" 2>/dev/null || true
	fi
	[ -n "$manager" ] && kill "$manager" 2>/dev/null && wait "$manager" 2>/dev/null
	[ -n "$bus" ] && kill "$bus" 2>/dev/null
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=user-manager.sh
. "$(dirname "$0")/user-manager.sh"

# Only this namespace sees the tmpfs.
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system "$XDG_RUNTIME_DIR" "$units"

dbus-daemon --session --fork --nosyslog --print-address=3 --print-pid=4 \
	3>"$dir/bus.address" 4>"$dir/bus.pid"
bus=$(cat "$dir/bus.pid")
address=$(head -n1 "$dir/bus.address")

install_socket_unit "$dir/iobufd.sock"
shipped_service 'Type|ExecStart|WatchdogSec|Restart|FileDescriptorStoreMax|Environment' |
	sed -e "s|^ExecStart=.*|ExecStart=$iobufd --bus=$address --heaps=${IOBUF_RESTART_HEAPS:-memfd} -v|" \
	    -e "s|^\[Service\]|[Service]\nStandardOutput=append:$dir/iobufd.log\nStandardError=append:$dir/iobufd.log|" \
	    >"$units/iobufd.service"
grep -qx 'FileDescriptorStoreMax=[1-9][0-9]*' "$units/iobufd.service" ||
	fail "the shipped service keeps no fds across a restart"

start_user_manager
systemctl --user start iobufd.socket iobufd.service

show() { systemctl --user show -p "$1" --value iobufd.service; }

# A memfd's size, unless 0: such a memfd is no buffer but the one iobufd
# makes ahead, unsized, for its next allocation.
memfd_size() { # FD
	local size
	size=$(stat -L -c %s "$1")
	[ "$size" = 0 ] || echo "$size"
}

# The sizes of the buffers a process holds, one a line, sorted: a dma-buf's
# from its fdinfo, a memfd's (whose fdinfo has no size) from its file.
buffer_sizes() { # PID
	local fd info
	for fd in /proc/"$1"/fd/*; do
		info=/proc/$1/fdinfo/${fd##*/}
		if grep -q '^exp_name:' "$info" 2>/dev/null; then
			sed -n 's/^size:[[:space:]]*//p' "$info"
		else
			case $(readlink "$fd") in /memfd:iobuf:*) memfd_size "$fd" ;; esac
		fi
	done | sort -n
}

# iobufd (pid) holds one fd of each of the client's buffers, of the size the
# client's fds have, and its totals are theirs.
check_held() { # PID WHEN
	local held total=0 size status
	held=$(buffer_sizes "$1")
	[ "$held" = "$client_sizes" ] ||
		fail "$2, iobufd holds buffers of ${held//$'\n'/ } bytes, the client ${client_sizes//$'\n'/ }"
	for size in $held; do total=$((total + size)); done
	[ "$total" = "$client_total" ] || fail "$2, iobufd's buffers add up to $total, not $client_total"
	for _ in $(seq 30); do
		status=$(show StatusText)
		[ "$status" = "2 clients, $client_buffers buffers, $total bytes" ] && return 0
		sleep 0.1
	done
	fail "$2, iobufd's status is '$status', its buffers $client_buffers and $total bytes"
}

mkfifo "$dir/go"
"$client" "$dir/iobufd.sock" "$address" <"$dir/go" >"$dir/client.out" &
client_pid=$!
exec 7>"$dir/go"
for _ in $(seq 100); do
	grep -q '^ready' "$dir/client.out" && break
	kill -0 $client_pid 2>/dev/null || fail "the client died: $(cat "$dir/client.out")"
	sleep 0.1
done
grep -q '^ready 2 buffers 73728 bytes' "$dir/client.out" || fail "the client is not ready"
# What the client's fdinfo and files say it holds, and the totals it was told.
client_sizes=$(sed -n 's/^ready .* fd sizes //p' "$dir/client.out" | tr ' ' '\n' | sort -n)
client_buffers=$(sed -n 's/^ready .*, total \([0-9]*\) buffers .*/\1/p' "$dir/client.out")
client_total=$(sed -n 's/^ready .*, total [0-9]* buffers \([0-9]*\) bytes.*/\1/p' "$dir/client.out")
[ "$client_buffers" = 3 ] || fail "the client saw $client_buffers buffers in all, not 3"

# The connection, the three buffers and the bus caller's charge are in the store.
for _ in $(seq 50); do [ "$(show NFileDescriptorStore)" = 5 ] && break; sleep 0.1; done
[ "$(show NFileDescriptorStore)" = 5 ] || fail "systemd stores $(show NFileDescriptorStore) fds, not 5"
before=$(show MainPID)
check_held "$before" "before the restart"

systemctl --user restart iobufd.service
after=$(show MainPID)
[ "$before" != "$after" ] || fail "iobufd was not restarted (pid $before)"
[ "$(show ActiveState)" = active ] || fail "iobufd is $(show ActiveState) after the restart"
grep -q 'took over 2 clients and 3 buffers (77824 bytes)' "$dir/iobufd.log" ||
	fail "the restarted iobufd did not take everything over"
case ${IOBUF_RESTART_HEAPS:-} in
*dma-heap/system*)
	grep -q 'bytes on dma-heap/system' "$dir/iobufd.log" || fail "no buffer came from dma-heap/system" ;;
esac
check_held "$after" "after the restart"
echo "restarted iobufd (pid $before -> $after) with 5 stored fds;" \
	"it holds buffers of ${client_sizes//$'\n'/ } bytes, as the client's fds are"

echo go >&7
exec 7>&-
wait $client_pid || fail "the client failed after the restart: $(cat "$dir/client.out")"
grep -qx ok "$dir/client.out" || fail "the client said: $(cat "$dir/client.out")"

# What the client freed and its connection leave the store again.
for _ in $(seq 50); do [ "$(show NFileDescriptorStore)" = 0 ] && break; sleep 0.1; done
[ "$(show NFileDescriptorStore)" = 0 ] || fail "$(show NFileDescriptorStore) fds still stored"
echo "the client kept its buffers, contents, states and charges; the store is empty again"
systemctl --user stop iobufd.service iobufd.socket
