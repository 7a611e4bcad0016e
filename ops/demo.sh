#!/bin/sh
# demo.sh: the first README command. Installs what is missing, builds
# tavla, and runs tavlad in the foreground with a demo workshop room; it
# prints the https URL, the join code and the demo moderator's password.
# Data lives in ./var (or $TAVLA_DATA). Stop with Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
ops/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTAVLA_FAULT=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/tavlad --demo yes "$@"
