/*
 * proxy/route: what each client request becomes, and the reply it gets.
 *
 * Four shapes of request (enum creq_mode):
 *
 *   LOCAL   answered by the proxy: version, mn, verbosity, stats, errors.
 *   MGET    get/gets/gat/gats. Each key gets its live copies (pool.c), in
 *           read order; keys are grouped into one "get k1 k2 ..." frag per
 *           server. When a frag fails (or answers SERVER_ERROR, or, with
 *           failover_on_miss, misses a key) its keys move to their next copy
 *           in a new frag. The reply is rebuilt in the client's key order from
 *           the VALUE blocks of every frag, then END. If a key runs out of
 *           copies on an error, the whole reply is that error, as twemproxy
 *           does: a partial result that looks like misses would hide an
 *           outage.
 *   READ1   mg, me: one copy at a time, the next one on an error (or a miss,
 *           with failover_on_miss).
 *   FANOUT  writes (set add replace append prepend cas delete incr decr touch
 *           ms md ma) go to every live copy at once; flush_all to every live
 *           server of the pool. The reply is the first copy's, in ring order,
 *           that did not fail; if all failed, the owner's error. flush_all
 *           answers OK only if every server did.
 *
 * noreply and meta's q are not forwarded: backends always answer, so the
 * pipeline stays in step and errors are counted; the proxy then drops the
 * replies the client asked not to see (classic noreply: all of them; q: the
 * nominal ones, EN for mg and HD for ms md ma).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

enum creq_mode { CRQ_LOCAL, CRQ_MGET, CRQ_READ1, CRQ_FANOUT };

enum key_state { KEY_TO_SEND, KEY_SENT, KEY_HIT, KEY_MISS, KEY_FAILED };

struct mkey {
    uint32_t off;                   /* in rq->req */
    uint16_t len;
    uint8_t ncand, next;            /* copies, and the next one to ask */
    uint8_t state;                  /* enum key_state */
    uint16_t cand[PX_REPLICAS_MAX]; /* server indexes, in read order */
    struct frag *frag;              /* KEY_SENT: where; KEY_HIT: whose reply holds it */
    uint32_t hit_off, hit_len;      /* KEY_HIT: the VALUE block in frag->rsp */
};

struct creq {
    struct creq *next;
    struct creq *free_next;
    struct client *c;
    enum creq_mode mode;
    enum proto_cmd cmd;
    enum rsp_kind kind;
    bool noreply;       /* classic noreply: no reply at all */
    bool quiet;         /* meta q: hide the nominal reply */
    bool done;
    bool has_err;       /* MGET: reply holds the error that ends it */
    unsigned pending;   /* frags in flight */
    struct frag *frags, *frags_tail;
    struct buf req;     /* MGET: prefix then the keys; READ1: the line to send */
    size_t prefix_len;
    struct buf reply;
    const struct frag *reply_from; /* set: the reply is this frag's, sent without a copy */
    struct mkey *keys;
    size_t nkeys, capkeys;
    uint16_t cand[PX_REPLICAS_MAX];
    unsigned ncand, tried;
    uint64_t t0;
};

/* --- creq and frag life ------------------------------------------------- */

static struct creq *creq_new(struct client *c, enum creq_mode mode, enum proto_cmd cmd)
{
    struct px *px = c->px;
    struct creq *rq = px->free_creq;
    if (rq) {
        px->free_creq = rq->free_next;
    } else if (!(rq = calloc(1, sizeof(*rq)))) {
        return NULL;
    }
    rq->next = NULL;
    rq->c = c;
    rq->mode = mode;
    rq->cmd = cmd;
    rq->noreply = rq->quiet = rq->done = rq->has_err = false;
    rq->pending = 0;
    rq->frags = rq->frags_tail = NULL;
    rq->req.len = rq->reply.len = 0;
    rq->reply_from = NULL;
    rq->req.oom = rq->reply.oom = false;
    rq->prefix_len = 0;
    rq->nkeys = 0;
    rq->ncand = rq->tried = 0;
    rq->t0 = px_now_us();
    if (c->tail)
        c->tail->next = rq;
    else
        c->head = rq;
    c->tail = rq;
    c->nreq++;
    return rq;
}

