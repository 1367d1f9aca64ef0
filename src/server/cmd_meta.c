/*
 * cmd_meta: memcached's meta commands (mg ms md ma mn me).
 *
 * Replies reflect the request's flags in request order. A few rules from
 * memcached 1.6.18 shape the code:
 *  - errors are always sent; q hides only the nominal code (mg: EN, ms/md/ma:
 *    HD), so `mn` can end a quiet pipeline;
 *  - mg processes T, N and R where they appear, so `t` before `T` reports
 *    the TTL from before the touch;
 *  - after the reflected flags mg appends Z (a recache token is out), X
 *    (stale) and W (this client won the token), in that order.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"

static bool has(const struct proto_req *r, char f) { return proto_meta_has(&r->meta, f); }

/* " k<key>", base64 plus " b" for binary keys. */
static void put_key(struct buf *b, const char *key, size_t nkey, bool binary)
{
    buf_append(b, " k", 2);
    if (!binary) {
        buf_append(b, key, nkey);
        return;
    }
    char enc[((PROTO_KEY_MAX + 2) / 3) * 4 + 1];
    size_t n = proto_base64_encode((const unsigned char *)key, nkey, enc, sizeof(enc));
    buf_append(b, enc, n);
    buf_append(b, " b", 2);
}

static void put_opaque(struct buf *b, const struct proto_req *r)
{
    buf_append(b, " O", 2);
    buf_append(b, r->meta.opaque.p, r->meta.opaque.n);
}

static void put_num(struct buf *b, char flag, uint64_t v)
{
    char f[2] = {' ', flag};
    buf_append(b, f, 2);
    buf_put_u64(b, v);
}

static void put_ttl(struct buf *b, uint32_t exptime, uint32_t now)
{
    if (exptime == 0) {
        buf_append(b, " t-1", 4);
        return;
    }
    /* memcached prints the unsigned difference */
    put_num(b, 't', (uint32_t)(exptime - now));
}

/* Reflect only O and k (miss and failure replies). */
static void put_ok_flags(struct buf *b, const struct proto_req *r, const char *key, size_t nkey,
                         bool binary)
{
    for (unsigned i = 0; i < r->meta.norder; i++) {
        if (r->meta.order[i] == 'O')
            put_opaque(b, r);
        else if (r->meta.order[i] == 'k')
            put_key(b, key, nkey, binary);
    }
}

static void end_line(struct buf *b) { buf_append(b, "\r\n", 2); }

/* --- mg --------------------------------------------------------------------- */

struct mg_ctx {
    struct conn *c;
    const struct proto_req *r;
    uint8_t clsid;
};

static void mg_hit(void *arg, const struct store_view *v)
{
    struct mg_ctx *g = arg;
    const struct proto_req *r = g->r;
    struct buf *b = &g->c->wbuf;
    const struct server *srv = conn_thread(g->c)->srv;
    uint32_t now = clock_now();
    g->clsid = v->clsid;
    if (has(r, 'v')) {
        buf_append(b, "VA ", 3);
        buf_put_u64(b, v->nvalue);
    } else {
        buf_append(b, "HD", 2);
    }
    /* The store already applied T/N; a `t` before them reports the old TTL. */
    bool ttl_changed = false;
    for (unsigned i = 0; i < r->meta.norder; i++) {
        switch (r->meta.order[i]) {
        case 'T': ttl_changed = true; break;
        case 'N': ttl_changed = ttl_changed || v->created; break;
        case 's': put_num(b, 's', v->nvalue); break;
        case 't': put_ttl(b, ttl_changed ? v->exptime : v->prev_exptime, now); break;
        case 'c': put_num(b, 'c', server_cas(srv, v->version)); break;
        case 'f': put_num(b, 'f', v->flags); break;
        case 'l': put_num(b, 'l', now - v->atime); break;
        case 'h': buf_append(b, v->fetched ? " h1" : " h0", 3); break;
        case 'O': put_opaque(b, r); break;
        case 'k': put_key(b, v->key, v->nkey, v->binary_key); break;
        default: break;
        }
    }
    if (v->win_sent)
        buf_append(b, " Z", 2);
    if (v->stale)
        buf_append(b, " X", 2);
    if (v->won)
        buf_append(b, " W", 2);
    end_line(b);
    if (has(r, 'v')) {
        buf_append(b, v->value, v->nvalue);
        end_line(b);
    }
}

