#!/usr/bin/env bash
# bench/repl.sh: what replication costs tandemd (issue 4, point 8).
#
# Parts (default: all, in this order):
#   tput     throughput with one replica, as A/B pairs against no replication:
#            A = tandemd alone, B = tandemd master (--repl-port) with one
#            --replica-of replica; same -m/-t/-c, same load (bench/loadgen.c,
#            closed loop, 50 connections, 100k keys, 100 B values), once
#            90% get / 10% set ("mix") and once 100% set ("set"). Pairs
#            alternate which side runs first. Master CPU per op from
#            /proc/PID/stat, replica CPU per op, and how far the replica was
#            behind when the load stopped.
#   lag      replication lag under load: bench/repl_probe.c sets a new key on
#            the master 1000 times a second (open loop) and sees it arrive on
#            a subscriber of the replica's own replication port (no polling);
#            p50/p99/p99.9. Also the master's `stats replication` lag_ms,
#            sampled every 100 ms, and the same probe against the master
#            itself (set, then get on a second connection) as the machine's
#            floor.
#   sync     full sync of 1 million 100 B items to an empty replica: seconds
#            until the replica says synced and holds them all, items/s, MB/s
#            of frames (the master's bytes_sent); REPL_SYNC_RUNS runs on an
#            idle master, then one while 20k sets/s of other keys go on.
#   partial  partial resync: the replica is SIGSTOPped for 2 s (the link
#            survives) and for 7 s (past the 5 s dead-link timeout, so it
#            reconnects and resumes from the write log) under 20k sets/s.
#
# Placement (2 vCPUs): the master (and tandemd alone) on CPU 0, the load
# generator and the probe on CPU 1. The replica runs on CPU 0 too by default
# (REPL_REPLICA_CPUS=0): the server side pays for both ends of the link and
# the load CPU stays clean, the pessimistic case of a replica on the same
# host. REPL_REPLICA_CPUS=0-1 leaves it to the scheduler. The full sync pins
# the replica to CPU 1 (no load runs then), as if on its own machine.
#
# Environment: BENCH_PAIRS (5), BENCH_SECS (4), BENCH_QUICK=1 (2 pairs, 2 s,
# 100k items for sync, at most 15 s with live writes), REPL_SYNC_ITEMS
# (1000000), REPL_SYNC_RUNS (1 idle run; about a second each since 6af374b,
# six minutes before), REPL_SYNC_TIMEOUT (900 s) and
# REPL_SYNC_LIVE_TIMEOUT (60 s): a sync not done by then is recorded as such,
# REPL_LAG_SECS (6), REPL_REPLICA_CPUS (0), TANDEMD (build/tandemd),
# BENCH_DOCS=1 to write the Replication section of docs/BENCHMARKS.md and
# docs/bench-repl.png (default: build/bench-repl/REPLICATION.md only).
# Ports: 42000-42999. Raw results: build/bench-repl/results.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${REPL_OUT:-$ROOT/build/bench-repl}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    PAIRS=${BENCH_PAIRS:-2}; SECS=${BENCH_SECS:-2}; SYNC_ITEMS=${REPL_SYNC_ITEMS:-100000}
    SYNC_RUNS=${REPL_SYNC_RUNS:-1}; LAG_SECS=${REPL_LAG_SECS:-3}
    : "${REPL_SYNC_LIVE_TIMEOUT:=15}"
else
    PAIRS=${BENCH_PAIRS:-5}; SECS=${BENCH_SECS:-4}; SYNC_ITEMS=${REPL_SYNC_ITEMS:-1000000}
    SYNC_RUNS=${REPL_SYNC_RUNS:-1}; LAG_SECS=${REPL_LAG_SECS:-6}
fi
SYNC_TIMEOUT=${REPL_SYNC_TIMEOUT:-900}          # an idle run
SYNC_LIVE_TIMEOUT=${REPL_SYNC_LIVE_TIMEOUT:-60} # the run with live writes
TANDEMD=${TANDEMD:-$ROOT/build/tandemd}
REPLICA_CPUS=${REPL_REPLICA_CPUS:-0}
SERVER_CPU=0
LOAD_CPU=1
CONNS=50
KEYS=100000
COMMON="-m 1024 -t 1 -c 1024"
ALL="tput lag sync partial"
PARTS=${*:-$ALL}
for p in $PARTS; do
    case " $ALL " in *" $p "*) ;; *) echo "repl.sh: unknown part '$p'; choose from: $ALL" >&2; exit 2 ;; esac