static void creq_release(struct px *px, struct creq *rq)
{
    struct frag *f = rq->frags;
    while (f) {
        struct frag *n = f->rnext;
        if (f->in_flight)
            f->rq = NULL; /* the server frees it when its reply comes */
        else
            px_frag_put(px, f);
        f = n;
    }
    if (rq->req.cap > 65536)
        buf_free(&rq->req);
    if (rq->reply.cap > 65536)
        buf_free(&rq->reply);
    if (rq->capkeys > 1024) {
        free(rq->keys);
        rq->keys = NULL;
        rq->capkeys = 0;
    }
    rq->free_next = px->free_creq;
    px->free_creq = rq;
}

static struct frag *frag_new(struct creq *rq, struct server *s, enum rsp_kind kind)
{
    struct frag *f = px_frag_get(rq->c->px);
    if (!f)
        return NULL;
    f->rq = rq;
    f->kind = kind;
    f->rnext = NULL;
    if (rq->frags_tail)
        rq->frags_tail->rnext = f;
    else
        rq->frags = f;
    rq->frags_tail = f;
    rq->pending++;
    rq->c->pool->fragments++;
    server_enqueue(s, f);
    return f;
}

static bool starts(const struct buf *b, const char *w)
{
    size_t n = strlen(w);
    return b->len >= n && !memcmp(b->data, w, n);
}

static bool is_error_reply(const struct buf *b)
{
    return starts(b, "ERROR") || starts(b, "CLIENT_ERROR") || starts(b, "SERVER_ERROR");
}

static void finish(struct creq *rq)
{
    struct pool *p = rq->c->pool;
    rq->done = true;
    p->requests++;
    px_hist_add(&p->lat, px_now_us() - rq->t0);
    if (is_error_reply(rq->reply_from ? &rq->reply_from->rsp : &rq->reply))
        p->errors++;
    if (rq->noreply) {
        rq->reply.len = 0;
        rq->reply_from = NULL;
    }
    if (rq->reply.oom) {
        rq->reply_from = NULL;
        rq->reply.len = 0;
        rq->reply.oom = false;
        buf_puts(&rq->reply, "SERVER_ERROR out of memory writing the reply\r\n");
    }
    if (rq == rq->c->head)
        client_advance(rq->c);
}

static void reply_text(struct creq *rq, const char *text)
{
    rq->reply.len = 0;
    rq->reply_from = NULL;
    buf_puts(&rq->reply, text);
}

void route_local(struct client *c, const char *text, size_t n)
{
    struct creq *rq = creq_new(c, CRQ_LOCAL, PROTO_CMD_NONE);
    if (!rq)
        return;
    buf_append(&rq->reply, text, n);
    finish(rq);
}

bool route_pop_reply(struct client *c, struct buf *out)
{
    struct creq *rq = c->head;
    if (!rq || !rq->done)
        return false;
    if (rq->cmd == PROTO_CMD_STATS && rq->reply.len == 0)
        stats_write(c->px, c->pool, out);
    else if (rq->reply_from)
        buf_append(out, rq->reply_from->rsp.data, rq->reply_from->rsp.len);
    else
        buf_append(out, rq->reply.data, rq->reply.len);
    c->head = rq->next;
    if (!c->head)
        c->tail = NULL;
    c->nreq--;
    creq_release(c->px, rq);
    return true;
}

bool route_quit_reached(const struct client *c) { return c->head == NULL; }

void route_creq_free(struct px *px)
{
    struct creq *rq = px->free_creq;
    px->free_creq = rq->free_next;
    buf_free(&rq->req);
    buf_free(&rq->reply);
    free(rq->keys);
    free(rq);
}

void route_client_gone(struct client *c)
{
    while (c->head) {
        struct creq *rq = c->head;
        c->head = rq->next;
        creq_release(c->px, rq);
    }
    c->tail = NULL;
    c->nreq = 0;
}

/* "SERVER_ERROR ..." when a key has no live copy. */
static void no_copy(struct creq *rq, struct server *owner)
{
    struct pool *p = rq->c->pool;
    rq->reply.len = 0;
    rq->reply_from = NULL;
    if (owner)
        buf_printf(&rq->reply, "SERVER_ERROR backend %s is ejected (down) and no other copy of "
                   "the key is live in pool '%s'\r\n", owner->cf->label, p->cf->name);
    else
        buf_printf(&rq->reply, "SERVER_ERROR no live backend in pool '%s'\r\n", p->cf->name);
}

