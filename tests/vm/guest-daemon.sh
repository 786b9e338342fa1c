# Sourced by in-guest.sh and dmaheap-shim.sh, which set build (the build
# directory) and daemon_log (where iobufd's stderr goes) first.
nobody=65534

note() { echo "== $*"; }

# Starts iobufd with ARGS on /run/iobufd/iobufd.sock; its pid in $daemon.
start_iobufd() { # ARGS...
	mkdir -p /run/iobufd
	"$build/daemon/iobufd" --no-dbus --socket /run/iobufd/iobufd.sock "$@" 2>"$daemon_log" &
	daemon=$!
	for _ in $(seq 200); do
		[ -S /run/iobufd/iobufd.sock ] && return 0
		sleep 0.05
	done
	echo "FAILED: iobufd $* did not start"; cat "$daemon_log"
	return 1
}

stop_daemon() {
	kill -TERM "$daemon" && wait "$daemon"
}

# Runs a command as user nobody, a client of that iobufd.
as_client() {
	IOBUFD_SOCKET=/run/iobufd/iobufd.sock setpriv --reuid=$nobody --regid=$nobody --clear-groups "$@"
}
