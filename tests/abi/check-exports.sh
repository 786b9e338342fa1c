#!/bin/sh
# libiobuf exports exactly the functions its public header declares.
# Usage: check-exports.sh LIBRARY HEADER
set -eu
lib=$1
header=$2

exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
declared=$(grep -o '\biobuf_[a-z_]*(' "$header" | tr -d '(' | sort -u)

status=0
extra=$(printf '%s\n' "$exported" | grep -vxF "$declared" || true)
missing=$(printf '%s\n' "$declared" | grep -vxF "$exported" || true)
if [ -n "$extra" ]; then
	echo "exported but not declared in $header:"; echo "$extra"; status=1
fi
if [ -n "$missing" ]; then
	echo "declared in $header but not exported:"; echo "$missing"; status=1
fi
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libiobuf.so.0" ]; then
	echo "SONAME is '$soname', expected libiobuf.so.0"; status=1
fi
[ $status -eq 0 ] && echo "$(printf '%s\n' "$exported" | wc -l) functions exported, all declared; SONAME $soname"
exit $status
