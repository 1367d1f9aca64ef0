/*
 * ctl/restore: `tandemctl restore --from SRC --to HOST:PORT [--dry-run] [--salvage]`.
 *
 * A restore is a last-writer-wins merge of a backup into a live node, so it
 * can run against a node serving clients and an old backup never
 * overwrites newer data (put.h says how, for tandemd and for memcached).
 *
 * Files are read twice: first whole, to verify every frame, the record
 * count and the digest (or, for JSON lines, every line and the end count),
 * and only then again to apply. A damaged file is refused with the file
 * and offset of the damage and nothing is applied. --salvage skips the
 * check and applies the records before the damage, then says what was
 * lost. PostgreSQL backups are checked against their recorded item count.
 *
 * Items already expired are skipped; the others keep their remaining TTL
 * (files hold absolute expiry times). FLUSH records are never replayed: a
 * restore adds data, it does not wipe any.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/fetch.h"
#include "ctl/progress.h"
#include "ctl/put.h"
#include "ctl/xfer.h"

struct restore {
    const char *from, *to;
    char from_shown[CTL_ADDR_MAX + 200]; /* redacted */
    enum xfer_format fmt;
    uint64_t pg_id;
    bool dry_run, salvage;
    int timeout_ms;
    struct ctl_conn *conn;               /* NULL: dry run without a target */
    bool tandem, apply;
    struct ctl_progress prog;
    struct ctl_counts counts;
    uint64_t existing, newer_there;      /* dry run against a target */
    struct ctl_keyref probe[CTL_FETCH_BATCH];
    uint64_t probe_version[CTL_FETCH_BATCH];
    char *probe_keys;                    /* CTL_FETCH_BATCH * 250 bytes */
    size_t nprobe;
};

/* --- the source ------------------------------------------------------------------ */

static bool verify_source(struct restore *r)
{
    char err[XFER_ERR_MAX];
    uint64_t records = 0;
    bool ok = r->fmt == XFER_FMT_PG      ? ctl_pg_verify(r->from, r->pg_id, &records, err, sizeof(err))
              : r->fmt == XFER_FMT_JSONL ? ctl_jsonl_verify(r->from, &records, err, sizeof(err))
                                         : ctl_snapfile_verify(r->from, &records, err, sizeof(err));
    if (!ok && r->fmt == XFER_FMT_PG)
        fprintf(stderr, "tandemctl restore: %s; nothing was applied\n", err);
    else if (!ok && records == 0)
        fprintf(stderr, "tandemctl restore: %s\ntandemctl restore: refusing to restore a damaged "
                "backup; nothing was applied (no record before the damage is valid)\n", err);
    else if (!ok)
        fprintf(stderr, "tandemctl restore: %s\ntandemctl restore: refusing to restore a damaged "
                "backup; nothing was applied (--salvage restores the %" PRIu64 " valid records "
                "before the damage)\n", err, records);
    return ok;
}

static struct xfer_source *open_source(struct restore *r)
{
    char err[XFER_ERR_MAX];
    struct xfer_source *s = xfer_open_source(r->from, r->pg_id, err, sizeof(err));
    if (!s)
        fprintf(stderr, "tandemctl restore: %s%s\n", err,
                r->salvage ? " (no valid records before it: nothing was applied)" : "");
    return s;
}

/* --- the target ----------------------------------------------------------------- */

static bool connect_target(struct restore *r)
{
    struct ctl_node_info info;
    if (!r->to)
        return true;
    if (!(r->conn = malloc(sizeof(*r->conn)))) {
        fprintf(stderr, "tandemctl restore: out of memory\n");
        return false;
    }
    enum ctl_status rc = ctl_conn_open(r->conn, r->to, r->timeout_ms);
    if (rc == CTL_OK)
        rc = ctl_node_probe(r->conn, &info);
    if (rc == CTL_OK && info.tandem)
        rc = ctl_put_has_apply(r->conn, &r->apply);
    if (rc != CTL_OK) {
        ctl_report("restore", r->conn);
        return false;
    }
    r->tandem = info.tandem;
    if (r->tandem && !r->apply)
        fprintf(stderr, "tandemctl restore: %s is a tandemd without the apply command; "
                "restoring with ms (add): versions are not kept\n", r->to);
    return true;
}

