#!/usr/bin/env bash
# bench/report.sh RESULTS_DIR MARKDOWN PNG_DIR
#
# Turns bench/run.sh's raw results (RESULTS_DIR/results.txt, machine.txt,
# runs/, profile-*.txt) into a markdown report with one table of A/B pairs
# per measurement, a summary of median ratios against the issue's targets,
# and gnuplot PNGs. Everything in MARKDOWN above the GENERATED marker line is
# kept as it was (the human summary); everything below is rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?results dir}
MD=${2:?markdown file}
PNG=${3:?png dir}
RES=$R/results.txt
SUM=$R/summary.txt
MARK='<!-- Everything below this line is written by bench/report.sh; edit above it. -->'
: >"$SUM"
[ -f "$RES" ] || { echo "report: $RES is missing; run bench/run.sh first" >&2; exit 1; }

m() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$R/machine.txt"; }
has() { grep -q "group=$1 variant=$2 " "$RES"; }
table() { # GROUP VARIANT COLS
    awk -v G="$1" -v V="$2" -v COLS="$3" -v SUM="$SUM" -v A="${TA:-tandem}" -v B="${TB:-memcached}" \
        -f bench/pairs.awk "$RES"
}

# med GROUP VARIANT METRIC FIELD: FIELD 4 = median ratio, 5 min, 6 max, 8 A median, 9 B median
med() { awk -F'|' -v g="$1" -v v="$2" -v c="$3" -v f="$4" '$1 == g && $2 == v && $3 == c { print $f; exit }' "$SUM"; }

