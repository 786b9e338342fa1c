# Sourced by the checks that run the shipped units under a systemd user
# manager (check-restart.sh, check-journal-unit.sh). They set src (the
# source systemd/ directory), built (its built counterpart), dir (their
# scratch directory) and units (the manager's unit directory) first.

# The shipped iobufd.socket, listening at SOCKET, into $units.
install_socket_unit() { # SOCKET
	sed "s|^ListenSequentialPacket=.*|ListenSequentialPacket=$1|" \
		"$src/iobufd.socket" >"$units/iobufd.socket"
}

# The shipped iobufd.service on stdout: outside [Service] all of it, inside
# only the settings named in KEYS (an extended regex such as Type|ExecStart).
shipped_service() { # KEYS
	awk -v keep="^($1)=" '/^\[Service\]/ { service = 1; print; next } /^\[/ { service = 0 }
		!service || $0 ~ keep' "$built/iobufd.service"
}

# Starts a systemd user manager, its log in $dir/manager.log and its pid in
# $manager, and waits until it runs.
start_user_manager() {
	SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=err /lib/systemd/systemd --user </dev/null \
		>"$dir/manager.log" 2>&1 &
	manager=$!
	for _ in $(seq 100); do
		case $(systemctl --user is-system-running 2>/dev/null) in running | degraded) return ;; esac
		sleep 0.1
	done
}
