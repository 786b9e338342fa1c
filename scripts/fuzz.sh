#!/usr/bin/env bash
# A long fuzzing campaign with one libFuzzer target of tests/fuzz:
#
#   scripts/fuzz.sh TARGET [SECONDS [libFuzzer options...]]
#
# TARGET is fuzz-wire, fuzz-recv or fuzz-daemon; SECONDS defaults to 3600,
# 0 runs until a crash or Ctrl-C. Builds build-fuzz (clang, libFuzzer,
# ASan/UBSan) first. New inputs go to a corpus that persists across runs and
# builds, $IOBUFD_FUZZ_CORPUS/TARGET (default ~/.cache/iobufd-fuzz/TARGET),
# which starts from the seeds in tests/fuzz/corpus/TARGET; a crashing input
# goes to TARGET.artifacts beside it. More options go to libFuzzer, e.g.
# -jobs=2 -workers=2 for two processes.
set -euo pipefail
source "$(dirname "$0")/common.sh"

usage="usage: scripts/fuzz.sh fuzz-wire|fuzz-recv|fuzz-daemon [SECONDS [libFuzzer options...]]"
target=${1:-}
case $target in
fuzz-wire | fuzz-recv) max_len=4200 ;;
fuzz-daemon) max_len=1024 ;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac
seconds=${2:-3600}
shift $(($# < 2 ? $# : 2))

install_packages "${build_packages[@]}" libcmocka-dev "${fuzz_packages[@]}"
build "$top/build-fuzz" --native-file "$top/tests/fuzz/fuzz.ini"

corpus=${IOBUFD_FUZZ_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/iobufd-fuzz}/$target
mkdir -p "$corpus" "$corpus.artifacts"
echo "corpus: $corpus; crashes go to $corpus.artifacts"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
exec "$top/build-fuzz/tests/fuzz/$target" -max_total_time="$seconds" -max_len="$max_len" \
	-artifact_prefix="$corpus.artifacts/" -print_final_stats=1 "$@" \
	"$corpus" "$top/tests/fuzz/corpus/$target"
