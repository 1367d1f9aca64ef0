/*
 * session: framing for one client connection (see session.h).
 *
 * process() runs requests until the input holds no complete one, the reply
 * buffer passes OUT_HIGH_WATER, or -R requests have run; in the last two
 * cases it returns CONN_MORE so the core flushes and lets other clients go
 * first. Values larger than what is buffered are read by the core straight
 * into the item (c->direct), so a 1 MB set is copied once.
 */
#include "server/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "server/auth.h"
#include "server/cmd.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/watch.h"

#define DIRECT_MIN 4096 /* read straight into the item when this much is missing */

void session_reply(struct conn *c, const char *line, bool noreply)
{
    if (noreply)
        return;
    buf_puts(&c->wbuf, line);
    buf_append(&c->wbuf, "\r\n", 2);
}

static void set_state(struct conn *c, struct session *s, enum sess_state st)
{
    static const char *const names[] = {
        [ST_CMD] = "conn_parse_cmd", [ST_NREAD] = "conn_nread", [ST_SWALLOW] = "conn_swallow"};
    s->st = st;
    atomic_store_explicit(&c->state, names[st], memory_order_relaxed);
}

void session_swallow(struct session *s, uint64_t n)
{
    s->swallow = n;
    s->st = n ? ST_SWALLOW : ST_CMD;
}

void session_read_value(struct conn *c, struct session *s, struct store_item *it,
                        uint32_t nvalue)
{
    s->item = it;
    s->data = store_item_data(it);
    s->nvalue = nvalue;
    s->got = 0;
    set_state(c, s, ST_NREAD);
}

static void drop_item(struct conn *c, struct session *s)
{
    if (s->item) {
        store_item_free(conn_thread(c)->srv->store, s->item);
        s->item = NULL;
    }
}

/* Move value bytes from the input into the item. True once the value and its
 * terminator are all here; false means wait for more input. */
static bool fill_value(struct conn *c, struct session *s)
{
    size_t avail = conn_rlen(c);
    size_t need = s->nvalue - s->got;
    size_t take = avail < need ? avail : need;
    memcpy(s->data + s->got, conn_rdata(c), take);
    conn_consume(c, take);
    s->got += (uint32_t)take;
    if (s->got < s->nvalue) {
        size_t missing = s->nvalue - s->got;
        if (missing >= DIRECT_MIN && c->kind != CONN_UDP) {
            c->direct.ptr = s->data + s->got;
            c->direct.left = missing;
            s->got = s->nvalue; /* complete when the core calls us back */
        }
        return false;
    }
    return s->p.kind == PEND_BINARY || conn_rlen(c) >= 2;
}

static void finish_value(struct conn *c, struct session *s)
{
    set_state(c, s, ST_CMD);
    if (s->p.kind == PEND_BINARY) {
        cmd_binary_store(c, s);
        return;
    }
    /* memcached consumes <bytes>+2 whatever the last two bytes are */
    bool bad = memcmp(conn_rdata(c), "\r\n", 2) != 0;
    conn_consume(c, 2);
    if (s->p.kind == PEND_META)
        cmd_meta_store(c, s, bad);
    else
        cmd_text_store(c, s, bad);
}

/* One text request. */
static enum conn_action run_text(struct conn *c, struct session *s, bool *need_more)
{
    struct proto_req req;
    enum proto_status st = proto_text_parse(conn_rdata(c), conn_rlen(c), &req);
    switch (st) {
    case PROTO_NEED_MORE:
        *need_more = true;
        return CONN_WAIT;
    case PROTO_CLOSE:
        return CONN_CLOSE;
    case PROTO_ERROR:
        conn_consume(c, req.nread);
        session_reply(c, req.error, req.noreply);
        session_swallow(s, req.swallow);
        return CONN_WAIT;
    case PROTO_OK:
        break;
    }
    atomic_store_explicit(&c->last_cmd_time, clock_now(), memory_order_relaxed);
    if (req.cmd == PROTO_CMD_APPLY) /* consumes line and block once both are here */
        return cmd_apply_run(c, s, &req, need_more);
    if (req.cmd >= PROTO_CMD_GET && req.cmd <= PROTO_CMD_GATS) {
        /* a multiget may pause when its output grows: the line stays in the
         * input until the last key is answered */
        enum conn_action a = cmd_text_run(c, s, &req);
        if (s->get_resume == 0)
            conn_consume(c, req.nread);
        return a;
    }
    conn_consume(c, req.nread);
    return cmd_text_run(c, s, &req);
}

