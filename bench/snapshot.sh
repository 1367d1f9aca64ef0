#!/usr/bin/env bash
# bench/snapshot.sh: in-server snapshots (--snapshot-dir) on 1 million items.
#
# Measures, per round (BENCH_PAIRS rounds, medians reported):
#   snapshot  rate of one `snapshot` of N items of 100 B on a quiet server:
#             items/s and MB/s of file written (fsync and rename included)
#   restore   the load at start: items/s and MB/s merged from that file
#             (stats snapshot: snapshot_load_ms), and time until the
#             restarted server answers
#   p99       client latency at a fixed request rate (loadgen -R, open loop,
#             so a stall counts for every request it delays) while idle,
#             and while snapshots are written back to back; reported as
#             microseconds and as the ratio during/idle
#
# The server runs on CPU 0 (-t 1), loadgen on CPU 1, as in bench/run.sh.
# The snapshot thread shares CPU 0 with the worker: that is the worst case
# for latency on a 2-CPU machine, and what a small production box sees.
#
# Environment: BENCH_ITEMS (1000000), BENCH_PAIRS (3), BENCH_SECS (5),
# BENCH_RATE (20000), TANDEMD (build/tandemd), BENCH_DIR (a temporary
# directory for the snapshot files; put it on the disk you care about).
# Output: build/bench/snapshot.txt ("key=value" lines per round) and a
# summary on stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/bench
ITEMS=${BENCH_ITEMS:-1000000}
PAIRS=${BENCH_PAIRS:-3}
SECS=${BENCH_SECS:-5}
RATE=${BENCH_RATE:-20000}
TANDEMD=${TANDEMD:-$ROOT/build/tandemd}
SERVER_CPU=0
LOAD_CPU=1
PORT=${BENCH_PORT:-23950}

die() { echo "bench/snapshot: $*" >&2; exit 1; }
log() { printf '%s bench/snapshot: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -x "$TANDEMD" ] || die "$TANDEMD is missing: run 'make build/tandemd'"
command -v taskset >/dev/null || die "taskset is missing: apt-get install util-linux"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, load on CPU 1)"

mkdir -p "$OUT/log"
LG=$OUT/loadgen
gcc -O2 -Wall -Wextra -o "$LG" bench/loadgen.c || die "could not build bench/loadgen.c"
DIR=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tandem-snapbench.XXXXXX")}
RESULTS=$OUT/snapshot.txt
: > "$RESULTS"
USER_ARG=""
[ "$(id -u)" = 0 ] && USER_ARG="-u root"

SPID=""
cleanup() {
    [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null || true
    [ -z "${BENCH_DIR:-}" ] && rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ask PORT COMMAND: one text command, its reply up to END or a single line.
ask() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=600)
s.sendall(sys.argv[2].encode() + b"\r\n")
buf = b""
while not (buf.endswith(b"END\r\n") or (buf.endswith(b"\r\n") and not buf.startswith(b"STAT"))):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.decode())
EOF
}
snap_stat() { ask "$PORT" "stats snapshot" | tr -d "\r" | awk -v k="$1" '$1 == "STAT" && $2 == k { print $3 }'; }
now_ms() { date +%s%3N; }

start() {
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" "$TANDEMD" $USER_ARG -l 127.0.0.1 -p "$PORT" -m 2048 -t 1 \
        --snapshot-dir "$DIR" --snapshot-interval 0 >"$OUT/log/snapshot-$PORT.log" 2>&1 &
    SPID=$!
    "$LG" -p "$PORT" -W 600 || { cat "$OUT/log/snapshot-$PORT.log" >&2; die "tandemd did not start"; }
}

stop() { # SIGINT: the fast stop, no final snapshot
    kill -INT "$SPID"
    wait "$SPID" 2>/dev/null || true
    SPID=""
}

# p99 at RATE for SECS seconds (open loop), printed in microseconds.
p99() {
    taskset -c "$LOAD_CPU" "$LG" -p "$PORT" -c 50 -k "$ITEMS" -v 100 -R "$RATE" -Y 2000 \
        -d "$SECS" | awk -F= '$1 == "p99_us" { print $2 }'
}

for round in $(seq "$PAIRS"); do
    rm -f "$DIR"/snapshot-*
    log "round $round: loading $ITEMS items of 100 B"
    start
    timeout 600 taskset -c "$LOAD_CPU" "$LG" -p "$PORT" -c 50 -k "$ITEMS" -v 100 -L -d 0 \
        >/dev/null || die "load failed"

    log "round $round: one snapshot on a quiet server"
    reply=$(ask "$PORT" snapshot)
    case $reply in OK*) ;; *) die "snapshot failed: $reply" ;; esac
    snap_ms=$(snap_stat last_snapshot_duration_ms)
    snap_items=$(snap_stat last_snapshot_items)
    snap_bytes=$(snap_stat last_snapshot_bytes)

    log "round $round: p99 at $RATE req/s, idle"
    idle=$(p99)
    log "round $round: p99 at $RATE req/s, snapshots back to back"
    before=$(snap_stat snapshots_written)
    ( end=$(( $(now_ms) + SECS * 1000 )); while [ "$(now_ms)" -lt "$end" ]; do ask "$PORT" snapshot >/dev/null; done ) &
    busy=$(p99)
    wait $!
    during_snaps=$(( $(snap_stat snapshots_written) - before ))
    stop

    log "round $round: restart and load the snapshot"
    t0=$(now_ms)
    start
    ready_ms=$(( $(now_ms) - t0 ))
    load_ms=$(snap_stat snapshot_load_ms)
    loaded=$(snap_stat snapshot_loaded_items)
    stop

    echo "round=$round items=$snap_items bytes=$snap_bytes snapshot_ms=$snap_ms load_ms=$load_ms loaded=$loaded ready_ms=$ready_ms p99_idle_us=$idle p99_snapshot_us=$busy snapshots_during=$during_snaps" >>"$RESULTS"
done

awk '
function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1], NR] = kv[2] }
    n = NR
    s_rate[NR] = v["items", NR] / (v["snapshot_ms", NR] / 1000 + 1e-9)
    s_mbs[NR] = v["bytes", NR] / 1e6 / (v["snapshot_ms", NR] / 1000 + 1e-9)
    l_rate[NR] = v["loaded", NR] / (v["load_ms", NR] / 1000 + 1e-9)
    l_mbs[NR] = v["bytes", NR] / 1e6 / (v["load_ms", NR] / 1000 + 1e-9)
    ready[NR] = v["ready_ms", NR]; idle[NR] = v["p99_idle_us", NR]; busy[NR] = v["p99_snapshot_us", NR]
    ratio[NR] = busy[NR] / idle[NR]; file[NR] = v["bytes", NR] / 1e6; items[NR] = v["items", NR]
}
END {
    printf "rounds=%d items=%d file_mb=%.1f\n", n, med(items, n), med(file, n)
    printf "snapshot_items_per_s=%.0f snapshot_mb_per_s=%.1f\n", med(s_rate, n), med(s_mbs, n)
    printf "restore_items_per_s=%.0f restore_mb_per_s=%.1f ready_after_ms=%.0f\n", med(l_rate, n), med(l_mbs, n), med(ready, n)
    printf "p99_idle_us=%.1f p99_during_snapshot_us=%.1f ratio=%.2f\n", med(idle, n), med(busy, n), med(ratio, n)
}' "$RESULTS"
