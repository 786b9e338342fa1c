# Shared by the scripts in this directory; sourced, not run.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages needed to build and test. Installed only when missing.
# python3-dev: the iobuf Python module (python/), built for the Python meson runs with.
build_packages=(gcc meson ninja-build pkg-config libsystemd-dev libdrm-dev libgbm-dev libinih-dev libsmartcols-dev python3-dev)
# The vm suite's guest runs the host's own binaries, GBM's software driver
# included; tests/vm/guest-run.sh installs qemu and what it boots with.
# The dbus suite talks to a private dbus-daemon with busctl (systemd) and gdbus.
# The python suite runs pytest, and numpy over the buffers.
# linux-source-6.12: the kernel's dma-buf heap selftest, which the vm suite
# runs under libiobuf-dmaheap.so (tests/vm/build-dmabuf-selftest.sh).
test_packages=(libcmocka-dev valgrind libgl1-mesa-dri util-linux dbus systemd libglib2.0-bin python3
	python3-pytest python3-numpy linux-source-6.12)
# The libFuzzer targets (tests/fuzz) build with clang and its sanitizer and
# libFuzzer runtimes.
fuzz_packages=(clang libclang-rt-14-dev)

install_packages() {
	local missing=()
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build DIR [meson setup options...]: configure once, then compile.
build() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$top" "$@"
	fi
	ninja -C "$dir"
}
