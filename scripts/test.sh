#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test suite: once in a
# plain build (the vm suite boots a qemu guest with real kernel heaps), once
# under AddressSanitizer and UndefinedBehaviorSanitizer, and the unit,
# integration, dbus and service-manager tests once more under valgrind.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${build_packages[@]}" "${test_packages[@]}"

echo "== plain build =="
build "$top/build"
meson test -C "$top/build" --print-errorlogs

echo "== ASan + UBSan =="
build "$top/build-sanitize" -Db_sanitize=address,undefined -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C "$top/build-sanitize" --print-errorlogs --no-suite vm

echo "== valgrind =="
valgrind="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	--suite unit --suite integration --suite dbus --no-suite pidfd --wrap="$valgrind" \
	--timeout-multiplier 10
# The service-manager tests, without the shell-driven unit checks.
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	manager restart --wrap="$valgrind" --timeout-multiplier 10
# valgrind 3.19 knows no pidfd_open: the tests that make pidfds run natively
# against a daemon under valgrind.
IOBUFD_WRAPPER="$valgrind" meson test -C "$top/build" --print-errorlogs \
	--suite pidfd --timeout-multiplier 10
