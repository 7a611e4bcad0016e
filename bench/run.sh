#!/usr/bin/env bash
# bench/run.sh: builds tavla, starts a fresh tavlad (temporary data dir,
# sync=full) and the Node broadcast baseline on 127.0.0.1, creates the
# moderator account the generator logs in with, and runs the fan-out
# scenario against both with the same parameters: 1 room x 1000
# subscribers, closed loop, with 1 and with 10 publishers. Prints the
# delivered events/s of each and the ratio tavla/node.
#
#   bench/run.sh          the fan-out comparison (four runs, each <= 30 s)
#   bench/run.sh full     also idle (5000 connections, fresh daemon),
#                         write (100 writers / 10 rooms) and resume
#                         (1000 clients x 100 missed events)
#   bench/run.sh targets  the fan-out comparison, then every other figure
#                         issue 7 sets a target for: latency at 5,000
#                         subscribers (5 events/s) and at 1,000 at half of
#                         the measured maximum rate, many rooms at once,
#                         1,000 writers / 100 rooms, 1 note/s, 5,000
#                         resuming clients, 5,000 and 10,000 idle
#                         connections (fresh daemons); about 6 minutes
#   bench/run.sh write    only durable writes: 100 writers / 10 rooms,
#                         1000 writers / 100 rooms (closed loop) and 5
#                         writers at 1 note/s each (light load), then the
#                         daemon's WAL pages per write from /metrics
#
# Environment: DURATION (seconds of load per fan-out run, default 10),
# SUBS (default 1000), THREADS (generator loops, default 1), OUT (directory
# for the JSON results, default a temporary one).
#
# tavlad's per-connection rate limit (50 requests/s, burst 200) would
# throttle the publishers and writers, so tavlad is started with
# --rate 1000000 --rate_burst 1000000. Its max_connections (20000) is
# left as is.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-fanout}
DURATION=${DURATION:-10}
SUBS=${SUBS:-1000}
THREADS=${THREADS:-1}
work=$(mktemp -d /tmp/tavla-bench.XXXXXX)
OUT=${OUT:-$work/results}
mkdir -p "$OUT"
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work/data" "$work/data2"
}
trap cleanup EXIT

# every connection is a descriptor on both ends
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "== build"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j2 --target tavlad tavla-bench >/dev/null
if [ "$mode" != write ] && [ ! -d "$root/bench/baseline/node_modules/ws" ]; then
	(cd "$root/bench/baseline" && npm install --no-audit --no-fund >/dev/null)
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_tavlad DIR PORT: starts tavlad, waits for its ready line, sets tpid
start_tavlad() {
	local dir=$1 port=$2
	mkdir -p "$dir"
	"$root/build/tavlad" --data_dir "$dir" --port "$port" --log_level warn \
		--sync full --rate 1000000 --rate_burst 1000000 --max_per_address 0 \
		>"$dir.out" 2>"$dir.err" &
	tpid=$!
	pids+=("$tpid")
	for _ in $(seq 100); do
		grep -q "tavlad ready" "$dir.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "tavlad ready" "$dir.out" || { cat "$dir.err" >&2; exit 1; }
	echo 'bench-password-1' | "$root/build/tavlad" --data_dir "$dir" admin user-add bench bench >/dev/null
}

tport=$(free_port)
start_tavlad "$work/data" "$tport"
ca="$work/data/tls/cert.pem"

