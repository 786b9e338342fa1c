#!/bin/bash
# iobufd's events in a real journal: a systemd-journald runs in a private
# mount namespace (its sockets and files on tmpfs, nothing of the machine's
# touched); iobufd logs to it, once told to (--log-target=journal) and once
# finding that its stderr is the journal's stream ($JOURNAL_STREAM); a
# client of uid 1000 allocates, is refused by a limit and frees. Then
# journalctl, filtering on iobufd's fields, tells that user's story, and
# journalctl -x explains the refusal from iobufd's catalog.
#
# Usage: check-journal.sh IOBUFD JOURNAL_CLIENT CATALOG
set -euo pipefail

if [ "${1:-}" != --inside ]; then
	exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
iobufd=$1 client=$2 catalog=$3
dir=$(mktemp -d /tmp/iobufd-journal.XXXXXX)
journald= daemon=

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "--- iobufd's stderr"; cat "$dir/iobufd.err" 2>/dev/null || true
		echo "--- the journal"
		journalctl -D "$dir/journal" --no-pager -o verbose 2>/dev/null | tail -n 80 || true
	fi
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$journald" ] && kill "$journald" 2>/dev/null && wait "$journald" 2>/dev/null
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

# journald's sockets and runtime journal, and a catalog database with ours.
mkdir -p /run/systemd/journal "$dir/journal"
mount -t tmpfs tmpfs /run/systemd/journal
mount --bind "$dir/journal" "$(mkdir -p /run/log/journal && echo /run/log/journal)"
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
mkdir -p "$dir/catalog" /var/lib/systemd/catalog /usr/lib/systemd/catalog
cp /usr/lib/systemd/catalog/*.catalog "$dir/catalog/" 2>/dev/null || true
cp "$catalog" "$dir/catalog/iobufd.catalog"
mount --bind "$dir/catalog" /usr/lib/systemd/catalog
mount -t tmpfs tmpfs /var/lib/systemd/catalog
journalctl --update-catalog
if [ ! -s /etc/machine-id ]; then
	systemd-id128 new >"$dir/machine-id"
	mount --bind "$dir/machine-id" /etc/machine-id
fi

/lib/systemd/systemd-journald &
journald=$!
for _ in $(seq 100); do
	[ -S /run/systemd/journal/socket ] && break
	sleep 0.05
done
[ -S /run/systemd/journal/socket ] || fail "systemd-journald did not start"

# start_iobufd STDERR [ARGS...]: on $dir/iobufd.sock, open to uid 1000's client.
start_iobufd() {
	local err=$1
	shift
	rm -f "$dir/iobufd.sock"
	"$iobufd" --no-dbus --socket "$dir/iobufd.sock" --max-client-bytes=64K -v "$@" \
		2>>"$err" &
	daemon=$!
	for _ in $(seq 200); do
		[ -S "$dir/iobufd.sock" ] && break
		sleep 0.05
	done
	[ -S "$dir/iobufd.sock" ] || fail "iobufd did not start"
	chmod 0755 "$dir"
	chmod 0666 "$dir/iobufd.sock"
}

stop_iobufd() {
	kill -TERM "$daemon"
	wait "$daemon" || fail "iobufd exited with $?"
	daemon=
}

story() { # UID: the client's allocations as that uid
	setpriv --reuid="$1" --regid="$1" --clear-groups "$client" "$dir/iobufd.sock" ||
		fail "the client of uid $1 failed"
}

entries() { # MATCHES...: the journal's entries of iobufd as JSON, one per line
	journalctl -D "$dir/journal" --no-pager -o json SYSLOG_IDENTIFIER=iobufd "$@"
}

# Told to log to the journal: stderr stays quiet.
start_iobufd "$dir/iobufd.err" --log-target=journal
story 1000
story 0
stop_iobufd
journalctl -D "$dir/journal" --sync 2>/dev/null || sleep 1
[ ! -s "$dir/iobufd.err" ] || fail "iobufd wrote to stderr: $(head -n 3 "$dir/iobufd.err")"

entries IOBUFD_UID=1000 >"$dir/uid1000.json"
python3 - "$dir/uid1000.json" <<'EOF'
import json, sys

events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [e["IOBUFD_EVENT"] for e in events]
assert kinds == ["connect", "allocate", "refuse", "free", "release", "disconnect"], kinds
for e in events:
    assert e["IOBUFD_UID"] == "1000", e
    assert e["IOBUFD_COMM"] == "journal-client", e
    assert e["IOBUFD_PID"].isdigit() and e["IOBUFD_CLIENT"].isdigit(), e
    assert e["SYSLOG_IDENTIFIER"] == "iobufd"
allocate, refuse, free, release = events[1], events[2], events[3], events[4]
for e in (allocate, free, release):
    assert e["IOBUFD_HEAP"] == "memfd" and e["IOBUFD_SIZE"] == "16384", e
    assert e["IOBUFD_LABEL"] == "journal story", e
    assert e["IOBUFD_BUFFER"] == allocate["IOBUFD_BUFFER"], e
assert allocate["PRIORITY"] == "7", allocate
assert refuse["IOBUFD_LIMIT"] == "max-client-bytes", refuse
assert refuse["PRIORITY"] == "5", refuse
assert "MESSAGE_ID" in refuse and "byte limit 65536 exceeded" in refuse["MESSAGE"], refuse
print("uid 1000's story:", " ".join(kinds))
EOF
# Root's client told its own story; none of it is in uid 1000's.
[ "$(entries IOBUFD_UID=0 IOBUFD_EVENT=allocate | wc -l)" -eq 1 ] ||
	fail "root's allocation is not in the journal once"

# journalctl -x explains a refusal by a limit from the catalog.
journalctl -D "$dir/journal" --no-pager -x IOBUFD_UID=1000 IOBUFD_EVENT=refuse >"$dir/explained"
grep -q "iobufd refused a buffer: limit max-client-bytes reached" "$dir/explained" ||
	fail "journalctl -x does not explain the refusal: $(cat "$dir/explained")"
grep -q "iobufctl limits set" "$dir/explained" || fail "the explanation lacks its advice"

# Under systemd, stderr is the journal's stream and $JOURNAL_STREAM says so
# (its device and inode): iobufd finds the journal by itself.
: >"$dir/stream"
JOURNAL_STREAM=$(stat -c '%d:%i' "$dir/stream")
export JOURNAL_STREAM
start_iobufd "$dir/stream"
story 1000
stop_iobufd
unset JOURNAL_STREAM
[ ! -s "$dir/stream" ] || fail "with its stderr the journal's stream, iobufd wrote: $(head -n 3 "$dir/stream")"
[ "$(entries IOBUFD_UID=1000 IOBUFD_EVENT=allocate | wc -l)" -eq 2 ] ||
	fail "the second daemon's allocation is not in the journal"

# Without a journal iobufd writes lines on stderr, as it always did.
: >"$dir/iobufd.err"
start_iobufd "$dir/iobufd.err" --log-target=stderr
story 1000
stop_iobufd
grep -q "refused by max-client-bytes" "$dir/iobufd.err" ||
	fail "no refusal on stderr: $(cat "$dir/iobufd.err")"
echo "ok"
