#!/bin/sh
# libiobuf-dmaheap.so defines, for the dynamic linker, exactly the symbols
# its version script names: the ones it puts in front of the C library.
# Usage: check-exports.sh LIBRARY VERSION-SCRIPT
set -eu
lib=$1
map=$2

defined=$(nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort -u)
named=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$map" | sort -u)

if [ "$defined" != "$named" ]; then
	echo "defined by $lib:"; echo "$defined"
	echo "named in $map:"; echo "$named"
	exit 1
fi
echo "$(printf '%s\n' "$defined" | wc -l) symbols, as $map names them"