/* Dry run against a live target: which keys exist there already, and on
 * tandemd, at a version the backup's would not beat. */
static bool probe_flush(struct restore *r)
{
    struct ctl_conn *c = r->conn;
    char *req = malloc(r->nprobe * CTL_MG_MAX);
    enum ctl_status rc = req ? CTL_OK : CTL_ENOMEM;
    size_t used = 0;
    for (size_t i = 0; req && i < r->nprobe; i++)
        used += ctl_fetch_format_mg(req + used, r->probe[i].p, r->probe[i].len, false, "c");
    if (rc == CTL_OK)
        rc = ctl_conn_send(c, req, used);
    for (size_t i = 0; rc == CTL_OK && i < r->nprobe; i++) {
        char *line;
        size_t len;
        unsigned long long cas;
        if ((rc = ctl_conn_readline(c, &line, &len)) != CTL_OK)
            break;
        if (len >= 2 && memcmp(line, "EN", 2) == 0)
            continue;
        if (sscanf(line, "HD c%llu", &cas) != 1) {
            rc = ctl_conn_error_reply(c, line, len) ? CTL_EREFUSED : ctl_conn_bad_reply(c, line, len);
            break;
        }
        r->existing++;
        if (r->tandem && cas >= r->probe_version[i])
            r->newer_there++;
    }
    free(req);
    r->nprobe = 0;
    if (rc == CTL_ENOMEM)
        snprintf(c->err, sizeof(c->err), "out of memory");
    if (rc != CTL_OK)
        ctl_report("restore", c);
    return rc == CTL_OK;
}

static bool dry_item(struct restore *r, const struct xfer_item *it)
{
    r->counts.items++;
    r->counts.bytes += it->nvalue;
    if (!r->conn)
        return true;
    char *k = r->probe_keys + r->nprobe * 250;
    memcpy(k, it->key, it->nkey);
    r->probe[r->nprobe] = (struct ctl_keyref){k, it->nkey};
    r->probe_version[r->nprobe++] = it->version;
    return r->nprobe < CTL_FETCH_BATCH || probe_flush(r);
}

/* --- the pump ------------------------------------------------------------------- */

/* One record from the source: skip, count or write it. */
static bool one(struct restore *r, struct ctl_put *p, const struct xfer_item *it, uint32_t now)
{
    if (it->kind == XFER_FLUSH) {
        r->counts.flushes++;
        return true;
    }
    if (it->kind == XFER_TOMB) {
        r->counts.tombs++;
        if (!r->apply || r->dry_run)
            return true;
    } else if (it->exptime && it->exptime <= now) {
        r->counts.expired++;
        return true;
    }
    if (r->dry_run)
        return dry_item(r, it);
    r->counts.bytes += it->nvalue;
    if (ctl_put_item(p, it, now) != CTL_OK) {
        ctl_report("restore", r->conn);
        return false;
    }
    return true;
}

