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

/* Remaining TTL as meta replies show it: -1 for never. */
static int64_t ttl_of(uint32_t exptime, uint32_t now)
{
    return exptime == 0 ? -1 : (int64_t)(int32_t)(exptime - now);
}

/* --- mg --------------------------------------------------------------------- */

struct mg_ctx {
    struct conn *c;
    const struct proto_req *r;
    uint8_t clsid;
    uint32_t nvalue;
};

static void mg_hit(void *arg, const struct store_view *v)
{
    struct mg_ctx *g = arg;
    uint32_t now = clock_now();
    g->clsid = v->clsid;
    g->nvalue = v->nvalue;
    /* v->exptime is after this request's T/N; prev_exptime is before them */
    struct proto_item it = {
        .key = v->key,
        .nkey = v->nkey,
        .key_binary = v->binary_key,
        .value = v->value,
        .nvalue = v->nvalue,
        .flags = v->flags,
        .ttl = ttl_of(v->created ? 0 : v->prev_exptime, now),
        .ttl_T = ttl_of(v->exptime, now),
        .ttl_N = ttl_of(v->exptime, now),
        .created = v->created,
        .last_access = now - v->atime,
        .cas = server_cas(conn_thread(g->c)->srv, v->version),
        .fetched = v->fetched,
        .won = v->won,
        .stale = v->stale,
        .win_sent = v->win_sent,
    };
    proto_meta_reply(&g->c->wbuf, g->r, has(g->r, 'v') ? "VA" : "HD", &it);
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
    cmd_count_fetch(t, has(r, 'T'), hit, g.clsid);
    cmd_log_get(c, r->key.p, r->key.n, hit, g.clsid, g.nvalue);
    if (!hit)
        proto_meta_reply(&c->wbuf, r, "EN", NULL);
    return CONN_WAIT;
}

/* --- ms --------------------------------------------------------------------- */

static enum conn_action do_ms(struct conn *c, struct session *s, struct proto_req *r)
{
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
    s->p.w = (struct store_write){
        .mode = mode,
        .cas = has_cas && mode != STORE_ADD ? r->meta.cas : 0,
        .invalidate = has(r, 'I') && mode == STORE_CAS,
        .binary_key = r->key_binary,
    };
    /* The request points into the read buffer, which may move while the
     * value arrives: keep a copy whose key and opaque point into s->p. */
    s->p.req = *r;
    if (r->meta.opaque.n)
        memcpy(s->p.opaque, r->meta.opaque.p, r->meta.opaque.n);
    s->p.req.meta.opaque.p = s->p.opaque;
    s->p.req.key.p = s->p.key;
    s->p.req.ntokens = 0;
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
    TSTAT_INC(t->stats, cls[store_item_class(it)].cmd_set);
    if (bad_chunk) {
        store_item_free(t->srv->store, it);
        session_reply(c, "CLIENT_ERROR bad data chunk", false);
        return;
    }
    const struct proto_req *r = &s->p.req;
    uint64_t version = 0;
    unsigned clsid = store_item_class(it);
    enum store_status st = store_item_link(t->srv->store, it, &s->p.w, &version);
    cmd_log_store(c, s, st, clsid, s->nvalue);
    bool is_cas = s->p.w.mode == STORE_CAS;
    struct proto_item stored = {.key = s->p.key, .nkey = s->p.nkey,
                                .key_binary = r->key_binary,
                                .cas = server_cas(t->srv, version)};
    switch (st) {
    case STORE_OK:
        if (is_cas)
            TSTAT_INC(t->stats, cas_hits);
        proto_meta_reply(&c->wbuf, r, "HD", &stored);
        return;
    case STORE_EXISTS:
        if (is_cas)
            TSTAT_INC(t->stats, cas_badval);
        proto_meta_reply(&c->wbuf, r, "EX", NULL);
        return;
    case STORE_NOT_FOUND:
        if (is_cas)
            TSTAT_INC(t->stats, cas_misses);
        proto_meta_reply(&c->wbuf, r, "NF", NULL);
        return;
    case STORE_NOT_STORED: proto_meta_reply(&c->wbuf, r, "NS", NULL); return;
    case STORE_NO_MEMORY:
        session_reply(c, "SERVER_ERROR out of memory storing object", false);
        return;
    default: session_reply(c, "SERVER_ERROR Unhandled storage type.", false); return;
    }
}

