#!/usr/bin/env bash
# bench/proxy.sh: tandem-proxy against twemproxy (Debian's nutcracker), side by side.
#
# Both proxies get the same pool file (ketama, md5, the same stock memcached
# backends), are pinned to CPU 0, and face the same bench/loadgen load; the
# backends and the load generator share CPU 1. Each measurement is a set of
# A/B pairs whose order alternates (tandem first, then nutcracker first), so
# a machine that slows down during the run hurts both sides alike. The result
# is the median throughput ratio tandem/nutcracker over the pairs, and each
# side's median p99. Nothing here is a test: numbers are reported, never
# asserted.
#
# Usage: bench/proxy.sh
# Environment:
#   BENCH_PAIRS=N     A/B pairs per measurement (default 3)
#   BENCH_SECS=S      seconds per measured run (default 3)
#   BENCH_BACKENDS    backend counts to measure (default "1 3")
#   TANDEM_PROXY, NUTCRACKER, MEMCACHED   the binaries
#
# Raw results: build/bench-proxy/results.txt; the markdown table is printed
# and written to build/bench-proxy/report.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/bench-proxy
PAIRS=${BENCH_PAIRS:-3}
SECS=${BENCH_SECS:-3}
BACKENDS=${BENCH_BACKENDS:-"1 3"}
TPROXY=${TANDEM_PROXY:-$ROOT/build/tandem-proxy}
NUTCRACKER=${NUTCRACKER:-$(command -v nutcracker || echo /usr/sbin/nutcracker)}
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
CONNS=50
KEYS=10000

die() { echo "bench/proxy.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[ -x "$TPROXY" ] || die "no $TPROXY (make build/tandem-proxy)"
[ -x "$NUTCRACKER" ] || die "no nutcracker (scripts/deps.sh bench)"
mkdir -p "$OUT/log"
LG=$OUT/loadgen
gcc -O2 -Wall -Wextra -o "$LG" bench/loadgen.c || die "could not build bench/loadgen.c"
: > "$OUT/results.txt"

USER_ARG=""
[ "$(id -u)" = 0 ] && USER_ARG="-u nobody"

PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on, from a range the other benches do not use.
NEXT_PORT=24100
next_port() {
    while (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

stop_pid() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# start_proxy KIND CONF PORT: sets PPID_
start_proxy() {
    local kind=$1 conf=$2 port=$3
    if [ "$kind" = tandem ]; then
        taskset -c 0 "$TPROXY" -c "$conf" >"$OUT/log/tandem-$port.log" 2>&1 &
    else
        next_port
        taskset -c 0 "$NUTCRACKER" -c "$conf" -s "$PORT" -o "$OUT/log/nutcracker-$port.log" &
    fi
    PPID_=$!
    PIDS="$PIDS $PPID_"
    "$LG" -p "$port" -W 10 || die "$kind did not start on port $port"
}

# field NAME < loadgen output
field() { awk -F= -v k="$1" '$1 == k { print $2 }'; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# run_one KIND NB WORKLOAD PAIR CONF PORT ARGS...
run_one() {
    local kind=$1 nb=$2 wl=$3 pair=$4 conf=$5 port=$6
    shift 6
    start_proxy "$kind" "$conf" "$port"
    local res
    res=$(taskset -c 1 "$LG" -p "$port" -c "$CONNS" -k "$KEYS" -d "$SECS" "$@" 2>&1) ||
        die "loadgen failed against $kind: $res"
    stop_pid "$PPID_"
    local rps p99 err
    rps=$(echo "$res" | field rps)
    p99=$(echo "$res" | field p99_us)
    err=$(echo "$res" | field errors)
    echo "proxy=$kind backends=$nb workload=$wl pair=$pair rps=$rps p99_us=$p99 errors=$err" |
        tee -a "$OUT/results.txt" >&2
}

steal_start=$(awk '/^cpu /{ print $9 }' /proc/stat)
load_start=$(cut -d' ' -f1 /proc/loadavg)

for nb in $BACKENDS; do
    BPIDS=""
    servers=""
    for i in $(seq "$nb"); do
        next_port
        # shellcheck disable=SC2086
        taskset -c 1 "$MEMCACHED" $USER_ARG -l 127.0.0.1 -p "$PORT" -t 1 -m 256 \
            >"$OUT/log/memcached-$PORT.log" 2>&1 &
        BPIDS="$BPIDS $!"
        PIDS="$PIDS $!"
        "$LG" -p "$PORT" -W 10 || die "memcached did not start on $PORT"
        servers="$servers   - 127.0.0.1:$PORT:1
"
    done
    next_port
    pport=$PORT
    conf=$OUT/pool-$nb.yml
    printf 'alpha:\n  listen: 127.0.0.1:%s\n  hash: md5\n  distribution: ketama\n  timeout: 2000\n  servers:\n%s' \
        "$pport" "$servers" > "$conf"
    # load every key once through tandem-proxy (same placement for both)
    start_proxy tandem "$conf" "$pport"
    "$LG" -p "$pport" -k "$KEYS" -L -d 0 >/dev/null 2>&1 || true
    stop_pid "$PPID_"
    for wl in get90 mget16; do
        args=()
        [ "$wl" = mget16 ] && args=(-M 16)
        log "backends=$nb workload=$wl: $PAIRS pairs of $SECS s, $CONNS connections"
        for pair in $(seq "$PAIRS"); do
            if [ $((pair % 2)) = 1 ]; then order="tandem nutcracker"; else order="nutcracker tandem"; fi
            for kind in $order; do
                run_one "$kind" "$nb" "$wl" "$pair" "$conf" "$pport" "${args[@]}"
            done
        done
    done
    for p in $BPIDS; do stop_pid "$p"; done
done

steal_end=$(awk '/^cpu /{ print $9 }' /proc/stat)
load_end=$(cut -d' ' -f1 /proc/loadavg)

# --- report -----------------------------------------------------------------------
{
    echo "| backends | load | tandem-proxy req/s | nutcracker req/s | ratio (median of pairs) | ratio range | p99 µs tandem | p99 µs nutcracker |"
    echo "|---|---|---|---|---|---|---|---|"
    for nb in $BACKENDS; do
        for wl in get90 mget16; do
            sel() { awk -v nb="$nb" -v wl="$wl" -v k="$1" -v f="$2" '
                { split("", kv); for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
                  if (kv["backends"] == nb && kv["workload"] == wl && kv["proxy"] == k) print kv[f] }' "$OUT/results.txt"; }
            ratios=$(paste <(sel tandem rps) <(sel nutcracker rps) | awk '$2 > 0 { printf "%.3f\n", $1 / $2 }')
            printf '| %s | %s | %s | %s | %s | %s–%s | %s | %s |\n' "$nb" \
                "$([ "$wl" = get90 ] && echo "90% get / 10% set" || echo "16-key multi-get")" \
                "$(sel tandem rps | median)" "$(sel nutcracker rps | median)" \
                "$(echo "$ratios" | median)" "$(echo "$ratios" | sort -g | head -1)" \
                "$(echo "$ratios" | sort -g | tail -1)" \
                "$(sel tandem p99_us | median)" "$(sel nutcracker p99_us | median)"
        done
    done
    echo
    echo "Machine: $(nproc) CPUs; load average $load_start at the start, $load_end at the end;" \
         "hypervisor steal $(( (steal_end - steal_start) ))" "ticks over the run."
} | tee "$OUT/report.md"
