#!/bin/sh
# Runs every benchmark of bench/ against a built tree and prints the issue 14
# targets as a table. Each ratio is measured side by side in one run.
#
#   bench/run.sh [BUILD_DIR] [SCALE]   (default build, 1; SCALE multiplies
#                                       iterations and durations)
# The programs' full output, BENCH lines included, goes to
# BUILD_DIR/bench-results.txt.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
scale=${2:-1}
out="$build/bench-results.txt"
iobufd="$build/daemon/iobufd"

ninja -C "$build" -j2 bench/iobuf-bench bench/iobuf-bench-scale bench/iobuf-bench-dbus \
	bench/iobuf-bench-floor daemon/iobufd >/dev/null

: >"$out"
for cmd in "$build/bench/iobuf-bench $iobufd $scale" \
	   "$build/bench/iobuf-bench-scale $iobufd $scale" \
	   "$build/bench/iobuf-bench-dbus $iobufd $top/bench/bus.conf"; do
	echo "== $cmd" | tee -a "$out"
	# dbus-daemon complains about the policy's system user on stderr: keep it out.
	$cmd 2>>"$out.stderr" | tee -a "$out" | grep -v '^BENCH'
done

echo
echo "issue 14 targets (ratio: iobufd over its baseline in the same run; medians unless p99):"
printf '%-28s %9s %8s  %-4s %s\n' target ratio limit met "what"
grep '^BENCH target=' "$out" | sed 's/^BENCH //' | awk '{
	split($0, kv, " what=");
	n = split(kv[1], f, " ");
	for (i = 1; i <= n; i++) { split(f[i], p, "="); v[p[1]] = p[2] }
	gsub(/"/, "", kv[2]);
	printf "%-28s %9s %8s  %-4s %s\n", v["target"], v["ratio"],
		(v["bound"] == "min" ? ">= " : "<= ") v["limit"], v["met"], kv[2]
}'
grep '^BENCH live=' "$out" | sed 's/^BENCH /live buffers: /'
echo "(full output: $out)"