done

die() { echo "repl.sh: $*" >&2; exit 1; }
log() { printf '%s repl.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -x "$TANDEMD" ] || die "$TANDEMD is missing: run 'make build/tandemd' (or 'make bench-repl')"
command -v taskset >/dev/null || die "taskset is missing: apt-get install util-linux"
command -v ss >/dev/null || die "ss is missing: apt-get install iproute2"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs; this machine has $(nproc)"

mkdir -p "$OUT/log" "$OUT/runs"
rm -f "$OUT"/runs/* "$OUT"/log/*
LG=$OUT/loadgen
PROBE=$OUT/repl_probe
gcc -O2 -Wall -Wextra -o "$LG" bench/loadgen.c || die "could not build bench/loadgen.c"
# the probe decodes replication frames with the server's own codec
gcc -O2 -Wall -Wextra -Isrc -o "$PROBE" bench/repl_probe.c src/repl/frame.c src/repl/crc32c.c \
    src/core/buf.c -lxxhash -lpthread || die "could not build bench/repl_probe.c"
RES=$OUT/results.txt
: >"$RES"
USER_ARG=""
[ "$(id -u)" = 0 ] && USER_ARG="-u root"
CLK_TCK=$(getconf CLK_TCK)

# --- processes -----------------------------------------------------------------

PIDS=""
cleanup() {
    local p
    for p in $PIDS; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: sets FP to a port in 42000-42999 that no socket uses (ss),
# never one handed out before in this run.
NEXT_PORT=$((42000 + RANDOM % 500))
free_port() {
    local i
    for i in $(seq 200); do
        NEXT_PORT=$((NEXT_PORT + 1)); [ $NEXT_PORT -le 42999 ] || NEXT_PORT=42000
        # not listened on, nor any connection's end (ephemeral ports overlap this range)
        if ! ss -Htan | awk -v p=":$NEXT_PORT" '{ if (substr($4, length($4) - length(p) + 1) == p || substr($5, length($5) - length(p) + 1) == p) f = 1 } END { exit !f }'; then
            FP=$NEXT_PORT; return
        fi
    done
    die "no free port in 42000-42999"
}

# start CPUS NAME ARGS... : sets SPID, SPORT (client port)
start() {
    local cpus=$1 name=$2
    shift 2
    free_port; SPORT=$FP
    # shellcheck disable=SC2086
    taskset -c "$cpus" "$TANDEMD" $USER_ARG -l 127.0.0.1 -p "$SPORT" $COMMON "$@" \
        >"$OUT/log/$name-$SPORT.log" 2>&1 &
    SPID=$!
    PIDS="$PIDS $SPID"
    if ! "$LG" -p "$SPORT" -W 10; then
        cat "$OUT/log/$name-$SPORT.log" >&2
        die "$name did not start on port $SPORT"
    fi
}
start_master() { # CPUS NAME: sets SPID SPORT RPORT (replication port)
    free_port; RPORT=$FP
    start "$1" "$2" --repl-port "$RPORT" --node-id "${3:-1}"
}
start_replica() { # CPUS NAME MASTER_RPORT [NODE]: sets SPID SPORT WPORT (its own repl port)
    free_port; WPORT=$FP
    start "$1" "$2" --replica-of "127.0.0.1:$3" --repl-port "$WPORT" --node-id "${4:-2}" \
        --repl-sync-wait none
}
stop() {
    local pid=$1 i
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# --- measuring -------------------------------------------------------------------

cpu_secs() { awk -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
cpu_busy() { awk -v c="cpu$1" -v hz="$CLK_TCK" '$1 == c { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
cpu_steal() { awk -v c="cpu$1" -v hz="$CLK_TCK" '$1 == c { printf "%.2f", $9 / hz }' /proc/stat; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }
stat_of() { "$LG" -p "$1" -Q | awk -v k="$2" '$1 == "STAT" && $2 == k { print $3 }'; }
ops_of() { "$LG" -p "$1" -Q | awk '$1 == "STAT" && ($2 == "cmd_get" || $2 == "cmd_set") { s += $3 } END { print s + 0 }'; }
# repl_of PORT FIELD: a field of `stats replication` (e.g. downstream_0:lag_records)
repl_of() { "$PROBE" -q "$1" stats replication | awk -v k="$2" '$1 == "STAT" && $2 == k { print $3 }'; }
record() { echo "$*" >>"$RES"; }

# Wait (at most S s) until the master has nothing unacknowledged for its replica.
caught_up() { # MASTER_PORT MAX_SECS: prints seconds waited, or "timeout"
    local t0 now lr
    t0=$(date +%s.%N)
    while :; do
        lr=$(repl_of "$1" downstream_0:lag_records)
        [ "${lr:-1}" = 0 ] && break
        now=$(date +%s.%N)
        if awk -v a="$t0" -v b="$now" -v m="$2" 'BEGIN { exit !(b - a > m) }'; then echo timeout; return; fi
        sleep 0.02
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

preload() { # PORT KEYS
    timeout 300 taskset -c "$LOAD_CPU" "$LG" -p "$1" -c "$CONNS" -k "$2" -v 100 -L -d 0 \
        >/dev/null || die "preload of port $1 failed"
}

# One closed-loop run against PORT; prints key=value fields.
# measure_run LABEL PORT PID REPLICA_PID|- GET_RATIO
measure_run() {
    local port=$2 pid=$3 rpid=$4 g=$5 f=$OUT/runs/$1.txt
    local c0 c1 r0=0 r1=0 o0 o1 u0 u1 s0 s1 w0 w1 t0 t1 lr="-" cu="-"
    o0=$(ops_of "$port"); c0=$(cpu_secs "$pid"); [ "$rpid" = - ] || r0=$(cpu_secs "$rpid")
    u0=$(cpu_busy "$SERVER_CPU"); s0=$(cpu_steal "$SERVER_CPU"); w0=$(cpu_steal "$LOAD_CPU")
    t0=$(date +%s.%N)
    timeout $((SECS + 60)) taskset -c "$LOAD_CPU" "$LG" -p "$port" -c "$CONNS" -k "$KEYS" -v 100 \
        -g "$g" -d "$SECS" >"$f" 2>&1 || { cat "$f" >&2; die "load failed on port $port"; }
    t1=$(date +%s.%N)
    c1=$(cpu_secs "$pid"); [ "$rpid" = - ] || r1=$(cpu_secs "$rpid")
    u1=$(cpu_busy "$SERVER_CPU"); s1=$(cpu_steal "$SERVER_CPU"); w1=$(cpu_steal "$LOAD_CPU")
    o1=$(ops_of "$port")
    if [ "$rpid" != - ]; then
        lr=$(repl_of "$port" downstream_0:lag_records)
        cu=$(caught_up "$port" 60)
    fi
    awk -v c0="$c0" -v c1="$c1" -v r0="$r0" -v r1="$r1" -v o0="$o0" -v o1="$o1" -v t0="$t0" \
        -v t1="$t1" -v u0="$u0" -v u1="$u1" -v s0="$s0" -v s1="$s1" -v w0="$w0" -v w1="$w1" \
        -v lr="$lr" -v cu="$cu" '
        /^(rps|p50_us|p99_us|errors)=/ { printf "%s ", $0 }
        END {
            ops = o1 - o0; wall = t1 - t0
            printf "ops=%d master_cpu=%.2f master_us_op=%.2f replica_cpu=%.2f replica_us_op=%.2f ",
                ops, c1 - c0, (ops ? (c1 - c0) * 1e6 / ops : 0), r1 - r0, (ops ? (r1 - r0) * 1e6 / ops : 0)
            printf "cpu0_util=%.2f steal0_pct=%.1f steal1_pct=%.1f lag_records_at_end=%s catchup_s=%s\n",
                (u1 - u0) / wall, (s1 - s0) / wall * 100, (w1 - w0) / wall * 100, lr, cu
        }' "$f"
}

# --- parts -------------------------------------------------------------------------

part_tput() {
    log "tput: tandemd alone (A) vs master + one replica on CPUs $REPLICA_CPUS (B), $PAIRS pairs of ${SECS}s"
    local la lb apid aport mpid mport rpid w g i order s line
    la=$(loadavg)
    start "$SERVER_CPU" alone; apid=$SPID; aport=$SPORT
    start_master "$SERVER_CPU" master; mpid=$SPID; mport=$SPORT; local mr=$RPORT
    start_replica "$REPLICA_CPUS" replica "$mr"; rpid=$SPID
    preload "$aport" "$KEYS"; preload "$mport" "$KEYS"
    [ "$(caught_up "$mport" 60)" != timeout ] || die "the replica did not catch up after the preload"
    for w in mix set; do
        [ $w = mix ] && g=0.9 || g=0
        for i in $(seq "$PAIRS"); do
            # odd pairs run A first, even pairs B first: drift in the machine
            # does not always favour the same side
            if [ $((i % 2)) = 1 ]; then order="alone repl"; else order="repl alone"; fi
            for s in $order; do
                if [ "$s" = alone ]; then
                    line=$(measure_run "tput-$w-$i-$s" "$aport" "$apid" - "$g") || exit 1
                else
                    line=$(measure_run "tput-$w-$i-$s" "$mport" "$mpid" "$rpid" "$g") || exit 1
                fi
                record "part=tput load=$w pair=$i side=$s replica_cpus=$REPLICA_CPUS $line"
            done
            log "tput $w pair $i/$PAIRS done"
        done
    done
    record "part=tput-items alone=$(stat_of "$aport" curr_items) master=$(stat_of "$mport" curr_items) replica=$(stat_of "$SPORT" curr_items)"
    lb=$(loadavg)
    record "part=loadavg what=tput start=$la end=$lb"
    stop "$rpid"; stop "$mpid"; stop "$apid"
}

# lag_case NAME LOADGEN_ARGS...: background load on the master, probes through it
lag_case() {
    local name=$1 mport=$2 wport=$3
    shift 3
    local bg="" f=$OUT/runs/lag-$name
    if [ $# -gt 0 ]; then
        timeout $((LAG_SECS + 60)) taskset -c "$LOAD_CPU" "$LG" -p "$mport" "$@" -d $((LAG_SECS + 2)) \
            >"$f-load.txt" 2>&1 &
        bg=$!
        sleep 1
    fi
    local la; la=$(loadavg)
    timeout $((LAG_SECS + 60)) taskset -c "$LOAD_CPU" "$PROBE" -m "$mport" -w "$wport" -R 1000 \
        -d "$LAG_SECS" -S -x "lag-$name:" >"$f-probe.txt" 2>&1 || { cat "$f-probe.txt" >&2; die "probe failed"; }
    # the floor: the same probe against the master itself (a get on a second connection)
    timeout 60 taskset -c "$LOAD_CPU" "$PROBE" -m "$mport" -r "$mport" -R 1000 -d 2 \
        -x "self-$name:" >"$f-self.txt" 2>&1 || { cat "$f-self.txt" >&2; die "self probe failed"; }
    if [ -n "$bg" ]; then wait "$bg" || die "background load failed ($name)"; fi
    record "part=lag load=$name loadavg_start=$la loadavg_end=$(loadavg) $(tr '\n' ' ' <"$f-probe.txt")" \
        "$(awk -F= '/^lag_us_p(50|99|999)=/ { printf "self_%s=%s ", $1, $2 }' "$f-self.txt")" \
        "$(awk -F= '/^(rps|send_lag_p99_us)=/ { printf "bg_%s=%s ", $1, $2 }' "$f-load.txt" 2>/dev/null)"
}

part_lag() {
    log "lag: probe 1000 sets/s on the master, seen by a subscriber of the replica, ${LAG_SECS}s per load"
    start_master "$SERVER_CPU" lag-master; local mpid=$SPID mport=$SPORT mr=$RPORT
    start_replica "$REPLICA_CPUS" lag-replica "$mr"; local rpid=$SPID wport=$WPORT
    preload "$mport" "$KEYS"
    [ "$(caught_up "$mport" 60)" != timeout ] || die "the replica did not catch up after the preload"
    lag_case idle "$mport" "$wport"
    lag_case open-mix-20k "$mport" "$wport" -c "$CONNS" -k "$KEYS" -v 100 -g 0.9 -R 20000
    lag_case open-set-20k "$mport" "$wport" -c "$CONNS" -k "$KEYS" -v 100 -g 0 -R 20000
    lag_case closed-mix "$mport" "$wport" -c "$CONNS" -k "$KEYS" -v 100 -g 0.9
    lag_case closed-set "$mport" "$wport" -c "$CONNS" -k "$KEYS" -v 100 -g 0
    stop "$rpid"; stop "$mpid"
}

part_sync() {
    log "sync: full sync of $SYNC_ITEMS x 100 B items to an empty replica, $SYNC_RUNS runs"
    local la; la=$(loadavg)
    start_master "$SERVER_CPU" sync-master; local mpid=$SPID mport=$SPORT mr=$RPORT
    local t0; t0=$(date +%s.%N)
    preload "$mport" "$SYNC_ITEMS"
    local n; n=$(stat_of "$mport" curr_items)
    record "part=sync-load items=$n load_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') master_bytes=$(stat_of "$mport" bytes)"
    local i bg run
    # the idle runs, then one with 20k sets/s of other keys going on
    for i in $(seq $((SYNC_RUNS + 1))); do
        local c0 ts tsync="" titems="" synced items rpid rport dl
        bg=""; run=$i
        if [ "$i" -gt "$SYNC_RUNS" ]; then
            run="$i-live-writes"
            timeout 400 taskset -c "$LOAD_CPU" "$LG" -p "$mport" -c 10 -k 100000000 -v 100 -S -R 20000 \
                -d 300 -x "live$i:" >"$OUT/runs/sync-$i-load.txt" 2>&1 &
            bg=$!
            sleep 0.5
        fi
        c0=$(cpu_secs "$mpid")
        ts=$(date +%s.%N)
        start_replica "$LOAD_CPU" "sync-replica-$i" "$mr" $((10 + i)); rpid=$SPID; rport=$SPORT
        # a bounded wait: past it the run is recorded as unfinished, with how far it got
        local limit=$SYNC_TIMEOUT timed_out=0
        [ -n "$bg" ] && limit=$SYNC_LIVE_TIMEOUT
        dl=$(( $(date +%s) + limit ))
        while [ -z "$tsync" ] || [ -z "$titems" ]; do
            if [ "$(date +%s)" -ge "$dl" ]; then
                timed_out=1
                log "sync run $run: not finished after ${limit}s; recording how far it got"
                break
            fi
            synced=$(repl_of "$rport" upstream_0:synced)
            [ -z "$tsync" ] && [ "$synced" = yes ] && tsync=$(date +%s.%N)
            items=$(stat_of "$rport" curr_items)
            [ -z "$titems" ] && [ "${items:-0}" -ge "$n" ] && titems=$(date +%s.%N)
            sleep 0.02
        done
        local bytes recs full r1 c1
        bytes=$(repl_of "$mport" downstream_0:bytes_sent)
        recs=$(repl_of "$mport" downstream_0:records_sent)
        full=$(repl_of "$rport" upstream_0:full_syncs)
        c1=$(cpu_secs "$mpid"); r1=$(cpu_secs "$rpid")
        if [ -n "$bg" ]; then kill "$bg" 2>/dev/null || true; wait "$bg" 2>/dev/null || true; fi
        local now; now=$(date +%s.%N)
        items=$(stat_of "$rport" curr_items)
        # unfinished: the rate is what the replica got so far
        record "part=sync run=$run timed_out=$timed_out replica_items=$items $(awk -v ts="$ts" -v a="${tsync:-$now}" -v b="${titems:-$now}" -v n="$n" -v by="$bytes" \
            -v rc="$recs" -v c0="$c0" -v c1="$c1" -v r1="$r1" -v full="$full" -v got="$items" -v to="$timed_out" 'BEGIN {
            t = (a > b ? a : b) - ts
            printf "items=%d secs=%.2f synced_s=%.2f items_s=%.2f items_per_s=%.0f bytes_sent=%d records_sent=%d mb_per_s=%.1f master_cpu=%.2f replica_cpu=%.2f full_syncs=%s",
                n, t, a - ts, b - ts, (to ? got : n) / t, by, rc, by / t / 1e6, c1 - c0, r1, full }')"
        log "sync run $run done"
        stop "$rpid"
        sleep 0.5 # the master notices the closed link before the next replica connects
    done
    record "part=loadavg what=sync start=$la end=$(loadavg)"
    stop "$mpid"
}

part_partial() {
    # the replica subscribes while the master is empty and gets the data as
    # live records (a full sync of a loaded master is slow: see part sync)
    local mpid mport mr keys=$KEYS
    start_master "$SERVER_CPU" partial-master; mpid=$SPID; mport=$SPORT; mr=$RPORT
    start_replica "$REPLICA_CPUS" partial-replica "$mr" 30; local rpid=$SPID rport=$SPORT
    preload "$mport" "$keys"
    [ "$(caught_up "$mport" 120)" != timeout ] || die "the replica did not sync"
    local stopfor
    for stopfor in 2 7; do
        log "partial: replica SIGSTOPped for ${stopfor}s under 20k sets/s"
        local la; la=$(loadavg)
        local p0 f0 last0 pos0
        p0=$(repl_of "$rport" upstream_0:partial_syncs); f0=$(repl_of "$rport" upstream_0:full_syncs)
        timeout $((stopfor + 60)) taskset -c "$LOAD_CPU" "$LG" -p "$mport" -c "$CONNS" -k "$keys" -v 100 \
            -g 0 -R 20000 -d $((stopfor + 6)) -x "key:" >"$OUT/runs/partial-$stopfor-load.txt" 2>&1 &
        local bg=$!
        sleep 1
        pos0=$(repl_of "$rport" upstream_0:resume_pos)
        kill -STOP "$rpid"
        sleep "$stopfor"
        local missed tc t1 cu
        missed=$(( $(repl_of "$mport" log_last) - pos0 ))
        tc=$(date +%s.%N)
        kill -CONT "$rpid"
        # caught up: the replica's resume position reaches what the master had logged
        last0=$(repl_of "$mport" log_last)
        local dl=$(( $(date +%s) + 60 )) rp=0
        while [ "$(date +%s)" -lt "$dl" ]; do
            rp=$(repl_of "$rport" upstream_0:resume_pos)
            [ "${rp:-0}" -ge "$last0" ] && break
            sleep 0.01
        done
        t1=$(date +%s.%N)
        wait "$bg" || die "partial: background load failed"
        cu=$(caught_up "$mport" 60)
        record "part=partial stop_s=$stopfor records_behind=$missed $(awk -v a="$tc" -v b="$t1" -v m="$missed" \
            'BEGIN { printf "catchup_s=%.3f records_per_s=%.0f", b - a, m / (b - a) }') resume_reached=$rp target=$last0 partial_syncs=$(( $(repl_of "$rport" upstream_0:partial_syncs) - p0 )) full_syncs=$(( $(repl_of "$rport" upstream_0:full_syncs) - f0 )) connects=$(repl_of "$rport" upstream_0:connects) final_catchup_s=$cu loadavg_start=$la loadavg_end=$(loadavg) $(awk -F= '/^(rps|send_lag_p99_us)=/ { printf "bg_%s=%s ", $1, $2 }' "$OUT/runs/partial-$stopfor-load.txt")"
        sleep 1
    done
    record "part=partial-items master=$(stat_of "$mport" curr_items) replica=$(stat_of "$rport" curr_items)"
    stop "$rpid"; stop "$mpid"
}

# --- main -------------------------------------------------------------------------

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ] && COMMIT="$COMMIT (working tree: uncommitted changes in src/)"
START=$(date +%s)
record "part=machine date=$(date -u '+%Y-%m-%dT%H:%MZ') nproc=$(nproc) kernel=$(uname -r) commit=${TANDEMD_COMMIT:-$COMMIT} pairs=$PAIRS secs=$SECS replica_cpus=$REPLICA_CPUS loadavg=$(loadavg)"
for p in $PARTS; do "part_$p"; done
record "part=end elapsed_s=$(( $(date +%s) - START )) loadavg=$(loadavg)"
log "done in $(( $(date +%s) - START ))s; results in $RES"

if [ "${BENCH_DOCS:-0}" = 1 ]; then
    bench/repl_report.sh "$RES" docs/BENCHMARKS.md docs/bench-repl.png
else
    bench/repl_report.sh "$RES" "$OUT/REPLICATION.md" "$OUT/bench-repl.png"
fi