static bool pump(struct restore *r, struct xfer_source *s, struct ctl_put *p)
{
    struct xfer_item it;
    enum xfer_next nx;
    uint64_t records = 0;
    r->prog.total_bytes = s->total_bytes;
    r->prog.total_items = s->total_items;
    while ((nx = s->next(s, &it)) == XFER_ITEM) {
        if (xfer_interrupted()) {
            ctl_progress_clear(&r->prog);
            fprintf(stderr, "tandemctl restore: interrupted\n");
            return false;
        }
        if (!one(r, p, &it, xfer_now()))
            return false;
        ctl_progress_update(&r->prog, ++records, s->done_bytes(s));
    }
    if (nx == XFER_ERROR && !r->salvage) {
        ctl_progress_clear(&r->prog);
        fprintf(stderr, "tandemctl restore: %s (the backup changed since it was verified?)\n",
                s->err);
        return false;
    }
    if (!r->dry_run && ctl_put_flush(p) != CTL_OK) {
        ctl_report("restore", r->conn);
        return false;
    }
    if (r->dry_run && r->nprobe && !probe_flush(r))
        return false;
    ctl_progress_clear(&r->prog);
    if (nx == XFER_ERROR)
        fprintf(stderr, "tandemctl restore: salvaged the %" PRIu64 " records (%" PRIu64 " bytes) "
                "before the damage; the rest of the backup is lost: %s\n", records,
                s->done_bytes(s), s->err);
    return true;
}

static void print_dry_run(const struct restore *r)
{
    printf("dry run: would restore %" PRIu64 " items (%.2f MB) from %s%s%s; skip %" PRIu64
           " expired", r->counts.items, (double)r->counts.bytes / 1e6, r->from_shown,
           r->to ? " to " : "", r->to ? r->to : "", r->counts.expired);
    if (r->counts.flushes)
        printf(", %" PRIu64 " flush records", r->counts.flushes);
    if (r->counts.tombs)
        printf(", %" PRIu64 " tombstones", r->counts.tombs);
    putchar('\n');
    if (r->conn && r->tandem)
        printf("dry run: %" PRIu64 " of those keys exist on %s, %" PRIu64 " at a newer or equal "
               "version (they would be ignored)\n", r->existing, r->to, r->newer_there);
    else if (r->conn)
        printf("dry run: %" PRIu64 " of those keys exist on %s (memcached: they would be "
               "kept)\n", r->existing, r->to);
    printf("dry run: nothing was written\n");
}

static int restore_run(struct restore *r)
{
    struct ctl_put p = {.counts = &r->counts};
    struct xfer_source *s = NULL;
    int rc = CTL_EXIT_ERROR;
    ctl_progress_start(&r->prog, "restore");
    xfer_catch_signals();
    if (r->fmt != XFER_FMT_PG && access(r->from, R_OK) != 0) {
        fprintf(stderr, "tandemctl restore: %s: cannot open: %s\n", r->from, strerror(errno));
        return rc;
    }
    if (!r->salvage && !verify_source(r))
        return rc;
    if (!connect_target(r) || !(s = open_source(r)))
        goto out;
    r->probe_keys = r->dry_run ? malloc(CTL_FETCH_BATCH * 250) : NULL;
    if (r->dry_run && !r->probe_keys) {
        fprintf(stderr, "tandemctl restore: out of memory\n");
        goto out;
    }
    p.conn = r->conn;
    p.mode = r->apply ? CTL_PUT_APPLY : CTL_PUT_ADD;
    if (!pump(r, s, &p)) {
        fprintf(stderr, "tandemctl restore: stopped after %" PRIu64 " records were applied\n",
                r->counts.items + r->counts.ignored + r->counts.kept);
        goto out;
    }
    if (r->dry_run) {
        print_dry_run(r);
    } else {
        ctl_progress_summary(stdout, &r->prog, &r->counts);
        if (!r->apply)
            printf("note: %s is %s: restored items get new CAS values (versions are not "
                   "kept)\n", r->to, r->tandem ? "a tandemd without apply" : "memcached");
    }
    rc = CTL_EXIT_OK;
    if (r->counts.refused) {
        fprintf(stderr, "tandemctl restore: %s refused %" PRIu64 " items, the first with "
                "\"%s\" (too large for its -I, or out of memory?)\n", r->to,
                r->counts.refused, p.refusal);
        rc = CTL_EXIT_ERROR;
    }
out:
    if (s)
        s->close(s);
    if (r->conn)
        ctl_conn_close(r->conn);
    free(r->conn);
    free(r->probe_keys);
    ctl_put_free(&p);
    return rc;
}

