#!/usr/bin/env bash
# bench/cluster.sh: cluster mode against single-node mode on this machine.
#
# Starts, on 127.0.0.1 with fresh temporary directories:
#   - one single-node tavlad (SQLite, sync=full, no NATS);
#   - three nats-servers as one JetStream cluster (file storage) and three
#     tavlad nodes using it (stream replicas 3); the bench moderator is made
#     on node 1's data dir and published with `tavlad admin cluster-import`.
# Then runs the same tavla-bench scenarios against the single node, against
# the three nodes (--ports: the generator spreads its connections over
# them) and against one cluster node alone:
#   write   --writers 100 --rooms 10, closed loop, DURATION s; on the
#           cluster also --rooms 9, which puts each room on one node
#   fanout  1 room x SUBS subscribers, 10 publishers, closed loop
#   idle    2000 connections held 5 s, RSS per connection of a fresh
#           single node and of a fresh cluster node (on an empty stream)
# and prints one table: acks/s and ack latency (write), delivered events/s
# and delivery latency (fanout), the CPU seconds the tavlad processes and
# the nats-servers used during each run (from /proc), and the daemon's RSS
# per idle connection.
#
#   bench/cluster.sh              everything (about 3 minutes)
#   DURATION=5 bench/cluster.sh   shorter load windows
#
# Environment: DURATION (default 10), SUBS (default 1000), OUT (directory
# for the JSON results, default a temporary one), NATS_SERVER (default the
# one on PATH).
#
# Every process runs on the same cores as the generator: this compares the
# cost of the cluster path with the single-node path, it cannot show the
# scaling of nodes on machines of their own (bench/RESULTS.md says more).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
SUBS=${SUBS:-1000}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
work=$(mktemp -d /tmp/tavla-cluster-bench.XXXXXX)
OUT=${OUT:-$work/results}
mkdir -p "$OUT"
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work/single" "$work/single-idle" "$work"/node[1234] "$work/nats"
}
trap cleanup EXIT

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "== build"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j2 --target tavlad tavla-bench >/dev/null
tavlad="$root/build/tavlad"
if ! "$tavlad" --help 2>&1 | grep -q cluster_nats; then
	echo "bench/cluster.sh: this tavlad has no cluster mode (no cluster_nats in --help)" >&2
	exit 1
fi
[ -x "$NATS_SERVER" ] || { echo "bench/cluster.sh: no nats-server (ops/deps.sh installs it)" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_line FILE TEXT: waits up to 20 s for a line containing TEXT
wait_line() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench/cluster.sh: no \"$2\" in $1" >&2
	cat "$1" >&2
	return 1
}

# --- NATS: three servers, one JetStream cluster ---------------------------
nports=() cports=() mports=() npids=()
for i in 1 2 3; do
	nports+=("$(free_port)")
	cports+=("$(free_port)")
	mports+=("$(free_port)")
done
routes=""
for p in "${cports[@]}"; do
	routes="$routes${routes:+, }nats-route://127.0.0.1:$p"
done
for i in 0 1 2; do
	d="$work/nats/n$((i + 1))"
	mkdir -p "$d"
	cat >"$d/nats.conf" <<EOF
server_name: n$((i + 1))
listen: 127.0.0.1:${nports[$i]}
http: 127.0.0.1:${mports[$i]}
jetstream { store_dir: "$d/js", max_memory_store: 256MB, max_file_store: 4GB }
cluster { name: tavla-bench, listen: 127.0.0.1:${cports[$i]}, routes: [$routes ] }
EOF
	"$NATS_SERVER" -c "$d/nats.conf" >"$d/nats.log" 2>&1 &
	pids+=($!)
	npids+=($!)
done
for _ in $(seq 200); do
	leader=$(python3 - "${mports[@]}" <<'EOF' 2>/dev/null || true
import json, sys, urllib.request
ls = set()
for p in sys.argv[1:]:
    j = json.load(urllib.request.urlopen("http://127.0.0.1:%s/jsz" % p, timeout=1))
    ls.add((j.get("meta_cluster") or {}).get("leader") or "")
print(ls.pop() if len(ls) == 1 and "" not in ls else "")
EOF
)
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] || { echo "bench/cluster.sh: JetStream elected no leader" >&2; tail -5 "$work"/nats/n*/nats.log >&2; exit 1; }
urls="nats://127.0.0.1:${nports[0]},nats://127.0.0.1:${nports[1]},nats://127.0.0.1:${nports[2]}"
echo "== NATS cluster up (meta leader $leader): $urls"