body() {
    local P S
    P=$(m pairs); S=$(m secs)
    cat <<EOF
## Machine and method

| | |
|---|---|
| date | $(m date) |
| CPUs (nproc) | $(m nproc) — $(m cpu) |
| kernel | $(m kernel) |
| memcached | $(m memcached) (Debian) |
| tandemd | $(m tandemd), commit $(m commit), gcc $(m gcc) -O2 |
| load tools | $(m memcaslap) (memcaslap), bench/loadgen.c |
| pairs per measurement | $P A/B pairs (tandemd first, then memcached), ${S} s per run |
| whole run | $(m elapsed) s, workloads: $(m workloads)$( [ "$(m quick)" = 1 ] && echo ' — **QUICK smoke run, not for conclusions**') |

Both servers run with the same \`-m 1024 -t 1 -c 1024\` (except where a
workload says otherwise), listen on 127.0.0.1 only, and are pinned with
\`taskset\` to CPU 0; the load generator is pinned to CPU 1. A ratio is
tandemd / memcached within one pair; the **median** row gives the median of
the per-pair ratios. *Server CPU per op* is the server's utime + stime
(\`/proc/PID/stat\`) over the run divided by the operations the server
itself counted (\`cmd_get + cmd_set\` from \`stats\`, so a 16-key get is 16
operations). The kernel does not charge softirq time (much of the TCP
receive work on loopback) to the process, so *CPU 0 µs/op* is also shown:
all busy time of CPU 0 during the run per operation, which includes that
work and anything else that ran there. Latencies come from bench/loadgen.c
(log-linear histogram, ≤1.6% bucket error, reported as the bucket's upper
edge).

EOF
}

# --- sections ---------------------------------------------------------------------

sec_a() {
    echo "## (a) 90% get / 10% set, 50 connections, no pipelining (memcaslap)"
    echo
    echo "memcaslap, one thread, 50 concurrent connections, 16-byte keys over a"
    echo "window of 100,000 keys. Closed loop without pipelining is bound by"
    echo "loopback wake-ups, so the measure is server CPU per operation."
    echo
    for v in 100B 4096B; do
        has a $v || continue
        echo "### $v values"; echo
        table a $v "cpu_us_op cpu0_us_op rps server_util"
        echo
    done
}

sec_b() {
    echo "## (b) 16-key multi-get, 90% get / 10% set, 50 connections"
    echo
    echo "memcaslap \`--division=16\` (one thread) drives the CPU-per-op target."
    echo "memcaslap itself saturates before either server does, so the same"
    echo "load is also run with bench/loadgen \`-M 16\` (keys preloaded), which"
    echo "keeps the server busy and shows multi-get throughput in keys/s."
    echo
    for v in 100B 4096B; do
        has b $v || continue
        echo "### $v values, memcaslap"; echo
        table b $v "cpu_us_op cpu0_us_op rps server_util"
        echo
        if has b-loadgen $v; then
            echo "### $v values, loadgen -M 16"; echo
            table b-loadgen $v "cpu_us_op cpu0_us_op kps server_util client_cpu"
            echo
        fi
    done
}

sec_c() {
    echo "## (c) pipelined requests, depth 16, 90% get / 10% set, 50 connections"
    echo
    echo "bench/loadgen keeps 16 requests outstanding on each of 50 connections"
    echo "(800 in flight), 100,000 preloaded keys. The server is the limit here"
    echo "unless the load CPU column nears 1.0."
    echo
    for v in 100B 4096B; do
        has c $v || continue
        echo "### $v values"; echo
        table c $v "rps cpu_us_op cpu0_us_op server_util client_cpu"
        echo
    done
}

sec_d() {
    has d 100B || return 0
    echo "## (d) one connection, no pipelining: the latency floor"
    echo
    echo "One connection, one request at a time, 90/10, 100 B values. Latency is"
    echo "mostly the loopback round trip and the two wake-ups."
    echo
    table d 100B "p50_us p99_us rps cpu_us_op"
    echo
}

sec_e() {
    echo "## (e) set-only flood past -m (eviction path)"
    echo
    echo "Both servers with \`-m 64\`, first filled with 256 MiB worth of sets,"
    echo "then each run sets new keys only (50 connections, pipelined 8 deep), so"
    echo "every set evicts. RSS is read after each run."
    echo
    for v in 100B 4096B; do
        has e $v || continue
        echo "### $v values"; echo
        table e $v "rps cpu_us_op evictions rss_mib"
        echo
    done
}

sec_f() {
    echo "## (f) fixed request rate, open loop: latency percentiles"
    echo
    echo "bench/loadgen schedules $(m rate) requests/s (90/10) across 50 connections"
    echo "whatever the server does, and measures each request from its scheduled"
    echo "send time, so stalls are not hidden (no coordinated omission). The"
    echo "generator polls rather than sleeps between sends (\`-Y\`), so send times"
    echo "are exact unless the VM or another process takes CPU 1 away from it:"
    echo "*send lag p99* says how late the 99th-percentile send left. Where it is"
    echo "of the same order as the p99 latency, that pair measured the machine,"
    echo "not the server."
    echo
    for v in 100B 4096B; do
        has f $v || continue
        echo "### $v values"; echo
        table f $v "p50_us p99_us p999_us max_us send_lag_p99_us"
        echo
        table f $v "rps cpu_us_op" >/dev/null
    done
}

sec_rss() {
    local v
    v=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^variant=/ && $0 ~ /group=rss /) { sub(/variant=/, "", $i); print $i; exit } }' "$RES")
    [ -n "$v" ] || return 0
    echo "## Memory: RSS after loading ${v%%x*} items of 100 B"
    echo
    echo "A fresh server each run; RSS (VmRSS) after the load. *RSS B/item* is"
    echo "RSS / items; *overhead B/item* is (RSS − RSS at start) / items − 114,"
    echo "the 114 being the payload (14-byte key + 100-byte value)."
    echo
    table rss "$v" "rss_mib bytes_per_item overhead_per_item idle_cpu_pct"
    echo
    echo "*idle CPU %* is the server's own CPU use over 3 s with no client"
    echo "traffic after the load: background work (expiry sweep, LRU crawler,"
    echo "maintenance) that scales with the number of items."
    echo
}

sec_sweep() {
    has sweep pipelined || return 0
    echo "## Diagnostic: tandemd with its expiry sweep off"
    echo
    echo "Not a comparison with memcached: A is tandemd \`-o no_lru_crawler\` (no"
    echo "background expiry sweep), B is tandemd as shipped, same load, same"
    echo "pairs method. It prices the maintenance thread for the optimisation"
    echo "notes. A ratio below 1 means the sweep costs that much."
    echo
    echo "### pipelined depth 16, 100 B"; echo
    TA=tandem-nosweep TB=tandem table sweep pipelined "rps cpu_us_op"
    echo
    if has sweep fixed-rate; then
        echo "### fixed rate $(m rate)/s, 100 B"; echo
        TA=tandem-nosweep TB=tandem table sweep fixed-rate "p50_us p99_us p999_us send_lag_p99_us"
        echo
    fi
}

sec_floor() {
    has floor-a 100B || return 0
    echo "## Yardstick: a server that does no work (bench/floor.c)"
    echo
    echo "A is bench/floor.c: one epoll thread that parses the requests and"
    echo "answers every get with a canned value of the right size, storing"
    echo "nothing. B is memcached, same loads as (a), (b) and (c). The floor's"
    echo "CPU per op is what the system calls and the kernel's TCP work cost"
    echo "on their own: no server with this I/O model goes below it, so a"
    echo "target ratio under floor/memcached cannot be met by user-space work."
    echo
    local g v
    for g in floor-a floor-b floor-b-loadgen floor-c floor-uring-a floor-uring-b; do
        for v in 100B 4096B; do
            has $g $v || continue
            local a=floor
            [[ $g == floor-uring-* ]] && a=floor-uring
            echo "### $g, $v values"; echo
            TA=$a TB=memcached table $g $v "cpu_us_op cpu0_us_op rps kps server_util"
            echo
        done
    done
}

sec_scale() {
    has scale t1 || return 0
    echo "## Scaling: -t 1 against -t 2"
    echo
    echo "The pipelined 100 B load of (c). With \`-t 1\` the server is pinned to"
    echo "CPU 0; with \`-t 2\` it may use CPUs 0–1 and so **shares CPU 1 with the"
    echo "load generator**: on a 2-vCPU machine this measures contention as much"
    echo "as scaling."
    echo
    for t in t1 t2; do
        has scale $t || continue
        echo "### -${t/t/t }"; echo
        table scale $t "rps cpu_us_op server_util client_cpu"
        echo
    done
    if has scale t2; then
        local t1t t2t t1m t2m
        t1t=$(med scale t1 rps 8); t2t=$(med scale t2 rps 8)
        t1m=$(med scale t1 rps 9); t2m=$(med scale t2 rps 9)
        awk -v a="$t1t" -v b="$t2t" -v c="$t1m" -v d="$t2m" 'BEGIN {
            print "| server | median req/s -t 1 | median req/s -t 2 | -t 2 / -t 1 |"
            print "|---|---:|---:|---:|"
            printf "| tandemd | %.0f | %.0f | %.2f |\n", a, b, a ? b / a : 0
            printf "| memcached | %.0f | %.0f | %.2f |\n", c, d, c ? d / c : 0
        }'
        echo
    fi
}

sec_resize() {
    has resize hp12 || return 0
    echo "## Hash-table growth under load"
    echo
    echo "Each server starts empty with \`-o hashpower=12\` (4096 buckets, the"
    echo "smallest memcached accepts) or \`hashpower=22\` (big enough never to"
    echo "grow), then receives sets of new keys at a fixed 25,000/s (open loop,"
    echo "latency from the scheduled time), so the hp12 table doubles about"
    echo "six times during the run (200,000 keys). p99.9 and max over the whole run; the"
    echo "plot shows p99.9 per 100 ms interval."
    echo
    for hp in hp12 hp22; do
        has resize $hp || continue
        echo "### $hp"; echo
        table resize $hp "p99_us p999_us max_us send_lag_p99_us"
        echo
        awk -v hp="$hp" '$0 ~ "group=resize variant=" hp " " {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            printf "%s pair %s: hash_power_level %s → %s\n", f["server"], f["pair"], f["hp_start"], f["hp_end"] }' "$RES" \
            | sort -u | sed 's/^/- /'
        echo
    done
    if has resize hp22; then
        local g n
        g=$(med resize hp12 p999_us 8); n=$(med resize hp22 p999_us 8)
        echo "tandemd's own cost of growing: median p99.9 $g µs with growth (hp12)"
        echo "against $n µs without (hp22)."
        echo
    fi
    echo "![p99.9 per 100 ms while the table grows](bench-resize.png)"
    echo
}

sec_profile() {
    ls "$R"/profile-*-tandem.txt >/dev/null 2>&1 || return 0
    echo "## Profile (perf, cpu-clock sampling)"
    echo
    echo "\`perf record -e cpu-clock -g\` on the server process for ${S:-$(m secs)} s under"
    echo "load (a) (50 connections, no pipelining, loadgen) and load (c)"
    echo "(pipelined 16 deep). Hardware counters are not available in this VM"
    echo "(\`perf stat -e instructions\` says *not supported*), so these are"
    echo "timer samples. Self time per symbol, top entries:"
    echo
    local f l s
    echo "Share of the server's samples by binary:"
    echo
    echo "| load | server | kernel | server binary | libc | libevent |"
    echo "|---|---|---:|---:|---:|---:|"
    for l in a c; do
        for s in tandem memcached; do
            f=$R/profile-$l-$s-dso.txt
            [ -s "$f" ] || continue
            awk -v l="$l" -v s="$s" '{ v[$2] = $1 }
                END { k = v["[kernel.kallsyms]"]; b = (s == "tandem") ? v["tandemd"] : v["memcached"]
                      e = ""; for (x in v) if (x ~ /libevent/) e = v[x]
                      printf "| %s | %s | %s | %s | %s | %s |\n", l, s, k, b, v["libc.so.6"], e }' "$f"
        done
    done
    echo
    echo "memcached's binary is stripped, so its own functions show as addresses."
    echo
    if ls "$R"/syscalls-*-tandem.txt >/dev/null 2>&1; then
        echo "System calls and context switches per operation (perf stat tracepoints, 3 s):"
        echo
        echo "| load | server | recv/read | send/sendmsg/write | epoll_wait | epoll_ctl | context switches |"
        echo "|---|---|---:|---:|---:|---:|---:|"
        for l in a c; do
            for s in tandem memcached; do
                f=$R/syscalls-$l-$s.txt
                [ -s "$f" ] || continue
                awk -v l="$l" -v s="$s" '{ v[$1] = $2 }
                    END { printf "| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", l, s,
                          v["recvfrom"] + v["read"], v["sendto"] + v["sendmsg"] + v["write"] + v["writev"],
                          v["epoll_wait"], v["epoll_ctl"], v["context-switches"] }' "$f"
            done
        done
        echo
    fi
    for f in "$R"/profile-a-tandem.txt "$R"/profile-c-tandem.txt "$R"/profile-a-memcached.txt "$R"/profile-c-memcached.txt; do
        [ -s "$f" ] || continue
        local b=${f##*/profile-}; b=${b%.txt}
        echo "<details><summary>${b/-/: }</summary>"
        echo
        echo '```'
        head -30 "$f"
        echo '```'
        echo
        echo "</details>"
        echo
    done
}

