#!/usr/bin/env bash
# Runs a command inside a qemu guest booted from Debian's 6.12 kernel, which
# has the drivers this machine's kernel lacks: the dma-buf system heap and
# udmabuf (built in), vgem and bochs-drm (loaded at boot), with pressure
# stall information on (psi=1: Debian's kernel leaves it off by default) as
# on the host. The host's root is shared read-only over 9p and the command
# runs chrooted into it, in the same working directory, with /tmp writable
# over the host's, and tmpfs on /run and /dev/shm.
#
# Usage: guest-run.sh [--timeout SECONDS] -- COMMAND [ARGS...]
# The command's stdout and stderr appear on stdout. Exits with the command's
# status; 124 when the guest does not finish within the timeout (default
# 300 s), 125 when its status cannot be read. $GUEST_ENV names variables
# passed through. The kernel and initramfs are cached in
# ${IOBUF_VM_CACHE:-/var/cache/iobufd-vm}; IOBUF_VM_DEBUG=1 shows the whole
# console on stderr.
set -euo pipefail

usage() { echo "usage: $0 [--timeout SECONDS] -- COMMAND [ARGS...]" >&2; exit 2; }

timeout=300
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage

self=$(readlink -f "$0")
cache=${IOBUF_VM_CACHE:-/var/cache/iobufd-vm}
modules=(virtio_pci 9pnet_virtio 9p overlay vgem bochs)