if [ "$mode" = write ]; then
	export TAVLA_BENCH_PASSWORD=bench-password-1
	echo "== load: $(uptime)"
	for wr in "100 10" "1000 100"; do
		set -- $wr
		echo "== write: tavla-bench write --writers $1 --rooms $2 --duration $DURATION"
		timeout 120 "$root/build/tavla-bench" write --writers "$1" --rooms "$2" \
			--duration "$DURATION" --port "$tport" --user bench --pid "$tpid" --ca "$ca" \
			--json | tee "$OUT/write-$1.txt" | tail -n 1 >"$OUT/write-$1.json"
		sed '$d' "$OUT/write-$1.txt"
	done
	echo "== write: tavla-bench write --writers 5 --rooms 5 --rate 1 --duration 20"
	timeout 120 "$root/build/tavla-bench" write --writers 5 --rooms 5 --rate 1 --duration 20 \
		--port "$tport" --user bench --pid "$tpid" --ca "$ca" --json \
		| tee "$OUT/write-light.txt" | tail -n 1 >"$OUT/write-light.json"
	sed '$d' "$OUT/write-light.txt"
	echo "== /metrics"
	curl -sk "https://127.0.0.1:$tport/metrics" \
		| grep -E '^tavla_(wal_pages_total|commit_batch_writes_(sum|count)|commit_seconds_(sum|count)) '
	echo "== load: $(uptime)"
	exit 0
fi

nport=$(free_port)
node "$root/bench/baseline/server.js" --cert "$ca" --key "$work/data/tls/key.pem" \
	--port "$nport" >"$work/node.out" 2>&1 &
npid=$!
pids+=("$npid")
for _ in $(seq 100); do
	grep -q "baseline ready" "$work/node.out" 2>/dev/null && break
	sleep 0.1
done
grep -q "baseline ready" "$work/node.out" || { cat "$work/node.out" >&2; exit 1; }

bench() { # NAME ARGS...: one bounded run, JSON saved as $OUT/NAME.json
	local name=$1
	shift
	echo "== $name: tavla-bench $*"
	timeout 90 "$root/build/tavla-bench" "$@" --ca "$ca" --threads "$THREADS" --json \
		| tee "$OUT/$name.txt" | tail -n 1 >"$OUT/$name.json"
	sed '$d' "$OUT/$name.txt"
}

field() { # FILE KEY
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "n/a"))' "$1" "$2"
}

export TAVLA_BENCH_PASSWORD=bench-password-1
for pubs in 1 10; do
	common=(fanout --subs "$SUBS" --pubs "$pubs" --size 200 --duration "$DURATION")
	bench "fanout-tavla-p$pubs" "${common[@]}" --port "$tport" --user bench --pid "$tpid"
	bench "fanout-node-p$pubs" "${common[@]}" --target node --port "$nport" --pid "$npid"
done

echo
echo "== fan-out, 1 room x $SUBS subscribers, closed loop, 200 B, ${DURATION}s"
printf '%-12s %16s %16s %8s %14s %14s\n' publishers "tavla ev/s" "node ev/s" ratio "tavla p99 ms" "node p99 ms"
for pubs in 1 10; do
	t=$(field "$OUT/fanout-tavla-p$pubs.json" delivered_per_s)
	n=$(field "$OUT/fanout-node-p$pubs.json" delivered_per_s)
	tp=$(field "$OUT/fanout-tavla-p$pubs.json" lat_p99_ms)
	np=$(field "$OUT/fanout-node-p$pubs.json" lat_p99_ms)
	r=$(python3 -c "import sys; t,n=sys.argv[1:]; print('%.2f' % (float(t)/float(n)) if n not in ('0','n/a') and t!='n/a' else 'n/a')" "$t" "$n")
	printf '%-12s %16s %16s %8s %14s %14s\n' "$pubs" "$t" "$n" "$r" "$tp" "$np"
done

