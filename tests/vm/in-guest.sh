#!/bin/sh
# Runs inside the qemu guest, as root, from the host's root shared read-only:
# the unit and integration suites against the guest's kernel; an iobufd with
# every heap, and test-selection and test-accounting as unprivileged clients;
# then, for each kernel heap, an iobufd serving only that heap, test-heaps and
# test-accounting; limits on what a heap makes; the heap chosen when one is
# declared contiguous or runs out of memory; a restart under systemd; the
# service's journal;
# last, a heap whose device goes away while iobufd serves. With "bench", runs iobuf-bench-heaps instead.
# Usage: in-guest.sh BUILDDIR [bench]
set -u
build=$1
daemon_log=/tmp/iobufd.log
failed=0
. "$(dirname "$0")/guest-daemon.sh"

# The driver that must import a heap's dma-bufs: the heap's own device for
# DRM heaps (VRAM is imported by no other driver), vgem otherwise. The client
# gets access to that node as udev (render group) or logind (seat ACL) would
# give it; the dma-heap nodes and /dev/udmabuf stay root-only.
importer_of() {
	case $1 in
	dumb/* | gbm/*) echo "/dev/dri/${1#*/}" ;;
	*) echo /dev/dri/renderD128 ;;
	esac
}

# Exit status 77 is a skip, as meson reads it: the guest lacks what the
# test needs.
note "unit and integration suites on $(uname -r)"
for t in "$build"/tests/test-* "$build"/tests/integration/test-*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	log=/tmp/$(basename "$t").log
	status=0
	IOBUFD_BINARY=$build/daemon/iobufd "$t" >"$log" 2>&1 || status=$?
	case $status in
	0) ;;
	77) echo "SKIPPED: $t"; tail -n 5 "$log" ;;
	*) echo "FAILED: $t (exit status $status)"; cat "$log"; failed=1 ;;
	esac
done

start_daemon() { # HEAPS [ARGS...]
	local heaps=$1
	shift
	start_iobufd --heaps="$heaps" "$@"
}

# A client that may also read the daemon's fdinfo, as a tracer may; it gets
# no access to the heaps' nodes.
as_client_seeing_daemon() {
	IOBUFD_PID=$daemon as_client --inh-caps=+sys_ptrace --ambient-caps=+sys_ptrace "$@"
}

note "heaps the daemon finds, and which serves what"
start_daemon '*' || exit 1
heaps=$(sed -n 's/^iobufd: heap \([^ :]*\)[ :].*/\1/p' /tmp/iobufd.log | grep -v '^memfd$')
cat /tmp/iobufd.log
if [ "${2:-}" != bench ]; then
	as_client "$build/tests/vm/test-selection" || failed=1
	as_client_seeing_daemon "$build/tests/vm/test-accounting" || failed=1
fi
stop_daemon

# What the guest has and every heap kind must find: vgem and bochs-drm give
# both a dumb and a GBM heap.
for expected in dma-heap/system udmabuf dumb/card0 gbm/card0 dumb/card1 gbm/card1; do
	echo "$heaps" | grep -qx "$expected" || { echo "FAILED: no heap $expected"; failed=1; }
done

if [ "${2:-}" = bench ]; then
	note "kernel heaps: direct calls against iobufd"
	# shellcheck disable=SC2086
	"$build/bench/iobuf-bench-heaps" "$build/daemon/iobufd" $heaps
	exit $?
fi

for heap in $heaps; do
	note "heap $heap, client uid $nobody"
	start_daemon "$heap" || { failed=1; continue; }
	importer=$(importer_of "$heap")
	chmod 0666 "$importer"
	IOBUF_HEAP=$heap IOBUF_IMPORTER=$importer as_client "$build/tests/vm/test-heaps" || failed=1
	IOBUF_HEAP=$heap as_client_seeing_daemon "$build/tests/vm/test-accounting" || failed=1
	stop_daemon || failed=1
	chmod 0600 "$importer"
done

# The kernel's dma-buf heap selftest's checks, made on what iobufd hands out.
note "the kernel's checks on each heap's buffers, client uid $nobody"
for heap in $heaps; do
	start_daemon "$heap" || { failed=1; continue; }
	importer=$(importer_of "$heap")
	chmod 0666 "$importer"
	IOBUF_HEAP=$heap IOBUF_IMPORTER=$importer as_client "$build/tests/vm/test-kernel-checks" ||
		failed=1
	stop_daemon || failed=1
	chmod 0600 "$importer"
done

