/*
 * cmd_text: memcached's classic text commands, one function each.
 *
 * Each function turns a parsed request into a store call and writes the
 * reply memcached 1.6.18 would write, byte for byte, counting the same
 * statistics. Admin commands live in cmd_admin.c, meta commands in
 * cmd_meta.c.
 */
#include <string.h>

#include "core/clock.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/watch.h"

/* --- retrieval ---------------------------------------------------------- */

struct get_ctx {
    struct conn *c;
    bool with_cas;
    uint8_t clsid;
    uint32_t nvalue;
};

static void write_value(void *arg, const struct store_view *v)
{
    struct get_ctx *g = arg;
    const struct server *srv = conn_thread(g->c)->srv;
    g->clsid = v->clsid;
    g->nvalue = v->nvalue;
    proto_text_value(&g->c->wbuf, v->key, v->nkey, v->flags, v->value, v->nvalue, g->with_cas,
                     server_cas(srv, v->version));
}

static bool keys_ok(struct proto_token rest)
{
    struct proto_token key;
    while (proto_text_next_key(&rest, &key))
        if (key.n > PROTO_KEY_MAX)
            return false;
    return true;
}

/* A multi-get takes its keys GET_BATCH at a time: it hashes them and
 * starts loading their bucket slots, then loads the slots and starts
 * loading the items behind them, then fetches them in order. The cache
 * misses of a batch overlap instead of following each other, and each key
 * is hashed once. Pipelined single-key gets prefetch ahead in the input
 * instead, the slot GET_PREFETCH lines ahead and the item
 * GET_PREFETCH_ITEM lines ahead. */
#define GET_BATCH 16
#define GET_PREFETCH 8
#define GET_PREFETCH_ITEM 4

/* --- pipelined gets: prefetch ahead in the input ----------------------- */

/* The key of a complete single "get KEY" or "gets KEY" line at rbuf offset
 * off (only the first key of a longer line). Returns the line's length
 * with its newline, or 0 if there is no complete get line there. */
static size_t get_line_key(const struct conn *c, size_t off, struct proto_token *key)
{
    const char *p = c->rbuf.data + off;
    size_t len = c->rbuf.len - off, skip;
    if (len > 4 && memcmp(p, "get ", 4) == 0)
        skip = 4;
    else if (len > 5 && memcmp(p, "gets ", 5) == 0)
        skip = 5;
    else
        return 0;
    size_t max = len < PROTO_KEY_MAX + 8 ? len : PROTO_KEY_MAX + 8;
    const char *nl = memchr(p + skip, '\n', max - skip);
    if (nl == NULL)
        return 0;
    size_t n = 0;
    while (p + skip + n < nl && p[skip + n] != ' ' && p[skip + n] != '\r')
        n++;
    *key = (struct proto_token){p + skip, n};
    return (size_t)(nl - p) + 1;
}

void cmd_text_lookahead_reset(struct conn *c, struct session *s)
{
    s->ahead.slot = s->ahead.item = c->rpos;
    s->ahead.nslot = s->ahead.nitem = 0;
}

/* Advance one pointer over up to `want` get lines from the read position,
 * prefetching each line's key (its item if `item`). The line at the read
 * position is counted but not prefetched: it runs next, and do_get hashes
 * and prefetches its keys itself. */
static void ahead_fill(struct conn *c, struct store *st, size_t *off, unsigned *n, unsigned want,
                       bool item)
{
    if (*off < c->rpos) { /* the request that ran was not one of ours */
        *off = c->rpos;
        *n = 0;
    }
    struct proto_token key;
    size_t len;
    while (*n < want && (len = get_line_key(c, *off, &key)) > 0) {
        if (*off != c->rpos)
            store_prefetch(st, store_hash(key.p, key.n), item);
        *off += len;
        (*n)++;
    }
}

void cmd_text_lookahead(struct conn *c, struct session *s)
{
    struct store *st = conn_thread(c)->srv->store;
    /* +1: the line at the read position is the request about to run */
    ahead_fill(c, st, &s->ahead.slot, &s->ahead.nslot, GET_PREFETCH + 1, false);
    ahead_fill(c, st, &s->ahead.item, &s->ahead.nitem, GET_PREFETCH_ITEM + 1, true);
}

void cmd_text_lookahead_done(struct session *s)
{
    if (s->ahead.nslot > 0)
        s->ahead.nslot--;
    if (s->ahead.nitem > 0)
        s->ahead.nitem--;
}