# --- tavlad: one single node, three cluster nodes -------------------------
common=(--log_level warn --sync full --rate 1000000 --rate_burst 1000000 --max_per_address 0)

# start_tavlad DIR PORT ARGS...: starts tavlad, waits for its ready line; sets tpid
start_tavlad() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	"$tavlad" --data_dir "$dir" --port "$port" "${common[@]}" "$@" >"$dir.out" 2>"$dir.err" &
	tpid=$!
	pids+=("$tpid")
	wait_line "$dir.out" "tavlad ready" || { cat "$dir.err" >&2; exit 1; }
}

export TAVLA_BENCH_PASSWORD=bench-password-1
sport=$(free_port)
start_tavlad "$work/single" "$sport"
spid=$tpid
echo "$TAVLA_BENCH_PASSWORD" | "$tavlad" --data_dir "$work/single" admin user-add bench bench >/dev/null

cports_t=() cpids=()
for i in 1 2 3; do
	cports_t+=("$(free_port)")
done
cluster_args() { # NODE: the cluster flags of node NODE (1..3)
	echo --cluster_nats "$urls" --cluster_node "node$1" --cluster_replicas 3
}
# The moderator: made on node 1's data dir, published into the stream.
mkdir -p "$work/node1"
echo "$TAVLA_BENCH_PASSWORD" | "$tavlad" --data_dir "$work/node1" --port "${cports_t[0]}" \
	$(cluster_args 1) admin user-add bench bench >/dev/null
"$tavlad" --data_dir "$work/node1" --port "${cports_t[0]}" $(cluster_args 1) admin cluster-import
for i in 1 2 3; do
	start_tavlad "$work/node$i" "${cports_t[$((i - 1))]}" $(cluster_args "$i")
	cpids+=("$tpid")
done
"$tavlad" --data_dir "$work/node1" --port "${cports_t[0]}" $(cluster_args 1) --check-cluster || true
# Every node makes its own certificate: trust all four.
ca="$work/ca.pem"
cat "$work/single/tls/cert.pem" "$work"/node[123]/tls/cert.pem >"$ca"
all_ports="${cports_t[0]},${cports_t[1]},${cports_t[2]}"

cpu_ticks() { # PID...: utime+stime of the processes, in clock ticks
	local t=0 p f
	for p in "$@"; do
		f=$(cut -d')' -f2 "/proc/$p/stat")
		set -- $f
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)