# GBM makes whole rows: 256 KiB for 4 KiB. What it makes is held to the limits.
note "a heap that makes more than asked, held to the limits with what it made"
for limit in "--max-client-bytes=64K:122:per-client byte limit 65536 exceeded" \
	"--max-buffer-size=128K:27:over the maximum buffer size 131072"; do
	start_daemon gbm/card0 "${limit%%:*}" || { failed=1; continue; }
	rest=${limit#*:}
	IOBUF_HEAP=gbm/card0 IOBUF_ERRNO=${rest%%:*} IOBUF_MESSAGE=${rest#*:} \
		as_client "$build/tests/vm/test-made-size" || failed=1
	stop_daemon
done

note "a dma-buf heap marked contiguous"
start_daemon '*' --contiguous-heaps=dma-heap/system || exit 1
IOBUF_HEAP=dma-heap/system IOBUF_OPTIONS=0x4 as_client "$build/tests/vm/test-serves" || failed=1
stop_daemon

# The system heap declared contiguous keeps to contiguous requests; a bare
# node name declares it.
note "the system heap declared contiguous serves only what asks for contiguity"
start_daemon '*' --contiguous-heaps=system || exit 1
as_client "$build/tests/vm/test-heap-choice" contiguous || failed=1
stop_daemon

# A heap out of memory: memfd's pages are charged to the daemon's memory
# cgroup, the system heap's are not. The daemon may not be OOM-killed, so
# the kernel answers ENOMEM and the next heap that matches serves, up to
# the limit set on it. memfd is said to be out of memory once. (Exhausting
# the system heap itself would wake the guest's OOM killer.)
note "a heap out of memory, and the next heap that matches"
cgroups=/sys/fs/cgroup
mounted=
mountpoint -q $cgroups || { mount -t cgroup2 cgroup2 $cgroups && mounted=1; }
echo +memory >$cgroups/cgroup.subtree_control
mkdir $cgroups/iobufd-oom
echo 64M >$cgroups/iobufd-oom/memory.max
printf '[heap dma-heap/system]\nmax-bytes = 192M\n' >/tmp/iobufd-oom.conf
if start_daemon memfd,dma-heap/system --config=/tmp/iobufd-oom.conf; then
	echo -1000 >"/proc/$daemon/oom_score_adj"
	echo "$daemon" >$cgroups/iobufd-oom/cgroup.procs
	as_client "$build/tests/vm/test-heap-choice" fallthrough || failed=1
	stop_daemon
	[ "$(grep -c 'said once for memfd)' /tmp/iobufd.log)" = 1 ] ||
		{ echo "FAILED: not one line saying memfd ran out"; cat /tmp/iobufd.log; failed=1; }
else
	failed=1
fi
rmdir $cgroups/iobufd-oom
echo -memory >$cgroups/cgroup.subtree_control
[ -z "$mounted" ] || umount $cgroups

# iobuf_prepare/iobuf_complete in every sane order on each kernel heap; and
# withCapacity's alignment of a contiguous buffer to its capacity.
note "prepare and complete in any order, on each kernel heap"
for heap in $heaps; do
	start_daemon "$heap" || { failed=1; continue; }
	IOBUF_HEAP=$heap as_client "$build/tests/vm/test-sync" || failed=1
	stop_daemon || failed=1
done
note "a contiguous buffer aligned to its capacity"
if start_daemon dma-heap/system --contiguous-heaps=dma-heap/system; then
	IOBUF_HEAP=dma-heap/system as_client "$build/tests/vm/test-sync" contiguous || failed=1
	stop_daemon || failed=1
else
	failed=1
fi

# Programs that open /dev/dma_heap themselves, under libiobuf-dmaheap.so:
# the kernel's own selftest, and what it does not cover.
note "libiobuf-dmaheap.so"
"$(dirname "$0")/dmaheap-shim.sh" "$build" || failed=1

# A real systemd (a user manager) restarts iobufd while a client holds a
# dma-heap buffer, a memfd one and one from D-Bus. The guest's processes are
# the manager's to move into its cgroups; the host's are not.
note "systemctl restart keeps every buffer"
mount -t cgroup2 cgroup2 /sys/fs/cgroup
IOBUF_RESTART_HEAPS=dma-heap/system,memfd "$(dirname "$0")/../systemd/check-restart.sh" \
	"$(dirname "$0")/../../systemd" "$build/systemd" "$build/daemon/iobufd" \
	"$build/tests/systemd/restart-client" || failed=1

# The same manager runs iobufd.service with its stderr the journal's, as the
# shipped unit does, and journalctl -u iobufd reads one user's story.
note "the journal of iobufd.service"
"$(dirname "$0")/../systemd/check-journal-unit.sh" "$(dirname "$0")/../../systemd" \
	"$build/systemd" "$build/daemon/iobufd" "$build/tests/systemd/journal-client" \
	"$build/tests/test-cgroup" || failed=1

# Last, as it takes a device away: the first of two bochs heaps loses its
# device while iobufd serves; the second must serve instead.
note "a heap whose device goes away"
start_daemon dumb/card1,dumb/card2 || exit 1
pci=$(basename "$(readlink -f /sys/class/drm/card1/device)")
echo "$pci" >"/sys/bus/pci/drivers/bochs-drm/unbind"
IOBUF_HEAP=dumb/card2 IOBUF_OPTIONS=0x400 as_client "$build/tests/vm/test-serves" || failed=1
[ "$(grep -c 'heap dumb/card1 serves no more' /tmp/iobufd.log)" = 1 ] ||
	{ echo "FAILED: not one warning that dumb/card1 is gone"; cat /tmp/iobufd.log; failed=1; }
stop_daemon

exit $failed
