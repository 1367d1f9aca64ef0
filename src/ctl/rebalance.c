/*
 * ctl/rebalance: `tandemctl rebalance --from LIST --to LIST [--hash H]
 *                 [--distribution D] [--dry-run] [--delete] [--timeout SEC]`.
 *
 * Server-side sharding without a proxy: clients hash keys onto a server
 * list (ketama by default). Changing the list changes some keys' owners,
 * and those keys would miss on their new owner until rewritten. Rebalance
 * copies exactly those keys over first, so the clients can switch lists
 * without cold misses.
 *
 * For each server of the old list: its live keys come from `lru_crawler
 * metadump all` (ctl/metadump), and each key whose owner under the new ring
 * is another server is fetched (`mg <key> v f t c k`, ctl/fetch) and written
 * to that owner (ctl/put): on tandemd by `apply` with the item's version,
 * so last-writer-wins keeps anything newer the owner already holds; on
 * memcached by `ms ... ME` (add), which never replaces an existing item.
 * Keys are scanned on every old server, not only those the old ring gave
 * it, so strays from earlier topologies move too.
 *
 * --delete then removes each moved key from its old server with `md <key>
 * C<cas>`, the cas seen by the scan: a key rewritten there since is kept.
 * Deletes are skipped for a server whose items a target refused (too
 * large, out of memory), so no key loses its only copy.
 *
 * The summary counts keys scanned and moved (with the moved share, which
 * for ketama is about the new servers' share of the ring: ~1/N when adding
 * one of N), bytes and rate.
 *
 * Exit status: 0 done, 1 an error (bad usage, unreachable server, refused
 * items).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/b64.h"
#include "ctl/ctl.h"
#include "ctl/fetch.h"
#include "ctl/keyset.h"
#include "ctl/metadump.h"
#include "ctl/progress.h"
#include "ctl/put.h"
#include "ctl/ringspec.h"

#define NOT_LISTED ((size_t)-1)
#define DELETE_BATCH 128

struct target {
    struct ctl_conn *conn; /* opened on first use */
    struct ctl_put put;
    struct ctl_counts counts;
    uint64_t planned; /* keys the scans found for it */
};

struct rebalance {
    struct ctl_ring_list from, to;
    struct ring *ring; /* the new one */
    struct ctl_ring_opts opts;
    struct target *t;  /* per --to server */
    int timeout_ms;
    bool dry_run, del, help;
    struct ctl_progress prog;
    struct ctl_counts total;
    uint64_t scanned, moving, moving_bytes, missing, deleted, delete_kept;
    /* the server being scanned */
    size_t src_in_to;      /* its index in --to, or NOT_LISTED */
    struct ctl_keyset moves;
    uint64_t src_scanned;
    bool failed;           /* a target failed (reported) */
};

/* --- scanning ------------------------------------------------------------------ */

static size_t owner(const struct rebalance *rb, const char *key, size_t n)
{
    return ring_lookup(rb->ring, key, n);
}

static bool scan_item(void *arg, const struct ctl_meta *m)
{
    struct rebalance *rb = arg;
    rb->src_scanned++;
    size_t o = owner(rb, m->key, m->nkey);
    if (o == rb->src_in_to)
        return true;
    rb->t[o].planned++;
    rb->moving_bytes += m->size;
    return ctl_keyset_add(&rb->moves, m->key, m->nkey, m->cas);
}

static struct ctl_conn *connect_to(const char *addr, int timeout_ms)
{
    struct ctl_conn *c = malloc(sizeof(*c));
    if (!c) {
        fprintf(stderr, "tandemctl rebalance: out of memory\n");
        return NULL;
    }
    if (ctl_conn_open(c, addr, timeout_ms) != CTL_OK) {
        ctl_report("rebalance", c);
        free(c);
        return NULL;
    }
    return c;
}

static void disconnect(struct ctl_conn *c)
{
    if (c)
        ctl_conn_close(c);
    free(c);
}

/* --- copying ------------------------------------------------------------------------ */

/* Open target i and pick how to write to it: apply on tandemd, add elsewhere. */
static bool open_target(struct rebalance *rb, size_t i)
{
    struct target *t = &rb->t[i];
    if (!(t->conn = connect_to(rb->to.addr[i], rb->timeout_ms)))
        return false;
    bool apply;
    if (ctl_put_has_apply(t->conn, &apply) != CTL_OK) {
        ctl_report("rebalance", t->conn);
        return false;
    }
    t->put = (struct ctl_put){.conn = t->conn, .counts = &t->counts,
                              .mode = apply ? CTL_PUT_APPLY : CTL_PUT_ADD};
    return true;
}

