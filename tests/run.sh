#!/bin/sh
# run.sh: the whole test suite, the second README command (and what CI
# runs). Installs what is missing, then builds and runs every test twice:
# a normal build (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer
# build (build-asan/). Any sanitizer report fails the run.
#
#   tests/run.sh            everything
#   tests/run.sh -L unit    only one label (unit, integration, slow, browser)
set -eu
cd "$(dirname "$0")/.."
ops/deps.sh --test
jobs=$(nproc)

run() { # run BUILD_DIR CMAKE_ARGS...
	dir=$1
	shift
	cmake -S . -B "$dir" -DTAVLA_TESTS=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	(cd "$dir" && ctest --output-on-failure -j"$jobs" $ctest_args)
}

ctest_args="$*"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "== normal build"
run build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== sanitizer build (ASan + UBSan)"
run build-asan -DCMAKE_BUILD_TYPE=Debug -DTAVLA_SANITIZE=ON
echo "tests/run.sh: all passed"
