/*
 * ctl/pg: PostgreSQL as a backup sink and a restore source (libpq).
 *
 * Two tables, created if missing:
 *
 *   tandem_backups       one row per backup: backup_id (bigserial), created_at,
 *                        created_ms, source, server, node, history, log_pos,
 *                        items, bytes
 *   tandem_backup_items  one row per item: backup_id, key bytea, value bytea,
 *                        flags, exptime (absolute Unix s, 0 = never),
 *                        version numeric(20) (u64 does not fit bigint),
 *                        binary_key; primary key (backup_id, key)
 *
 * A backup is one transaction: the tandem_backups row, then every item
 * through COPY FROM STDIN (text format, bytea as hex), then its counts, then
 * COMMIT. A failed backup rolls back and leaves nothing. A restore reads
 * one backup in a REPEATABLE READ transaction through a cursor, with binary
 * results so bytea arrives as raw bytes, and checks that it holds as many
 * items as its row says.
 *
 * The connection URI may carry a password: messages show it redacted
 * (xfer_redact); libpq's own messages do not include it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "ctl/xfer.h"

#define COPY_CHUNK (256u << 10) /* bytes of COPY data per PQputCopyData */
#define FETCH_ROWS "1000"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tandem_backups ("
    " backup_id bigserial PRIMARY KEY,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " created_ms bigint NOT NULL,"
    " source text, server text,"
    " node integer NOT NULL,"
    " history numeric(20) NOT NULL, log_pos numeric(20) NOT NULL,"
    " items bigint, bytes bigint);"
    "CREATE TABLE IF NOT EXISTS tandem_backup_items ("
    " backup_id bigint NOT NULL REFERENCES tandem_backups ON DELETE CASCADE,"
    " key bytea NOT NULL, value bytea NOT NULL,"
    " flags bigint NOT NULL, exptime bigint NOT NULL, version numeric(20) NOT NULL,"
    " binary_key boolean NOT NULL DEFAULT false,"
    " PRIMARY KEY (backup_id, key))";

/* err = "<url redacted>: <what>: <libpq's message, one line>" */
static void pg_err(char *err, size_t errlen, const char *url, const char *what, PGconn *c)
{
    char shown[300];
    const char *msg = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strcspn(msg, "\n");
    xfer_redact(shown, sizeof(shown), url);
    snprintf(err, errlen, "%s: %s: %.*s", shown, what, (int)n, msg);
}

static void quiet(void *arg, const char *message)
{
    (void)arg; /* NOTICEs ("relation already exists, skipping") are not for users */
    (void)message;
}

