/*
 * ctl/backup: `tandemctl backup --from HOST:PORT --to DEST`.
 *
 * An online backup through the client port, the same against tandemd and
 * stock memcached: list the keys with `lru_crawler metadump all`, then
 * fetch them in pipelined mg batches (fetch.h) and write each to the sink
 * DEST names (xfer.h): a snapshot file, FILE.jsonl or postgresql://...
 *
 * Nothing blocks the server: the metadump walks the table in slices, and
 * each mg is an ordinary read. The copy is "consistent enough": every item
 * that lives through the whole backup is in it with the value it had when
 * fetched; an item written meanwhile may or may not be, and one deleted
 * meanwhile is skipped (counted as missing). Nothing is visible under DEST
 * until the whole backup is written (rename, or COMMIT).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/fetch.h"
#include "ctl/keyset.h"
#include "ctl/metadump.h"
#include "ctl/progress.h"
#include "ctl/xfer.h"

struct backup {
    const char *from;
    char to[CTL_ADDR_MAX + 200];  /* DEST, redacted, for messages */
    struct xfer_sink *sink;
    struct ctl_progress prog;
    struct ctl_counts counts;
};

struct listing {
    struct ctl_keyset *ks;
    struct ctl_progress *prog;
};

static bool collect(void *arg, const struct ctl_meta *m)
{
    struct listing *l = arg;
    if (xfer_interrupted())
        return false; /* stops the dump */
    ctl_progress_update(l->prog, l->ks->n + 1, 0);
    return ctl_keyset_add(l->ks, m->key, m->nkey, m->cas);
}

static bool put_item(void *arg, const struct xfer_item *it)
{
    struct backup *b = arg;
    if (!b->sink->put(b->sink, it))
        return false;
    b->counts.items++;
    b->counts.bytes += it->nvalue;
    ctl_progress_update(&b->prog, b->counts.items, b->counts.bytes);
    return true;
}

static struct xfer_sink *open_sink(const char *dest, const struct xfer_meta *m, uint64_t *pg_id,
                                   char *err, size_t errlen)
{
    switch (xfer_format_of(dest)) {
    case XFER_FMT_JSONL:
        return ctl_jsonl_sink(dest, m, err, errlen);
    case XFER_FMT_PG:
        return ctl_pg_sink(dest, m, pg_id, err, errlen);
    case XFER_FMT_SNAPSHOT:
        break;
    }
    return ctl_snapfile_sink(dest, m, err, errlen);
}

/* Fetch every key of ks into the sink; false on an error (reported). */
static bool copy_items(struct backup *b, struct ctl_conn *c, const struct ctl_keyset *ks,
                       const struct ctl_node_info *info, uint64_t start_ms)
{
    struct ctl_fetch f = {.conn = c, .tandem = info->tandem,
                          .version = xfer_version_at(start_ms), .fn = put_item, .arg = b};
    struct ctl_keyref batch[CTL_FETCH_BATCH];
    enum ctl_status rc = CTL_OK;
    b->prog.total_items = ks->n;
    for (size_t i = 0; i < ks->n && rc == CTL_OK && !f.stopped && !xfer_interrupted();) {
        size_t n = 0;
        for (; n < CTL_FETCH_BATCH && i < ks->n; n++, i++)
            batch[n] = (struct ctl_keyref){ctl_keyset_key(ks, i), ks->keys[i].len};
        rc = ctl_fetch_batch(&f, batch, n);
    }
    b->counts.missing = f.missing;
    ctl_fetch_free(&f);
    ctl_progress_clear(&b->prog);
    if (rc != CTL_OK) {
        ctl_report("backup", c);
        return false;
    }
    if (f.stopped) {
        fprintf(stderr, "tandemctl backup: %s\n", b->sink->err);
        return false;
    }
    if (xfer_interrupted()) {
        fprintf(stderr, "tandemctl backup: interrupted after %" PRIu64 " items\n",
                b->counts.items);
        return false;
    }
    return true;
}