/* --- forwarding bytes --------------------------------------------------- */

/* The request line as a backend should see it: without noreply / q. */
static size_t fwd_line(const struct proto_req *req, const char *line, size_t nline, char *out,
                       size_t cap, bool meta)
{
    if (meta) {
        if (!req->noreply)
            goto asis;
        size_t n = 0;
        for (size_t i = 0; i < req->ntokens; i++) {
            const struct proto_token *t = &req->tokens[i];
            if (i >= 2 && t->n == 1 && t->p[0] == 'q')
                continue;
            if (n + t->n + 3 > cap)
                goto asis;
            if (n)
                out[n++] = ' ';
            memcpy(out + n, t->p, t->n);
            n += t->n;
        }
        memcpy(out + n, "\r\n", 2);
        return n + 2;
    }
    if (req->noreply && req->ntokens > 0) {
        const char *end = req->tokens[req->ntokens - 1].p;
        while (end > line && end[-1] == ' ')
            end--;
        size_t n = (size_t)(end - line);
        if (n + 2 <= cap) {
            memcpy(out, line, n);
            memcpy(out + n, "\r\n", 2);
            return n + 2;
        }
    }
asis:
    if (nline > cap)
        return 0;
    memcpy(out, line, nline);
    return nline;
}

static enum rsp_kind kind_of(enum proto_cmd cmd)
{
    switch (cmd) {
    case PROTO_CMD_GET:
    case PROTO_CMD_GETS:
    case PROTO_CMD_GAT:
    case PROTO_CMD_GATS: return RSP_KIND_RETRIEVAL;
    case PROTO_CMD_DELETE: return RSP_KIND_DELETE;
    case PROTO_CMD_INCR:
    case PROTO_CMD_DECR: return RSP_KIND_ARITH;
    case PROTO_CMD_TOUCH: return RSP_KIND_TOUCH;
    case PROTO_CMD_FLUSH_ALL: return RSP_KIND_OK;
    case PROTO_CMD_MG:
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
    case PROTO_CMD_MA:
    case PROTO_CMD_ME: return RSP_KIND_META;
    default: return RSP_KIND_STORE;
    }
}

static bool is_meta(enum proto_cmd cmd) { return cmd >= PROTO_CMD_MG && cmd <= PROTO_CMD_ME; }

/* --- MGET ----------------------------------------------------------------- */

/* One frag per server for every key waiting to be sent. */
static void mget_send(struct creq *rq)
{
    struct pool *p = rq->c->pool;
    struct frag *round[p->nservers];
    memset(round, 0, sizeof(round));
    for (size_t i = 0; i < rq->nkeys; i++) {
        struct mkey *k = &rq->keys[i];
        if (k->state != KEY_TO_SEND)
            continue;
        size_t si = k->cand[k->next++];
        struct server *s = &p->servers[si];
        if (!round[si]) {
            if (!(round[si] = frag_new(rq, s, RSP_KIND_RETRIEVAL))) {
                k->state = KEY_FAILED;
                rq->has_err = true;
                reply_text(rq, "SERVER_ERROR out of memory\r\n");
                continue;
            }
            buf_append(&s->out, rq->req.data, rq->prefix_len);
        }
        k->state = KEY_SENT;
        k->frag = round[si];
        buf_append(&s->out, " ", 1);
        buf_append(&s->out, rq->req.data + k->off, k->len);
    }
    for (size_t si = 0; si < p->nservers; si++)
        if (round[si])
            buf_append(&p->servers[si].out, "\r\n", 2);
}

/* The error line that ends an MGET: the last line of the frag's reply. */
static void mget_error(struct creq *rq, const struct frag *f)
{
    if (rq->has_err)
        return;
    rq->has_err = true;
    const char *d = f->rsp.data;
    size_t n = f->rsp.len, start = n >= 2 ? n - 2 : 0;
    while (start > 0 && d[start - 1] != '\n')
        start--;
    rq->reply.len = 0;
    buf_append(&rq->reply, d + start, n - start);
}

