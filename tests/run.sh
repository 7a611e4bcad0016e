#!/bin/sh
# run.sh: the whole test suite, the second README command (and what CI
# runs). Installs what is missing, then builds and runs every test twice:
# a normal build (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer
# build (build-asan/). Any sanitizer report fails the run. A third stage
# builds the libFuzzer targets with clang (build-fuzz/) and runs each briefly
# over its seed corpus (ctest -L fuzz; tests/fuzz/run.sh for longer runs).
#
#   tests/run.sh            everything
#   tests/run.sh -L unit    only one label (unit, integration, slow, browser,
#                           fuzz); the fuzz stage runs only for -L fuzz
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
run build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAVLA_FAULT=ON -DTAVLA_SANITIZE=OFF
echo "== sanitizer build (ASan + UBSan)"
run build-asan -DCMAKE_BUILD_TYPE=Debug -DTAVLA_FAULT=ON -DTAVLA_SANITIZE=ON
case " $ctest_args " in
"  " | *fuzz*)
	echo "== fuzz build (clang, libFuzzer + ASan + UBSan)"
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DTAVLA_TESTS=OFF -DTAVLA_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j"$jobs" --target fuzzers >/dev/null
	(cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz)
	;;
esac
echo "tests/run.sh: all passed"