counter() { # NAME: the sum of metric NAME over the three cluster nodes
	local p sum=0 v
	for p in "${cports_t[@]}"; do
		v=$(curl -sk "https://127.0.0.1:$p/metrics" | awk -v m="$1" '$1 == m {print int($2)}')
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# bench NAME PIDS ARGS...: one bounded run; saves $OUT/NAME.json and the
# CPU seconds the daemons (PIDS, comma-separated) and the nats-servers used
bench() {
	local name=$1 watch=$2
	shift 2
	local t0 n0 p0 c0
	t0=$(cpu_ticks ${watch//,/ })
	n0=$(cpu_ticks "${npids[@]}")
	p0=$(counter tavla_cluster_publish_total)
	c0=$(counter tavla_cluster_conflicts_total)
	echo "== $name: tavla-bench $*"
	timeout 120 "$root/build/tavla-bench" "$@" --ca "$ca" --user bench --json \
		| tee "$OUT/$name.txt" | tail -n 1 >"$OUT/$name.json"
	sed '$d' "$OUT/$name.txt"
	python3 - "$OUT/$name.json" "$(( $(cpu_ticks ${watch//,/ }) - t0 ))" \
		"$(( $(cpu_ticks "${npids[@]}") - n0 ))" "$hz" \
		"$(( $(counter tavla_cluster_publish_total) - p0 ))" \
		"$(( $(counter tavla_cluster_conflicts_total) - c0 ))" <<'EOF'
import json, sys
path, t, n, hz, pub, con = sys.argv[1], *map(int, sys.argv[2:])
d = json.load(open(path))
d["tavlad_cpu_s"] = round(t / hz, 2)
d["nats_cpu_s"] = round(n / hz, 2)
d["cluster_publishes"] = pub
d["cluster_conflicts"] = con
json.dump(d, open(path, "w"))
EOF
}

W=(write --writers 100 --duration "$DURATION")
F=(fanout --subs "$SUBS" --pubs 10 --size 200 --duration "$DURATION")
all_pids=$(IFS=,; echo "${cpids[*]}")
bench write-single "$spid" "${W[@]}" --rooms 10 --port "$sport"
# 10 rooms over 3 ports: every room is written through all three nodes
# (what a balancer does to a workshop whose people it spreads).
bench write-cluster3 "$all_pids" "${W[@]}" --rooms 10 --ports "$all_ports"
# 9 rooms over 3 ports: writer i writes room i mod 9 through port i mod 3
# (one generator thread connects in writer order), so each room is
# written through one node only: no conflicts between nodes.
bench write-cluster3-affine "$all_pids" "${W[@]}" --rooms 9 --ports "$all_ports"
bench write-cluster1 "${cpids[0]}" "${W[@]}" --rooms 10 --port "${cports_t[0]}"
bench fanout-single "$spid" "${F[@]}" --port "$sport"
bench fanout-cluster3 "$all_pids" "${F[@]}" --ports "$all_ports"

# Idle connections on fresh daemons (a heap warmed by the runs above, or
# by applying the stream they wrote, would hide the cost): a new single
# node, and a new cluster node on a stream of its own (IDLE, empty).
kill "$spid"
iport=$(free_port)
start_tavlad "$work/single-idle" "$iport"
ipid=$tpid
cat "$work/single-idle/tls/cert.pem" >>"$ca"
bench idle-single "$ipid" idle --conns 2000 --hold 5 --ramp 64 --port "$iport" --pid "$ipid"
n4port=$(free_port)
start_tavlad "$work/node4" "$n4port" $(cluster_args 4) --cluster_stream IDLE
n4pid=$tpid
for _ in $(seq 200); do
	curl -sfk -o /dev/null "https://127.0.0.1:$n4port/readyz" && break
	sleep 0.1
done
cat "$work/node4/tls/cert.pem" >>"$ca"
bench idle-cluster "$n4pid" idle --conns 2000 --hold 5 --ramp 64 --port "$n4port" --pid "$n4pid"

echo "== nats-server RSS (KiB): $(for p in "${npids[@]}"; do grep VmRSS "/proc/$p/status" | awk '{print $2}'; done | xargs)"
echo "== node /metrics (cluster counters)"
for p in "${cports_t[@]}"; do
	curl -sk "https://127.0.0.1:$p/metrics" | grep -E '^tavla_cluster_[a-z_]+ ' | xargs echo "  $p:" || true
done

echo
echo "== cluster mode vs single node, one machine ($(nproc) cores), ${DURATION}s windows"
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
def get(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        return {}
def f(d, k, fmt="%.0f"):
    v = d.get(k)
    return fmt % v if isinstance(v, (int, float)) else "n/a"
print("%-22s %10s %9s %9s %12s %9s %9s %7s %7s %10s %10s" % ("run", "acks/s", "p50 ms",
      "p99 ms", "delivered/s", "tavlad s", "nats s", "errors", "missing", "publishes",
      "conflicts"))
for name in ("write-single", "write-cluster3", "write-cluster3-affine", "write-cluster1",
             "fanout-single", "fanout-cluster3"):
    d = get(name)
    lat = "lat" if name.startswith("fanout") else "ack"
    print("%-22s %10s %9s %9s %12s %9s %9s %7s %7s %10s %10s" % (name, f(d, "acks_per_s"),
          f(d, lat + "_p50_ms", "%.1f"), f(d, lat + "_p99_ms", "%.1f"),
          f(d, "delivered_per_s"), f(d, "tavlad_cpu_s", "%.1f"), f(d, "nats_cpu_s", "%.1f"),
          f(d, "errors"), f(d, "missing"), f(d, "cluster_publishes"),
          f(d, "cluster_conflicts")))
for name in ("idle-single", "idle-cluster"):
    d = get(name)
    print("%-22s RSS per connection %s KiB (%s connections up)" % (
          name, f(d, "rss_per_conn_kb", "%.1f"), f(d, "conns_up")))
EOF
echo
echo "JSON results in $OUT"
