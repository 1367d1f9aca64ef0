/*
 * ctl/status: `tandemctl status HOST:PORT [--json] [--timeout SEC]`.
 *
 * Two requests on one connection: `stats` for the cache summary, then
 * `stats replication` for the role and the links. A stock memcached answers
 * the second with ERROR, which is not a failure: it is how status tells a
 * memcached from a Tandem node. A Tandem node without replication answers
 * "STAT role standalone".
 *
 * The links come from the "upstream_N:field" and "downstream_N:field" groups
 * that repl_write_stats writes (src/repl/engine.c); a field a given link
 * does not report (downstreams have no last_error) prints as "-" / null.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/json.h"
#include "ctl/stats.h"

#define MAX_LINKS 256

struct node_status {
    const char *addr;
    struct ctl_stats general;
    struct ctl_stats repl;
    bool tandem; /* answered `stats replication` */
    char links[MAX_LINKS][32]; /* "upstream_0", ... in reply order */
    int nlinks;
};

static const char *const link_u64_fields[] = {
    "records_sent", "records_applied", "lag_records", "lag_ms",
    "full_syncs",   "partial_syncs",   "auth_failures",
};

/* --- gathering --------------------------------------------------------------- */

static bool known_link(const struct node_status *ns, const char *name, size_t n)
{
    for (int i = 0; i < ns->nlinks; i++)
        if (strlen(ns->links[i]) == n && memcmp(ns->links[i], name, n) == 0)
            return true;
    return false;
}

static void find_links(struct node_status *ns)
{
    for (size_t i = 0; i < ns->repl.n && ns->nlinks < MAX_LINKS; i++) {
        const char *name = ns->repl.v[i].name, *colon = strchr(name, ':');
        bool is_link = strncmp(name, "upstream_", 9) == 0 || strncmp(name, "downstream_", 11) == 0;
        size_t n = colon ? (size_t)(colon - name) : 0;
        if (!is_link || !colon || n >= sizeof(ns->links[0]) || known_link(ns, name, n))
            continue;
        memcpy(ns->links[ns->nlinks], name, n);
        ns->links[ns->nlinks++][n] = '\0';
    }
}

static enum ctl_status gather(struct ctl_conn *c, struct node_status *ns)
{
    enum ctl_status rc = ctl_stats_fetch(c, NULL, &ns->general);
    if (rc != CTL_OK)
        return rc;
    rc = ctl_stats_fetch(c, "replication", &ns->repl);
    if (rc == CTL_EREFUSED && c->unknown_cmd) { /* memcached: no such stats group */
        ctl_stats_free(&ns->repl);
        return CTL_OK;
    }
    if (rc != CTL_OK)
        return rc;
    ns->tandem = true;
    find_links(ns);
    return CTL_OK;
}

/* --- helpers ---------------------------------------------------------------- */

static const char *str_or_dash(const struct ctl_stats *st, const char *name)
{
    const char *v = ctl_stats_get(st, name);
    return v ? v : "-";
}

static const char *link_field(const struct node_status *ns, int i, const char *field)
{
    char name[80];
    snprintf(name, sizeof(name), "%s:%s", ns->links[i], field);
    return ctl_stats_get(&ns->repl, name);
}

