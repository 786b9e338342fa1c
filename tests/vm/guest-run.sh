#!/usr/bin/env bash
# Runs a command inside a qemu guest booted from Debian's 6.12 kernel, which
# has the drivers this machine's kernel lacks: the dma-buf system heap and
# udmabuf (built in), vgem and bochs-drm (loaded at boot). The host's root
# is shared read-only over 9p and the command runs chrooted into it, in the
# same working directory, with /tmp writable over the host's and tmpfs on /run.
#
# Usage: guest-run.sh [--timeout SECONDS] -- COMMAND [ARGS...]
# Exits with the command's status; 124 when the guest times out, 125 when
# its status cannot be read. $GUEST_ENV names variables passed through.
# The kernel and initramfs are cached in ${IOBUF_VM_CACHE:-/var/cache/iobufd-vm}.
set -euo pipefail

timeout=300
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [--timeout SECONDS] -- COMMAND [ARGS...]" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--timeout SECONDS] -- COMMAND [ARGS...]" >&2; exit 2; }

cache=${IOBUF_VM_CACHE:-/var/cache/iobufd-vm}
modules=(virtio_pci 9pnet_virtio 9p overlay vgem bochs)

install_missing() {
	local missing=() p
	for p in qemu-system-x86 busybox-static kmod cpio xz-utils; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Unpacks the newest linux-image-6.12.*-amd64 into $cache/kernel once.
fetch_kernel() {
	local pkg
	[ -d "$cache/kernel/boot" ] && return 0
	pkg=$(apt-cache depends linux-image-6.12-amd64 2>/dev/null | awk '/Depends: linux-image-6/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-6.12-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }')
	fi
	echo "guest-run: fetching $pkg" >&2
	rm -rf "$cache/deb" && mkdir -p "$cache/deb"
	(cd "$cache/deb" && apt-get download -qq "$pkg")
	rm -rf "$cache/kernel.new"
	dpkg-deb -x "$cache"/deb/*.deb "$cache/kernel.new"
	mv "$cache/kernel.new" "$cache/kernel"
	rm -rf "$cache/deb"
}

write_init() {
	cat >"$1/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/modules/$m"; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /host
run=$(sed -n 's/.*iobuf_run=\([^ ]*\).*/\1/p' /proc/cmdline)
cp "/host$run/command.sh" /command.sh
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
# A writable /tmp that still shows the host's (a checkout may live there).
mkdir -p /scratch
mount -t tmpfs scratch /scratch
mkdir -p /scratch/upper /scratch/work
mount -t overlay overlay -o lowerdir=/host/tmp,upperdir=/scratch/upper,workdir=/scratch/work /host/tmp
mount -t tmpfs run /host/run
cp /command.sh /host/run/guest-command.sh
echo IOBUF-VM-BEGIN
chroot /host /bin/sh /run/guest-command.sh
echo "IOBUF-VM-EXIT=$?"
poweroff -f
EOF
	chmod +x "$1/init"
}

# Builds $cache/initrd.gz from busybox, the modules and their dependencies.
build_initrd() {
	local key root ver dir m
	key=$(sha256sum "$0" | cut -c1-16)
	[ -f "$cache/initrd-$key.gz" ] && { initrd=$cache/initrd-$key.gz; return 0; }
	root=$cache/kernel
	ver=$(ls "$root/lib/modules")
	depmod -b "$root" "$ver"
	dir=$(mktemp -d)
	mkdir -p "$dir"/{bin,proc,sys,dev,modules}
	cp /bin/busybox "$dir/bin/busybox"
	for m in sh mount insmod sed cat mkdir cp chroot poweroff; do ln -s busybox "$dir/bin/$m"; done
	for m in $(for m in "${modules[@]}"; do modprobe -S "$ver" -d "$root" --show-depends "$m"; done |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }'); do
		xz -dc "$m" >"$dir/modules/$(basename "$m" .xz)"
		basename "$m" .xz >>"$dir/modules.order"
	done
	write_init "$dir"
	rm -f "$cache"/initrd-*.gz
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/initrd-$key.gz"
	rm -rf "$dir"
	initrd=$cache/initrd-$key.gz
}

# The command, its working directory and $GUEST_ENV, as a script for the guest.
write_command() {
	local dir=$1 name
	shift
	{
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for name in ${GUEST_ENV:-}; do
			[ -n "${!name+set}" ] && printf 'export %s=%q\n' "$name" "${!name}"
		done
		printf 'cd %q || exit 125\n' "$PWD"
		printf 'exec'; printf ' %q' "$@"; printf ' 2>&1\n'
	} >"$dir/command.sh"
}

main() {
	local run log status
	install_missing
	mkdir -p "$cache"
	fetch_kernel
	build_initrd
	mkdir -p "$cache/runs"
	run=$(mktemp -d "$cache/runs/run.XXXXXX")
	trap 'rm -rf "$run"' EXIT
	write_command "$run" "$@"
	log=$run/console.log

	status=0
	timeout -k 5 "$timeout" qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot \
		-device bochs-display -kernel "$cache"/kernel/boot/vmlinuz-* -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=0 panic=-1 iobuf_run=$run" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		</dev/null >"$log" 2>&1 || status=$?
	if [ -n "${IOBUF_VM_DEBUG:-}" ]; then tr -d "\r" <"$log" >&2; fi
	tr -d '\r' <"$log" | sed -n '/IOBUF-VM-BEGIN$/,/^IOBUF-VM-EXIT=/p' | sed '1d;/^IOBUF-VM-EXIT=/d'
	if [ "$status" -eq 124 ]; then
		echo "guest-run: the guest did not finish within $timeout s" >&2
		exit 124
	fi
	status=$(tr -d '\r' <"$log" | sed -n 's/^IOBUF-VM-EXIT=\([0-9]*\)$/\1/p')
	if [ -z "$status" ]; then
		echo "guest-run: no exit status from the guest; its console said:" >&2
		tr -d '\r' <"$log" | tail -20 >&2
		exit 125
	fi
	exit "$status"
}

main "$@"
