#!/bin/sh
# run-fuzz.sh TARGET SEEDS WORKDIR [libFuzzer options...]: runs a libFuzzer
# target over the seed corpus SEEDS without writing to it. WORKDIR is made
# anew: new inputs go to WORKDIR/corpus, a crashing input to WORKDIR/artifacts.
set -eu
target=$1 seeds=$2 work=$3
shift 3
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
# libFuzzer exits 77 on a crash by default, which meson reads as a skip.
exec "$target" -artifact_prefix="$work/artifacts/" -print_final_stats=1 -error_exitcode=1 \
	-timeout_exitcode=1 "$@" \
	"$work/corpus" "$seeds"
