#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test suite: once in a
# plain build (the vm suite boots a qemu guest with real kernel heaps), once
# under AddressSanitizer and UndefinedBehaviorSanitizer (with the socket-level
# fuzzer against that build's daemon), the unit, integration, dbus, python,
# preload and service-manager tests once more under valgrind, and the
# libFuzzer targets for a bounded number of inputs in a clang build.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${build_packages[@]}" "${test_packages[@]}" "${fuzz_packages[@]}"

echo "== plain build =="
build "$top/build"
# The socket-level fuzzer runs against the ASan/UBSan daemon below.
meson test -C "$top/build" --print-errorlogs --no-suite fuzz-socket

echo "== ASan + UBSan =="
build "$top/build-sanitize" -Db_sanitize=address,undefined -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C "$top/build-sanitize" --print-errorlogs --no-suite vm

echo "== valgrind =="
# --vgdb=no: no gdbserver pipes in /tmp, whose name a later process (another uid's, with
# the same pid) could not take.
valgrind="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --vgdb=no"
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	--suite unit --suite integration --suite dbus --suite python --suite preload \
	--no-suite pidfd --no-suite vm --wrap="$valgrind" \
	--timeout-multiplier 10
# The service-manager tests, without the shell-driven unit checks.
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	manager restart --wrap="$valgrind" --timeout-multiplier 10
# valgrind 3.19 knows no pidfd_open: the tests that make pidfds run natively
# against a daemon under valgrind.
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	--suite pidfd --timeout-multiplier 10

echo "== fuzz =="
# clang with libFuzzer, ASan and UBSan over the whole build (-Dfuzz=true and
# the rest come from the native file); each target runs 100000 inputs or more.
build "$top/build-fuzz" --native-file "$top/tests/fuzz/fuzz.ini"
meson test -C "$top/build-fuzz" --print-errorlogs --suite fuzz