/* R's token as memcached reads it: negative means "already past". */
static uint32_t recache_token(int64_t ttl)
{
    return ttl < 0 ? 60 * 60 * 24 * 30 + 1 : ttl > UINT32_MAX ? UINT32_MAX : (uint32_t)ttl;
}

static enum conn_action do_mg(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_fetch opt = {.no_bump = has(r, 'u')};
    if (has(r, 'T')) {
        opt.touch = true;
        opt.exptime = server_exptime(r->meta.ttl_T);
    }
    if (has(r, 'N')) {
        opt.vivify = true;
        opt.vivify_exptime = server_exptime(r->meta.ttl_N);
    }
    if (has(r, 'R')) {
        opt.recache = true;
        opt.recache_ttl = recache_token(r->meta.ttl_R);
    }
    struct mg_ctx g = {.c = c, .r = r};
    bool hit = store_fetch(t->srv->store, r->key.p, r->key.n, &opt, mg_hit, &g) == STORE_OK;
    TSTAT_INC(t->stats, meta_cmds);
    if (has(r, 'T')) {
        TSTAT_INC(t->stats, touch_cmds);
        if (hit)
            TSTAT_INC(t->stats, cls[g.clsid].touch_hits);
        else
            TSTAT_INC(t->stats, touch_misses);
    } else {
        TSTAT_INC(t->stats, get_cmds);
        if (hit)
            TSTAT_INC(t->stats, cls[g.clsid].get_hits);
        else
            TSTAT_INC(t->stats, get_misses);
    }
    if (!hit && !r->noreply) {
        buf_append(&c->wbuf, "EN", 2);
        put_ok_flags(&c->wbuf, r, r->key.p, r->key.n, r->key_binary);
        end_line(&c->wbuf);
    }
    return CONN_WAIT;
}

/* --- ms --------------------------------------------------------------------- */

static enum conn_action do_ms(struct conn *c, struct session *s, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, meta_cmds);
    enum store_mode mode = STORE_SET;
    switch (r->meta.mode) {
    case 'E': mode = STORE_ADD; break;
    case 'A': mode = STORE_APPEND; break;
    case 'P': mode = STORE_PREPEND; break;
    case 'R': mode = STORE_REPLACE; break;
    default: break;
    }
    bool has_cas = has(r, 'C');
    if (has_cas && (mode == STORE_SET || mode == STORE_REPLACE))
        mode = STORE_CAS;
    s->p.kind = PEND_META;
    s->p.noreply = r->noreply;
    s->p.req = *r;
    /* the request points into the read buffer, which may move: keep copies */
    memcpy(s->p.opaque, r->meta.opaque.p, r->meta.opaque.n);
    s->p.req.meta.opaque.p = s->p.opaque;
    s->p.w = (struct store_write){
        .mode = mode,
        .cas = has_cas ? r->meta.cas : 0,
        .invalidate = has(r, 'I') && mode == STORE_CAS,
        .binary_key = r->key_binary,
    };
    uint32_t exptime = has(r, 'T') ? server_exptime(r->meta.ttl_T) : 0;
    cmd_begin_store(c, s, r->key.p, r->key.n, r->meta.client_flags, exptime, r->nbytes, true,
                    false, 2);
    return CONN_WAIT;
}