/* One binary request. */
static enum conn_action run_binary(struct conn *c, struct session *s, bool *need_more)
{
    struct proto_bin_req req;
    switch (proto_bin_parse(conn_rdata(c), conn_rlen(c), &req)) {
    case PROTO_BIN_NEED_MORE:
        *need_more = true;
        return CONN_WAIT;
    case PROTO_BIN_CLOSE:
        return CONN_CLOSE;
    case PROTO_BIN_INVALID:
        proto_bin_error(&c->wbuf, &req, req.status);
        if (req.close_after)
            return CONN_CLOSE;
        conn_consume(c, req.nread);
        session_swallow(s, req.value_len);
        return CONN_WAIT;
    case PROTO_BIN_READY:
        break;
    }
    atomic_store_explicit(&c->last_cmd_time, clock_now(), memory_order_relaxed);
    conn_consume(c, req.nread);
    return cmd_binary_run(c, s, &req);
}

static bool pick_protocol(struct conn *c, struct session *s)
{
    const struct settings *st = conn_thread(c)->srv->settings;
    unsigned char first = (unsigned char)conn_rdata(c)[0];
    /* -B ascii (and -Y) read a 0x80 byte as text, like memcached */
    bool binary = first == PROTO_BIN_REQ_MAGIC && st->binding_protocol != BIND_ASCII &&
                  c->kind != CONN_UDP;
    if (!binary && st->binding_protocol == BIND_BINARY)
        return false;
    s->proto = binary ? SESS_BINARY : SESS_TEXT;
    return true;
}

static enum conn_action process(struct conn *c)
{
    struct session *s = c->ctx;
    const struct settings *st = conn_thread(c)->srv->settings;
    int budget = st->reqs_per_event > 0 ? st->reqs_per_event : 20;

    if (s->watching) { /* watchers only listen; what they send is dropped */
        conn_consume(c, conn_rlen(c));
        return CONN_WAIT;
    }
    cmd_text_lookahead_reset(c, s);
    for (;;) {
        if (s->ack.waiting && acks_resume(c, s))
            return CONN_PARK;
        if (s->snap && !cmd_snapshot_resume(c, s))
            return CONN_PARK;
        if (c->wbuf.len > SESSION_OUT_HIGH)
            return CONN_MORE;
        if (s->st == ST_SWALLOW) {
            size_t n = conn_rlen(c) < s->swallow ? conn_rlen(c) : (size_t)s->swallow;
            conn_consume(c, n);
            s->swallow -= n;
            if (s->swallow)
                return CONN_WAIT;
            set_state(c, s, ST_CMD);
            continue;
        }
        uint64_t pos = repl_thread_pos();
        size_t hold = c->wbuf.len;
        if (s->st == ST_NREAD) {
            if (!fill_value(c, s)) {
                if (c->kind == CONN_UDP) { /* a UDP request must fit its datagram */
                    drop_item(c, s);
                    set_state(c, s, ST_CMD);
                }
                return CONN_WAIT;
            }
            finish_value(c, s);
            if (acks_park(c, s, pos, hold))
                return CONN_PARK;
            continue;
        }
        if (s->dump.active) {
            if (stats_metadump_step(c, s))
                return CONN_MORE;
            continue;
        }
        if (conn_rlen(c) == 0)
            return s->quit ? CONN_CLOSE : CONN_WAIT;
        if (s->proto == SESS_UNKNOWN && !pick_protocol(c, s))
            return CONN_CLOSE;
        if (budget-- == 0)
            return CONN_MORE;
        bool need_more = false;
        enum conn_action a;
        if (s->proto == SESS_BINARY)
            a = run_binary(c, s, &need_more);
        else if (!s->authenticated && st->auth_file)
            a = auth_process(c, s, &need_more);
        else {
            cmd_text_lookahead(c, s);
            a = run_text(c, s, &need_more);
            cmd_text_lookahead_done(s);
        }
        if (a == CONN_CLOSE || s->quit)
            return CONN_CLOSE;
        if (a == CONN_PARK)
            return CONN_PARK;
        if (acks_park(c, s, pos, hold))
            return CONN_PARK;
        if (need_more)
            return CONN_WAIT;
    }
}

static void opened(struct conn *c)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        log_error("out of memory for a session; closing the connection");
        conn_close_after_write(c);
        return;
    }
    c->ctx = s;
    set_state(c, s, ST_CMD);
}

static void closed(struct conn *c)
{
    struct session *s = c->ctx;
    if (!s)
        return;
    drop_item(c, s); /* a client that left mid-value stores nothing */
    acks_cancel(c, s);
    cmd_snapshot_cancel(c, s);
    if (s->watching)
        watch_unsubscribe(conn_thread(c)->srv->watch, c);
    free(s);
    c->ctx = NULL;
}

/* UDP: each datagram is a client of its own; nothing carries over. */
static void reset(struct conn *c)
{
    struct session *s = c->ctx;
    if (!s)
        return;
    drop_item(c, s);
    bool authenticated = false; /* -Y with -U is refused at start-up */
    memset(s, 0, sizeof(*s));
    s->authenticated = authenticated;
    set_state(c, s, ST_CMD);
}

static enum conn_action process_checked(struct conn *c)
{
    return c->ctx ? process(c) : CONN_CLOSE;
}

const struct conn_handler session_handler = {
    .opened = opened,
    .process = process_checked,
    .closed = closed,
    .reset = reset,
};