static int backup_run(struct backup *b, int timeout_ms, const char *dest)
{
    struct ctl_conn *c = malloc(sizeof(*c));
    struct ctl_keyset ks = {0};
    struct ctl_node_info info;
    char err[XFER_ERR_MAX];
    uint64_t pg_id = 0, start_ms = xfer_now_ms();
    int rc = CTL_EXIT_ERROR;
    if (!c) {
        fprintf(stderr, "tandemctl backup: out of memory\n");
        return rc;
    }
    struct ctl_progress listed;
    struct listing l = {&ks, &listed};
    ctl_progress_start(&listed, "backup: listing keys");
    ctl_progress_start(&b->prog, "backup");
    xfer_catch_signals();
    if (ctl_conn_open(c, b->from, timeout_ms) != CTL_OK || ctl_node_probe(c, &info) != CTL_OK ||
        ctl_metadump(c, collect, &l) != CTL_OK) {
        ctl_progress_clear(&listed);
        if (xfer_interrupted())
            fprintf(stderr, "tandemctl backup: interrupted while listing keys\n");
        else
            ctl_report("backup", c);
        goto out;
    }
    ctl_progress_clear(&listed);
    ctl_keyset_finish(&ks);
    struct xfer_meta m = {.node = info.node_id, .created_ms = start_ms, .source = b->from,
                          .server = info.tandem ? "tandemd" : "memcached"};
    if (!(b->sink = open_sink(dest, &m, &pg_id, err, sizeof(err)))) {
        fprintf(stderr, "tandemctl backup: %s\n", err);
        goto out;
    }
    if (!copy_items(b, c, &ks, &info, start_ms)) {
        b->sink->abort(b->sink);
        fprintf(stderr, "tandemctl backup: nothing was written to %s\n", b->to);
        goto out;
    }
    if (!b->sink->commit(b->sink, b->counts.items, b->counts.bytes)) {
        ctl_progress_clear(&b->prog);
        fprintf(stderr, "tandemctl backup: %s\n", b->sink->err);
        goto out;
    }
    ctl_progress_summary(stdout, &b->prog, &b->counts);
    if (pg_id)
        printf("wrote %s (%s) as backup_id %" PRIu64 "\n", b->to, m.server, pg_id);
    else
        printf("wrote %s (%s)\n", b->to, m.server);
    rc = CTL_EXIT_OK;
out:
    ctl_conn_close(c);
    free(c);
    ctl_keyset_free(&ks);
    return rc;
}

static int run_backup(int argc, char **argv)
{
    const char *from, *to;
    struct ctl_opts o;
    if (!xfer_take_value("backup", &argc, argv, "--from", &from) ||
        !xfer_take_value("backup", &argc, argv, "--to", &to) ||
        !ctl_opts_parse("backup", argc, argv, CTL_OPT_TIMEOUT, &o))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_backup_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs) {
        ctl_usage_error("backup", "unexpected argument '%s' (the source goes after --from, "
                        "the destination after --to)", o.args[0]);
        return CTL_EXIT_ERROR;
    }
    if (!from || !to) {
        ctl_usage_error("backup", "needs --from HOST:PORT and --to FILE|FILE.jsonl|"
                        "postgresql://...");
        return CTL_EXIT_ERROR;
    }
    struct backup b = {.from = from};
    xfer_redact(b.to, sizeof(b.to), to);
    return backup_run(&b, o.timeout_ms, to);
}

const struct ctl_command ctl_backup_command = {
    .name = "backup",
    .summary = "copy a node's items to a file, JSON lines or PostgreSQL",
    .help =
        "usage: tandemctl backup --from HOST:PORT --to DEST [--timeout SEC]\n"
        "\n"
        "Copy every live item of a running tandemd or stock memcached 1.6 node,\n"
        "through its client port, while it serves clients. Keys are listed with\n"
        "`lru_crawler metadump all` and fetched with pipelined `mg` batches; an\n"
        "item written during the backup may or may not be in it, one deleted\n"
        "meanwhile is skipped. Each item keeps its key, value, flags, expiry\n"
        "(stored as an absolute time) and version (tandemd's CAS; items from\n"
        "memcached get the backup's start time as their version).\n"
        "\n"
        "DEST is one of:\n"
        "  FILE              a snapshot file (the replication frame format; see\n"
        "                    `tandemctl inspect`), written to FILE.tmp and renamed\n"
        "  FILE.jsonl        JSON lines, one item per line (docs/backup.md)\n"
        "  postgresql://...  a PostgreSQL database (libpq URI); one transaction,\n"
        "                    tables tandem_backups and tandem_backup_items\n"
        "\n"
        "  --timeout SEC  give up when the node makes no progress for SEC seconds;\n"
        "                 default 10\n"
        "\n"
        "On a terminal a progress line shows items, bytes, rate and ETA; a summary\n"
        "line follows (items, bytes, seconds, items/s, MB/s, keys gone meanwhile).\n"
        "Exit status: 0 when the backup is complete, 1 on any error (nothing is\n"
        "left under DEST then).\n",
    .run = run_backup,
};
