#!/usr/bin/env bash
# Cluster figures for docs/performance.md: a durable redis-server and N hub
# nodes (release builds) on this machine's loopback, then one load-tester
# run against them. Everything lives in a temporary directory, removed at
# the end; nothing listens on a fixed port (Redis on a unix socket, the
# nodes on 127.0.0.1:0).
#
#   loadtest/bench/cluster.sh [NODES] -- [bedside-loadtest run options]
#
# NODES (default 2) nodes; with NODES=0 a single hub on the default SQLite
# store (no Redis), for comparison. The options after `--` go to
# `bedside-loadtest run` after the nodes' `--url`s, `--key` and `--hub-pid`
# (the first node's pid). Example, cross-node against same-node relay:
#
#   cargo build --release -p bedside-server -p bedside-loadtest
#   loadtest/bench/cluster.sh 2 -- --mix-paths --scenario negotiation \
#       --rate 2000 --visits 100 --duration 20s --warmup 5s
#
# Also prints each process's CPU time over the run (hub nodes, Redis).
# AT_REST=1 (with NODES=0): the hub's store encrypted at rest under a root
# key file (docs/operations.md, "Encryption at rest").
set -euo pipefail

nodes=2
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    nodes=$1
    shift
elif [[ -n ${1:-} && ${1:-} != -- ]]; then
    echo "usage: $0 [NODES] -- [bedside-loadtest run options]" >&2
    exit 2
fi
[[ ${1:-} == -- ]] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release
for b in bedside bedside-loadtest; do
    [[ -x $bin/$b ]] || { echo "build first: cargo build --release -p bedside-server -p bedside-loadtest" >&2; exit 2; }
done
dir=$(mktemp -d)
hub_pids=()
redis_pid=""
cleanup() {
    # The nodes drain first (they give up leases and flush to Redis).
    for p in "${hub_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${hub_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n $redis_pid ]]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

"$bin/bedside" keygen --kid lt-1 --out "$dir/issuer.json" --public "$dir/issuer.pub.json" >/dev/null
"$bin/bedside" keygen --kid audit-1 --out "$dir/audit.json" --public "$dir/audit.pub.json" >/dev/null

at_rest=""
if [[ ${AT_REST:-0} == 1 ]]; then
    ((nodes == 0)) || { echo "AT_REST=1 needs NODES=0 (a cluster's data is in Redis)" >&2; exit 2; }
    "$bin/bedside" root-key create --file "$dir/root.key" >/dev/null
    at_rest="[at_rest]
root_key_file = \"$dir/root.key\""
fi

cluster=""
if ((nodes > 0)); then
    redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
        --dir "$dir" --save "" --appendonly yes --appendfsync always \
        --maxmemory-policy noeviction --logfile "$dir/redis.log" --daemonize no &
    redis_pid=$!
    up=""
    for _ in $(seq 200); do
        if redis-cli -s "$dir/redis.sock" ping 2>/dev/null | grep -q PONG; then
            up=1
            break
        fi
        sleep 0.05
    done
    [[ -n $up ]] || { echo "redis-server did not start:" >&2; cat "$dir/redis.log" >&2; exit 1; }
fi

urls=()
for i in $(seq 0 $((nodes > 0 ? nodes - 1 : 0))); do
    name=node-$i
    if ((nodes > 0)); then
        cluster="[cluster]
redis_url = \"redis+unix://$dir/redis.sock\"
node_id = \"$name\""
    fi
    cat >"$dir/$name.toml" <<EOF
listen = "127.0.0.1:0"
insecure_http = true
data_dir = "$dir/$name/data"
[auth]
jwks = "$dir/issuer.pub.json"
issuers = ["clinic"]
[audit]
path = "$dir/$name/audit.jsonl"
signing_key = "$dir/audit.json"
[limits]
messages_per_s = 1000000
max_connections = 200000
max_connections_per_ip = 200000
$cluster
$at_rest
EOF
    BEDSIDE_LOG=warn "$bin/bedside" serve --config "$dir/$name.toml" >"$dir/$name.out" 2>"$dir/$name.err" &
    hub_pids+=($!)
    for _ in $(seq 200); do
        addr=$(sed -n 's|^listening on http://||p' "$dir/$name.out")
        [[ -n $addr ]] && break
        sleep 0.05
    done
    [[ -n $addr ]] || { echo "$name did not start:" >&2; cat "$dir/$name.err" >&2; exit 1; }
    urls+=(--url "ws://$addr/v1/signal")
done

# User + system seconds (fields 14 and 15 of /proc/PID/stat, in clock
# ticks; the command name, field 2, has no spaces here).
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
since() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a - b}'; }
declare -A cpu0
for p in "${hub_pids[@]}" $redis_pid; do cpu0[$p]=$(cpu "$p"); done

"$bin/bedside-loadtest" run "${urls[@]}" --key "$dir/issuer.json" --iss clinic \
    --hub-pid "${hub_pids[0]}" --quiet "$@" && status=0 || status=$?

for i in "${!hub_pids[@]}"; do
    p=${hub_pids[$i]}
    echo "node-$i CPU over the run: $(since "$(cpu "$p")" "${cpu0[$p]}") s"
done
if ((nodes > 0)); then
    # What Redis spent its time on (calls, µs per call), busiest first.
    redis-cli -s "$dir/redis.sock" info commandstats |
        sed -n 's/^cmdstat_\([a-z|_-]*\):calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\3 \1 \2 \4/p' |
        sort -rn | head -5 |
        awk '{printf "redis %-10s %9d calls, %7.2f µs per call, %6.2f s in all\n", $2, $3, $4, $1 / 1e6}'
    echo "redis-server CPU over the run: $(since "$(cpu "$redis_pid")" "${cpu0[$redis_pid]}") s"
fi
exit $status