/* Match f's VALUE blocks to the keys it carried (in the order sent). */
static void mget_frag_done(struct creq *rq, struct frag *f)
{
    struct pool *p = rq->c->pool;
    bool broken = f->failed || f->cls == RSP_SERVER_ERROR;
    if (f->cls == RSP_ERROR)
        mget_error(rq, f); /* ERROR / CLIENT_ERROR: the request's fault, no retry */
    size_t pos = 0, start = 0, blen = 0, nkey = 0;
    const char *vkey = NULL;
    bool have = !broken && rsp_next_value(f->rsp.data, f->rsp.len, &pos, &vkey, &nkey, &blen);
    bool resend = false;
    for (size_t i = 0; i < rq->nkeys; i++) {
        struct mkey *k = &rq->keys[i];
        if (k->state != KEY_SENT || k->frag != f)
            continue;
        if (have && nkey == k->len && !memcmp(vkey, rq->req.data + k->off, nkey)) {
            k->state = KEY_HIT;
            k->hit_off = (uint32_t)start;
            k->hit_len = (uint32_t)blen;
            start = pos;
            have = rsp_next_value(f->rsp.data, f->rsp.len, &pos, &vkey, &nkey, &blen);
            continue;
        }
        k->frag = NULL;
        bool more = k->next < k->ncand;
        if (broken || f->cls == RSP_ERROR) {
            k->state = more && broken ? KEY_TO_SEND : KEY_FAILED;
            if (k->state == KEY_FAILED)
                mget_error(rq, f);
        } else {
            k->state = more && p->cf->failover_on_miss ? KEY_TO_SEND : KEY_MISS;
        }
        if (k->state == KEY_TO_SEND) {
            resend = true;
            p->failovers++;
        }
    }
    if (have && !rq->has_err) {
        rq->has_err = true;
        rq->reply.len = 0;
        buf_printf(&rq->reply, "SERVER_ERROR backend %s answered with a key it was not asked "
                   "for\r\n", f->srv->cf->label);
    }
    if (resend && !rq->has_err)
        mget_send(rq);
}

static void mget_finish(struct creq *rq)
{
    if (!rq->has_err) {
        rq->reply.len = 0;
        for (size_t i = 0; i < rq->nkeys; i++) {
            const struct mkey *k = &rq->keys[i];
            if (k->state == KEY_HIT)
                buf_append(&rq->reply, k->frag->rsp.data + k->hit_off, k->hit_len);
        }
        buf_append(&rq->reply, "END\r\n", 5);
    }
    finish(rq);
}

static void route_mget(struct client *c, const struct proto_req *req)
{
    struct pool *p = c->pool;
    struct creq *rq = creq_new(c, CRQ_MGET, req->cmd);
    if (!rq)
        return;
    rq->kind = RSP_KIND_RETRIEVAL;
    const char *verb = req->cmd == PROTO_CMD_GET    ? "get"
                       : req->cmd == PROTO_CMD_GETS ? "gets"
                       : req->cmd == PROTO_CMD_GAT  ? "gat"
                                                    : "gats";
    buf_puts(&rq->req, verb);
    if (req->cmd == PROTO_CMD_GAT || req->cmd == PROTO_CMD_GATS) {
        buf_append(&rq->req, " ", 1);
        buf_append(&rq->req, req->tokens[1].p, req->tokens[1].n);
    }
    rq->prefix_len = rq->req.len;
    struct proto_token rest = req->keys, key;
    while (proto_text_next_key(&rest, &key)) {
        if (key.n > PROTO_KEY_MAX) {
            reply_text(rq, "CLIENT_ERROR bad command line format\r\n");
            finish(rq);
            return;
        }
        if (rq->nkeys == rq->capkeys) {
            size_t cap = rq->capkeys ? rq->capkeys * 2 : 16;
            struct mkey *nk = realloc(rq->keys, cap * sizeof(*nk));
            if (!nk) {
                reply_text(rq, "SERVER_ERROR out of memory\r\n");
                finish(rq);
                return;
            }
            rq->keys = nk;
            rq->capkeys = cap;
        }
        struct mkey *k = &rq->keys[rq->nkeys];
        struct server *cand[PX_REPLICAS_MAX], *owner;
        size_t n = pool_copies(p, key.p, key.n, cand, &owner);
        if (n == 0) {
            no_copy(rq, owner);
            finish(rq);
            return;
        }
        pool_read_order(p, key.p, key.n, cand, n);
        k->off = (uint32_t)rq->req.len;
        k->len = (uint16_t)key.n;
        k->ncand = (uint8_t)n;
        k->next = 0;
        k->state = KEY_TO_SEND;
        k->frag = NULL;
        for (size_t i = 0; i < n; i++)
            k->cand[i] = (uint16_t)cand[i]->idx;
        buf_append(&rq->req, key.p, key.n);
        rq->nkeys++;
    }
    if (rq->req.oom) {
        reply_text(rq, "SERVER_ERROR out of memory\r\n");
        finish(rq);
        return;
    }
    mget_send(rq);
    if (rq->pending == 0)
        mget_finish(rq);
}

