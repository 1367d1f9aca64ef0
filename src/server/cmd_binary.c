/*
 * cmd_binary: memcached's binary protocol on top of the same store calls as
 * the text commands.
 *
 * Quiet opcodes suppress the success reply (and a get miss); errors are
 * always sent. `stat` reuses the text stats writer and re-frames each
 * "STAT name value" line as one binary response, so both protocols always
 * report the same numbers.
 */
#include <string.h>

#include "core/clock.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "repl/repl.h"
#include <stdio.h>

#define NO_AUTOCREATE 0xffffffffu

static void ok_empty(struct conn *c, const struct proto_bin_req *r, uint64_t cas)
{
    if (!r->quiet)
        proto_bin_header(&c->wbuf, r, PROTO_BIN_OK, 0, 0, 0, cas);
}

static void error(struct conn *c, const struct proto_bin_req *r, uint16_t status)
{
    proto_bin_error(&c->wbuf, r, status);
}

/* --- get / gat / touch -------------------------------------------------- */

struct bget {
    struct conn *c;
    const struct proto_bin_req *r;
    bool with_key;
    bool with_value;
    uint8_t clsid;
    uint32_t nvalue;
};

static void write_hit(void *arg, const struct store_view *v)
{
    struct bget *g = arg;
    struct buf *b = &g->c->wbuf;
    uint16_t klen = g->with_key ? v->nkey : 0;
    uint32_t vlen = g->with_value ? v->nvalue : 0;
    g->clsid = v->clsid;
    g->nvalue = v->nvalue;
    proto_bin_header(b, g->r, PROTO_BIN_OK, 4, klen, 4u + klen + vlen,
                     server_cas(conn_thread(g->c)->srv, v->version));
    proto_bin_put_u32(b, v->flags);
    buf_append(b, v->key, klen);
    buf_append(b, v->value, vlen);
}

static void do_get(struct conn *c, const struct proto_bin_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    uint8_t op = r->opcode;
    bool touch = op == PROTO_BIN_TOUCH || op == PROTO_BIN_GAT || op == PROTO_BIN_GATQ ||
                 op == PROTO_BIN_GATK || op == PROTO_BIN_GATKQ;
    bool with_key = op == PROTO_BIN_GETK || op == PROTO_BIN_GETKQ || op == PROTO_BIN_GATK ||
                    op == PROTO_BIN_GATKQ;
    struct store_fetch opt = {.touch = touch};
    if (touch)
        opt.exptime = server_exptime((int64_t)r->exptime);
    struct bget g = {c, r, with_key, op != PROTO_BIN_TOUCH, 0, 0};
    bool hit = store_fetch(t->srv->store, r->key, r->keylen, &opt, write_hit, &g) == STORE_OK;
    cmd_log_get(c, r->key, r->keylen, hit, g.clsid, g.nvalue);
    cmd_count_fetch(t, touch, hit, g.clsid);
    if (hit || r->quiet)
        return;
    if (with_key) {
        proto_bin_header(&c->wbuf, r, PROTO_BIN_KEY_ENOENT, 0, r->keylen, r->keylen, 0);
        buf_append(&c->wbuf, r->key, r->keylen);
    } else {
        error(c, r, PROTO_BIN_KEY_ENOENT);
    }
}

/* --- storage ------------------------------------------------------------- */

static enum store_mode bin_mode(uint8_t op, uint64_t cas)
{
    switch (op) {
    case PROTO_BIN_APPEND:
    case PROTO_BIN_APPENDQ: return STORE_APPEND;
    case PROTO_BIN_PREPEND:
    case PROTO_BIN_PREPENDQ: return STORE_PREPEND;
    case PROTO_BIN_ADD:
    case PROTO_BIN_ADDQ: return cas ? STORE_CAS : STORE_ADD;
    case PROTO_BIN_REPLACE:
    case PROTO_BIN_REPLACEQ: return cas ? STORE_CAS : STORE_REPLACE;
    default: return cas ? STORE_CAS : STORE_SET;
    }
}

