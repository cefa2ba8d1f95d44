#!/usr/bin/env bash
# What the axum layer costs: the example gateway with and without it, under the M policy,
# loaded with wrk over loopback in alternation, three rounds each. Prints requests per second
# and the ratio, from the medians and from each round's back-to-back pair. Not part of CI: run
# it by hand on a quiet machine.
#
#   bash benches/middleware.sh            # needs wrk (apt-get install wrk)
#   DURATION=20 CONNECTIONS=64 bash benches/middleware.sh
#   PIN=1 ROUNDS=11 DURATION=3 bash benches/middleware.sh   # gateway and wrk on separate cores
#   LAYER_FLAGS=--without-caller bash benches/middleware.sh   # the layer without handing a Caller
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-38917}
# PIN=1 puts the gateway on CPU 0 and wrk on CPU 1, so that the gateway's own CPU time is what
# limits throughput and the two do not trade cores between rounds.
if [ "${PIN:-0}" = 1 ]; then
    SERVER_CPUS="taskset -c 0"; LOAD_CPUS="taskset -c 1"; THREADS=${THREADS:-1}
else
    SERVER_CPUS=""; LOAD_CPUS=""; THREADS=${THREADS:-2}
fi
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet --features axum,watch --example gateway --example gen_policy
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
policy=$(./target/release/examples/gen_policy M "$dir")
url="http://127.0.0.1:$PORT/docs/guide/intro"

run() { # $1: extra gateway flags; prints requests per second
    $SERVER_CPUS ./target/release/examples/gateway --policy "$policy" --listen "127.0.0.1:$PORT" $1 >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "$url" 2>/dev/null && break || sleep 0.1; done
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
    [ "$status" = 200 ] || { echo "the gateway answered $status, not 200" >&2; kill $pid; exit 1; }
    $LOAD_CPUS wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$url" | awk '/Requests\/sec/ {print $2}'
    kill $pid
    wait $pid 2>/dev/null || true
}

with=(); without=()
for r in $(seq "$ROUNDS"); do
    # Alternate which goes first, so that neither gets the warmer machine every round.
    if [ $((r % 2)) = 1 ]; then
        without+=("$(run --no-layer)")
        with+=("$(run "${LAYER_FLAGS:-}")")
    else
        with+=("$(run "${LAYER_FLAGS:-}")")
        without+=("$(run --no-layer)")
    fi
    echo "round $r: without ${without[-1]} req/s, with ${with[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
# Each round's pair ran back to back, so its ratio is less exposed to drift on a shared box.
ratios=()
for i in "${!with[@]}"; do ratios+=("$(awk -v w="${with[$i]}" -v o="${without[$i]}" 'BEGIN { print (1 - w / o) * 100 }')"); done
mr=$(median "${ratios[@]}")
awk -v w="$mw" -v o="$mo" -v r="$mr" 'BEGIN { printf "median: without %.0f req/s, with %.0f req/s; the layer costs %.1f %% of throughput (median of the rounds'"'"' own ratios: %.1f %%)\n", o, w, (1 - w / o) * 100, r }'