/* --- READ1 and FANOUT ------------------------------------------------------ */

/* The reply a quiet (q) meta request hides. */
static bool quiet_hides(const struct creq *rq, const struct buf *r)
{
    if (!rq->quiet || r->len < 2)
        return false;
    if (rq->cmd == PROTO_CMD_MG)
        return rsp_meta_code_is(r->data, "EN");
    return rsp_meta_code_is(r->data, "HD");
}

static void take_reply(struct creq *rq, const struct frag *f)
{
    rq->reply.len = 0;
    rq->reply_from = quiet_hides(rq, &f->rsp) ? NULL : f;
}

static void read1_send(struct creq *rq)
{
    struct server *s = &rq->c->pool->servers[rq->cand[rq->tried++]];
    if (!frag_new(rq, s, rq->kind)) {
        reply_text(rq, "SERVER_ERROR out of memory\r\n");
        return;
    }
    buf_append(&s->out, rq->req.data, rq->req.len);
}

static void read1_frag_done(struct creq *rq, struct frag *f)
{
    struct pool *p = rq->c->pool;
    bool more = rq->tried < rq->ncand;
    bool broken = f->failed || f->cls == RSP_SERVER_ERROR;
    if (more && (broken || (f->cls == RSP_MISS && p->cf->failover_on_miss))) {
        p->failovers++;
        read1_send(rq);
        return;
    }
    take_reply(rq, f);
}

static void fanout_finish(struct creq *rq)
{
    const struct frag *pick = NULL;
    bool all_ok = true;
    for (const struct frag *f = rq->frags; f; f = f->rnext) {
        bool bad = f->failed || f->cls == RSP_SERVER_ERROR;
        all_ok = all_ok && !bad;
        if (!bad && !pick)
            pick = f;
    }
    if (rq->cmd == PROTO_CMD_FLUSH_ALL && !all_ok)
        pick = NULL;
    if (!pick)
        for (const struct frag *f = rq->frags; f; f = f->rnext)
            if (f->failed || f->cls == RSP_SERVER_ERROR) {
                pick = f;
                break;
            }
    if (pick)
        take_reply(rq, pick);
}

void route_frag_done(struct frag *f)
{
    struct creq *rq = f->rq;
    rq->pending--;
    if (!rq->done) {
        if (rq->mode == CRQ_MGET)
            mget_frag_done(rq, f);
        else if (rq->mode == CRQ_READ1)
            read1_frag_done(rq, f);
    }
    if (rq->pending > 0 || rq->done)
        return;
    if (rq->mode == CRQ_MGET)
        mget_finish(rq);
    else if (rq->mode == CRQ_FANOUT)
        fanout_finish(rq), finish(rq);
    else
        finish(rq);
}