struct get_key {
    struct proto_token key;
    uint64_t h;
};

/* The next keys of a get, at most GET_BATCH, hashed and prefetched. */
static unsigned get_batch(struct store *st, struct proto_token *rest, struct get_key *b)
{
    unsigned n = 0;
    while (n < GET_BATCH && proto_text_next_key(rest, &b[n].key)) {
        b[n].h = store_hash(b[n].key.p, b[n].key.n);
        store_prefetch(st, b[n].h, false);
        n++;
    }
    if (n > 1) /* one key: nothing to overlap */
        for (unsigned i = 0; i < n; i++)
            store_prefetch(st, b[i].h, true);
    return n;
}

/* get/gets/gat/gats. Values are copied into the output, so a multiget of
 * many large values pauses whenever the output passes SESSION_OUT_HIGH: the
 * core sends what is there and calls back, and the get resumes at
 * s->get_resume (an offset into its line, which stays unconsumed). */
static enum conn_action do_get(struct conn *c, struct session *s, struct proto_req *req,
                               bool with_cas, bool touch)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_fetch opt = {.touch = touch};
    if (touch)
        opt.exptime = server_exptime(req->exptime);
    struct proto_token rest = req->keys;
    if (s->get_resume == 0 && !keys_ok(rest)) {
        /* memcached answers only the error for the whole get */
        session_reply(c, "CLIENT_ERROR bad command line format", false);
        return CONN_WAIT;
    }
    if (s->get_resume > 0) {
        const char *from = conn_rdata(c) + s->get_resume;
        rest.n -= (size_t)(from - rest.p);
        rest.p = from;
    }
    size_t cap = c->kind == CONN_UDP ? SESSION_UDP_MAX : SESSION_OUT_HIGH;
    struct get_ctx g = {.c = c, .with_cas = with_cas};
    struct store *st = t->srv->store;
    struct get_key batch[GET_BATCH];
    unsigned n;
    s->get_resume = 0;
    while ((n = get_batch(st, &rest, batch)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            const struct proto_token *key = &batch[i].key;
            if (c->wbuf.len > cap) {
                if (c->kind == CONN_UDP)
                    goto done; /* a datagram reply cannot grow further: answer what fits */
                s->get_resume = (size_t)(key->p - conn_rdata(c));
                return CONN_MORE;
            }
            bool hit = store_fetch_hashed(st, key->p, key->n, batch[i].h, &opt, write_value, &g) ==
                       STORE_OK;
            cmd_count_fetch(t, touch, hit, g.clsid);
            cmd_detail_record(t->srv, key->p, key->n, CMD_DETAIL_GET, hit);
            cmd_log_get(c, key->p, key->n, hit, g.clsid, g.nvalue);
        }
    }
done:
    buf_append(&c->wbuf, "END\r\n", 5);
    return CONN_WAIT;
}

/* --- storage -------------------------------------------------------------- */

static enum store_mode text_mode(enum proto_cmd cmd)
{
    switch (cmd) {
    case PROTO_CMD_ADD: return STORE_ADD;
    case PROTO_CMD_REPLACE: return STORE_REPLACE;
    case PROTO_CMD_APPEND: return STORE_APPEND;
    case PROTO_CMD_PREPEND: return STORE_PREPEND;
    case PROTO_CMD_CAS: return STORE_CAS;
    default: return STORE_SET;
    }
}

/* Reserve the item for a storage command, or answer why not and skip the
 * data block. A failed `set` also removes the old value, as memcached does,
 * so a client never reads stale data after an error. */
bool cmd_begin_store(struct conn *c, struct session *s, const char *key, size_t nkey,
                     uint32_t flags, uint32_t exptime, uint32_t nbytes, bool is_set,
                     bool noreply, uint64_t trailer)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_item *it;
    enum store_status st = store_item_alloc(t->srv->store, key, nkey, flags, exptime, nbytes, &it);
    if (st == STORE_OK) {
        memcpy(s->p.key, key, nkey);
        s->p.nkey = nkey;
        s->p.exptime = exptime;
        session_read_value(c, s, it, nbytes);
        return true;
    }
    memcpy(s->p.key, key, nkey);
    s->p.nkey = nkey;
    s->p.exptime = exptime;
    cmd_log_store(c, s, st, 0, nbytes);
    if (st == STORE_TOO_LARGE) {
        TSTAT_INC(t->stats, store_too_large);
        session_reply(c, "SERVER_ERROR object too large for cache", noreply);
    } else {
        TSTAT_INC(t->stats, store_no_memory);
        session_reply(c, "SERVER_ERROR out of memory storing object", noreply);
    }
    session_swallow(s, (uint64_t)nbytes + trailer);
    if (is_set)
        store_delete(t->srv->store, key, nkey, NULL);
    return false;
}

