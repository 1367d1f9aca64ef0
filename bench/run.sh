#!/usr/bin/env bash
# bench/run.sh: tandemd against Debian's memcached 1.6.18, side by side.
#
# Every measurement is a set of A/B pairs: the same load against tandemd (A)
# and against memcached (B), one after the other, the order alternating from
# pair to pair. Both are started with the same -m, -t and -c, the server
# pinned to CPU 0 and the load generator to CPU 1. Each
# pair gives a ratio tandem/memcached; the median ratio over the pairs is the
# result, and the spread of the ratios is the noise. Nothing here is a test:
# targets are reported as met or missed, never asserted.
#
# Usage: bench/run.sh [WORKLOAD...]          (default: every workload)
#   a        90% get / 10% set, 50 connections, no pipelining (memcaslap)
#   b        the same with 16-key multi-gets (memcaslap, and loadgen -M 16)
#   c        pipelined gets, depth 16 (loadgen -P 16)
#   d        one connection, no pipelining: the latency floor (loadgen -c 1)
#   e        set-only flood past -m: the eviction path (loadgen -S)
#   f        fixed request rate, open loop: p50/p99/p99.9 (loadgen -R)
#   rss      RSS after loading 1 million 100 B items
#   scale    -t 1 against -t 2 on the pipelined load
#   resize   hash-table growth under load (-o hashpower=12)
#   sweep    tandemd with and without its expiry sweep (a diagnostic)
#   floor    bench/floor.c, a server that does no work, against memcached on
#            loads a, b and c: the least CPU per op any epoll server can reach;
#            and the same built on io_uring (-DFLOOR_URING) on loads a and b
#   profile  perf profile of tandemd (and memcached) on loads a and c
#
# Environment:
#   BENCH_QUICK=1   a ~3-minute smoke run (2 pairs, 1 s runs, 100 B values)
#   BENCH_PAIRS=N   A/B pairs per measurement (default 5; quick 2)
#   BENCH_SECS=S    seconds per measured run, whole seconds (default 4; quick 1)
#   BENCH_RATE=R    requests/s for workload f (default 20000)
#   BENCH_QUIET_WAIT=S  wait at most S s for other processes to go quiet
#                   before each pair (default 3)
#   BENCH_STEAL_MAX=P   measure a pair again (once) if the hypervisor stole
#                   more than P% of a CPU during it (default 20)
#   BENCH_DOCS=0|1  write docs/BENCHMARKS.md and docs/bench-*.png
#                   (default 1 for a full run of every workload, else 0;
#                   a partial or quick run writes build/bench/BENCHMARKS.md)
#   TANDEMD, MEMCACHED  the two servers (build/tandemd, /usr/bin/memcached)
#
# Raw results: build/bench/results.txt, one "key=value ..." line per run;
# bench/report.sh turns them into the markdown report and plots.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/bench
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    PAIRS=${BENCH_PAIRS:-2}
    SECS=${BENCH_SECS:-1}
    SIZES="100"
else
    PAIRS=${BENCH_PAIRS:-5}
    SECS=${BENCH_SECS:-4}
    SIZES="100 4096"
fi
RATE=${BENCH_RATE:-20000}
TANDEMD=${TANDEMD:-$ROOT/build/tandemd}
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
SERVER_CPU=0
LOAD_CPU=1
STEAL_MAX=${BENCH_STEAL_MAX:-20}
CONNS=50
KEYS=100000
# Same memory, threads and connection limit for both servers.
COMMON="-m 1024 -t 1 -c 1024"

ALL="a b c d e f rss scale resize sweep floor profile"
if [ $# -gt 0 ]; then WORKLOADS="$*"; else WORKLOADS=$ALL; fi
for w in $WORKLOADS; do
    case " $ALL " in *" $w "*) ;; *)
        echo "bench: unknown workload '$w'; choose from: $ALL" >&2; exit 2 ;;
    esac
done
if [ -z "${BENCH_DOCS:-}" ]; then
    if [ "$QUICK" != 1 ] && [ "$WORKLOADS" = "$ALL" ]; then BENCH_DOCS=1; else BENCH_DOCS=0; fi