/* --- md --------------------------------------------------------------------- */

static enum conn_action do_md(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
    struct store_delete d = {
        .cas = has(r, 'C') ? r->meta.cas : 0,
        .invalidate = has(r, 'I'),
        .touch = has(r, 'I') && has(r, 'T'),
        .exptime = has(r, 'T') ? server_exptime(r->meta.ttl_T) : 0,
    };
    enum store_status st = store_delete(t->srv->store, r->key.p, r->key.n, &d);
    if (st == STORE_OK && !d.invalidate)
        TSTAT_INC(t->stats, delete_hits);
    else if (st != STORE_OK)
        TSTAT_INC(t->stats, delete_misses);
    proto_meta_reply(&c->wbuf, r, st == STORE_OK ? "HD" : st == STORE_EXISTS ? "EX" : "NF",
                     NULL);
    return CONN_WAIT;
}

/* --- ma --------------------------------------------------------------------- */

struct ma_ctx {
    uint64_t version;
    uint32_t exptime;
    uint8_t clsid;
    bool created;
};

static void ma_seen(void *arg, const struct store_view *v)
{
    struct ma_ctx *m = arg;
    m->version = v->version;
    m->exptime = v->exptime;
    m->clsid = v->clsid;
    m->created = v->created;
}

static enum conn_action do_ma(struct conn *c, struct proto_req *r)
{
    struct thread_ctx *t = conn_thread(c);
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
    switch (st) {
    case STORE_OK: break;
    case STORE_NON_NUMERIC:
        session_reply(c, "CLIENT_ERROR cannot increment or decrement non-numeric value", false);
        return CONN_WAIT;
    case STORE_NOT_FOUND:
        if (incr)
            TSTAT_INC(t->stats, incr_misses);
        else
            TSTAT_INC(t->stats, decr_misses);
        proto_meta_reply(&c->wbuf, r, "NF", NULL);
        return CONN_WAIT;
    case STORE_EXISTS: proto_meta_reply(&c->wbuf, r, "EX", NULL); return CONN_WAIT;
    default:
        session_reply(c, a.vivify ? "SERVER_ERROR Out of memory allocating new item"
                                  : "SERVER_ERROR out of memory",
                      false);
        return CONN_WAIT;
    }
    if (incr)
        TSTAT_INC(t->stats, cls[m.clsid].incr_hits);
    else
        TSTAT_INC(t->stats, cls[m.clsid].decr_hits);
    uint32_t exptime_after = m.exptime;
    if (has(r, 'T')) { /* memcached sets the TTL after the arithmetic */
        exptime_after = server_exptime(r->meta.ttl_T);
        struct store_fetch touch = {.touch = true, .exptime = exptime_after, .no_bump = true};
        store_fetch(t->srv->store, r->key.p, r->key.n, &touch, NULL, NULL);
    }
    char num[24];
    int nlen = snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
    uint32_t now = clock_now();
    struct proto_item it = {
        .key = r->key.p,
        .nkey = r->key.n,
        .key_binary = r->key_binary,
        .value = num,
        .nvalue = (size_t)nlen,
        .ttl = ttl_of(m.created ? 0 : m.exptime, now),
        .ttl_T = ttl_of(exptime_after, now),
        .ttl_N = ttl_of(m.exptime, now),
        .created = m.created,
        .cas = server_cas(t->srv, m.version),
    };
    proto_meta_reply(&c->wbuf, r, has(r, 'v') ? "VA" : "HD", &it);
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
