#!/bin/sh
# deps.sh: installs the Debian 12 packages tavla needs that are missing.
#
#   ops/deps.sh           what building and running tavlad needs
#   ops/deps.sh --test    also what the test suite needs
#
# Runs apt-get only when something is missing, so a second run is instant.
# Needs root (or sudo) when it has something to install.
set -eu

build="build-essential cmake pkg-config libuv1-dev libwebsockets-dev
  libwebsockets-evlib-uv libsqlite3-dev libssl-dev libjansson-dev
  libargon2-dev libcmocka-dev ca-certificates libutf8proc-dev libstemmer-dev
  hunspell-sv libqrencode-dev nats-server libnats-dev"
# clang and its compiler-rt (libFuzzer, sanitizers) build tests/fuzz.
# chromium runs the web client in tests/browser (with node and npm).
test="python3 python3-websockets sqlite3 openssl curl sslscan clang libclang-rt-14-dev chromium
  mythes-sv haproxy"

want="$build"
[ "${1:-}" = "--test" ] && want="$want $test"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