install_missing() {
	local missing=() p
	for p in qemu-system-x86 busybox-static kmod cpio xz-utils; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

kernel_package() {
	apt-cache depends linux-image-6.12-amd64 2>/dev/null | awk '/Depends: linux-image-6/ { print $2; exit }'
}

download_kernel() { # DIR
	local pkg
	pkg=$(kernel_package)
	[ -n "$pkg" ] && (cd "$1" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") >&2 && return 0
	apt-get update -qq >&2
	pkg=$(kernel_package)
	[ -n "$pkg" ] || { echo "guest-run: apt knows no linux-image-6.12-amd64" >&2; return 1; }
	(cd "$1" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") >&2
}

# Unpacks the linux-image-6.12.*-amd64 package into $cache/kernel once.
fetch_kernel() {
	[ -d "$cache/kernel/boot" ] && return 0
	echo "guest-run: fetching the kernel" >&2
	rm -rf "$cache/deb" "$cache/kernel.new" && mkdir -p "$cache/deb"
	download_kernel "$cache/deb"
	dpkg-deb -x "$cache"/deb/*.deb "$cache/kernel.new"
	mv "$cache/kernel.new" "$cache/kernel"
	rm -rf "$cache/deb"
}

write_init() { # DIR
	cat >"$1/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/modules/$m"; done
mkdir -p /host /scratch
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host
run=$(sed -n 's/.*iobuf_run=\([^ ]*\).*/\1/p' /proc/cmdline)
tag=IOBUF-VM-${run##*.}
cp "/host$run/command.sh" /command.sh
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 shm /host/dev/shm
mount -t tmpfs scratch /scratch
mkdir -p /scratch/upper /scratch/work
chmod 1777 /scratch/upper
mount -t overlay overlay -o lowerdir=/host/tmp,upperdir=/scratch/upper,workdir=/scratch/work /host/tmp
mount -t tmpfs -o mode=755 run /host/run
cp /command.sh /host/run/guest-command.sh
echo "$tag-BEGIN"
chroot /host /bin/sh /run/guest-command.sh </dev/null
echo "$tag-EXIT=$?"
poweroff -f
EOF
	chmod +x "$1/init"
}

module_files() { # ROOT VERSION: the modules' files, dependencies first
	local m
	for m in "${modules[@]}"; do modprobe -S "$2" -d "$1" --show-depends "$m"; done |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# Builds an initramfs of busybox, the modules and their dependencies, keyed
# on this script and the kernel; sets $initrd.
build_initrd() {
	local key root ver dir m
	root=$cache/kernel
	ver=$(ls "$root/lib/modules")
	key=$({ cat "$self"; echo "$ver"; } | sha256sum | cut -c1-16)
	initrd=$cache/initrd-$key.gz
	[ -f "$initrd" ] && return 0
	depmod -b "$root" "$ver"
	dir=$(mktemp -d)
	mkdir -p "$dir"/{bin,proc,sys,dev,modules}
	cp /bin/busybox "$dir/bin/busybox"
	for m in sh mount insmod sed cat mkdir cp chmod chroot poweroff; do ln -s busybox "$dir/bin/$m"; done
	for m in $(module_files "$root" "$ver"); do
		xz -dc "$m" >"$dir/modules/$(basename "$m" .xz)"
		basename "$m" .xz >>"$dir/modules.order"
	done
	write_init "$dir"
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/initrd.new"
	rm -rf "$dir" "$cache"/initrd-*.gz
	mv "$cache/initrd.new" "$initrd"
}

prepare() {
	mkdir -p "$cache"
	exec 9>"$cache/lock"
	flock 9
	install_missing
	fetch_kernel
	build_initrd
	exec 9>&-
}

quote() { # ARGS: each quoted for a POSIX shell
	local a out=()
	for a; do out+=("'${a//\'/\'\\\'\'}'"); done
	printf '%s\n' "${out[*]}"
}

# The command, its working directory and $GUEST_ENV, as a script for the guest.
write_command() { # FILE COMMAND [ARGS...]
	local file=$1 name
	shift
	{
		echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
		for name in ${GUEST_ENV:-}; do
			[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && [ -n "${!name+set}" ] &&
				echo "export $name=$(quote "${!name}")"
		done
		echo "cd $(quote "$PWD") || { echo 'guest-run: no directory '$(quote "$PWD"); exit 125; }"
		echo "exec $(quote "$@") 2>&1"
	} >"$file"
}

boot() { # RUN
	local status=0
	timeout --foreground -k 5 "$timeout" qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot \
		-device bochs-display -kernel "$cache"/kernel/boot/vmlinuz-* -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=1 panic=-1 psi=1 iobuf_run=$1" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		</dev/null || status=$?
	echo "$status" >"$1/qemu-status"
}

# Shows the command's output from the console as it comes; saves its status.
relay() { # RUN
	local line on='' tag=IOBUF-VM-${1##*.}
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >>"$1/console.log"
		[ -z "${IOBUF_VM_DEBUG:-}" ] || printf '%s\n' "$line" >&2
		if [ -z "$on" ]; then
			[[ $line != *"$tag-BEGIN" ]] || { on=1; : >"$1/began"; }
		elif [[ $line == *"$tag-EXIT="* ]]; then
			[ -z "${line%%"$tag-EXIT="*}" ] || printf '%s\n' "${line%%"$tag-EXIT="*}"
			echo "${line##*"$tag-EXIT="}" >"$1/status"
			on=
		else
			printf '%s\n' "$line"
		fi
	done
}

main() {
	local run status
	prepare
	mkdir -p "$cache/runs"
	run=$(mktemp -d "$cache/runs/run.XXXXXX")
	trap 'rm -rf "$run"' EXIT
	write_command "$run/command.sh" "$@"
	boot "$run" | relay "$run"
	# A kernel that panicked while booting (seldom, under TCG) ran nothing: boot once more.
	if [ ! -e "$run/began" ] && grep -q 'Kernel panic' "$run/console.log" 2>/dev/null; then
		echo "guest-run: the guest's kernel panicked while booting; booting again" >&2
		mv "$run/console.log" "$run/console-panicked.log"
		boot "$run" | relay "$run"
	fi
	status=$(cat "$run/status" 2>/dev/null || true)
	[[ ! $status =~ ^[0-9]+$ ]] || exit "$status"
	case $(cat "$run/qemu-status") in
	124 | 137)
		echo "guest-run: the guest did not finish within $timeout s" >&2
		exit 124 ;;
	esac
	echo "guest-run: no exit status from the guest; its console said:" >&2
	tail -20 "$run/console.log" >&2
	exit 125
}

main "$@"