static void begin_store(struct conn *c, struct session *s, const struct proto_bin_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    bool is_append = r->opcode == PROTO_BIN_APPEND || r->opcode == PROTO_BIN_APPENDQ ||
                     r->opcode == PROTO_BIN_PREPEND || r->opcode == PROTO_BIN_PREPENDQ;
    uint32_t flags = is_append ? 0 : r->flags;
    uint32_t exptime = is_append ? 0 : server_exptime((int64_t)r->exptime);
    struct store_item *it;
    enum store_status st =
        store_item_alloc(t->srv->store, r->key, r->keylen, flags, exptime, r->value_len, &it);
    if (st != STORE_OK) {
        if (st == STORE_TOO_LARGE) {
            TSTAT_INC(t->stats, store_too_large);
            error(c, r, PROTO_BIN_E2BIG);
        } else {
            TSTAT_INC(t->stats, store_no_memory);
            proto_bin_error_msg(&c->wbuf, r, PROTO_BIN_ENOMEM, "Out of memory allocating item");
        }
        session_swallow(s, r->value_len);
        if (r->opcode == PROTO_BIN_SET || r->opcode == PROTO_BIN_SETQ)
            store_delete(t->srv->store, r->key, r->keylen, NULL);
        return;
    }
    s->p.kind = PEND_BINARY;
    s->p.breq = *r;
    s->p.breq.key = NULL; /* points into rbuf, which may move; the item has the key */
    s->p.w = (struct store_write){.mode = bin_mode(r->opcode, r->cas), .cas = r->cas};
    memcpy(s->p.key, r->key, r->keylen);
    s->p.nkey = r->keylen;
    s->p.exptime = exptime;
    session_read_value(c, s, it, r->value_len);
}

void cmd_binary_store(struct conn *c, struct session *s)
{
    struct thread_ctx *t = conn_thread(c);
    const struct proto_bin_req *r = &s->p.breq;
    struct store_item *it = s->item;
    s->item = NULL;
    unsigned clsid = store_item_class(it);
    TSTAT_INC(t->stats, cls[clsid].cmd_set);
    uint64_t version = 0;
    enum store_status st = store_item_link(t->srv->store, it, &s->p.w, &version);
    cmd_log_store(c, s, st, clsid, s->nvalue);
    bool is_cas = s->p.w.mode == STORE_CAS;
    switch (st) {
    case STORE_OK:
        if (is_cas)
            TSTAT_INC(t->stats, cas_hits);
        ok_empty(c, r, server_cas(t->srv, version));
        break;
    case STORE_EXISTS:
        if (is_cas)
            TSTAT_INC(t->stats, cas_badval);
        error(c, r, PROTO_BIN_KEY_EEXISTS);
        break;
    case STORE_NOT_FOUND:
        if (is_cas)
            TSTAT_INC(t->stats, cas_misses);
        error(c, r, PROTO_BIN_KEY_ENOENT);
        break;
    case STORE_NOT_STORED:
        /* memcached maps these to the more specific codes */
        if (s->p.w.mode == STORE_ADD)
            error(c, r, PROTO_BIN_KEY_EEXISTS);
        else if (s->p.w.mode == STORE_REPLACE)
            error(c, r, PROTO_BIN_KEY_ENOENT);
        else
            error(c, r, PROTO_BIN_NOT_STORED);
        break;
    case STORE_NO_MEMORY:
        TSTAT_INC(t->stats, store_no_memory);
        proto_bin_error_msg(&c->wbuf, r, PROTO_BIN_ENOMEM, "Out of memory allocating item");
        break;
    default:
        error(c, r, PROTO_BIN_NOT_STORED);
        break;
    }
}

/* --- delete, arithmetic, misc --------------------------------------------- */

static void do_delete(struct conn *c, const struct proto_bin_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_delete d = {.cas = r->cas};
    enum store_status st = store_delete(t->srv->store, r->key, r->keylen, &d);
    if (st == STORE_OK) {
        TSTAT_INC(t->stats, delete_hits);
        ok_empty(c, r, 0);
    } else if (st == STORE_EXISTS) {
        error(c, r, PROTO_BIN_KEY_EEXISTS);
    } else {
        TSTAT_INC(t->stats, delete_misses);
        error(c, r, PROTO_BIN_KEY_ENOENT);
    }
}

struct arith_out {
    uint64_t version;
    uint8_t clsid;
};

static void note_arith(void *arg, const struct store_view *v)
{
    struct arith_out *o = arg;
    o->version = v->version;
    o->clsid = v->clsid;
}

