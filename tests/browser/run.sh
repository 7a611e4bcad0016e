#!/bin/sh
# run.sh: the browser tests of the web client (clients/web), as ctest's
# browser.workshop runs them.
#
#   tests/browser/run.sh [TEST_FILE...]     default: every *.test.js here
#
# Installs what is missing (Debian's chromium through ops/deps.sh --test, the
# npm packages of package-lock.json through npm ci), starts a real tavlad on a
# free port with a temporary data dir and a moderator account, and runs the
# tests with node's own test runner. The page under test is the one tavlad
# serves (the client embedded at build time). Screenshots and axe reports go
# to tests/artifacts/. $TAVLAD names the daemon (default: build/tavlad).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TAVLAD=${TAVLAD:-$root/build/tavlad}

"$root/ops/deps.sh" --test
cd "$here"
if [ ! -f node_modules/playwright-core/package.json ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi

data=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		# SIGTERM is a graceful stop; one that takes longer than 15 s is
		# reported and ended, so a slow shutdown cannot hang the test run.
		kill "$pid" 2>/dev/null || true
		n=0
		while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
		if kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: tavlad did not exit within 15 s of SIGTERM; killing it" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-}" = "" ]; then rm -rf "$data"; else echo "run.sh: kept $data" >&2; fi
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=moderator
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$password" | "$TAVLAD" --data_dir "$data" admin user-add testorg "$user" >"$data/admin.log" 2>&1
"$TAVLAD" --data_dir "$data" --port "$port" --max_per_address 0 --rate 1000 --rate_burst 1000 \
	2>"$data/tavlad.log" &
pid=$!

i=0
until curl -skf "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: tavlad did not start" >&2
		cat "$data/tavlad.log" >&2
		exit 1
	fi
	sleep 0.1
done

export TAVLA_URL="https://127.0.0.1:$port/" TAVLA_MOD_USER="$user" TAVLA_MOD_PASSWORD="$password"
if [ $# -eq 0 ]; then set -- *.test.js; fi
status=0
node --test --test-concurrency=1 "$@" || status=$?
if [ "$status" -ne 0 ]; then
	echo "run.sh: tests failed; last lines of the daemon's log:" >&2
	tail -n 20 "$data/tavlad.log" >&2
fi
exit "$status"