# --- summary and plots ----------------------------------------------------------------

# target GROUP VARIANT METRIC OP VALUE DESCRIPTION
summary_row() {
    local g=$1 v=$2 c=$3 op=$4 t=$5 d=$6 r lo hi n verdict
    r=$(med "$g" "$v" "$c" 4); [ -n "$r" ] || return 0
    lo=$(med "$g" "$v" "$c" 5); hi=$(med "$g" "$v" "$c" 6); n=$(med "$g" "$v" "$c" 7)
    if [ "$op" = "-" ]; then verdict="(no target)"
    else verdict=$(awk -v r="$r" -v t="$t" -v op="$op" 'BEGIN {
        ok = (op == "<=") ? (r <= t) : (r >= t); print ok ? "**met**" : "**missed**" }')
    fi
    # A latency whose generator sent late by a comparable amount measured the
    # machine: say so rather than claim a verdict.
    local la lb pa pb
    la=$(med "$g" "$v" send_lag_p99_us 8); lb=$(med "$g" "$v" send_lag_p99_us 9)
    if [ -n "$la" ] && [[ $c == p9* ]] && [[ $c != *_clean ]]; then
        pa=$(med "$g" "$v" "$c" 8); pb=$(med "$g" "$v" "$c" 9)
        if awk -v la="$la" -v lb="$lb" -v pa="$pa" -v pb="$pb" \
            'BEGIN { exit !(la >= 0.25 * pa || lb >= 0.25 * pb) }'; then
            verdict="$verdict, but **inconclusive**: the generator's own send lag p99 was $(awk -v a="$la" -v b="$lb" \
                'BEGIN { printf "%.1f / %.1f ms", a / 1000, b / 1000 }')"
        fi
    fi
    printf '| %s | %s | %s | %s | %.2f | %.2f – %.2f (%d pairs) | %s |\n' "$g" "$v" "$d" \
        "$( [ "$op" = "-" ] && echo "–" || echo "$op $t×")" "$r" "$lo" "$hi" "$n" "$verdict"
    [ "$op" = "-" ] || printf '%s|%s|%s|%s|%s|%s|%s\n' "$g $v" "$r" "$lo" "$hi" "$t" "$op" "$d" >>"$R/plot-ratios.dat.tmp"
}