void cmd_meta_store(struct conn *c, struct session *s, bool bad_chunk)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_item *it = s->item;
    s->item = NULL;
    TSTAT_INC(t->stats, set_cmds);
    if (bad_chunk) {
        store_item_free(t->srv->store, it);
        session_reply(c, "CLIENT_ERROR bad data chunk", false);
        return;
    }
    const struct proto_req *r = &s->p.req;
    uint64_t version = 0;
    enum store_status st = store_item_link(t->srv->store, it, &s->p.w, &version);
    bool is_cas = s->p.w.mode == STORE_CAS;
    const char *code;
    switch (st) {
    case STORE_OK:
        if (is_cas)
            TSTAT_INC(t->stats, cas_hits);
        if (r->noreply)
            return;
        code = "HD";
        break;
    case STORE_EXISTS:
        if (is_cas)
            TSTAT_INC(t->stats, cas_badval);
        code = "EX";
        break;
    case STORE_NOT_FOUND:
        if (is_cas)
            TSTAT_INC(t->stats, cas_misses);
        code = "NF";
        break;
    case STORE_NOT_STORED: code = "NS"; break;
    case STORE_NO_MEMORY:
        session_reply(c, "SERVER_ERROR out of memory storing object", false);
        return;
    default: session_reply(c, "SERVER_ERROR Unhandled storage type.", false); return;
    }
    struct buf *b = &c->wbuf;
    buf_append(b, code, 2);
    for (unsigned i = 0; i < r->meta.norder; i++) {
        switch (r->meta.order[i]) {
        case 'O': put_opaque(b, r); break;
        case 'k': put_key(b, s->p.key, s->p.nkey, r->key_binary); break;
        case 'c': put_num(b, 'c', server_cas(t->srv, version)); break;
        default: break;
        }
    }
    end_line(b);
}

/* --- md --------------------------------------------------------------------- */

static enum conn_action do_md(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, meta_cmds);
    struct store_delete d = {
        .cas = has(r, 'C') ? r->meta.cas : 0,
        .invalidate = has(r, 'I'),
        .touch = has(r, 'I') && has(r, 'T'),
        .exptime = has(r, 'T') ? server_exptime(r->meta.ttl_T) : 0,
    };
    enum store_status st = store_delete(t->srv->store, r->key.p, r->key.n, &d);
    const char *code = st == STORE_OK ? "HD" : st == STORE_EXISTS ? "EX" : "NF";
    if (st == STORE_OK && !d.invalidate)
        TSTAT_INC(t->stats, delete_hits);
    else if (st != STORE_OK)
        TSTAT_INC(t->stats, delete_misses);
    if (st == STORE_OK && r->noreply)
        return CONN_WAIT;
    buf_append(&c->wbuf, code, 2);
    put_ok_flags(&c->wbuf, r, r->key.p, r->key.n, r->key_binary);
    end_line(&c->wbuf);
    return CONN_WAIT;
}

/* --- ma --------------------------------------------------------------------- */

struct ma_ctx {
    uint64_t version;
    uint32_t exptime;
    uint8_t clsid;
};

static void ma_seen(void *arg, const struct store_view *v)
{
    struct ma_ctx *m = arg;
    m->version = v->version;
    m->exptime = v->exptime;
    m->clsid = v->clsid;
}

