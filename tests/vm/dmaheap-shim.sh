#!/bin/sh
# Runs inside the qemu guest, as root: libiobuf-dmaheap.so under programs
# that open /dev/dma_heap themselves, run as user nobody while the node
# stays root-only, as distributions keep it. First the kernel's own dma-buf
# heap selftest (build-dmabuf-selftest.sh), which must fail without the
# shim and pass with it, with iobufd's log showing every buffer charged to
# it; then test-dmaheap-shim for the rest, in each way the shim meets a
# program. in-guest.sh calls it; alone:
#   tests/vm/guest-run.sh -- tests/vm/dmaheap-shim.sh BUILDDIR
set -u
build=$1
failed=0
shim=$build/preload/libiobuf-dmaheap.so
selftest=$build/tests/vm/dmabuf-heap
test=$build/tests/vm/test-dmaheap-shim
node=/dev/dma_heap/system
log=/tmp/iobufd-shim.log

daemon_log=$log
. "$(dirname "$0")/guest-daemon.sh"

start_daemon() { # ARGS...
	start_iobufd --config=/dev/null --memory-pressure=off -v "$@"
}

with_shim() {
	as_client env LD_PRELOAD="$shim" "$@"
}

# vgem's primary node, which the selftest imports its buffers into: the
# user's, as a seat's ACL would make it.
vgem_node() {
	for card in /sys/class/drm/card[0-9]*; do
		case $(readlink -f "$card/device") in
		*/vgem) echo "/dev/dri/${card##*/}"; return 0 ;;
		esac
	done
	return 1
}

[ -x "$selftest" ] || { echo "FAILED: no $selftest: linux-source-6.12 was not installed when meson configured"; exit 1; }
chmod 0600 "$node"
ls -l "$node"

note "the kernel's dma-buf heap selftest as user $nobody, without the shim: it must fail"
vgem=$(vgem_node) || { echo "FAILED: no vgem card"; exit 1; }
chmod 0666 "$vgem"
start_daemon --heaps=dma-heap/system || exit 1
if as_client "$selftest" >/tmp/selftest-plain.log 2>&1; then
	echo "FAILED: the selftest passed without the shim"; cat /tmp/selftest-plain.log; failed=1
else
	grep 'Bail out' /tmp/selftest-plain.log
fi

note "the kernel's dma-buf heap selftest as user $nobody, with the shim: it must pass"
with_shim "$selftest" >/tmp/selftest-shim.log 2>&1 || { echo "FAILED: the selftest failed"; failed=1; }
cat /tmp/selftest-shim.log
grep -qx '# Totals: pass:11 fail:0 xfail:0 xpass:0 skip:0 error:0' /tmp/selftest-shim.log ||
	{ echo "FAILED: not 11 checks passed"; failed=1; }
stop_daemon
chmod 0600 "$vgem"

# Its buffers: one imported, 2 x 64 zeroed, 2 of the older and newer
# structs; the error cases make none.
note "what iobufd charged to the selftest"
client=$(sed -n "s/^iobufd: client \([0-9]*\) new on the socket: pid [0-9]* uid $nobody dmabuf-heap\$/\1/p" "$log")
grep "client $client new" "$log"
charged=$(grep -c "^iobufd: client $client: buffer [0-9]*: [0-9]* bytes on dma-heap/system," "$log")
grep -m 3 "^iobufd: client $client: buffer" "$log"
echo "... $charged buffers on dma-heap/system charged to client $client"
if [ -z "$client" ] || [ "$charged" != 131 ]; then
	echo "FAILED: expected 131 buffers charged to the selftest's client"; cat "$log"; failed=1
fi

note "test-dmaheap-shim: a node the program may not open, brokered"
start_daemon --heaps=dma-heap/system --max-client-bytes=64M || exit 1
with_shim "$test" brokered || failed=1
stop_daemon
grep -q "client [0-9]* new on the socket: pid [0-9]* uid $nobody test-dmaheap-sh" "$log" ||
	{ echo "FAILED: no client named test-dmaheap-sh"; cat "$log"; failed=1; }

note "test-dmaheap-shim: a heap iobufd does not serve"
start_daemon --heaps=memfd || exit 1
with_shim "$test" unserved || failed=1
stop_daemon

note "test-dmaheap-shim: a node the program may open, and IOBUF_DMAHEAP=always"
start_daemon --heaps=dma-heap/system || exit 1
chmod 0666 "$node"
with_shim "$test" passthrough || failed=1
with_shim env IOBUF_DMAHEAP=always "$test" always || failed=1
chmod 0600 "$node"
note "test-dmaheap-shim: IOBUF_DMAHEAP=never"
with_shim env IOBUF_DMAHEAP=never "$test" never || failed=1
# ld.so finds the test's $ORIGIN in /proc/self/exe: without /proc, libiobuf is on the path.
note "test-dmaheap-shim: no /proc"
unshare --mount --propagation private sh -c 'mount -t tmpfs none /proc && exec "$@"' sh \
	env IOBUFD_SOCKET=/run/iobufd/iobufd.sock \
	setpriv --reuid=$nobody --regid=$nobody --clear-groups \
	env LD_PRELOAD="$shim" LD_LIBRARY_PATH="$build/libclient" "$test" no-proc || failed=1
stop_daemon

exit $failed