static void human_bytes(char *out, size_t n, uint64_t b)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void human_uptime(char *out, size_t n, uint64_t s)
{
    uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (d)
        snprintf(out, n, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m (%" PRIu64 " s)", d, h, m, s);
    else if (h)
        snprintf(out, n, "%" PRIu64 "h %" PRIu64 "m (%" PRIu64 " s)", h, m, s);
    else
        snprintf(out, n, "%" PRIu64 " s", s);
}

/* --- human output ------------------------------------------------------------- */

static void print_cache(const struct node_status *ns)
{
    const struct ctl_stats *g = &ns->general;
    uint64_t up, used, limit, hits, misses;
    char a[64], b[64];
    printf("node %s (%s)\n", ns->addr, ns->tandem ? "tandem" : "memcached");
    printf("  version      %s\n", str_or_dash(g, "version"));
    if (ctl_stats_u64(g, "uptime", &up)) {
        human_uptime(a, sizeof(a), up);
        printf("  uptime       %s\n", a);
    }
    printf("  items        %s\n", str_or_dash(g, "curr_items"));
    if (ctl_stats_u64(g, "bytes", &used) && ctl_stats_u64(g, "limit_maxbytes", &limit)) {
        human_bytes(a, sizeof(a), used);
        human_bytes(b, sizeof(b), limit);
        printf("  memory       %s used of %s (%.1f%%)\n", a, b,
               limit ? 100.0 * (double)used / (double)limit : 0.0);
    }
    if (ctl_stats_u64(g, "get_hits", &hits) && ctl_stats_u64(g, "get_misses", &misses)) {
        if (hits + misses)
            printf("  hit ratio    %.1f%% (%" PRIu64 " hits, %" PRIu64 " misses)\n",
                   100.0 * (double)hits / (double)(hits + misses), hits, misses);
        else
            printf("  hit ratio    - (no gets yet)\n");
    }
}

static void print_link(const struct node_status *ns, int i)
{
#define F(name) (link_field(ns, i, name) ? link_field(ns, i, name) : "-")
    printf("  %s: %s (%s) %s\n", ns->links[i], F("peer"), F("kind"), F("state"));
    printf("    records    sent %s, applied %s\n", F("records_sent"), F("records_applied"));
    printf("    lag        %s records, %s ms\n", F("lag_records"), F("lag_ms"));
    printf("    syncs      %s full, %s partial\n", F("full_syncs"), F("partial_syncs"));
    printf("    auth       %s failures\n", F("auth_failures"));
    if (link_field(ns, i, "last_error"))
        printf("    last error %s\n", F("last_error"));
#undef F
}

static void print_human(const struct node_status *ns)
{
    print_cache(ns);
    if (!ns->tandem) {
        printf("replication: none (not a Tandem node)\n");
        return;
    }
    printf("replication\n");
    printf("  role         %s\n", str_or_dash(&ns->repl, "role"));
    if (ctl_stats_get(&ns->repl, "node_id"))
        printf("  node id      %s\n", str_or_dash(&ns->repl, "node_id"));
    if (ns->nlinks == 0 && ctl_stats_get(&ns->repl, "node_id"))
        printf("  links        none\n");
    for (int i = 0; i < ns->nlinks; i++)
        print_link(ns, i);
}

/* --- JSON output ------------------------------------------------------------------ */

static void json_stat_u64(const struct ctl_stats *st, bool *first, const char *key,
                          const char *name)
{
    uint64_t v = 0;
    bool have = ctl_stats_u64(st, name, &v);
    ctl_json_key(stdout, first, key);
    ctl_json_u64(stdout, have, v);
}

static void json_link(const struct node_status *ns, int i)
{
    bool first = true;
    char name[80];
    fputs("{", stdout);
    ctl_json_key(stdout, &first, "name");
    ctl_json_str(stdout, ns->links[i]);
    ctl_json_key(stdout, &first, "direction");
    ctl_json_str(stdout, ns->links[i][0] == 'u' ? "upstream" : "downstream");
    static const char *const str_fields[] = {"peer", "kind", "state"};
    for (size_t f = 0; f < sizeof(str_fields) / sizeof(str_fields[0]); f++) {
        ctl_json_key(stdout, &first, str_fields[f]);
        ctl_json_str(stdout, link_field(ns, i, str_fields[f]));
    }
    for (size_t f = 0; f < sizeof(link_u64_fields) / sizeof(link_u64_fields[0]); f++) {
        snprintf(name, sizeof(name), "%s:%s", ns->links[i], link_u64_fields[f]);
        json_stat_u64(&ns->repl, &first, link_u64_fields[f], name);
    }
    ctl_json_key(stdout, &first, "last_error");
    ctl_json_str(stdout, link_field(ns, i, "last_error"));
    fputs("}", stdout);
}

static void json_replication(const struct node_status *ns, bool *first)
{
    ctl_json_key(stdout, first, "replication");
    if (!ns->tandem) {
        fputs("null", stdout);
        return;
    }
    bool f = true;
    fputs("{", stdout);
    ctl_json_key(stdout, &f, "role");
    ctl_json_str(stdout, ctl_stats_get(&ns->repl, "role"));
    json_stat_u64(&ns->repl, &f, "node_id", "node_id");
    ctl_json_key(stdout, &f, "links");
    fputs("[", stdout);
    for (int i = 0; i < ns->nlinks; i++) {
        if (i)
            fputs(", ", stdout);
        json_link(ns, i);
    }
    fputs("]}", stdout);
}

static void print_json(const struct node_status *ns)
{
    const struct ctl_stats *g = &ns->general;
    bool first = true;
    uint64_t hits = 0, misses = 0;
    fputs("{", stdout);
    ctl_json_key(stdout, &first, "address");
    ctl_json_str(stdout, ns->addr);
    ctl_json_key(stdout, &first, "tandem");
    fputs(ns->tandem ? "true" : "false", stdout);
    ctl_json_key(stdout, &first, "version");
    ctl_json_str(stdout, ctl_stats_get(g, "version"));
    json_stat_u64(g, &first, "uptime", "uptime");
    json_stat_u64(g, &first, "items", "curr_items");
    json_stat_u64(g, &first, "memory_used", "bytes");
    json_stat_u64(g, &first, "memory_limit", "limit_maxbytes");
    json_stat_u64(g, &first, "get_hits", "get_hits");
    json_stat_u64(g, &first, "get_misses", "get_misses");
    ctl_json_key(stdout, &first, "hit_ratio");
    if (ctl_stats_u64(g, "get_hits", &hits) && ctl_stats_u64(g, "get_misses", &misses) &&
        hits + misses)
        printf("%.6f", (double)hits / (double)(hits + misses));
    else
        fputs("null", stdout);
    json_replication(ns, &first);
    fputs("}\n", stdout);
}

/* --- the command ---------------------------------------------------------------- */

static int run_status(int argc, char **argv)
{
    struct ctl_opts o;
    if (!ctl_opts_parse("status", argc, argv, CTL_OPT_JSON | CTL_OPT_TIMEOUT, &o))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_status_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs != 1) {
        if (o.nargs == 0)
            ctl_usage_error("status", "needs the address of a node, as HOST:PORT");
        else
            ctl_usage_error("status", "takes one address, got %d", o.nargs);
        return CTL_EXIT_ERROR;
    }
    struct ctl_conn *conn = malloc(sizeof(*conn)); /* 64 KiB read window */
    if (!conn) {
        fprintf(stderr, "tandemctl status: out of memory\n");
        return CTL_EXIT_ERROR;
    }
    struct node_status ns = {.addr = o.args[0]};
    enum ctl_status rc = ctl_conn_open(conn, ns.addr, o.timeout_ms);
    if (rc == CTL_OK)
        rc = gather(conn, &ns);
    ctl_conn_close(conn);
    if (rc != CTL_OK)
        ctl_report("status", conn);
    else if (o.json)
        print_json(&ns);
    else
        print_human(&ns);
    ctl_stats_free(&ns.general);
    ctl_stats_free(&ns.repl);
    free(conn);
    return rc == CTL_OK ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

const struct ctl_command ctl_status_command = {
    .name = "status",
    .summary = "show a node's cache summary and replication links",
    .help =
        "usage: tandemctl status HOST:PORT [--json] [--timeout SEC]\n"
        "\n"
        "Connect to the client port of a tandemd (or a stock memcached) node, run\n"
        "`stats` and `stats replication`, and print a summary: version, uptime,\n"
        "items, memory used and limit, hit ratio; then the replication role, the\n"
        "node id and, for each upstream and downstream link, its peer, kind, state,\n"
        "records sent and applied, lag (records and ms), full and partial syncs,\n"
        "authentication failures and last error. A stock memcached shows\n"
        "\"replication: none (not a Tandem node)\"; a tandemd without replication\n"
        "shows \"role standalone\".\n"
        "\n"
        "  --json         print the same as one JSON object\n"
        "  --timeout SEC  give up when the node makes no progress for SEC seconds\n"
        "                 (connecting, or waiting for any reply); default 10\n"
        "\n"
        "Exit status: 0 on success, 1 if the node cannot be reached or does not\n"
        "answer like a memcached server (the message names the address and why).\n",
    .run = run_status,
};