static void route_keyed(struct client *c, const struct proto_req *req, const char *line,
                        size_t nline, const char *data, size_t ndata)
{
    struct pool *p = c->pool;
    bool meta = is_meta(req->cmd);
    bool read = req->cmd == PROTO_CMD_MG || req->cmd == PROTO_CMD_ME;
    struct creq *rq = creq_new(c, read ? CRQ_READ1 : CRQ_FANOUT, req->cmd);
    if (!rq)
        return;
    rq->kind = kind_of(req->cmd);
    rq->quiet = meta && req->noreply;
    rq->noreply = !meta && req->noreply;
    struct server *cand[PX_REPLICAS_MAX], *owner;
    size_t n = pool_copies(p, req->key.p, req->key.n, cand, &owner);
    if (n == 0) {
        no_copy(rq, owner);
        finish(rq);
        return;
    }
    if (read)
        pool_read_order(p, req->key.p, req->key.n, cand, n);
    rq->ncand = (unsigned)n;
    for (size_t i = 0; i < n; i++)
        rq->cand[i] = (uint16_t)cand[i]->idx;
    char fl[PROTO_LINE_MAX + 8];
    size_t nfl = fwd_line(req, line, nline, fl, sizeof(fl), meta);
    const char *l = nfl ? fl : line;
    size_t nl = nfl ? nfl : nline;
    if (read) {
        buf_append(&rq->req, l, nl);
        read1_send(rq);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (!frag_new(rq, cand[i], rq->kind))
                break;
            buf_append(&cand[i]->out, l, nl);
            buf_append(&cand[i]->out, data, ndata);
        }
    }
    if (rq->pending == 0) {
        reply_text(rq, "SERVER_ERROR out of memory\r\n");
        finish(rq);
    }
}

static void route_flush_all(struct client *c, const struct proto_req *req, const char *line,
                            size_t nline)
{
    struct pool *p = c->pool;
    struct creq *rq = creq_new(c, CRQ_FANOUT, req->cmd);
    if (!rq)
        return;
    rq->kind = RSP_KIND_OK;
    rq->noreply = req->noreply;
    char fl[PROTO_LINE_MAX + 8];
    size_t nfl = fwd_line(req, line, nline, fl, sizeof(fl), false);
    for (size_t i = 0; i < p->nservers; i++) {
        struct server *s = &p->servers[i];
        if (s->ejected || !frag_new(rq, s, RSP_KIND_OK))
            continue;
        buf_append(&s->out, nfl ? fl : line, nfl ? nfl : nline);
    }
    if (rq->pending == 0) {
        no_copy(rq, NULL);
        finish(rq);
    }
}

/* --- dispatch ----------------------------------------------------------------- */

static void unsupported(struct client *c, const struct proto_req *req)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "SERVER_ERROR tandem-proxy does not forward '%.*s'\r\n",
                     (int)(req->tokens[0].n > 40 ? 40 : req->tokens[0].n), req->tokens[0].p);
    route_local(c, msg, (size_t)n);
}

void route_request(struct client *c, const struct proto_req *req, const char *line, size_t nline,
                   const char *data, size_t ndata)
{
    switch (req->cmd) {
    case PROTO_CMD_GET:
    case PROTO_CMD_GETS:
    case PROTO_CMD_GAT:
    case PROTO_CMD_GATS:
        route_mget(c, req);
        return;
    case PROTO_CMD_SET:
    case PROTO_CMD_ADD:
    case PROTO_CMD_REPLACE:
    case PROTO_CMD_APPEND:
    case PROTO_CMD_PREPEND:
    case PROTO_CMD_CAS:
    case PROTO_CMD_DELETE:
    case PROTO_CMD_INCR:
    case PROTO_CMD_DECR:
    case PROTO_CMD_TOUCH:
    case PROTO_CMD_MG:
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
    case PROTO_CMD_MA:
    case PROTO_CMD_ME:
        route_keyed(c, req, line, nline, data, ndata);
        return;
    case PROTO_CMD_MN:
        route_local(c, "MN\r\n", 4);
        return;
    case PROTO_CMD_VERSION:
        route_local(c, "VERSION " PX_VERSION "\r\n", sizeof("VERSION " PX_VERSION "\r\n") - 1);
        return;
    case PROTO_CMD_VERBOSITY:
        if (!req->noreply)
            route_local(c, "OK\r\n", 4);
        return;
    case PROTO_CMD_QUIT:
        c->closing = true;
        return;
    case PROTO_CMD_FLUSH_ALL:
        route_flush_all(c, req, line, nline);
        return;
    case PROTO_CMD_STATS: {
        struct creq *rq = creq_new(c, CRQ_LOCAL, req->cmd);
        if (!rq)
            return;
        /* plain `stats` is written when its turn comes (route_pop_reply), so
         * it counts the requests before it, as memcached's would */
        if (req->ntokens != 1)
            reply_text(rq, "ERROR\r\n");
        finish(rq);
        return;
    }
    default:
        unsupported(c, req);
        return;
    }
}