fi

die() { echo "bench: $*" >&2; exit 1; }
log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -x "$TANDEMD" ] || die "$TANDEMD is missing: run 'make build/tandemd' (or 'make bench')"
[ -x "$MEMCACHED" ] || die "$MEMCACHED is missing: apt-get install memcached (or 'make bench')"
command -v memcaslap >/dev/null || die "memcaslap is missing: apt-get install libmemcached-tools"
command -v taskset >/dev/null || die "taskset is missing: apt-get install util-linux"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, load on CPU 1); this machine has $(nproc)"

mkdir -p "$OUT/log" "$OUT/runs"
LG=$OUT/loadgen
gcc -O2 -Wall -Wextra -o "$LG" bench/loadgen.c || die "could not build bench/loadgen.c"
FLOOR=$OUT/floor
gcc -O2 -Wall -Wextra -o "$FLOOR" bench/floor.c || die "could not build bench/floor.c"
FLOOR_URING=$OUT/floor-uring
gcc -O2 -Wall -Wextra -DFLOOR_URING -o "$FLOOR_URING" bench/floor.c -luring \
    || die "could not build bench/floor.c on io_uring (liburing-dev: 'make bench' installs it)"
: > "$OUT/results.txt"
rm -f "$OUT"/runs/* "$OUT"/log/*

USER_ARG=""
[ "$(id -u)" = 0 ] && USER_ARG="-u root"
CLK_TCK=$(getconf CLK_TCK)

# --- servers ------------------------------------------------------------------

PIDS=""
NEXT_PORT=23100
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server KIND EXTRA_ARGS... : sets SPID and SPORT. CPUS overrides pinning.
start_server() {
    local kind=$1 bin
    shift
    case $kind in
        tandem) bin=$TANDEMD ;;
        memcached) bin=$MEMCACHED ;;
        floor) bin=$FLOOR ;;
        floor-uring) bin=$FLOOR_URING ;;
        *) die "unknown server $kind" ;;
    esac
    SPORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    [ $NEXT_PORT -le 23999 ] || NEXT_PORT=23100
    # shellcheck disable=SC2086
    taskset -c "${CPUS:-$SERVER_CPU}" "$bin" $USER_ARG -l 127.0.0.1 -p "$SPORT" "$@" \
        >"$OUT/log/$kind-$SPORT.log" 2>&1 &
    SPID=$!
    PIDS="$PIDS $SPID"
    if ! "$LG" -p "$SPORT" -W 10; then
        cat "$OUT/log/$kind-$SPORT.log" >&2
        die "$kind did not start on port $SPORT"
    fi
}

stop_server() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Busy seconds of CPU N so far, whoever ran there (steal counts as busy).
cpu_busy() { awk -v c="cpu$1" -v hz="$CLK_TCK" '$1 == c { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }

# Steal seconds of CPU N so far: time the hypervisor ran someone else.
cpu_steal() { awk -v c="cpu$1" -v hz="$CLK_TCK" '$1 == c { printf "%.2f", $9 / hz }' /proc/stat; }

# The machine is shared: wait (at most BENCH_QUIET_WAIT seconds) until the
# other processes use less than a fifth of a CPU, so a pair is not measured
# across someone else's test run. The busy fraction seen is recorded.
wait_quiet() {
    local deadline=$(( $(date +%s) + ${BENCH_QUIET_WAIT:-3} )) a0 a1 b0 b1 busy
    while :; do
        a0=$(cpu_busy 0); b0=$(cpu_busy 1); sleep 0.5; a1=$(cpu_busy 0); b1=$(cpu_busy 1)
        busy=$(awk -v a="$a0" -v b="$a1" -v c="$b0" -v d="$b1" 'BEGIN { printf "%.2f", (b - a + d - c) / 0.5 }')
        awk -v x="$busy" 'BEGIN { exit !(x < 0.2) }' && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "the machine stays busy (${busy} CPUs used by others); measuring anyway"
            break
        fi
    done
    QUIET=$busy
}

# Server CPU seconds so far (utime + stime of every thread).
cpu_secs() { awk -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
stat_of() { "$LG" -p "$1" -Q | awk -v k="$2" '$1 == "STAT" && $2 == k { print $3 }'; }
# Operations as the server counts them: keys fetched plus keys stored.
ops_of() { "$LG" -p "$1" -Q | awk '$1 == "STAT" && ($2 == "cmd_get" || $2 == "cmd_set") { s += $3 } END { print s + 0 }'; }

# measure PID PORT RUNFILE CMD... : run one load and print "key=value" fields:
# the load's own output plus server CPU, server-counted ops and CPU per op.
measure() {
    local pid=$1 port=$2 runfile=$3
    shift 3
    local c0 c1 o0 o1 e0 e1 t0 t1
    local u0 u1 v0 v1
    o0=$(ops_of "$port"); e0=$(stat_of "$port" evictions); c0=$(cpu_secs "$pid")
    u0=$(cpu_busy "$SERVER_CPU"); v0=$(cpu_busy "$LOAD_CPU")
    local s0 s1 w0 w1
    s0=$(cpu_steal "$SERVER_CPU"); w0=$(cpu_steal "$LOAD_CPU")
    t0=$(date +%s.%N)
    if ! timeout $((SECS + 120)) taskset -c "$LOAD_CPU" "$@" >"$runfile" 2>&1; then
        cat "$runfile" >&2
        die "load failed: $*"
    fi
    t1=$(date +%s.%N)
    grep -q -e '^rps=' -e 'TPS:' "$runfile" || { cat "$runfile" >&2; die "load printed no result: $*"; }
    c1=$(cpu_secs "$pid"); u1=$(cpu_busy "$SERVER_CPU"); v1=$(cpu_busy "$LOAD_CPU")
    s1=$(cpu_steal "$SERVER_CPU"); w1=$(cpu_steal "$LOAD_CPU")
    o1=$(ops_of "$port"); e1=$(stat_of "$port" evictions)
    awk -v c0="$c0" -v c1="$c1" -v o0="$o0" -v o1="$o1" -v t0="$t0" -v t1="$t1" \
        -v u0="$u0" -v u1="$u1" -v v0="$v0" -v v1="$v1" -v quiet="${QUIET:-}" \
        -v s0="$s0" -v s1="$s1" -v w0="$w0" -v w1="$w1" \
        -v e0="${e0:-0}" -v e1="${e1:-0}" -v rss="$(rss_mib "$pid")" '
        /^Run time:/ { for (i = 1; i < NF; i++) if ($i == "TPS:") printf "rps=%s ", $(i + 1) }
        /^[a-z_0-9]+=/ { printf "%s ", $0 }
        END {
            ops = o1 - o0; cpu = c1 - c0; wall = t1 - t0
            printf "server_cpu=%.2f server_ops=%d cpu_us_op=%.3f server_util=%.2f evictions=%d rss_mib=%s ",
                cpu, ops, (ops > 0 ? cpu * 1e6 / ops : 0), (wall > 0 ? cpu / wall : 0), e1 - e0, rss
            # cpu0_busy - server_util: other work on the server CPU (softirqs, other users)
            printf "cpu0_busy=%.2f cpu1_busy=%.2f others_before=%s ", (u1 - u0) / wall, (v1 - v0) / wall, quiet
            # all of CPU 0 per op: adds the softirq network work that the
            # kernel does not charge to the server process (and any noise)
            printf "cpu0_us_op=%.3f ", (ops > 0 ? (u1 - u0) * 1e6 / ops : 0)
            printf "steal0_pct=%.1f steal1_pct=%.1f\n", (s1 - s0) / wall * 100, (w1 - w0) / wall * 100
        }' "$runfile"
}

# record GROUP VARIANT PAIR SERVER FIELDS
record() { echo "group=$1 variant=$2 pair=$3 server=$4 $5" >>"$OUT/results.txt"; }
# (measure runs in a $(...) subshell, where die only ends the subshell:
# callers check its status.)

memcaslap_cfg() {
    local f=$OUT/memcaslap-$1.cfg
    printf 'key\n16 16 1\nvalue\n%s %s 1\ncmd\n0 0.1\n1 0.9\n' "$1" "$1" >"$f"
    echo "$f"
}

# memcaslap_pairs GROUP VALUE_SIZE [ARGS...]: pairs of the memcaslap load of
# workload a (ARGS add to it: -d 16 makes it workload b's multi-get).
memcaslap_pairs() {
    local group=$1 v=$2
    shift 2
    pairs "$group" "${v}B" memcaslap -s 127.0.0.1:@PORT@ -T 1 -c "$CONNS" \
        -w "$((KEYS / CONNS / 1000))k" -t "${SECS}s" "$@" -F "$(memcaslap_cfg "$v")"
}

# What pairs() calls its two servers, A (TPID) and B (MPID).
A_NAME=tandem
B_NAME=memcached

# Both servers, fresh, with the given args: sets TPID TPORT MPID MPORT.
start_both() {
    start_server tandem "$@"; TPID=$SPID; TPORT=$SPORT
    start_server memcached "$@"; MPID=$SPID; MPORT=$SPORT
}
stop_both() { stop_server "$TPID"; stop_server "$MPID"; }

preload() { # PORT VALUE_SIZE
    timeout 120 taskset -c "$LOAD_CPU" "$LG" -p "$1" -c "$CONNS" -k "$KEYS" -v "$2" -L -d 0 \
        >/dev/null || die "preload of port $1 failed"
}

# pairs GROUP VARIANT CMD... : PAIRS A/B runs of CMD, in which @PORT@ stands
# for the server's port and @PAIR@ for the pair number.
pairs() {
    local group=$1 variant=$2 i s pid port try lines worst
    shift 2
    for i in $(seq "$PAIRS"); do
        # A pair during which the hypervisor stole more than STEAL_MAX % of
        # either CPU is measured once more, and the second attempt is kept
        # whatever it saw (the steal is in the results either way).
        for try in 1 2; do
            wait_quiet
            lines=""
            # Odd pairs run A first, even pairs B first: the same binary on
            # both sides measured 0.86-1.01x when A always went first.
            local order="$A_NAME $B_NAME"
            [ $((i % 2)) = 1 ] || order="$B_NAME $A_NAME"
            for s in $order; do
                if [ "$s" = "$A_NAME" ]; then pid=$TPID; port=$TPORT; else pid=$MPID; port=$MPORT; fi
                local args=() a
                for a in "$@"; do a=${a//@PORT@/$port}; args+=("${a//@PAIR@/$i}"); done
                local m
                m=$(measure "$pid" "$port" "$OUT/runs/$group-$variant-$i-$s.txt" "${args[@]}") || exit 1
                lines="${lines}group=$group variant=$variant pair=$i server=$s attempt=$try $m
"
            done
            worst=$(printf '%s' "$lines" | awk '{ for (k = 1; k <= NF; k++)
                if ($k ~ /^steal[01]_pct=/) { split($k, kv, "="); if (kv[2] + 0 > m) m = kv[2] + 0 } }
                END { printf "%.0f", m }')
            if [ "$try" = 1 ] && [ "$worst" -gt "$STEAL_MAX" ]; then
                log "$group $variant pair $i: the hypervisor stole ${worst}% of a CPU; measuring the pair again"
                continue
            fi
            break
        done
        printf '%s' "$lines" >>"$OUT/results.txt"
        log "$group $variant pair $i/$PAIRS done"
    done
}

# --- workloads ---------------------------------------------------------------------

wl_a() {
    local v
    for v in $SIZES; do
        log "a: 90/10 get/set, ${v} B, $CONNS connections, no pipelining (memcaslap)"
        start_both $COMMON
        memcaslap_pairs a "$v"
        stop_both
    done
}

wl_b() {
    local v
    for v in $SIZES; do
        log "b: 16-key multi-get, ${v} B, $CONNS connections (memcaslap -d 16, loadgen -M 16)"
        start_both $COMMON
        preload "$TPORT" "$v"; preload "$MPORT" "$v"
        memcaslap_pairs b "$v" -d 16
        pairs b-loadgen "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v "$v" -M 16 -d "$SECS"
        stop_both
    done
}

wl_c() {
    local v
    for v in $SIZES; do
        log "c: pipelined 90/10, depth 16, ${v} B, $CONNS connections (loadgen -P 16)"
        start_both $COMMON
        preload "$TPORT" "$v"; preload "$MPORT" "$v"
        pairs c "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v "$v" -P 16 -d "$SECS"
        stop_both
    done
}

wl_d() {
    log "d: one connection, no pipelining, 100 B (loadgen -c 1)"
    start_both $COMMON
    preload "$TPORT" 100; preload "$MPORT" 100
    pairs d 100B "$LG" -p @PORT@ -c 1 -k "$KEYS" -v 100 -d "$SECS"
    stop_both
}

wl_e() {
    local v
    for v in $SIZES; do
        log "e: set-only flood past -m 64, ${v} B (loadgen -S -P 8)"
        start_both -m 64 -t 1 -c 1024
        # Fill past the limit first, so every measured run is in steady eviction.
        local fill=$((256 * 1024 * 1024 / (v + 60)))
        for p in "$TPORT" "$MPORT"; do
            timeout 300 taskset -c "$LOAD_CPU" "$LG" -p "$p" -c "$CONNS" -k "$fill" -v "$v" \
                -x fill: -L -d 0 >/dev/null || die "flood fill failed"
        done
        pairs e "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k 100000000 -v "$v" -S -P 8 -d "$SECS" \
            -x "flood@PAIR@:"
        stop_both
    done
}

wl_f() {
    local v
    for v in $SIZES; do
        log "f: fixed rate $RATE req/s, 90/10, ${v} B, $CONNS connections, open loop (loadgen -R)"
        start_both $COMMON
        preload "$TPORT" "$v"; preload "$MPORT" "$v"
        pairs f "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v "$v" -R "$RATE" -Y 2000 \
            -d $((SECS + 1))
        stop_both
    done
}

wl_rss() {
    local i s pid port base n=1000000
    [ "$QUICK" = 1 ] && n=200000
    log "rss: RSS after loading $n items of 100 B"
    for i in $(seq "$PAIRS"); do
        for s in tandem memcached; do
            start_server $s $COMMON
            pid=$SPID; port=$SPORT
            base=$(rss_mib "$pid")
            timeout 300 taskset -c "$LOAD_CPU" "$LG" -p "$port" -c "$CONNS" -k "$n" -v 100 -L -d 0 \
                >"$OUT/runs/rss-$i-$s.txt" || die "rss load failed"
            sleep 0.5
            local rss items bytes i0 i1
            rss=$(rss_mib "$pid"); items=$(stat_of "$port" curr_items); bytes=$(stat_of "$port" bytes)
            # CPU the server burns on its own while idle with these items (background work).
            i0=$(cpu_secs "$pid"); sleep 3; i1=$(cpu_secs "$pid")
            # key "key:" + 10 digits = 14 B, value 100 B: 114 B of payload per item.
            record rss "${n}x100B" "$i" $s "$(awk -v r="$rss" -v b="$base" -v n="$items" -v by="$bytes" \
                -v i0="$i0" -v i1="$i1" \
                'BEGIN { printf "rss_mib=%s base_mib=%s items=%d stat_bytes=%d bytes_per_item=%.1f overhead_per_item=%.1f idle_cpu_pct=%.2f",
                    r, b, n, by, r * 1048576 / n, (r - b) * 1048576 / n - 114, (i1 - i0) / 3 * 100 }')"
            stop_server "$pid"
        done
        log "rss pair $i/$PAIRS done"
    done
}

wl_scale() {
    local t
    for t in 1 2; do
        log "scale: -t $t, pipelined 90/10 depth 16, 100 B (server on CPUs $([ $t = 1 ] && echo 0 || echo 0-1))"
        # -t 2 needs both CPUs, so the server shares CPU 1 with the load there.
        if [ $t = 2 ]; then CPUS=0-1; else CPUS=0; fi
        start_both -m 1024 -t "$t" -c 1024
        unset CPUS
        preload "$TPORT" 100; preload "$MPORT" 100
        pairs scale "t$t" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v 100 -P 16 -d "$SECS"
        stop_both
    done
}

wl_resize() {
    local hp i s pid port rate=25000 secs=8 rp=3
    [ "$QUICK" = 1 ] && { secs=3; rp=1; }
    for hp in 12 22; do
        log "resize: hashpower=$hp, open-loop sets of new keys at $rate/s for ${secs}s"
        for i in $(seq $rp); do
            wait_quiet
            for s in tandem memcached; do
                start_server $s -m 1024 -t 1 -c 1024 -o hashpower=$hp
                pid=$SPID; port=$SPORT
                local h0 h1
                h0=$(stat_of "$port" hash_power_level)
                local m
                m=$(measure "$pid" "$port" "$OUT/runs/resize-hp$hp-$i-$s.txt" \
                    "$LG" -p "$port" -c "$CONNS" -k 100000000 -v 100 -S -R "$rate" -Y 2000 -d "$secs" -i 0.1) \
                    || exit 1
                record resize "hp$hp" "$i" $s "$m hp_start=$h0 hp_end=$(stat_of "$port" hash_power_level)"
                stop_server "$pid"
            done
            log "resize hp$hp pair $i/$rp done"
        done
    done
}

# Not a comparison with memcached: tandemd against itself with its expiry
# sweep off (-o no_lru_crawler), to price the background maintenance thread
# for the optimisation notes. A = sweep off, B = default.
wl_sweep() {
    log "sweep: tandemd -o no_lru_crawler (A) against tandemd default (B), 100 B"
    A_NAME=tandem-nosweep; B_NAME=tandem
    start_server tandem $COMMON -o no_lru_crawler; TPID=$SPID; TPORT=$SPORT
    start_server tandem $COMMON; MPID=$SPID; MPORT=$SPORT
    preload "$TPORT" 100; preload "$MPORT" 100
    pairs sweep pipelined "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v 100 -P 16 -d "$SECS"
    pairs sweep fixed-rate "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v 100 -R "$RATE" -Y 2000 -d $((SECS + 1))
    stop_both
    A_NAME=tandem; B_NAME=memcached
}

# Not a comparison of two real servers: bench/floor.c (A), which parses the
# requests and answers every get with a canned value of the right size but
# stores nothing, against memcached (B). Its CPU per op is the floor of
# loads a, b and c for a server with this I/O model on this machine; the
# report sets tandemd's ratios beside it. A = floor, B = memcached.
wl_floor() {
    local v
    A_NAME=floor
    for v in $SIZES; do
        log "floor: bench/floor.c against memcached, ${v} B, loads a, b and c"
        start_server floor $COMMON -V "$v"; TPID=$SPID; TPORT=$SPORT
        start_server memcached $COMMON; MPID=$SPID; MPORT=$SPORT
        preload "$MPORT" "$v"
        memcaslap_pairs floor-a "$v"
        memcaslap_pairs floor-b "$v" -d 16
        pairs floor-b-loadgen "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v "$v" -M 16 -d "$SECS"
        pairs floor-c "${v}B" "$LG" -p @PORT@ -c "$CONNS" -k "$KEYS" -v "$v" -P 16 -d "$SECS"
        stop_server "$TPID"
        # The same floor on io_uring, for the two CPU-per-op targets.
        A_NAME=floor-uring
        start_server floor-uring $COMMON -V "$v"; TPID=$SPID; TPORT=$SPORT
        memcaslap_pairs floor-uring-a "$v"
        memcaslap_pairs floor-uring-b "$v" -d 16
        A_NAME=floor
        stop_both
    done
    A_NAME=tandem
}

wl_profile() {
    if ! command -v perf >/dev/null || ! perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
        log "profile: perf cannot sample here; skipped (try valgrind --tool=callgrind by hand)"
        return 0
    fi
    local s load pid port
    for load in a c; do
        for s in tandem memcached; do
            start_server $s $COMMON
            pid=$SPID; port=$SPORT
            preload "$port" 100
            local lgargs=(-p "$port" -c "$CONNS" -k "$KEYS" -v 100 -d "$((SECS + 2))")
            [ $load = c ] && lgargs+=(-P 16)
            log "profile: $s under load $load"
            timeout $((SECS + 60)) taskset -c "$LOAD_CPU" "$LG" "${lgargs[@]}" >/dev/null &
            local lpid=$!
            sleep 1
            timeout $((SECS + 30)) perf record -q -e cpu-clock -F 2000 -g -p "$pid" \
                -o "$OUT/perf-$load-$s.data" -- sleep "$SECS" >/dev/null 2>&1 || true
            wait $lpid || true
            # System calls per operation, counted by tracepoints (not sampled).
            lgargs[${#lgargs[@]}]=-d; lgargs[${#lgargs[@]}]=3
            local o0 o1 ev="syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,context-switches"
            o0=$(ops_of "$port")
            timeout 30 perf stat -x, -e "$ev" -p "$pid" -o "$OUT/syscalls-$load-$s.raw" -- sleep 3.5 \
                >/dev/null 2>&1 &
            local ppid=$!
            sleep 0.2
            timeout 60 taskset -c "$LOAD_CPU" "$LG" "${lgargs[@]}" >/dev/null || true
            wait $ppid || true
            o1=$(ops_of "$port")
            awk -F, -v n=$((o1 - o0)) '$3 ~ /syscalls|context/ && n > 0 {
                sub(/syscalls:sys_enter_/, "", $3); printf "%s %.3f\n", $3, $1 / n }' \
                "$OUT/syscalls-$load-$s.raw" >"$OUT/syscalls-$load-$s.txt" 2>/dev/null || true
            perf report -i "$OUT/perf-$load-$s.data" --stdio --no-children --sort dso,symbol \
                --percent-limit 0.7 -g none 2>/dev/null \
                | awk '$1 ~ /%$/ { printf "%7s  %-18s %s\n", $1, $2, $4 }' \
                | head -40 >"$OUT/profile-$load-$s.txt" || true
            perf report -i "$OUT/perf-$load-$s.data" --stdio --no-children --sort dso -g none 2>/dev/null \
                | awk '$1 ~ /%$/ { printf "%7s  %s\n", $1, $2 }' | head -8 >"$OUT/profile-$load-$s-dso.txt" || true
            stop_server "$pid"
        done
    done
}

# --- main --------------------------------------------------------------------------

# The tree tandemd was built from, taken now: others may commit during the run.
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ] && COMMIT="$COMMIT + uncommitted changes in src/"
log "workloads: $WORKLOADS; $PAIRS pairs of ${SECS}s runs; results in $OUT"
START=$(date +%s)
for w in $WORKLOADS; do "wl_$w"; done
log "all workloads done in $(( $(date +%s) - START ))s"

{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "memcached=$($MEMCACHED -V 2>&1 | head -1)"
    echo "tandemd=$($TANDEMD -V 2>&1 | head -1)"
    echo "commit=$COMMIT"
    echo "memcaslap=$(dpkg-query -W -f='libmemcached-tools ${Version}' libmemcached-tools 2>/dev/null)"
    echo "gcc=$(gcc -dumpfullversion)"
    echo "pairs=$PAIRS"
    echo "secs=$SECS"
    echo "rate=$RATE"
    echo "quick=$QUICK"
    echo "workloads=$WORKLOADS"
    echo "elapsed=$(( $(date +%s) - START ))"
} >"$OUT/machine.txt"

if [ "$BENCH_DOCS" = 1 ]; then
    bench/report.sh "$OUT" docs/BENCHMARKS.md docs
else
    bench/report.sh "$OUT" "$OUT/BENCHMARKS.md" "$OUT"
fi