summary() {
    rm -f "$R/plot-ratios.dat.tmp"
    echo "## Summary: median ratios tandemd / memcached"
    echo
    echo "| workload | values | measure | target | median ratio | spread of pair ratios | verdict |"
    echo "|---|---|---|---|---:|---|---|"
    local v
    for v in 100B 4096B; do summary_row a $v cpu_us_op "<=" 0.6 "server CPU per op"; done
    for v in 100B 4096B; do summary_row a $v rps - - "req/s (wake-up bound)"; done
    for v in 100B 4096B; do summary_row b $v cpu_us_op "<=" 0.6 "server CPU per op (memcaslap)"; done
    for v in 100B 4096B; do summary_row b-loadgen $v cpu_us_op "<=" 0.6 "server CPU per op (loadgen)"; done
    for v in 100B 4096B; do summary_row b-loadgen $v kps - - "keys/s (server bound)"; done
    for v in 100B 4096B; do summary_row c $v rps ">=" 3 "throughput, pipelined 16"; done
    summary_row d 100B p50_us - - "p50 latency, 1 connection"
    for v in 100B 4096B; do summary_row e $v rps - - "sets/s while evicting"; done
    for v in 100B 4096B; do summary_row f $v p99_us "<=" 1.0 "p99 at fixed rate"; done
    for v in 100B 4096B; do summary_row f $v p99_us_clean "<=" 1.0 "p99 at fixed rate, pairs sent on time"; done
    for v in 100B 4096B; do summary_row f $v p999_us - - "p99.9 at fixed rate"; done
    local rv
    rv=$(awk -F'|' '$1 == "rss" { print $2; exit }' "$SUM")
    [ -n "$rv" ] && summary_row rss "$rv" rss_mib "<=" 0.85 "RSS after load"
    summary_row scale t1 rps - - "throughput -t 1"
    summary_row scale t2 rps - - "throughput -t 2"
    summary_row resize hp12 p999_us - - "p99.9 while the table grows"
    summary_row rss "$rv" idle_cpu_pct - - "idle CPU with the items loaded"
    for v in 100B 4096B; do summary_row floor-a $v cpu_us_op - - "floor / memcached: CPU per op, as (a)"; done
    for v in 100B 4096B; do summary_row floor-b $v cpu_us_op - - "floor / memcached: CPU per op, as (b) memcaslap"; done
    for v in 100B 4096B; do summary_row floor-b-loadgen $v cpu_us_op - - "floor / memcached: CPU per op, as (b) loadgen"; done
    for v in 100B 4096B; do summary_row floor-c $v rps - - "floor / memcached: throughput, as (c)"; done
    for v in 100B 4096B; do summary_row floor-uring-a $v cpu_us_op - - "io_uring floor / memcached: CPU per op, as (a)"; done
    for v in 100B 4096B; do summary_row floor-uring-b $v cpu_us_op - - "io_uring floor / memcached: CPU per op, as (b) memcaslap"; done
    summary_row sweep pipelined cpu_us_op - - "tandemd sweep off / on: CPU per op"
    summary_row sweep fixed-rate p99_us - - "tandemd sweep off / on: p99"
    echo
    echo "Ratios below 1 favour tandemd for CPU, latency and memory; above 1 for"
    echo "throughput. The spread column is the lowest and highest single-pair"
    echo "ratio, i.e. the noise seen in this run."
    echo
    echo "![median ratios against targets](bench-ratios.png)"
    echo
}

