#!/bin/sh
# demo.sh: the first README command. Installs what is missing, builds
# tavla, and runs tavlad in the foreground with a demo workshop room; it
# prints the https URL, the join code and the demo moderator's password.
# Data lives in ./var (or $TAVLA_DATA). Stop with Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
ops/deps.sh
# A release build of its own (build-release/), without fault sites or tests,
# so it never disturbs the test builds.
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DTAVLA_FAULT=OFF -DTAVLA_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target tavlad tavla >/dev/null
echo "demo.sh: built build-release/tavlad and build-release/tavla" >&2
exec build-release/tavlad --demo yes "$@"