static bool copy_item(void *arg, const struct xfer_item *it)
{
    struct rebalance *rb = arg;
    size_t o = owner(rb, it->key, it->nkey);
    struct target *t = &rb->t[o];
    if (!t->conn && !open_target(rb, o)) {
        rb->failed = true;
        return false;
    }
    t->counts.bytes += it->nvalue;
    if (ctl_put_item(&t->put, it, xfer_now()) != CTL_OK) {
        ctl_report("rebalance", t->conn);
        rb->failed = true;
        return false;
    }
    uint64_t items = 0, bytes = 0;
    for (size_t i = 0; i < rb->to.n; i++) {
        items += rb->t[i].counts.items + rb->t[i].put.pending;
        bytes += rb->t[i].counts.bytes;
    }
    ctl_progress_update(&rb->prog, items, bytes);
    return true;
}

/* Send what every target has queued: before deleting, the copies must be in. */
static bool flush_targets(struct rebalance *rb)
{
    for (size_t i = 0; i < rb->to.n; i++)
        if (rb->t[i].conn && ctl_put_flush(&rb->t[i].put) != CTL_OK) {
            ctl_progress_clear(&rb->prog);
            ctl_report("rebalance", rb->t[i].conn);
            return false;
        }
    return true;
}

static bool copy_moves(struct rebalance *rb, struct ctl_conn *src, bool tandem)
{
    struct ctl_fetch f = {.conn = src, .tandem = tandem, .version = xfer_version_at(xfer_now_ms()),
                          .fn = copy_item, .arg = rb};
    struct ctl_keyref batch[CTL_FETCH_BATCH];
    enum ctl_status rc = CTL_OK;
    for (size_t i = 0; rc == CTL_OK && !f.stopped && i < rb->moves.n;) {
        size_t n = 0;
        for (; n < CTL_FETCH_BATCH && i < rb->moves.n; n++, i++)
            batch[n] = (struct ctl_keyref){ctl_keyset_key(&rb->moves, i), rb->moves.keys[i].len};
        rc = ctl_fetch_batch(&f, batch, n);
    }
    rb->missing += f.missing;
    ctl_fetch_free(&f);
    if (rc != CTL_OK) {
        ctl_progress_clear(&rb->prog);
        ctl_report("rebalance", src);
    }
    return rc == CTL_OK && !f.stopped && flush_targets(rb);
}

/* --- deleting -------------------------------------------------------------------------- */

static void format_md(struct buf *out, const char *key, size_t n, uint64_t cas)
{
    char tok[CTL_B64_LEN(CTL_KEY_MAX) + 1];
    bool b64 = !ctl_key_is_plain(key, n);
    size_t nt = b64 ? ctl_b64_encode(tok, key, n) : n;
    if (!b64)
        memcpy(tok, key, n);
    buf_printf(out, "md %.*s%s C%" PRIu64 "\r\n", (int)nt, tok, b64 ? " b" : "", cas);
}

static enum ctl_status delete_batch(struct rebalance *rb, struct ctl_conn *c, size_t from,
                                    size_t n)
{
    struct buf out = {0};
    for (size_t i = from; i < from + n; i++)
        format_md(&out, ctl_keyset_key(&rb->moves, i), rb->moves.keys[i].len,
                  rb->moves.keys[i].cas);
    enum ctl_status rc = out.oom ? CTL_ENOMEM : ctl_conn_send(c, out.data, out.len);
    buf_free(&out);
    for (size_t i = 0; rc == CTL_OK && i < n; i++) {
        char *line;
        size_t len;
        if ((rc = ctl_conn_readline(c, &line, &len)) != CTL_OK)
            break;
        if (len >= 2 && memcmp(line, "HD", 2) == 0)
            rb->deleted++;
        else if (len >= 2 && (memcmp(line, "EX", 2) == 0 || memcmp(line, "NF", 2) == 0))
            rb->delete_kept++; /* rewritten since the scan, or already gone */
        else
            rc = ctl_conn_error_reply(c, line, len) ? CTL_EREFUSED
                                                    : ctl_conn_bad_reply(c, line, len);
    }
    return rc;
}

static bool delete_moves(struct rebalance *rb, struct ctl_conn *src)
{
    enum ctl_status rc = CTL_OK;
    for (size_t i = 0; rc == CTL_OK && i < rb->moves.n; i += DELETE_BATCH) {
        size_t n = rb->moves.n - i < DELETE_BATCH ? rb->moves.n - i : DELETE_BATCH;
        rc = delete_batch(rb, src, i, n);
    }
    if (rc != CTL_OK)
        ctl_report("rebalance", src);
    return rc == CTL_OK;
}

/* --- one old server ---------------------------------------------------------------------- */

static size_t index_in(const struct ctl_ring_list *l, const char *addr)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->addr[i], addr) == 0)
            return i;
    return NOT_LISTED;
}

