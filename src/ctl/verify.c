/*
 * ctl/verify: `tandemctl verify HOST:PORT HOST:PORT... [--values] [--timeout SEC]`.
 *
 * Do these nodes hold the same data? Each node's live keys and versions come
 * from `lru_crawler metadump all`, streamed into a sorted key set (keyset.h)
 * whose digest is printed per node. Equal digests mean equal (key, cas)
 * sets: under Tandem's replication the cas is the item's version, carried
 * unchanged to every node, so converged nodes agree exactly.
 *
 * The differing keys come from a merge join of the sorted sets: a key
 * missing on some node, or present at different versions. Only the first
 * 100 are printed, then a count of the rest, so a diverged pair of large
 * caches does not flood the terminal.
 *
 * --values then fetches, for every key the nodes agree on, the value from
 * each node (`mg <key> v c`, pipelined in batches) and compares the bytes by
 * length and XXH3-128. Equal versions with different bytes would be a
 * replication bug, which is what this mode is for. A live cache can change
 * between the dump and the fetch; such keys are reported as "changed while
 * verifying" with each node's current version.
 *
 * Exit status: 0 all agree, 2 they differ, 1 an error (unreachable node,
 * protocol error, bad usage).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/keyset.h"
#include "ctl/metadump.h"
#include "ctl/values.h"

#define SHOW_MAX 100 /* differing keys printed; the rest are counted */

struct node {
    const char *addr;
    uint64_t digest;
    struct ctl_conn *conn; /* --values only */
    struct ctl_value vals[CTL_VALUES_BATCH];
};

struct verify {
    struct node *nodes;
    struct ctl_keyset *sets; /* sets[i] belongs to nodes[i] (the merge join wants an array) */
    size_t n;
    int timeout_ms;
    size_t shown, total; /* differing keys */
    size_t compared;     /* keys whose values were compared and equal */
    bool failed;         /* an error stopped the values pass */
    struct ctl_keyref batch[CTL_VALUES_BATCH];
    size_t nbatch;
};

/* --- output ---------------------------------------------------------------- */

/* Count a differing key; true if it is to be printed (its prefix then is). */
static bool report(struct verify *v, const char *key, size_t len)
{
    if (v->total++ == 0)
        printf("differing keys:\n");
    if (v->shown >= SHOW_MAX)
        return false;
    v->shown++;
    printf("  key ");
    ctl_print_key(key, len);
    printf(":");
    return true;
}

static bool report_cas(void *arg, const struct ctl_diff_row *row)
{
    struct verify *v = arg;
    if (row->same || !report(v, row->key, row->len))
        return true;
    for (size_t i = 0; i < v->n; i++) {
        printf("%s %s ", i ? "," : "", v->nodes[i].addr);
        if (row->has[i])
            printf("cas %" PRIu64, row->cas[i]);
        else
            printf("missing");
    }
    putchar('\n');
    return true;
}

static void print_nodes(const struct verify *v)
{
    int width = 0;
    for (size_t i = 0; i < v->n; i++)
        if ((int)strlen(v->nodes[i].addr) > width)
            width = (int)strlen(v->nodes[i].addr);
    for (size_t i = 0; i < v->n; i++)
        printf("%-*s  keys %zu  digest %016" PRIx64 "\n", width, v->nodes[i].addr, v->sets[i].n,
               v->nodes[i].digest);
}

static bool digests_equal(const struct verify *v)
{
    for (size_t i = 1; i < v->n; i++)
        if (v->nodes[i].digest != v->nodes[0].digest || v->sets[i].n != v->sets[0].n)
            return false;
    return true;
}

/* --- phase 1: dump every node ------------------------------------------------- */

static bool collect(void *arg, const struct ctl_meta *m)
{
    return ctl_keyset_add(arg, m->key, m->nkey, m->cas);
}