static enum conn_action do_store(struct conn *c, struct session *s, struct proto_req *req)
{
    s->p.kind = PEND_TEXT;
    s->p.noreply = req->noreply;
    s->p.req.cmd = req->cmd;
    s->p.w = (struct store_write){.mode = text_mode(req->cmd), .cas = req->cas};
    cmd_begin_store(c, s, req->key.p, req->key.n, req->flags, server_exptime(req->exptime),
                    req->nbytes, req->cmd == PROTO_CMD_SET, req->noreply, 2);
    return CONN_WAIT;
}

void cmd_text_store(struct conn *c, struct session *s, bool bad_chunk)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_item *it = s->item;
    s->item = NULL;
    TSTAT_INC(t->stats, cls[store_item_class(it)].cmd_set);
    if (bad_chunk) {
        store_item_free(t->srv->store, it);
        session_reply(c, "CLIENT_ERROR bad data chunk", s->p.noreply);
        return;
    }
    unsigned clsid = store_item_class(it);
    enum store_status st = store_item_link(t->srv->store, it, &s->p.w, NULL);
    cmd_log_store(c, s, st, clsid, s->nvalue);
    bool is_cas = s->p.w.mode == STORE_CAS;
    const char *reply = "SERVER_ERROR Unhandled storage type.";
    switch (st) {
    case STORE_OK:
        reply = "STORED";
        if (is_cas)
            TSTAT_INC(t->stats, cas_hits);
        break;
    case STORE_EXISTS:
        reply = "EXISTS";
        if (is_cas)
            TSTAT_INC(t->stats, cas_badval);
        break;
    case STORE_NOT_FOUND:
        reply = "NOT_FOUND";
        if (is_cas)
            TSTAT_INC(t->stats, cas_misses);
        break;
    case STORE_NOT_STORED:
        reply = "NOT_STORED";
        break;
    case STORE_NO_MEMORY:
        TSTAT_INC(t->stats, store_no_memory);
        reply = "SERVER_ERROR out of memory storing object";
        break;
    default:
        break;
    }
    cmd_detail_record(t->srv, s->p.key, s->p.nkey, CMD_DETAIL_SET, true);
    session_reply(c, reply, s->p.noreply);
}

/* --- single-key commands -------------------------------------------------- */

static enum conn_action do_delete(struct conn *c, struct proto_req *req)
{
    struct thread_ctx *t = conn_thread(c);
    enum store_status st = store_delete(t->srv->store, req->key.p, req->key.n, NULL);
    if (st == STORE_OK)
        TSTAT_INC(t->stats, delete_hits);
    else
        TSTAT_INC(t->stats, delete_misses);
    cmd_detail_record(t->srv, req->key.p, req->key.n, CMD_DETAIL_DELETE, st == STORE_OK);
    session_reply(c, st == STORE_OK ? "DELETED" : "NOT_FOUND", req->noreply);
    return CONN_WAIT;
}

static void note_class(void *arg, const struct store_view *v) { *(uint8_t *)arg = v->clsid; }

static enum conn_action do_arith(struct conn *c, struct proto_req *req, bool incr)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_arith a = {.incr = incr, .delta = req->delta};
    uint64_t value = 0;
    uint8_t clsid = 0;
    enum store_status st =
        store_arith(t->srv->store, req->key.p, req->key.n, &a, &value, note_class, &clsid);
    switch (st) {
    case STORE_OK: {
        if (incr)
            TSTAT_INC(t->stats, cls[clsid].incr_hits);
        else
            TSTAT_INC(t->stats, cls[clsid].decr_hits);
        if (!req->noreply) {
            buf_put_u64(&c->wbuf, value);
            buf_append(&c->wbuf, "\r\n", 2);
        }
        break;
    }
    case STORE_NOT_FOUND:
        if (incr)
            TSTAT_INC(t->stats, incr_misses);
        else
            TSTAT_INC(t->stats, decr_misses);
        session_reply(c, "NOT_FOUND", req->noreply);
        break;
    case STORE_NON_NUMERIC:
        session_reply(c, "CLIENT_ERROR cannot increment or decrement non-numeric value",
                      req->noreply);
        break;
    default:
        session_reply(c, "SERVER_ERROR out of memory", req->noreply);
        break;
    }
    return CONN_WAIT;
}

