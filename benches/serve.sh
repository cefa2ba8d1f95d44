#!/usr/bin/env bash
# What a check by `portcullis serve` costs, on loopback: checks per second and p50/p99 latency
# over HTTP keep-alive (wrk straight at /check) and over gRPC (benches/serve_load.rs), and
# nginx with auth_request through portcullis against the same nginx alone (deploy/nginx.conf
# with and without its auth_request lines). As a yardstick for the machine, the same nginx also
# asks a second nginx process that answers every check 200 at once: what any authorization
# server on this loopback costs before it does any work. Alternating rounds; medians at the
# end. Not part of CI: run it by hand on a quiet machine, with a release build.
#
#   bash benches/serve.sh                       # needs wrk and nginx (apt-get install wrk nginx)
#   ROUNDS=5 DURATION=10 CONNECTIONS=32 bash benches/serve.sh
#   PHASES=latency ROUNDS=15 DURATION=2 bash benches/serve.sh   # many short rounds: steadier p50s
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-3}
PHASES=${PHASES:-load latency}
BASE=${BASE:-39100}
for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install wrk nginx" >&2; exit 2; }
done

cargo build --release --quiet --features cli,serve --bin portcullis
cargo bench --quiet --features serve --bench serve_load --no-run 2>/dev/null
target=${CARGO_TARGET_DIR:-target}
load=$(ls -t "$target"/release/deps/serve_load-* | grep -v '\.d$' | head -1)

dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

HTTP=$((BASE)); GRPC=$((BASE + 1)); APP=$((BASE + 2)); WITH=$((BASE + 3)); ALONE=$((BASE + 4))
NULL=$((BASE + 5)); WITH_NULL=$((BASE + 6))
"$target"/release/portcullis serve tests/fixtures/serve/policy.toml \
    --listen 127.0.0.1:$HTTP --grpc 127.0.0.1:$GRPC --no-watch --log-level error >/dev/null &
pids+=($!)

# nginx instances from deploy/nginx.conf: one asking portcullis, one not, and one asking a
# server that answers 200 at once; the backend answers 200 itself.
site() { # $1: port nginx listens on, $2: port of the authorization server
    sed -e "s/listen 8080;/listen 127.0.0.1:$1;/" -e "s/127.0.0.1:9090/127.0.0.1:$2/" \
        -e "s/127.0.0.1:8081/127.0.0.1:$APP/" deploy/nginx.conf
}
start_nginx() { # $1: name, $2: site file
    mkdir -p "$dir/$1"
    cat >"$dir/$1/nginx.conf" <<CONF
worker_processes 1;
pid $dir/$1/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/$1/body; proxy_temp_path $dir/$1/proxy;
  fastcgi_temp_path $dir/$1/fcgi; uwsgi_temp_path $dir/$1/uwsgi; scgi_temp_path $dir/$1/scgi;
  include $2;
}
CONF
    nginx -p "$dir/$1" -c "$dir/$1/nginx.conf" -e "$dir/$1/error.log" -g 'daemon off; master_process off;' &
    pids+=($!)
}
site $WITH $HTTP >"$dir/with.conf"
# The backend is an nginx process of its own, so that every kind crosses the same processes.
echo "server { listen 127.0.0.1:$APP; location / { return 200 \"backend\\n\"; } }" >"$dir/app.conf"
site $ALONE $HTTP | sed -e '/auth_request/d' -e '/$portcullis_/d' >"$dir/alone.conf"
site $WITH_NULL $NULL >"$dir/with_null.conf"
echo "server { listen 127.0.0.1:$NULL; location / { return 200; } }" >"$dir/null.conf"
start_nginx app "$dir/app.conf"
start_nginx with "$dir/with.conf"
start_nginx alone "$dir/alone.conf"
start_nginx with_null "$dir/with_null.conf"
start_nginx null "$dir/null.conf"
sleep 1
for port in $HTTP $WITH $ALONE $WITH_NULL; do
    curl -sf -o /dev/null -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /public/a' \
        -H 'X-Forwarded-For: 192.0.2.9' -H 'X-Forwarded-Host: shop.example' \
        -H 'Host: shop.example' "http://127.0.0.1:$port/check" 2>/dev/null ||
    curl -sf -o /dev/null -H 'Host: shop.example' "http://127.0.0.1:$port/public/a" ||
        { echo "nothing answers 200 on port $port" >&2; exit 1; }