static bool parse_id(const char *v, uint64_t *id)
{
    char *end;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v)
        return true;
    if (*v < '1' || *v > '9' || *end || x == 0) {
        ctl_usage_error("restore", "--id needs a backup_id (a positive number), got '%s'", v);
        return false;
    }
    *id = x;
    return true;
}

static int run_restore(int argc, char **argv)
{
    const char *id = NULL;
    struct restore r = {0};
    struct ctl_opts o;
    if (!xfer_take_value("restore", &argc, argv, "--from", &r.from) ||
        !xfer_take_value("restore", &argc, argv, "--to", &r.to) ||
        !xfer_take_value("restore", &argc, argv, "--id", &id))
        return CTL_EXIT_ERROR;
    xfer_take_flag(&argc, argv, "--dry-run", &r.dry_run);
    xfer_take_flag(&argc, argv, "--salvage", &r.salvage);
    if (!ctl_opts_parse("restore", argc, argv, CTL_OPT_TIMEOUT, &o) || !parse_id(id, &r.pg_id))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_restore_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs) {
        ctl_usage_error("restore", "unexpected argument '%s' (the backup goes after --from, "
                        "the node after --to)", o.args[0]);
        return CTL_EXIT_ERROR;
    }
    if (!r.from || (!r.to && !r.dry_run)) {
        ctl_usage_error("restore", "needs --from FILE|FILE.jsonl|postgresql://... and "
                        "--to HOST:PORT");
        return CTL_EXIT_ERROR;
    }
    r.fmt = xfer_format_of(r.from);
    if (id && r.fmt != XFER_FMT_PG) {
        ctl_usage_error("restore", "--id picks a backup in PostgreSQL; %s is a file", r.from);
        return CTL_EXIT_ERROR;
    }
    r.timeout_ms = o.timeout_ms;
    xfer_redact(r.from_shown, sizeof(r.from_shown), r.from);
    return restore_run(&r);
}

const struct ctl_command ctl_restore_command = {
    .name = "restore",
    .summary = "merge a backup into a node (last writer wins)",
    .help =
        "usage: tandemctl restore --from SRC --to HOST:PORT [--dry-run] [--salvage]\n"
        "                         [--id BACKUP_ID] [--timeout SEC]\n"
        "\n"
        "Put the items of a backup (a snapshot or backup FILE, FILE.jsonl, or\n"
        "postgresql://...) back into a running tandemd or stock memcached node.\n"
        "Items already expired are skipped; the others keep their flags and\n"
        "remaining TTL. The merge never overwrites newer data:\n"
        "  tandemd    items keep their version and are merged by last-writer-wins\n"
        "             (an item the node holds at a newer version stays: \"ignored\")\n"
        "  memcached  items are added (ms mode add): a key that exists is kept as\n"
        "             it is (\"kept existing\"); memcached cannot take a version, so\n"
        "             restored items get new CAS values\n"
        "Flush records in a snapshot are not replayed.\n"
        "\n"
        "A file is verified whole first (every record, the count and the digest);\n"
        "a damaged one is refused with the file and byte offset of the damage, and\n"
        "nothing is applied.\n"
        "\n"
        "  --dry-run      say what would be restored (items, expired, bytes) and,\n"
        "                 with --to, how many keys exist there already; write nothing\n"
        "  --salvage      restore a damaged file's records up to the damage, and say\n"
        "                 how many that was and what was lost (exit status 0)\n"
        "  --id N         the PostgreSQL backup_id to restore (default: the newest\n"
        "                 complete backup)\n"
        "  --timeout SEC  give up when the node makes no progress for SEC seconds;\n"
        "                 default 10\n"
        "\n"
        "Exit status: 0 when everything was restored (or ignored as older), 1 on any\n"
        "error, a damaged backup, or items the node refused.\n",
    .run = run_restore,
};
