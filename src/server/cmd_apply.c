/*
 * cmd_apply: `apply <bytes> [noreply]`, the way a backup goes back in.
 *
 * `tandemctl restore` sends a backup as batches of the replication frames it
 * is stored as (docs/replication.md). Each record is merged by
 * last-writer-wins exactly as a peer's would be, so an old backup never
 * overwrites newer data, and a restore can run against a node that is
 * serving clients. The records reach the change feed as this node's own
 * writes, so its peers and replicas receive them too.
 *
 *     apply <bytes> [noreply]\r\n<bytes of SET, TOMB and FLUSH frames>\r\n
 *     -> APPLIED <newer> <ignored>
 *
 * A batch is checked whole before any of it is applied: one bad frame and
 * the batch is refused with the offset of the problem, so a corrupt batch
 * is never half applied. The data block stays in the connection's input
 * until all of it has arrived, which is why a batch has a size limit.
 */
#include <inttypes.h>
#include <stdio.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "core/log.h"
#include "repl/frame.h"
#include "repl/repl.h"
#include "server/cmd.h"
#include "server/session.h"

#define APPLY_MAX (64u << 20)          /* largest batch, bytes */
#define APPLY_FUTURE_MS (3600 * 1000)  /* a version this far ahead of our clock is refused */

/* Check every frame of the batch; NULL if all can be applied, else the
 * error line (written into line). */
static const char *check_batch(const char *data, size_t n, char *line, size_t linelen)
{
    uint64_t horizon = hlc_from_ms(clock_now_ms() + APPLY_FUTURE_MS);
    for (size_t off = 0; off < n;) {
        struct frame f;
        enum frame_status st = frame_decode(data + off, n - off, &f);
        if (st == FRAME_NEED_MORE) {
            snprintf(line, linelen, "CLIENT_ERROR bad frame at offset %zu: truncated frame", off);
            return line;
        }
        if (st != FRAME_OK) {
            snprintf(line, linelen, "CLIENT_ERROR bad frame at offset %zu: %s", off + f.err_at,
                     frame_strerror(st));
            return line;
        }
        if (f.type != FRAME_SET && f.type != FRAME_TOMB && f.type != FRAME_FLUSH) {
            snprintf(line, linelen,
                     "CLIENT_ERROR bad frame at offset %zu: a %s frame cannot be applied", off,
                     frame_type_name(f.type));
            return line;
        }
        uint64_t v = f.type == FRAME_FLUSH ? f.flush.cutoff : f.rec.version;
        if (v > horizon) {
            snprintf(line, linelen,
                     "CLIENT_ERROR bad frame at offset %zu: version %" PRIu64
                     " is more than an hour ahead of this node's clock",
                     off, v);
            return line;
        }
        off += f.size;
    }
    return NULL;
}

/* Merge a checked batch; counts into *newer, *ignored, *failed. */
static void apply_batch(struct store *store, const char *data, size_t n, uint64_t *newer,
                        uint64_t *ignored, uint64_t *failed)
{
    for (size_t off = 0; off < n;) {
        struct frame f;
        frame_decode(data + off, n - off, &f); /* checked: cannot fail */
        off += f.size;
        if (f.type == FRAME_FLUSH) {
            store_apply_flush(store, f.flush.cutoff, f.flush.when, f.flush.issued);
            ++*newer;
            continue;
        }
        struct store_record r;
        frame_to_store_record(&f, &r);
        r.local = true;
        switch (store_apply(store, &r)) {
        case STORE_OK: ++*newer; break;
        case STORE_IGNORED: ++*ignored; break;
        default: ++*failed; break;
        }
    }
}

enum conn_action cmd_apply_run(struct conn *c, struct session *s, const struct proto_req *req,
                               bool *need_more)
{
    struct server *srv = conn_thread(c)->srv;
    char line[256];
    if (req->nbytes > APPLY_MAX) {
        conn_consume(c, req->nread);
        snprintf(line, sizeof(line), "CLIENT_ERROR apply batch larger than %u bytes", APPLY_MAX);
        session_reply(c, line, false);
        session_swallow(s, (uint64_t)req->nbytes + 2);
        return CONN_WAIT;
    }
    size_t whole = req->nread + (size_t)req->nbytes + 2;
    if (conn_rlen(c) < whole) {
        *need_more = true; /* the line is parsed again once the block is here */
        return CONN_WAIT;
    }
    const char *data = conn_rdata(c) + req->nread;
    const char *err = NULL;
    if (data[req->nbytes] != '\r' || data[req->nbytes + 1] != '\n') {
        err = "CLIENT_ERROR bad data chunk";
    } else if (srv->repl && repl_read_only(srv->repl)) {
        char master[96];
        repl_master(srv->repl, master, sizeof(master));
        snprintf(line, sizeof(line), "SERVER_ERROR read-only replica of %s", master);
        err = line;
    } else {
        err = check_batch(data, req->nbytes, line, sizeof(line));
    }
    if (err) {
        conn_consume(c, whole);
        session_reply(c, err, false); /* a refused batch is always reported */
        return CONN_WAIT;
    }
    uint64_t newer = 0, ignored = 0, failed = 0;
    apply_batch(srv->store, data, req->nbytes, &newer, &ignored, &failed);
    conn_consume(c, whole);
    if (failed) {
        log_error("apply: %" PRIu64 " records not stored (too large or out of memory)", failed);
        snprintf(line, sizeof(line),
                 "SERVER_ERROR %" PRIu64 " records not stored (too large or out of memory); "
                 "%" PRIu64 " newer applied, %" PRIu64 " older ignored",
                 failed, newer, ignored);
        session_reply(c, line, false);
        return CONN_WAIT;
    }
    snprintf(line, sizeof(line), "APPLIED %" PRIu64 " %" PRIu64, newer, ignored);
    session_reply(c, line, req->noreply);
    return CONN_WAIT;
}