plots() {
    command -v gnuplot >/dev/null || { echo "report: gnuplot missing; no plots" >&2; return 0; }
    # 1. median ratio per targeted measure, with the pair spread and the target.
    if [ -s "$R/plot-ratios.dat.tmp" ]; then
        awk -F'|' '{ n++; printf "%d \"%s\\n%s\" %s %s %s %s\n", n, $1, $7, $2, $3, $4, $5 }' \
            "$R/plot-ratios.dat.tmp" >"$R/plot-ratios.dat"
        gnuplot <<EOF
set terminal pngcairo size 1100,520 font ",10"
set output "$PNG/bench-ratios.png"
set title "tandemd / memcached, median of per-pair ratios (bars: spread over pairs; dots: target)"
set style fill solid 0.6
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics rotate by -25 left font ",8"
set rmargin 14
set bmargin 9
set ylabel "ratio"
plot "$R/plot-ratios.dat" using 1:3:xtic(2) with boxes lc rgb "#4477aa" title "median ratio", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 title "pair spread", \
     "" using 1:6 with points pt 7 ps 1.3 lc rgb "#cc3311" title "target", \
     1 with lines dt 2 lc rgb "gray" title "parity"
EOF
    fi
    # 2. latency percentiles at the fixed rate.
    if has f 100B; then
        : >"$R/plot-latency.dat"
        local v c
        for v in 100B 4096B; do
            has f $v || continue
            for c in p50_us p99_us p999_us; do
                echo "\"$v ${c%_us}\" $(med f $v $c 8) $(med f $v $c 9)" >>"$R/plot-latency.dat"
            done
        done
        gnuplot <<EOF
set terminal pngcairo size 900,480 font ",10"
set output "$PNG/bench-latency.png"
set title "Latency at $(m rate) req/s, open loop (median over pairs)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7
set logscale y
set yrange [10:*]
set ylabel "µs (log scale)"
set grid ytics
plot "$R/plot-latency.dat" using 2:xtic(1) title "tandemd" lc rgb "#4477aa", \
     "" using 3 title "memcached" lc rgb "#ee6677"
EOF
    fi
    # 3. p99.9 per 100 ms interval while the hash table grows.
    if has resize hp12; then
        local plotcmd="" f t label
        for f in "$R/runs/resize-hp12-1-tandem.txt" "$R/runs/resize-hp12-1-memcached.txt" \
                 "$R/runs/resize-hp22-1-tandem.txt" "$R/runs/resize-hp22-1-memcached.txt"; do
            [ -s "$f" ] || continue
            t=${f##*/resize-}; t=${t%.txt}
            label=$(echo "$t" | awk -F- '{ print $3 " hashpower=" substr($1, 3) }')
            awk '/^interval/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                 print f["t"], f["p999_us"], f["max_us"] }' "$f" >"$R/plot-resize-$t.dat"
            plotcmd="$plotcmd${plotcmd:+, }\"$R/plot-resize-$t.dat\" using 1:2 with linespoints ps 0.5 title \"$label\""
        done
        gnuplot <<EOF
set terminal pngcairo size 900,480 font ",10"
set output "$PNG/bench-resize.png"
set title "p99.9 per 100 ms, sets of new keys at 25k/s from an empty server (pair 1)"
set logscale y
set xlabel "seconds"
set ylabel "p99.9 µs (log scale)"
set grid
set key top left
plot $plotcmd
EOF
    fi
}

# --- assemble ------------------------------------------------------------------------

mkdir -p "$(dirname "$MD")" "$PNG"
human="# Benchmarks: tandemd against memcached 1.6.18

_Human summary goes here (kept across runs)._
"
if [ -f "$MD" ] && grep -qF "$MARK" "$MD"; then
    human=$(awk -v mark="$MARK" '$0 == mark { exit } { print }' "$MD")
fi

sections=$(
    body
    sec_a; sec_b; sec_c; sec_d; sec_e; sec_f; sec_rss; sec_scale; sec_resize; sec_sweep; sec_floor; sec_profile
)
summ=$(summary)
plots
if has f 100B; then
    summ="$summ

![latency percentiles at a fixed rate](bench-latency.png)
"
fi
{
    printf '%s\n' "$human"
    echo "$MARK"
    echo
    echo "# Measured results"
    echo
    echo "Generated by \`make bench\` (bench/run.sh) on $(m date). Raw lines:"
    echo "build/bench/results.txt. Re-run one workload with \`bench/run.sh c\`;"
    echo "a smoke run with \`BENCH_QUICK=1 bench/run.sh\`."
    echo
    printf '%s\n\n' "$summ"
    printf '%s\n' "$sections"
} >"$MD.tmp"
mv "$MD.tmp" "$MD"
echo "report: wrote $MD and plots in $PNG" >&2