if [ "$mode" = targets ]; then
	t10=$(field "$OUT/fanout-tavla-p10.json" delivered_per_s)
	# Half of tavla's own maximum (the 10-publisher closed-loop rate just
	# measured), offered open loop by 10 publishers.
	half=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / $SUBS / 2 / 10))" "$t10")
	bench latency-half fanout --subs "$SUBS" --pubs 10 --rate "$half" --size 200 \
		--duration "$DURATION" --port "$tport" --user bench --pid "$tpid"
	bench rooms rooms --rooms 100 --subs 2000 --pubs 100 --rate 5 --size 200 \
		--duration "$DURATION" --port "$tport" --user bench --pid "$tpid"
	bench write-1000 write --writers 1000 --rooms 100 --duration "$DURATION" \
		--port "$tport" --user bench --pid "$tpid"
	bench write-light write --writers 5 --rooms 5 --rate 1 --duration 20 \
		--port "$tport" --user bench --pid "$tpid"
	kill "$tpid"
	wait "$tpid" 2>/dev/null || true
	# The large ones on fresh daemons, the generator on both cores.
	THREADS=2
	tport=$(free_port)
	start_tavlad "$work/data3" "$tport"
	ca="$work/data3/tls/cert.pem"
	bench latency-5000 fanout --subs 5000 --pubs 1 --rate 5 --size 200 \
		--duration "$DURATION" --port "$tport" --user bench --pid "$tpid" --timeout 240
	bench resume-5000 resume --clients 5000 --missed 100 --port "$tport" --user bench \
		--pid "$tpid" --timeout 240
	kill "$tpid"
	wait "$tpid" 2>/dev/null || true
	for n in 5000 10000; do
		tport=$(free_port)
		start_tavlad "$work/idle$n" "$tport"
		ca="$work/idle$n/tls/cert.pem"
		bench "idle-$n" idle --conns "$n" --hold 5 --ramp 128 --port "$tport" --pid "$tpid"
		kill "$tpid"
		wait "$tpid" 2>/dev/null || true
	done
	echo
	echo "== targets (issue 7)"
	python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def j(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except Exception:
        return {}
rows = []
for p in (1, 10):
    t, n = j("fanout-tavla-p%d" % p), j("fanout-node-p%d" % p)
    tv, nv = t.get("delivered_per_s"), n.get("delivered_per_s")
    rows.append(("fan-out 1x1000, %d pub" % p, "%s/s vs node %s/s = %.2fx" % (
        tv, nv, tv / nv if tv and nv else float("nan")), ">= 2x"))
for name, what, target in (("latency-5000", "5,000 subs, 5 ev/s", "p99 < 50 ms"),
                           ("latency-half", "1,000 subs, half max rate", "p99 < 50 ms"),
                           ("rooms", "100 rooms, 2,000 subs, 100 pubs x 5/s", "-")):
    r = j(name)
    rows.append((what, "delivery p50 %s / p99 %s ms" % (r.get("lat_p50_ms"), r.get("lat_p99_ms")), target))
for name, what, target in (("write-1000", "1,000 writers / 100 rooms", ">= 100,000/s, p99 < 20 ms"),
                           ("write-light", "1 note/s", "p99 < 5 ms")):
    r = j(name)
    rows.append((what, "%s acks/s, p99 %s ms" % (r.get("acks_per_s"), r.get("ack_p99_ms")), target))
r = j("resume-5000")
rows.append(("resume 5,000 x 100", "%s s" % r.get("all_caught_up_s"), "<= 5 s"))
for n in (5000, 10000):
    r = j("idle-%d" % n)
    rows.append(("idle %d" % n, "%s KiB/conn, all connected in %s s" % (
        r.get("rss_per_conn_kb"), r.get("connect_all_s")), "<= 16 KB; 10,000 in <= 3 s"))
for row in rows:
    print("%-40s %-52s %s" % row)
PY
fi

if [ "$mode" = full ]; then
	bench write write --port "$tport" --user bench --pid "$tpid" --writers 100 --rooms 10 --duration "$DURATION"
	bench resume resume --port "$tport" --user bench --pid "$tpid" --clients 1000 --missed 100
	# idle on a fresh daemon, so that its RSS starts from a clean heap
	kill "$tpid"
	wait "$tpid" 2>/dev/null || true
	tport2=$(free_port)
	start_tavlad "$work/data2" "$tport2"
	ca2="$work/data2/tls/cert.pem"
	echo "== idle: tavla-bench idle --conns 5000 --hold 5"
	timeout 120 "$root/build/tavla-bench" idle --conns 5000 --hold 5 --ramp 64 \
		--port "$tport2" --ca "$ca2" --pid "$tpid" --json | tee "$OUT/idle.txt" \
		| tail -n 1 >"$OUT/idle.json"
	sed '$d' "$OUT/idle.txt"
fi
echo
echo "JSON results in $OUT"