static struct ctl_conn *connect_node(const char *addr, int timeout_ms)
{
    struct ctl_conn *c = malloc(sizeof(*c));
    if (!c) {
        fprintf(stderr, "tandemctl verify: out of memory\n");
        return NULL;
    }
    if (ctl_conn_open(c, addr, timeout_ms) != CTL_OK) {
        ctl_report("verify", c);
        free(c);
        return NULL;
    }
    return c;
}

static bool dump_node(struct verify *v, size_t i)
{
    struct ctl_conn *c = connect_node(v->nodes[i].addr, v->timeout_ms);
    if (!c)
        return false;
    enum ctl_status rc = ctl_metadump(c, collect, &v->sets[i]);
    if (rc != CTL_OK)
        ctl_report("verify", c);
    ctl_conn_close(c);
    free(c);
    if (rc != CTL_OK)
        return false;
    ctl_keyset_finish(&v->sets[i]);
    v->nodes[i].digest = ctl_keyset_digest(&v->sets[i]);
    return true;
}

/* --- phase 2: values ------------------------------------------------------------- */

static void report_value(struct verify *v, size_t j)
{
    const struct ctl_value *first = &v->nodes[0].vals[j];
    bool same_cas = first->found;
    for (size_t i = 1; i < v->n; i++) {
        const struct ctl_value *x = &v->nodes[i].vals[j];
        same_cas = same_cas && x->found && x->cas == first->cas;
    }
    if (!report(v, v->batch[j].p, v->batch[j].len))
        return;
    if (same_cas)
        printf(" cas %" PRIu64 " on every node but the values differ:", first->cas);
    else
        printf(" changed while verifying:");
    for (size_t i = 0; i < v->n; i++) {
        const struct ctl_value *x = &v->nodes[i].vals[j];
        printf("%s %s ", i ? "," : "", v->nodes[i].addr);
        if (!x->found)
            printf("missing");
        else if (same_cas)
            printf("%" PRIu64 " bytes xxh3-128 %016" PRIx64 "%016" PRIx64, x->len, x->hash[0],
                   x->hash[1]);
        else
            printf("cas %" PRIu64, x->cas);
    }
    putchar('\n');
}

static bool flush_batch(struct verify *v)
{
    for (size_t i = 0; i < v->n && v->nbatch; i++) {
        struct node *nd = &v->nodes[i];
        if (ctl_values_fetch(nd->conn, v->batch, v->nbatch, nd->vals) != CTL_OK) {
            ctl_report("verify", nd->conn);
            v->failed = true;
            return false;
        }
    }
    for (size_t j = 0; j < v->nbatch; j++) {
        bool equal = true;
        for (size_t i = 1; i < v->n; i++)
            equal = equal && ctl_value_equal(&v->nodes[0].vals[j], &v->nodes[i].vals[j]);
        if (!equal)
            report_value(v, j);
        else if (v->nodes[0].vals[j].found)
            v->compared++;
    }
    v->nbatch = 0;
    return true;
}

static bool queue_value(void *arg, const struct ctl_diff_row *row)
{
    struct verify *v = arg;
    if (!row->same)
        return true; /* already reported by version */
    v->batch[v->nbatch++] = (struct ctl_keyref){row->key, row->len};
    return v->nbatch < CTL_VALUES_BATCH || flush_batch(v);
}

/* False on an error (already reported). */
static bool compare_values(struct verify *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (!(v->nodes[i].conn = connect_node(v->nodes[i].addr, v->timeout_ms)))
            return false;
    if (!ctl_keyset_walk(v->sets, v->n, queue_value, v)) {
        fprintf(stderr, "tandemctl verify: out of memory comparing values\n");
        return false;
    }
    return !v->failed && flush_batch(v);
}

/* --- the command ------------------------------------------------------------------ */

static void print_result(const struct verify *v, bool values)
{
    if (v->total > v->shown)
        printf("  ... and %zu more\n", v->total - v->shown);
    if (v->total == 0 && values)
        printf("result: the %zu nodes agree (same keys and versions; values compared for "
               "%zu keys)\n", v->n, v->compared);
    else if (v->total == 0)
        printf("result: the %zu nodes agree (same keys and versions)\n", v->n);
    else
        printf("result: %zu %s\n", v->total, v->total == 1 ? "key differs" : "keys differ");
}