static bool any_refused(const struct rebalance *rb)
{
    for (size_t i = 0; i < rb->to.n; i++)
        if (rb->t[i].counts.refused)
            return true;
    return false;
}

static void print_source(const struct rebalance *rb, const char *addr, const uint64_t *before)
{
    printf("%s: scanned %" PRIu64 ", stay %" PRIu64 ", move %zu", addr, rb->src_scanned,
           rb->src_scanned - rb->moves.n, rb->moves.n);
    const char *sep = " (";
    for (size_t i = 0; i < rb->to.n; i++)
        if (rb->t[i].planned > before[i]) {
            printf("%s%" PRIu64 " to %s", sep, rb->t[i].planned - before[i], rb->to.addr[i]);
            sep = ", ";
        }
    printf("%s\n", *sep == ',' ? ")" : "");
}

static bool rebalance_source(struct rebalance *rb, size_t s, uint64_t *before)
{
    const char *addr = rb->from.addr[s];
    struct ctl_conn *c = connect_to(addr, rb->timeout_ms);
    if (!c)
        return false;
    struct ctl_node_info info;
    bool ok = ctl_node_probe(c, &info) == CTL_OK;
    rb->src_in_to = index_in(&rb->to, addr);
    rb->src_scanned = 0;
    for (size_t i = 0; i < rb->to.n; i++)
        before[i] = rb->t[i].planned;
    if (ok && ctl_metadump(c, scan_item, rb) != CTL_OK)
        ok = false;
    if (!ok)
        ctl_report("rebalance", c);
    if (ok) {
        ctl_keyset_finish(&rb->moves);
        rb->scanned += rb->src_scanned;
        rb->moving += rb->moves.n;
        ctl_progress_clear(&rb->prog);
        print_source(rb, addr, before);
        fflush(stdout);
    }
    if (ok && !rb->dry_run)
        ok = copy_moves(rb, c, info.tandem);
    if (ok && rb->del && !rb->dry_run) {
        if (any_refused(rb))
            fprintf(stderr, "tandemctl rebalance: %s: not deleting: a target refused items\n",
                    addr);
        else
            ok = delete_moves(rb, c);
    }
    ctl_keyset_free(&rb->moves);
    disconnect(c);
    return ok;
}

/* --- the command ------------------------------------------------------------------------- */

static void print_summary(struct rebalance *rb)
{
    double pct = rb->scanned ? 100.0 * (double)rb->moving / (double)rb->scanned : 0;
    printf("scanned %" PRIu64 " keys on %zu servers; %" PRIu64 " (%.1f%%) belong elsewhere "
           "under the new ring (%s, %s)\n",
           rb->scanned, rb->from.n, rb->moving, pct, ring_dist_name(rb->opts.dist),
           ring_hash_name(rb->opts.hash));
    if (rb->dry_run) {
        printf("dry run: nothing copied (about %.2f MB to move)\n", (double)rb->moving_bytes / 1e6);
        return;
    }
    for (size_t i = 0; i < rb->to.n; i++) {
        const struct ctl_counts *c = &rb->t[i].counts;
        rb->total.items += c->items;
        rb->total.bytes += c->bytes;
        rb->total.ignored += c->ignored;
        rb->total.kept += c->kept;
        rb->total.refused += c->refused;
        if (c->refused)
            fprintf(stderr, "tandemctl rebalance: %s refused %" PRIu64 " items: %s\n",
                    rb->to.addr[i], c->refused, rb->t[i].put.refusal);
    }
    rb->total.missing = rb->missing;
    ctl_progress_summary(stdout, &rb->prog, &rb->total);
    if (rb->del)
        printf("deleted %" PRIu64 " moved keys from their old servers; kept %" PRIu64
               " rewritten or gone since the scan\n", rb->deleted, rb->delete_kept);
}