done

# wrk's summary as "requests/s p50_us p99_us"; $C connections.
wrk_run() { # $1: url, then headers
    local url=$1; shift
    local args=()
    for h in "$@"; do args+=(-H "$h"); done
    wrk -t1 -c"$C" -d"${DURATION}s" --latency "${args[@]}" "$url" | awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
        /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /Requests\/sec/ { rps = $2 }
        END { printf "%.0f %.1f %.1f\n", rps, p50, p99 }'
}
check_http() {
    wrk_run "http://127.0.0.1:$HTTP/check" 'X-Forwarded-Method: GET' 'X-Forwarded-Uri: /public/a' \
        'X-Forwarded-Host: shop.example' 'X-Forwarded-For: 192.0.2.9'
}
check_grpc() {
    "$load" --grpc 127.0.0.1:$GRPC --connections "$C" --seconds "$DURATION" | awk '{print $3, $5, $7}'
}
nginx_with() { wrk_run "http://127.0.0.1:$WITH/public/a" 'Host: shop.example'; }
nginx_alone() { wrk_run "http://127.0.0.1:$ALONE/public/a" 'Host: shop.example'; }
healthz() { wrk_run "http://127.0.0.1:$HTTP/healthz"; }
nginx_null() { wrk_run "http://127.0.0.1:$WITH_NULL/public/a" 'Host: shop.example'; }

# Two phases: throughput with $CONNECTIONS connections (latency there is mostly queueing on
# a saturated box), then latency with one connection (what a check adds to one request).
declare -A results
kinds=(healthz check_http check_grpc nginx_alone nginx_null nginx_with)
for phase in $PHASES; do
    if [ $phase = load ]; then C=$CONNECTIONS; else C=1; fi
    for r in $(seq "$ROUNDS"); do
        # Alternate the order, so that no kind always gets the warmer machine.
        order=("${kinds[@]}")
        [ $((r % 2)) = 0 ] && order=(nginx_with nginx_null nginx_alone check_grpc check_http healthz)
        for k in "${order[@]}"; do
            out=$($k)
            results[$phase.$k]+="$out;"
            echo "$phase round $r $k ($C connections): $out (per second, p50 us, p99 us)"
        done
    done
done
median() { tr ';' '\n' | awk -v f="$1" 'NF { print $f }' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
printf '%-8s %-12s %12s %10s %10s\n' phase kind "per second" "p50 us" "p99 us"
for phase in $PHASES; do
    for k in "${kinds[@]}"; do
        printf '%-8s %-12s %12s %10s %10s\n' $phase "$k" "$(median 1 <<<"${results[$phase.$k]}")" \
            "$(median 2 <<<"${results[$phase.$k]}")" "$(median 3 <<<"${results[$phase.$k]}")"
    done
done
case " $PHASES " in *" latency "*) ;; *) exit 0 ;; esac
# What the authorization request adds, round by round (each round runs the three nginx kinds
# back to back), then the median of those differences.
paired() { # $1, $2: kinds; the median over rounds of $1's p50 minus $2's p50
    paste -d' ' <(tr ';' '\n' <<<"${results[latency.$1]}" | awk 'NF {print $2}') \
        <(tr ';' '\n' <<<"${results[latency.$2]}" | awk 'NF {print $2}') |
        awk '{print $1 - $2}' | sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'
}
echo "p50 added (one connection; median of per-round differences):"
echo "  a check over /healthz:         $(paired check_http healthz) us"
echo "behind nginx:"
echo "  portcullis:                    $(paired nginx_with nginx_alone) us"
echo "  a server answering 200 at once: $(paired nginx_null nginx_alone) us"
echo "  portcullis over that server:   $(paired nginx_with nginx_null) us"