static void do_arith(struct conn *c, const struct proto_bin_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    bool incr = r->opcode == PROTO_BIN_INCREMENT || r->opcode == PROTO_BIN_INCREMENTQ;
    struct store_arith a = {
        .incr = incr,
        .delta = r->delta,
        .cas = r->cas,
        .vivify = r->exptime != NO_AUTOCREATE,
        .initial = r->initial,
        .vivify_exptime = r->exptime != NO_AUTOCREATE ? server_exptime((int64_t)r->exptime) : 0,
    };
    uint64_t value = 0;
    struct arith_out o = {0};
    enum store_status st =
        store_arith(t->srv->store, r->key, r->keylen, &a, &value, note_arith, &o);
    switch (st) {
    case STORE_OK:
        if (incr)
            TSTAT_INC(t->stats, cls[o.clsid].incr_hits);
        else
            TSTAT_INC(t->stats, cls[o.clsid].decr_hits);
        if (!r->quiet) {
            proto_bin_header(&c->wbuf, r, PROTO_BIN_OK, 0, 0, 8, server_cas(t->srv, o.version));
            proto_bin_put_u64(&c->wbuf, value);
        }
        break;
    case STORE_NOT_FOUND:
        if (incr)
            TSTAT_INC(t->stats, incr_misses);
        else
            TSTAT_INC(t->stats, decr_misses);
        error(c, r, PROTO_BIN_KEY_ENOENT);
        break;
    case STORE_EXISTS: error(c, r, PROTO_BIN_KEY_EEXISTS); break;
    case STORE_NON_NUMERIC: error(c, r, PROTO_BIN_DELTA_BADVAL); break;
    default:
        proto_bin_error_msg(&c->wbuf, r, PROTO_BIN_ENOMEM,
                            a.vivify ? "Out of memory allocating new item"
                                     : "Out of memory incrementing value");
        break;
    }
}

static bool key_is(const struct proto_bin_req *r, const char *s)
{
    size_t n = strlen(s);
    return r->keylen == n && memcmp(r->key, s, n) == 0;
}

/* Re-frame "STAT name value\r\n" lines from the text writer as binary. */
static void reframe(struct conn *c, const struct proto_bin_req *r, const struct buf *lines)
{
    for (size_t i = 0; i < lines->len;) {
        const char *line = lines->data + i;
        const char *eol = memchr(line, '\n', lines->len - i);
        size_t n = eol ? (size_t)(eol - line) : lines->len - i;
        i += n + 1;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n <= 5 || memcmp(line, "STAT ", 5) != 0)
            continue;
        const char *name = line + 5;
        const char *sp = memchr(name, ' ', n - 5);
        size_t nn = sp ? (size_t)(sp - name) : n - 5;
        proto_bin_stat(&c->wbuf, r, name, nn, sp ? sp + 1 : "", sp ? n - 5 - nn - 1 : 0);
    }
}

/* STAT: the key names the group, as with the text `stats <group>`. */
static void do_stat(struct conn *c, struct session *s, const struct proto_bin_req *r)
{
    struct server *srv = conn_thread(c)->srv;
    struct proto_req req = {.cmd = PROTO_CMD_STATS, .ntokens = 1};
    req.tokens[0] = (struct proto_token){"stats", 5};
    if (r->keylen >= 5 && memcmp(r->key, "reset", 5) == 0) {
        tstats_reset(srv->tstats, srv->nworkers);
        store_stats_reset(srv->store);
    } else if (key_is(r, "detail on") || key_is(r, "detail off")) {
        atomic_store(&srv->detail_enabled, r->keylen == 9);
    } else if (key_is(r, "detail dump")) {
        struct buf dump = {0};
        cmd_detail_dump(srv, &dump);
        proto_bin_stat(&c->wbuf, r, "detailed", 8, dump.data, dump.len);
        buf_free(&dump);
    } else if (r->keylen == 0 || key_is(r, "settings") || key_is(r, "items") ||
               key_is(r, "slabs") || key_is(r, "sizes")) {
        if (r->keylen) {
            req.tokens[1] = (struct proto_token){r->key, r->keylen};
            req.ntokens = 2;
        }
        struct buf text = c->wbuf; /* borrow the text writer by swapping buffers */
        c->wbuf = (struct buf){0};
        stats_run(c, s, &req);
        struct buf lines = c->wbuf;
        c->wbuf = text;
        reframe(c, r, &lines);
        buf_free(&lines);
    } else {
        error(c, r, PROTO_BIN_KEY_ENOENT);
    }
    proto_bin_stat(&c->wbuf, r, "", 0, "", 0);
}

static void do_flush(struct conn *c, const struct proto_bin_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, flush_cmds);
    if (!t->srv->settings->flush_enabled) {
        error(c, r, PROTO_BIN_AUTH_ERROR);
        return;
    }
    /* binary exptimes are unsigned: 0xffffffff is 2106, not a negative delay */
    store_flush(t->srv->store, r->exptime > 0 ? server_exptime((int64_t)r->exptime) - 1 : 0);
    ok_empty(c, r, 0);
}