static bool parse_args(int argc, char **argv, struct rebalance *rb, const char **from,
                       const char **to)
{
    /* ring options here; the rest (--timeout, -h) go through ctl_opts_parse */
    char **rest = argv;
    int nrest = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if (strcmp(argv[i], "--dry-run") == 0) {
            rb->dry_run = true;
        } else if (strcmp(argv[i], "--delete") == 0) {
            rb->del = true;
        } else if ((rc = ctl_opt_value("rebalance", "--from", argc, argv, &i, &v)) != 0) {
            if (rc < 0)
                return false;
            *from = v;
        } else if ((rc = ctl_opt_value("rebalance", "--to", argc, argv, &i, &v)) != 0) {
            if (rc < 0)
                return false;
            *to = v;
        } else if ((rc = ctl_ring_opt("rebalance", argc, argv, &i, &rb->opts)) != 0) {
            if (rc < 0)
                return false;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    struct ctl_opts o;
    if (!ctl_opts_parse("rebalance", nrest, rest, CTL_OPT_TIMEOUT, &o))
        return false;
    rb->help = o.help;
    if (o.nargs) {
        ctl_usage_error("rebalance", "unexpected argument '%s' (servers go in --from and --to)",
                        o.args[0]);
        return false;
    }
    rb->timeout_ms = o.timeout_ms;
    return true;
}

static bool check_args(struct rebalance *rb, const char *from, const char *to)
{
    if (!from || !to) {
        ctl_usage_error("rebalance", "needs --from OLD_LIST and --to NEW_LIST");
        return false;
    }
    if (rb->opts.dist == RING_RANDOM) {
        ctl_usage_error("rebalance", "--distribution random gives keys no owner to move to");
        return false;
    }
    return ctl_ring_list_parse("rebalance", "--from", from, &rb->from) &&
           ctl_ring_list_parse("rebalance", "--to", to, &rb->to);
}

static int run_rebalance(int argc, char **argv)
{
    struct rebalance rb = {.opts = {RING_KETAMA, RING_HASH_MD5}};
    const char *from = NULL, *to = NULL;
    if (!parse_args(argc, argv, &rb, &from, &to))
        return CTL_EXIT_ERROR;
    if (rb.help) {
        fputs(ctl_rebalance_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (!check_args(&rb, from, to)) {
        ctl_ring_list_free(&rb.from);
        ctl_ring_list_free(&rb.to);
        return CTL_EXIT_ERROR;
    }
    int rc = CTL_EXIT_ERROR;
    rb.ring = ctl_ring_build("rebalance", &rb.opts, &rb.to);
    rb.t = calloc(rb.to.n, sizeof(*rb.t));
    uint64_t *before = calloc(rb.to.n, sizeof(*before));
    if (rb.ring && rb.t && before) {
        ctl_progress_start(&rb.prog, "rebalance");
        bool ok = true;
        for (size_t s = 0; ok && s < rb.from.n; s++)
            ok = rebalance_source(&rb, s, before);
        ctl_progress_clear(&rb.prog);
        if (ok) {
            print_summary(&rb);
            rc = any_refused(&rb) ? CTL_EXIT_ERROR : CTL_EXIT_OK;
        }
    } else if (rb.ring) {
        fprintf(stderr, "tandemctl rebalance: out of memory\n");
    }
    for (size_t i = 0; rb.t && i < rb.to.n; i++) {
        ctl_put_free(&rb.t[i].put);
        disconnect(rb.t[i].conn);
    }
    free(before);
    free(rb.t);
    ring_free(rb.ring);
    ctl_ring_list_free(&rb.from);
    ctl_ring_list_free(&rb.to);
    return rc;
}

const struct ctl_command ctl_rebalance_command = {
    .name = "rebalance",
    .summary = "move keys whose owner changes when the server list changes",
    .help =
        "usage: tandemctl rebalance --from OLD_LIST --to NEW_LIST [--hash H]\n"
        "                           [--distribution D] [--dry-run] [--delete]\n"
        "                           [--timeout SEC]\n"
        "\n"
        "Before clients switch from the server list OLD_LIST to NEW_LIST, copy every\n"
        "key whose owner changes to its new owner, so the switch causes no cold\n"
        "misses. Lists are [NAME=]HOST[:PORT[:WEIGHT]],... exactly as for\n"
        "`tandemctl ring` (and as the clients list them); the ring is weighted\n"
        "ketama with MD5 unless --hash / --distribution say otherwise.\n"
        "\n"
        "Each server of OLD_LIST is scanned with `lru_crawler metadump all`; each\n"
        "key the new ring gives to another server is fetched with `mg` and written\n"
        "there: to a Tandem node with `apply`, keeping the item's version, so data\n"
        "written there since is never overwritten (last-writer-wins); to memcached\n"
        "with `ms` in add mode, which keeps an existing item. Flags and remaining\n"
        "TTL are kept. One line per old server says how many keys stay and move\n"
        "where; the summary gives keys scanned, the share that moved (about 1/N\n"
        "when ketama gains one server of N; most keys under modula), bytes and rate.\n"
        "\n"
        "  --dry-run      scan and count only\n"
        "  --delete       then delete each moved key from its old server, unless it\n"
        "                 was rewritten there since the scan (`md <key> C<cas>`);\n"
        "                 skipped for a server whose items a target refused\n"
        "  --hash H, --distribution D   as for `tandemctl ring`\n"
        "  --timeout SEC  give up when a server makes no progress for SEC seconds;\n"
        "                 default 10\n"
        "\n"
        "Keys written through the old list while rebalance runs may be missed: run\n"
        "it again after the switch to pick them up (it copies only what moved, and\n"
        "never overwrites newer data). Exit status: 0 done, 1 an error (bad usage,\n"
        "unreachable server, items a target refused).\n",
    .run = run_rebalance,
};