/* Dump, compare, print; the exit status. */
static int verify_nodes(struct verify *v, bool values)
{
    for (size_t i = 0; i < v->n; i++)
        if (!dump_node(v, i))
            return CTL_EXIT_ERROR;
    print_nodes(v);
    if (!digests_equal(v) && !ctl_keyset_walk(v->sets, v->n, report_cas, v)) {
        fprintf(stderr, "tandemctl verify: out of memory comparing keys\n");
        return CTL_EXIT_ERROR;
    }
    if (values && !compare_values(v))
        return CTL_EXIT_ERROR;
    print_result(v, values);
    fflush(stdout);
    return v->total ? CTL_EXIT_DIFFER : CTL_EXIT_OK;
}

static int run_verify(int argc, char **argv)
{
    struct ctl_opts o;
    if (!ctl_opts_parse("verify", argc, argv, CTL_OPT_VALUES | CTL_OPT_TIMEOUT, &o))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_verify_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs < 2) {
        ctl_usage_error("verify", "needs at least two addresses (HOST:PORT HOST:PORT ...), got %d",
                        o.nargs);
        return CTL_EXIT_ERROR;
    }
    size_t n = (size_t)o.nargs;
    struct verify v = {.nodes = calloc(n, sizeof(*v.nodes)), .sets = calloc(n, sizeof(*v.sets)),
                       .n = n, .timeout_ms = o.timeout_ms};
    int rc = CTL_EXIT_ERROR;
    if (!v.nodes || !v.sets) {
        fprintf(stderr, "tandemctl verify: out of memory\n");
    } else {
        for (size_t i = 0; i < n; i++)
            v.nodes[i].addr = o.args[i];
        rc = verify_nodes(&v, o.values);
    }
    for (size_t i = 0; i < n && v.nodes; i++) {
        if (v.nodes[i].conn)
            ctl_conn_close(v.nodes[i].conn);
        free(v.nodes[i].conn);
        if (v.sets)
            ctl_keyset_free(&v.sets[i]);
    }
    free(v.nodes);
    free(v.sets);
    return rc;
}

const struct ctl_command ctl_verify_command = {
    .name = "verify",
    .summary = "compare the keys and versions (and optionally values) of two or more nodes",
    .help =
        "usage: tandemctl verify HOST:PORT HOST:PORT... [--values] [--timeout SEC]\n"
        "\n"
        "Fetch every live key and its CAS (the item's version) from each node with\n"
        "`lru_crawler metadump all`, and print per node its key count and a digest\n"
        "(XXH3-64 over the sorted key/CAS pairs). If the digests differ, list the\n"
        "keys that differ, each with every node's CAS or \"missing\": the first 100,\n"
        "then a count of the rest, in key order (with --values, keys whose bytes\n"
        "differ follow those whose versions differ). Keys are printed as text, with\n"
        "space, control, non-ASCII bytes and '%' written as %XX.\n"
        "\n"
        "Works against stock memcached too. Replicas of one another hold equal\n"
        "CAS values; independent memcached servers do not, so only Tandem nodes\n"
        "replicating to each other are expected to agree.\n"
        "\n"
        "  --values       also fetch each key the nodes agree on with `mg <key> v c`\n"
        "                 and compare the value bytes (by length and XXH3-128); equal\n"
        "                 versions with different bytes are a replication bug. Keys\n"
        "                 written between the dump and the fetch show as \"changed\n"
        "                 while verifying\"\n"
        "  --timeout SEC  give up when a node makes no progress for SEC seconds\n"
        "                 (connecting, or waiting for any part of a reply); a large\n"
        "                 dump that keeps flowing is never cut off; default 10\n"
        "\n"
        "Exit status: 0 if all nodes agree, 2 if they differ, 1 on an error\n"
        "(unreachable node, not a memcached server, metadump refused: see -X).\n",
    .run = run_verify,
};
