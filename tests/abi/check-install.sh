#!/bin/sh
# What `meson install` ships is enough to build a client: the header, the
# pkg-config file and libiobuf.so.0. Usage: check-install.sh BUILDDIR SOURCE.c
set -eu
build=$1
source=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
pcdir=$(dirname "$(find "$dest" -name iobuf.pc)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest"

cc -std=c11 -Wall -Werror -D_GNU_SOURCE -o "$dest/client" "$source" $(pkg-config --cflags --libs iobuf)
needed=$(objdump -p "$dest/client" | awk '$1 == "NEEDED" && /iobuf/ { print $2 }')
[ "$needed" = "libiobuf.so.0" ] || { echo "client needs '$needed', expected libiobuf.so.0"; exit 1; }
for man in man3/libiobuf.3 man8/iobufd.8; do
	find "$dest" -path "*/$man" | grep -q . || { echo "$man is not installed"; exit 1; }
done
echo "a client built against the installed tree links $needed"