static enum conn_action do_touch(struct conn *c, struct proto_req *req)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_fetch opt = {.touch = true, .exptime = server_exptime(req->exptime)};
    uint8_t clsid = 0;
    bool hit =
        store_fetch(t->srv->store, req->key.p, req->key.n, &opt, note_class, &clsid) == STORE_OK;
    cmd_count_fetch(t, true, hit, clsid);
    session_reply(c, hit ? "TOUCHED" : "NOT_FOUND", req->noreply);
    return CONN_WAIT;
}

enum conn_action cmd_text_run(struct conn *c, struct session *s, struct proto_req *req)
{
    if (cmd_refuse_on_replica(c, s, req) || cmd_refuse_while_syncing(c, s, req))
        return CONN_WAIT;
    switch (req->cmd) {
    case PROTO_CMD_GET: return do_get(c, s, req, false, false);
    case PROTO_CMD_GETS: return do_get(c, s, req, true, false);
    case PROTO_CMD_GAT: return do_get(c, s, req, false, true);
    case PROTO_CMD_GATS: return do_get(c, s, req, true, true);
    case PROTO_CMD_SET:
    case PROTO_CMD_ADD:
    case PROTO_CMD_REPLACE:
    case PROTO_CMD_APPEND:
    case PROTO_CMD_PREPEND:
    case PROTO_CMD_CAS: return do_store(c, s, req);
    case PROTO_CMD_DELETE: return do_delete(c, req);
    case PROTO_CMD_INCR: return do_arith(c, req, true);
    case PROTO_CMD_DECR: return do_arith(c, req, false);
    case PROTO_CMD_TOUCH: return do_touch(c, req);
    case PROTO_CMD_MG:
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
    case PROTO_CMD_MA:
    case PROTO_CMD_MN:
    case PROTO_CMD_ME: return cmd_meta_run(c, s, req);
    case PROTO_CMD_QUIT:
        s->quit = true;
        return CONN_CLOSE;
    default: return cmd_admin_run(c, s, req);
    }
}

/* --- counting and watch logging -------------------------------------------- */

void cmd_count_fetch(struct thread_ctx *t, bool touch, bool hit, unsigned clsid)
{
    if (touch) {
        TSTAT_INC(t->stats, touch_cmds);
        if (hit)
            TSTAT_INC(t->stats, cls[clsid].touch_hits);
        else
            TSTAT_INC(t->stats, touch_misses);
    } else {
        TSTAT_INC(t->stats, get_cmds);
        if (hit)
            TSTAT_INC(t->stats, cls[clsid].get_hits);
        else
            TSTAT_INC(t->stats, get_misses);
    }
}

void cmd_log_get(struct conn *c, const char *key, size_t nkey, bool hit, unsigned clsid,
                 uint32_t nvalue)
{
    struct watch *w = conn_thread(c)->srv->watch;
    if (watch_wanted(w, WATCH_FETCHERS))
        watch_item_get(w, c->fd, key, nkey, hit ? WATCH_FOUND : WATCH_NOT_FOUND,
                       hit ? clsid : 0, hit ? nvalue : 0);
}

void cmd_log_store(struct conn *c, struct session *s, enum store_status st, unsigned clsid,
                   uint32_t nvalue)
{
    static const char *const cmds[] = {[STORE_SET] = "set",         [STORE_ADD] = "add",
                                       [STORE_REPLACE] = "replace", [STORE_APPEND] = "append",
                                       [STORE_PREPEND] = "prepend", [STORE_CAS] = "cas"};
    struct watch *w = conn_thread(c)->srv->watch;
    if (!watch_wanted(w, WATCH_MUTATIONS))
        return;
    const char *status = st == STORE_OK ? "stored"
                         : st == STORE_EXISTS ? "exists"
                         : st == STORE_NOT_FOUND ? "not_found"
                         : st == STORE_TOO_LARGE ? "too_large"
                         : st == STORE_NO_MEMORY ? "no_memory"
                                                 : "not_stored";
    uint32_t now = clock_now();
    uint32_t ttl = s->p.exptime > now ? s->p.exptime - now : 0;
    watch_item_store(w, c->fd, s->p.key, s->p.nkey, status, cmds[s->p.w.mode], ttl, clsid, nvalue);
}
