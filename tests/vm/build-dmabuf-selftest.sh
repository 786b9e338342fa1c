#!/bin/sh
# Builds the kernel's own dma-buf heap selftest, unchanged, from Debian's
# linux-source-6.12 (the guest's kernel): tools/testing/selftests/
# dmabuf-heaps/dmabuf-heap.c with kselftest.h beside it, and the kernel's
# exported headers it includes (linux/dma-buf.h, linux/dma-heap.h,
# drm/drm.h and the drm_mode.h that includes), made user-space headers as
# scripts/headers_install.sh makes them.
#
# With the flags of its Makefile and lib.mk but one: the Makefile links it
# -static, and a static program calls no shared C library that
# LD_PRELOAD could put anything in front of. The programs
# libiobuf-dmaheap.so is for are dynamically linked.
#
# Usage: build-dmabuf-selftest.sh TARBALL OUTPUT CC [ARGS...]
set -eu
tarball=$1
output=$2
shift 2
top=linux-source-6.12

if [ ! -f "$tarball" ]; then
	echo "$tarball is missing: apt-get install linux-source-6.12 (scripts/test.sh installs it)" >&2
	exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

selftests=$top/tools/testing/selftests
tar -xJf "$tarball" -C "$dir" "$selftests/dmabuf-heaps/dmabuf-heap.c" "$selftests/kselftest.h" \
	"$top/include/uapi/linux/dma-buf.h" "$top/include/uapi/linux/dma-heap.h" \
	"$top/include/uapi/drm/drm.h" "$top/include/uapi/drm/drm_mode.h"

# KHDR_INCLUDES: headers_install.sh's own rule drops the kernel-only
# annotations; the preprocessor drops the __KERNEL__ parts, as its unifdef would.
for header in linux/dma-buf.h linux/dma-heap.h drm/drm.h drm/drm_mode.h; do
	mkdir -p "$dir/usr/include/$(dirname "$header")"
	sed -E 's/([[:space:](])(__user|__force|__iomem)[[:space:]]/\1/g' \
		"$dir/$top/include/uapi/$header" >"$dir/usr/include/$header"
done

"$@" -O3 -Wl,-no-as-needed -Wall -isystem "$dir/usr/include" -D_GNU_SOURCE= \
	-o "$output" "$dir/$selftests/dmabuf-heaps/dmabuf-heap.c"