static PGconn *pg_connect(const char *url, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg_err(err, errlen, url, "cannot connect to PostgreSQL", c);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

/* Run a statement that returns no rows; false with err set. */
static bool exec_ok(PGconn *c, const char *sql, const char *url, const char *what, char *err,
                    size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_err(err, errlen, url, what, c);
    PQclear(r);
    return ok;
}

/* --- sink ------------------------------------------------------------------ */

struct pg_sink {
    struct xfer_sink base;
    PGconn *c;
    const char *url;
    char id[24];
    uint64_t *id_out;
    struct buf b;
};

static void hex(struct buf *b, const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (!buf_reserve(b, 3 + 2 * n))
        return;
    char *o = b->data + b->len;
    memcpy(o, "\\\\x", 3); /* COPY text doubles the backslash of bytea's \x */
    o += 3;
    for (size_t i = 0; i < n; i++) {
        *o++ = digits[(unsigned char)p[i] >> 4];
        *o++ = digits[(unsigned char)p[i] & 15];
    }
    b->len = (size_t)(o - b->data);
}

static bool send_copy(struct pg_sink *s)
{
    if (s->b.oom) {
        snprintf(s->base.err, sizeof(s->base.err), "out of memory building COPY data");
        return false;
    }
    if (s->b.len && PQputCopyData(s->c, s->b.data, (int)s->b.len) != 1) {
        pg_err(s->base.err, sizeof(s->base.err), s->url, "COPY failed", s->c);
        return false;
    }
    buf_reset(&s->b);
    return true;
}

static bool sink_put(struct xfer_sink *base, const struct xfer_item *it)
{
    struct pg_sink *s = (struct pg_sink *)base;
    buf_puts(&s->b, s->id);
    buf_append(&s->b, "\t", 1);
    hex(&s->b, it->key, it->nkey);
    buf_append(&s->b, "\t", 1);
    hex(&s->b, it->value, it->nvalue);
    buf_printf(&s->b, "\t%u\t%u\t%" PRIu64 "\t%c\n", it->flags, it->exptime, it->version,
               it->binary_key ? 't' : 'f');
    return s->b.len < COPY_CHUNK || send_copy(s);
}

static void sink_free(struct pg_sink *s)
{
    PQfinish(s->c);
    buf_free(&s->b);
    free(s);
}

static bool finish_copy(struct pg_sink *s)
{
    if (!send_copy(s))
        return false;
    if (PQputCopyEnd(s->c, NULL) != 1) {
        pg_err(s->base.err, sizeof(s->base.err), s->url, "COPY failed", s->c);
        return false;
    }
    PGresult *r;
    bool ok = true;
    while ((r = PQgetResult(s->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
            pg_err(s->base.err, sizeof(s->base.err), s->url, "COPY failed", s->c);
            ok = false;
        }
        PQclear(r);
    }
    return ok;
}

static bool sink_commit(struct xfer_sink *base, uint64_t items, uint64_t bytes)
{
    struct pg_sink *s = (struct pg_sink *)base;
    char sql[200];
    bool ok = finish_copy(s);
    snprintf(sql, sizeof(sql), "UPDATE tandem_backups SET items = %" PRIu64 ", bytes = %" PRIu64
             " WHERE backup_id = %s", items, bytes, s->id);
    ok = ok && exec_ok(s->c, sql, s->url, "recording the backup", base->err, sizeof(base->err));
    ok = ok && exec_ok(s->c, "COMMIT", s->url, "COMMIT failed", base->err, sizeof(base->err));
    if (ok)
        *s->id_out = strtoull(s->id, NULL, 10);
    sink_free(s);
    return ok;
}

static void sink_abort(struct xfer_sink *base)
{
    struct pg_sink *s = (struct pg_sink *)base;
    if (PQputCopyEnd(s->c, "backup aborted") == 1) {
        PGresult *r;
        while ((r = PQgetResult(s->c)) != NULL)
            PQclear(r);
    }
    PQclear(PQexec(s->c, "ROLLBACK"));
    sink_free(s);
}

/* BEGIN, the tables, our tandem_backups row; false with err set. */
static bool begin_backup(struct pg_sink *s, const struct xfer_meta *m, char *err, size_t errlen)
{
    char node[8], created[24], history[24], pos[24];
    snprintf(node, sizeof(node), "%u", m->node);
    snprintf(created, sizeof(created), "%" PRIu64, m->created_ms);
    snprintf(history, sizeof(history), "%" PRIu64, m->history);
    snprintf(pos, sizeof(pos), "%" PRIu64, m->log_pos);
    const char *params[] = {created, m->source, m->server, node, history, pos};
    if (!exec_ok(s->c, "BEGIN", s->url, "BEGIN failed", err, errlen) ||
        !exec_ok(s->c, schema, s->url, "cannot create the backup tables", err, errlen))
        return false;
    PGresult *r = PQexecParams(s->c,
                               "INSERT INTO tandem_backups (created_ms, source, server, node, "
                               "history, log_pos) VALUES ($1, $2, $3, $4, $5, $6) "
                               "RETURNING backup_id",
                               6, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(r, 0, 0));
    else
        pg_err(err, errlen, s->url, "cannot record the backup", s->c);
    PQclear(r);
    if (!ok)
        return false;
    r = PQexec(s->c, "COPY tandem_backup_items (backup_id, key, value, flags, exptime, version, "
                     "binary_key) FROM STDIN");
    ok = PQresultStatus(r) == PGRES_COPY_IN;
    if (!ok)
        pg_err(err, errlen, s->url, "COPY failed", s->c);
    PQclear(r);
    return ok;
}

struct xfer_sink *ctl_pg_sink(const char *url, const struct xfer_meta *m, uint64_t *id_out,
                              char *err, size_t errlen)
{
    struct pg_sink *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->url = url;
    s->id_out = id_out;
    if (!(s->c = pg_connect(url, err, errlen))) {
        free(s);
        return NULL;
    }
    if (!begin_backup(s, m, err, errlen)) {
        PQclear(PQexec(s->c, "ROLLBACK"));
        sink_free(s);
        return NULL;
    }
    s->base.put = sink_put;
    s->base.commit = sink_commit;
    s->base.abort = sink_abort;
    return &s->base;
}

/* --- source ---------------------------------------------------------------- */

struct pg_source {
    struct xfer_source base;
    PGconn *c;
    const char *url;
    char id[24];
    PGresult *rows;
    int row, nrows;
    uint64_t read, bytes;
    bool done;
};

/* Open a read-only snapshot of the database and find the backup: id, or the
 * newest. *items is its recorded item count. */
static PGconn *open_backup(const char *url, uint64_t id, char *id_out, uint64_t *items,
                           char *err, size_t errlen)
{
    PGconn *c = pg_connect(url, err, errlen);
    if (!c)
        return NULL;
    char ids[24], shown[300];
    snprintf(ids, sizeof(ids), "%" PRIu64, id);
    const char *params[] = {ids};
    PGresult *r = NULL;
    if (exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", url, "BEGIN failed", err,
                errlen))
        r = id ? PQexecParams(c, "SELECT backup_id, items FROM tandem_backups WHERE "
                                 "backup_id = $1", 1, NULL, params, NULL, NULL, 0)
               : PQexec(c, "SELECT backup_id, items FROM tandem_backups WHERE items IS NOT "
                           "NULL ORDER BY backup_id DESC LIMIT 1");
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    xfer_redact(shown, sizeof(shown), url);
    if (r && !ok)
        pg_err(err, errlen, url, "cannot read table tandem_backups (is this a database "
               "tandemctl backup wrote to?)", c);
    else if (ok && PQntuples(r) != 1 && id)
        snprintf(err, errlen, "%s: no backup with backup_id %s", shown, ids);
    else if (ok && PQntuples(r) != 1)
        snprintf(err, errlen, "%s: no complete backup in table tandem_backups", shown);
    else if (ok && PQgetisnull(r, 0, 1))
        snprintf(err, errlen, "%s: backup_id %s is not complete", shown, ids);
    if (ok && PQntuples(r) == 1 && !PQgetisnull(r, 0, 1)) {
        snprintf(id_out, 24, "%s", PQgetvalue(r, 0, 0));
        *items = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        return c;
    }
    PQclear(r);
    PQfinish(c);
    return NULL;
}

static uint64_t src_done(const struct xfer_source *base)
{
    return ((const struct pg_source *)base)->bytes;
}

static enum xfer_next src_fail(struct pg_source *s, const char *what)
{
    pg_err(s->base.err, sizeof(s->base.err), s->url, what, s->c);
    return XFER_ERROR;
}

static bool parse_u64(const char *p, uint64_t max, uint64_t *out)
{
    char *end;
    if (*p < '0' || *p > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    *out = v;
    return *end == '\0' && errno != ERANGE && v <= max;
}

static enum xfer_next row_item(struct pg_source *s, struct xfer_item *it)
{
    PGresult *r = s->rows;
    int i = s->row++;
    uint64_t flags, exptime, version;
    *it = (struct xfer_item){.kind = XFER_SET};
    it->key = PQgetvalue(r, i, 0);
    it->nkey = (size_t)PQgetlength(r, i, 0);
    it->value = PQgetvalue(r, i, 1);
    it->nvalue = (size_t)PQgetlength(r, i, 1);
    if (it->nkey == 0 || it->nkey > 250 || !parse_u64(PQgetvalue(r, i, 2), UINT32_MAX, &flags) ||
        !parse_u64(PQgetvalue(r, i, 3), UINT32_MAX, &exptime) ||
        !parse_u64(PQgetvalue(r, i, 4), UINT64_MAX, &version)) {
        char shown[300];
        xfer_redact(shown, sizeof(shown), s->url);
        snprintf(s->base.err, sizeof(s->base.err), "%s: backup_id %s, row %" PRIu64 ": a key "
                 "outside 1..250 bytes or flags/exptime/version out of range", shown, s->id,
                 s->read + 1);
        return XFER_ERROR;
    }
    it->flags = (uint32_t)flags;
    it->exptime = (uint32_t)exptime;
    it->version = version;
    it->binary_key = strcmp(PQgetvalue(r, i, 5), "true") == 0;
    s->read++;
    s->bytes += it->nvalue;
    return XFER_ITEM;
}

static enum xfer_next src_next(struct xfer_source *base, struct xfer_item *it)
{
    struct pg_source *s = (struct pg_source *)base;
    if (s->row < s->nrows)
        return row_item(s, it);
    if (s->done)
        return XFER_END;
    PQclear(s->rows);
    s->rows = PQexecParams(s->c, "FETCH " FETCH_ROWS " FROM tandem_restore", 0, NULL, NULL,
                           NULL, NULL, 1);
    if (PQresultStatus(s->rows) != PGRES_TUPLES_OK)
        return src_fail(s, "reading the backup failed");
    s->row = 0;
    s->nrows = PQntuples(s->rows);
    if (s->nrows > 0)
        return row_item(s, it);
    s->done = true;
    if (s->read != base->total_items) {
        char shown[300];
        xfer_redact(shown, sizeof(shown), s->url);
        snprintf(base->err, sizeof(base->err), "%s: backup_id %s holds %" PRIu64 " items but "
                 "its tandem_backups row says %" PRIu64, shown, s->id, s->read,
                 base->total_items);
        return XFER_ERROR;
    }
    return XFER_END;
}

static void src_close(struct xfer_source *base)
{
    struct pg_source *s = (struct pg_source *)base;
    PQclear(s->rows);
    PQfinish(s->c);
    free(s);
}

struct xfer_source *ctl_pg_source(const char *url, uint64_t id, char *err, size_t errlen)
{
    struct pg_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->url = url;
    if (!(s->c = open_backup(url, id, s->id, &s->base.total_items, err, errlen))) {
        free(s);
        return NULL;
    }
    const char *params[] = {s->id};
    PGresult *r = PQexecParams(s->c, "DECLARE tandem_restore NO SCROLL CURSOR FOR SELECT key, "
                               "value, flags::text, exptime::text, version::text, "
                               "binary_key::text FROM tandem_backup_items WHERE backup_id = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_err(err, errlen, url, "cannot read table tandem_backup_items", s->c);
        PQclear(r);
        src_close(&s->base);
        return NULL;
    }
    PQclear(r);
    s->base.next = src_next;
    s->base.done_bytes = src_done;
    s->base.close = src_close;
    return &s->base;
}

bool ctl_pg_verify(const char *url, uint64_t id, uint64_t *records, char *err, size_t errlen)
{
    char ids[24], shown[300];
    uint64_t items = 0;
    PGconn *c = open_backup(url, id, ids, &items, err, errlen);
    if (!c)
        return false;
    const char *params[] = {ids};
    PGresult *r = PQexecParams(c, "SELECT count(*) FROM tandem_backup_items WHERE backup_id = $1",
                               1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    uint64_t n = ok ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    xfer_redact(shown, sizeof(shown), url);
    if (!ok)
        pg_err(err, errlen, url, "cannot read table tandem_backup_items", c);
    else if (n != items)
        snprintf(err, errlen, "%s: backup_id %s holds %" PRIu64 " items but its tandem_backups "
                 "row says %" PRIu64, shown, ids, n, items);
    *records = n;
    PQclear(r);
    PQfinish(c);
    return ok && n == items;
}
