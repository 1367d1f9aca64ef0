# pairs.awk: one markdown table of A/B pairs from build/bench/results.txt.
#
#   awk -v G=group -v V=variant -v COLS="metric ..." -v A=tandem -v B=memcached \
#       -v SUM=summary-file -f bench/pairs.awk results.txt
#
# For every metric in COLS: A's value, B's value and the ratio A/B of each
# pair, then a median row (the median of the per-pair ratios, which is not
# the ratio of the medians). One "G|V|metric|median|min|max|n|medA|medB"
# line per metric is appended to SUM for the summary table and plots.

function label(c) {
    if (c == "cpu_us_op") return "server CPU µs/op"
    if (c == "rps") return "req/s"
    if (c == "cpu0_us_op") return "CPU 0 µs/op"
    if (c == "kps") return "keys/s"
    if (c == "p50_us") return "p50 µs"
    if (c == "p90_us") return "p90 µs"
    if (c == "p99_us") return "p99 µs"
    if (c == "p999_us") return "p99.9 µs"
    if (c == "max_us") return "max µs"
    if (c == "rss_mib") return "RSS MiB"
    if (c == "bytes_per_item") return "RSS B/item"
    if (c == "overhead_per_item") return "overhead B/item"
    if (c == "server_util") return "server CPU util"
    if (c == "client_cpu") return "load CPU util"
    if (c == "evictions") return "evictions"
    if (c == "idle_cpu_pct") return "idle CPU %"
    if (c == "send_lag_p99_us") return "send lag p99 µs"
    return c
}

function sort(arr, n,   i, j, t) {
    for (i = 2; i <= n; i++) {
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
    }
}

function median(arr, n) {
    if (n == 0) return 0
    sort(arr, n)
    if (n % 2) return arr[(n + 1) / 2]
    return (arr[n / 2] + arr[n / 2 + 1]) / 2
}

function fmt(x) {
    if (x == "") return "–"
    x += 0
    if (x >= 1000) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    return sprintf("%.3g", x)
}

BEGIN {
    if (LAG_OK == "") LAG_OK = 1000
    if (A == "") A = "tandem"
    if (B == "") B = "memcached"
    nc = split(COLS, col, " ")
}

{
    split("", kv)
    for (i = 1; i <= NF; i++) {
        eq = index($i, "=")
        if (eq) kv[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    if (kv["group"] != G || kv["variant"] != V) next
    p = kv["pair"] + 0
    if (!(p in seen)) { seen[p] = 1; order[++np] = p }
    for (c = 1; c <= nc; c++)
        if (col[c] in kv) val[p, kv["server"], col[c]] = kv[col[c]]
    if ("send_lag_p99_us" in kv && kv["send_lag_p99_us"] + 0 >= LAG_OK) dirty[p] = 1
    # noise: work on the server's CPU beyond the server itself, and what other
    # processes used just before the pair started
    if ("cpu0_busy" in kv && "server_util" in kv) {
        nx++; extra[nx] = kv["cpu0_busy"] - kv["server_util"]
    }
    if ("steal0_pct" in kv) { nst++; st0[nst] = kv["steal0_pct"] + 0; st1[nst] = kv["steal1_pct"] + 0 }
    if (kv["others_before"] != "") { no++; others[no] = kv["others_before"]; oth[p] = kv["others_before"] }
}

END {
    if (np == 0) { print "_no results_"; exit }
    sort(order, np)
    line = "| pair |"; sep = "|---|"
    for (c = 1; c <= nc; c++) {
        line = line " " A " " label(col[c]) " | " B " " label(col[c]) " | ratio |"
        sep = sep "---:|---:|---:|"
    }
    if (no) { line = line " others' CPU before |"; sep = sep "---:|" }
    print line; print sep
    for (k = 1; k <= np; k++) {
        p = order[k]
        line = "| " p " |"
        for (c = 1; c <= nc; c++) {
            a = val[p, A, col[c]]; b = val[p, B, col[c]]
            r = (a != "" && b != "" && b + 0 != 0) ? sprintf("%.2f", a / b) : "–"
            line = line " " fmt(a) " | " fmt(b) " | " r " |"
            if (r != "–") { nr[c]++; rat[c, nr[c]] = a / b }
            if (a != "") { na[c]++; va[c, na[c]] = a + 0 }
            if (b != "") { nb[c]++; vb[c, nb[c]] = b + 0 }
        }
        if (no) line = line " " (p in oth ? oth[p] : "–") " |"
        print line
    }
    line = "| **median** |"
    for (c = 1; c <= nc; c++) {
        split("", t); for (i = 1; i <= na[c]; i++) t[i] = va[c, i]; ma = median(t, na[c])
        split("", t); for (i = 1; i <= nb[c]; i++) t[i] = vb[c, i]; mb = median(t, nb[c])
        split("", t); for (i = 1; i <= nr[c]; i++) t[i] = rat[c, i]; mr = median(t, nr[c])
        lo = nr[c] ? t[1] : 0; hi = nr[c] ? t[nr[c]] : 0
        line = line " " (na[c] ? fmt(ma) : "–") " | " (nb[c] ? fmt(mb) : "–") " | **" (nr[c] ? sprintf("%.2f", mr) : "–") "** |"
        if (SUM != "" && nr[c])
            printf "%s|%s|%s|%.3f|%.3f|%.3f|%d|%s|%s\n", G, V, col[c], mr, lo, hi, nr[c], ma, mb >> SUM
    }
    if (no) line = line " |"
    print line
    # Open-loop latency: the same medians over the pairs whose generator sent
    # on time in both runs, so machine stalls do not decide the verdict.
    if (COLS ~ /send_lag_p99_us/) {
        nclean = 0; list = ""
        for (k = 1; k <= np; k++) if (!(order[k] in dirty)) { nclean++; list = list (list == "" ? "" : ", ") order[k] }
        printf "\nPairs whose generator's send lag p99 stayed under %.0f µs in both runs: %s.", LAG_OK, (nclean ? list : "none")
        if (nclean) {
            printf " Median ratios over those pairs:"
            for (c = 1; c <= nc; c++) {
                if (col[c] == "send_lag_p99_us") continue
                split("", t); n = 0
                for (k = 1; k <= np; k++) {
                    p = order[k]
                    if (p in dirty) continue
                    a = val[p, A, col[c]]; b = val[p, B, col[c]]
                    if (a != "" && b + 0 != 0) t[++n] = a / b
                }
                if (n) {
                    mr = median(t, n)
                    printf " %s %.2f", label(col[c]), mr
                    if (SUM != "") printf "%s|%s|%s_clean|%.3f|%.3f|%.3f|%d||\n", G, V, col[c], mr, t[1], t[n], n >> SUM
                }
            }
            printf "."
        }
        print ""
    }
    if (nx || no) {
        print ""
        if (no) {
            ex = 0; for (i = 1; i <= no; i++) if (others[i] + 0 > ex) ex = others[i] + 0
            printf "Noise: other processes used up to %.2f CPUs in the half second before a pair (column *others' CPU before*)", ex
        }
        if (nx) printf "%sCPU 0 was busy beyond the server by a median %.2f CPUs during runs (softirqs, other users)", (no ? "; " : "Noise: "), median(extra, nx)
        if (nst) {
            m0 = median(st0, nst); m1 = median(st1, nst)
            x0 = st0[nst]; x1 = st1[nst]
            printf "; the hypervisor stole a median %.0f%% (max %.0f%%) of CPU 0 and %.0f%% (max %.0f%%) of CPU 1 during runs", m0, x0, m1, x1
        }
        print "."
    }
}
