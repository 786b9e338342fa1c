#!/bin/bash
# iobufd.service under a real systemd (a user manager, as check-restart.sh
# runs one) with a real systemd-journald: systemd connects the service's
# stderr to the journal and says so in $JOURNAL_STREAM, iobufd finds it by
# itself, and `journalctl -u iobufd IOBUFD_UID=1000` tells what uid 1000's
# client did. Runs in the vm suite's guest, whose processes the manager may
# move into its cgroups (the unit's cgroup is what -u matches).
#
# While the service runs, test-cgroup compares the units iobufd reads from
# /proc/PID/cgroup with libsystemd's, for every process, the service's own
# and the manager's among them.
#
# Usage: check-journal-unit.sh SOURCE_SYSTEMD_DIR BUILD_SYSTEMD_DIR IOBUFD JOURNAL_CLIENT TEST_CGROUP
set -euo pipefail

if [ "${1:-}" != --inside ]; then
	exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
src=$1 built=$2 iobufd=$3 client=$4 test_cgroup=$5
dir=$(mktemp -d /tmp/iobufd-journal-unit.XXXXXX)
export XDG_RUNTIME_DIR=$dir/run XDG_CONFIG_HOME=$dir/config
export SYSTEMD_IGNORE_CHROOT=1
units=$XDG_CONFIG_HOME/systemd/user
manager= journald=

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "--- the journal"
		journalctl --no-pager -o verbose 2>/dev/null | tail -n 60 || true
		echo "--- systemd"; cat "$dir/manager.log" 2>/dev/null || true
	fi
	[ -n "$manager" ] && kill "$manager" 2>/dev/null && wait "$manager" 2>/dev/null
	[ -n "$journald" ] && kill "$journald" 2>/dev/null && wait "$journald" 2>/dev/null
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=user-manager.sh
. "$(dirname "$0")/user-manager.sh"

# Only this namespace sees the tmpfs: journald's sockets and runtime journal too.
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system /run/systemd/journal /run/log/journal "$XDG_RUNTIME_DIR" "$units"
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal

/lib/systemd/systemd-journald &
journald=$!
for _ in $(seq 100); do
	[ -S /run/systemd/journal/stdout ] && break
	sleep 0.05
done
[ -S /run/systemd/journal/stdout ] || fail "systemd-journald did not start"

# The shipped units, with the settings that bear on logging: no
# StandardError=, so stderr is the journal's stream.
install_socket_unit "$dir/iobufd.sock"
shipped_service 'Type|ExecStart|Environment' |
	sed -e "s|^ExecStart=.*|ExecStart=$iobufd --no-dbus --heaps=memfd --max-client-bytes=64K -v|" \
	    >"$units/iobufd.service"
grep -q '^Standard\(Output\|Error\)=' "$built/iobufd.service" &&
	fail "the shipped service sends its output elsewhere than the journal"

start_user_manager
systemctl --user start iobufd.socket iobufd.service
chmod 0755 "$dir"
chmod 0666 "$dir/iobufd.sock"

"$test_cgroup" >"$dir/cgroup.log" 2>&1 ||
	fail "units read from cgroups differ from libsystemd's: $(cat "$dir/cgroup.log")"
grep -q ' processes, [1-9][0-9]* of them in a unit' "$dir/cgroup.log" ||
	fail "test-cgroup saw no process in a unit: $(cat "$dir/cgroup.log")"
[ "$(systemctl --user show -p ControlGroup --value iobufd.service)" != "" ] ||
	fail "iobufd.service has no cgroup"
setpriv --reuid=1000 --regid=1000 --clear-groups "$client" "$dir/iobufd.sock" ||
	fail "uid 1000's client failed"
"$client" "$dir/iobufd.sock" || fail "root's client failed"
systemctl --user stop iobufd.service iobufd.socket
journalctl --sync 2>/dev/null || sleep 1

journalctl --no-pager -o json -u iobufd IOBUFD_UID=1000 >"$dir/story.json"
python3 - "$dir/story.json" <<'EOF'
import json, sys

events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [e.get("IOBUFD_EVENT") for e in events]
assert kinds == ["connect", "allocate", "refuse", "free", "release", "disconnect"], kinds
for e in events:
    assert e["_SYSTEMD_UNIT"] == "iobufd.service", e
    assert e["IOBUFD_UID"] == "1000", e
assert events[2]["IOBUFD_LIMIT"] == "max-client-bytes", events[2]
print("journalctl -u iobufd IOBUFD_UID=1000:", " ".join(kinds))
EOF
# The service's other entries (start-up, root's client) are the unit's too.
journalctl --no-pager -u iobufd -o cat | grep -q "iobufd .* ready" || fail "no start-up line"
[ "$(journalctl --no-pager -u iobufd -o cat IOBUFD_UID=0 IOBUFD_EVENT=allocate | wc -l)" = 1 ] ||
	fail "root's allocation is not the unit's once"
echo "ok"