static bool is_write(uint8_t cmd)
{
    switch (cmd) {
    case PROTO_BIN_SET:
    case PROTO_BIN_ADD:
    case PROTO_BIN_REPLACE:
    case PROTO_BIN_APPEND:
    case PROTO_BIN_PREPEND:
    case PROTO_BIN_DELETE:
    case PROTO_BIN_INCREMENT:
    case PROTO_BIN_DECREMENT:
    case PROTO_BIN_TOUCH:
    case PROTO_BIN_GAT:
    case PROTO_BIN_GATK:
    case PROTO_BIN_FLUSH: return true;
    default: return false;
    }
}

static bool is_read(uint8_t cmd)
{
    switch (cmd) {
    case PROTO_BIN_GET:
    case PROTO_BIN_GETQ:
    case PROTO_BIN_GETK:
    case PROTO_BIN_GETKQ:
    case PROTO_BIN_GATQ:
    case PROTO_BIN_GATKQ: return true;
    default: return false;
    }
}

/* --repl-sync-wait error: until the first sync, data requests get a
 * temporary failure, as text and meta requests get a SERVER_ERROR. */
static bool refuse_while_syncing(struct conn *c, struct session *s, struct proto_bin_req *r)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->sync_refuse || atomic_load_explicit(&srv->synced, memory_order_relaxed))
        return false;
    if (repl_synced(srv->repl)) {
        atomic_store(&srv->synced, true);
        return false;
    }
    if (!is_write(r->cmd) && !is_read(r->cmd))
        return false;
    proto_bin_error_msg(&c->wbuf, r, PROTO_BIN_ETMPFAIL, "syncing with peers; try again shortly");
    session_swallow(s, r->value_len);
    return true;
}

enum conn_action cmd_binary_run(struct conn *c, struct session *s, struct proto_bin_req *r)
{
    struct server *srv = conn_thread(c)->srv;
    if (refuse_while_syncing(c, s, r))
        return CONN_WAIT;
    if (srv->repl && repl_read_only(srv->repl) && is_write(r->cmd)) {
        char msg[160];
        char master[96];
        repl_master(srv->repl, master, sizeof(master));
        snprintf(msg, sizeof(msg), "read-only replica of %s", master);
        proto_bin_error_msg(&c->wbuf, r, PROTO_BIN_NOT_STORED, msg);
        session_swallow(s, r->value_len);
        return CONN_WAIT;
    }
    switch (r->cmd) {
    case PROTO_BIN_GET:
    case PROTO_BIN_GETQ:
    case PROTO_BIN_GETK:
    case PROTO_BIN_GETKQ:
    case PROTO_BIN_TOUCH:
    case PROTO_BIN_GAT:
    case PROTO_BIN_GATQ:
    case PROTO_BIN_GATK:
    case PROTO_BIN_GATKQ: do_get(c, r); break;
    case PROTO_BIN_SET:
    case PROTO_BIN_SETQ:
    case PROTO_BIN_ADD:
    case PROTO_BIN_ADDQ:
    case PROTO_BIN_REPLACE:
    case PROTO_BIN_REPLACEQ:
    case PROTO_BIN_APPEND:
    case PROTO_BIN_APPENDQ:
    case PROTO_BIN_PREPEND:
    case PROTO_BIN_PREPENDQ: begin_store(c, s, r); return CONN_WAIT;
    case PROTO_BIN_DELETE:
    case PROTO_BIN_DELETEQ: do_delete(c, r); break;
    case PROTO_BIN_INCREMENT:
    case PROTO_BIN_INCREMENTQ:
    case PROTO_BIN_DECREMENT:
    case PROTO_BIN_DECREMENTQ: do_arith(c, r); break;
    case PROTO_BIN_QUIT:
        ok_empty(c, r, 0);
        s->quit = true;
        return CONN_CLOSE;
    case PROTO_BIN_QUITQ: s->quit = true; return CONN_CLOSE;
    case PROTO_BIN_FLUSH:
    case PROTO_BIN_FLUSHQ: do_flush(c, r); break;
    case PROTO_BIN_NOOP: ok_empty(c, r, 0); break;
    case PROTO_BIN_VERSION:
        proto_bin_header(&c->wbuf, r, PROTO_BIN_OK, 0, 0, sizeof(TANDEM_MEMCACHED_VERSION) - 1, 0);
        buf_puts(&c->wbuf, TANDEM_MEMCACHED_VERSION);
        break;
    case PROTO_BIN_STAT: do_stat(c, s, r); break;
    case PROTO_BIN_VERBOSITY: ok_empty(c, r, 0); break;
    default: error(c, r, PROTO_BIN_UNKNOWN_COMMAND); break;
    }
    /* any value bytes a non-storage opcode carried are not used */
    session_swallow(s, r->value_len);
    return CONN_WAIT;
}
