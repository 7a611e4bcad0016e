#!/bin/sh
# run.sh: builds the libFuzzer targets with clang in build-fuzz/ and runs
# each of them for SECONDS (default 20), one after the other, starting from
# the committed seeds in tests/fuzz/corpus/TARGET and a scratch corpus in
# build-fuzz/fuzz-corpus/TARGET that grows from run to run. Prints the
# executions and coverage of each target; exits 1 if any target found a
# crash, leak, timeout or failed check (the input is then in
# build-fuzz/fuzz-artifacts/, the report in build-fuzz/fuzz-logs/TARGET.log).
#
#   tests/fuzz/run.sh            20 s per target
#   tests/fuzz/run.sh 600        10 minutes per target
#   tests/fuzz/run.sh 60 fuzz_utf8 fuzz_config    only these targets
#   TAVLA_FUZZ_DIR=build-fuzz-long tests/fuzz/run.sh 600   another build dir
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-fuzz_request fuzz_server_msg fuzz_utf8 fuzz_config fuzz_export_link fuzz_search fuzz_report fuzz_text}
dir=${TAVLA_FUZZ_DIR:-build-fuzz}

command -v clang >/dev/null || { echo "run.sh: clang is needed (ops/deps.sh --test)" >&2; exit 2; }
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DTAVLA_TESTS=OFF -DTAVLA_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzzers >/dev/null
mkdir -p "$dir/fuzz-logs" "$dir/fuzz-artifacts"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
printf '%-16s %8s %14s %10s %8s  %s\n' target seconds executions exec/s cov result
for t in $targets; do
	mkdir -p "$dir/fuzz-corpus/$t"
	log="$dir/fuzz-logs/$t.log"
	rc=0
	"$dir/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict=tests/fuzz/tavla.dict \
		-artifact_prefix="$dir/fuzz-artifacts/$t-" \
		"$dir/fuzz-corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	result=ok
	if [ "$rc" -ne 0 ]; then
		result="FAILED (see $log)"
		failed=1
	fi
	printf '%-16s %8s %14s %10s %8s  %s\n' "$t" "$secs" "${execs:-?}" \
		"$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "${cov:-?}" "$result"
done
exit "$failed"