static enum conn_action do_ma(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, meta_cmds);
    bool incr = !(r->meta.mode == 'D' || r->meta.mode == '-');
    struct store_arith a = {
        .incr = incr,
        .delta = has(r, 'D') ? r->meta.delta : 1,
        .cas = has(r, 'C') ? r->meta.cas : 0,
        .vivify = has(r, 'N'),
        .initial = has(r, 'J') ? r->meta.initial : 0,
        .vivify_exptime = has(r, 'N') ? server_exptime(r->meta.ttl_N) : 0,
    };
    uint64_t value = 0;
    struct ma_ctx m = {0};
    enum store_status st = store_arith(t->srv->store, r->key.p, r->key.n, &a, &value, ma_seen, &m);
    struct buf *b = &c->wbuf;
    switch (st) {
    case STORE_OK: break;
    case STORE_NON_NUMERIC:
        session_reply(c, "CLIENT_ERROR cannot increment or decrement non-numeric value", false);
        return CONN_WAIT;
    case STORE_NO_MEMORY:
        session_reply(c, a.vivify ? "SERVER_ERROR Out of memory allocating new item"
                                  : "SERVER_ERROR out of memory",
                      false);
        return CONN_WAIT;
    case STORE_NOT_FOUND:
    case STORE_EXISTS:
        if (st == STORE_NOT_FOUND) {
            if (incr)
                TSTAT_INC(t->stats, incr_misses);
            else
                TSTAT_INC(t->stats, decr_misses);
        }
        buf_append(b, st == STORE_NOT_FOUND ? "NF" : "EX", 2);
        put_ok_flags(b, r, r->key.p, r->key.n, r->key_binary);
        end_line(b);
        return CONN_WAIT;
    default: session_reply(c, "SERVER_ERROR out of memory", false); return CONN_WAIT;
    }
    if (incr)
        TSTAT_INC(t->stats, cls[m.clsid].incr_hits);
    else
        TSTAT_INC(t->stats, cls[m.clsid].decr_hits);
    /* memcached applies T after the arithmetic, in flag order */
    uint32_t exptime = m.exptime;
    if (has(r, 'T')) {
        struct store_fetch touch = {.touch = true, .exptime = server_exptime(r->meta.ttl_T),
                                    .no_bump = true};
        store_fetch(t->srv->store, r->key.p, r->key.n, &touch, NULL, NULL);
    }
    if (r->noreply)
        return CONN_WAIT;
    char num[24];
    size_t nlen = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
    if (has(r, 'v')) {
        buf_append(b, "VA ", 3);
        buf_put_u64(b, nlen);
    } else {
        buf_append(b, "HD", 2);
    }
    uint32_t now = clock_now();
    for (unsigned i = 0; i < r->meta.norder; i++) {
        switch (r->meta.order[i]) {
        case 'c': put_num(b, 'c', server_cas(t->srv, m.version)); break;
        case 't': put_ttl(b, exptime, now); break;
        case 'T': exptime = server_exptime(r->meta.ttl_T); break;
        case 'O': put_opaque(b, r); break;
        case 'k': put_key(b, r->key.p, r->key.n, r->key_binary); break;
        default: break;
        }
    }
    end_line(b);
    if (has(r, 'v')) {
        buf_append(b, num, nlen);
        end_line(b);
    }
    return CONN_WAIT;
}

/* --- me --------------------------------------------------------------------- */

static void me_hit(void *arg, const struct store_view *v)
{
    struct conn *c = arg;
    struct buf *b = &c->wbuf;
    uint32_t now = clock_now();
    buf_append(b, "ME ", 3);
    if (v->binary_key) {
        char enc[((PROTO_KEY_MAX + 2) / 3) * 4 + 1];
        buf_append(b, enc,
                   proto_base64_encode((const unsigned char *)v->key, v->nkey, enc, sizeof(enc)));
    } else {
        buf_append(b, v->key, v->nkey);
    }
    /* memcached prints exp as (now - exptime): negative while the item lives */
    long exp = v->exptime == 0 ? -1 : (long)((int32_t)(now - v->exptime));
    buf_printf(b, " exp=%ld la=%llu cas=%llu fetch=%s cls=%u size=%u\r\n", exp,
               (unsigned long long)(now - v->atime),
               (unsigned long long)server_cas(conn_thread(c)->srv, v->version),
               v->fetched ? "yes" : "no", v->clsid, v->size);
}

static enum conn_action do_me(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, meta_cmds);
    struct store_fetch opt = {.no_bump = true};
    if (store_fetch(t->srv->store, r->key.p, r->key.n, &opt, me_hit, c) != STORE_OK)
        session_reply(c, "EN", false);
    return CONN_WAIT;
}

enum conn_action cmd_meta_run(struct conn *c, struct session *s, struct proto_req *req)
{
    switch (req->cmd) {
    case PROTO_CMD_MG: return do_mg(c, req);
    case PROTO_CMD_MS: return do_ms(c, s, req);
    case PROTO_CMD_MD: return do_md(c, req);
    case PROTO_CMD_MA: return do_ma(c, req);
    case PROTO_CMD_ME: return do_me(c, req);
    default:
        buf_append(&c->wbuf, "MN\r\n", 4);
        return CONN_WAIT;
    }
}
