/*
 * link: the replication connection state machine (see engine.c for the story).
 */
#include "repl/link.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "core/log.h"
#include "repl/auth.h"

#define READ_CHUNK 65536
#define NO_SECRET_HERE "peer requires authentication; configure --repl-password-file"
#define LOG_BATCH 65536

static void on_event(evutil_socket_t fd, short what, void *arg);

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct link_stats *stats_of(struct link *l) { return l->up ? &l->up->st : &l->st; }

#define BUMP(l, field, n) atomic_fetch_add_explicit(&stats_of(l)->field, (n), memory_order_relaxed)

static const char *user_of(const struct repl *r) { return r->cfg.user ? r->cfg.user : "tandem"; }

static const char *cluster_of(const struct repl *r)
{
    return r->cfg.cluster ? r->cfg.cluster : "tandem";
}

/* --- output ------------------------------------------------------------------------ */

static void want(struct link *l, short what)
{
    event_del(l->ev);
    event_assign(l->ev, l->r->base, l->fd, what | EV_PERSIST, on_event, l);
    event_add(l->ev, NULL);
}

/* Send what is buffered; false if the link died. */
static bool flush_out(struct link *l)
{
    if (l->state == LINK_CLOSED)
        return false;
    while (l->out_pos < l->out.len) {
        ssize_t n = send(l->fd, l->out.data + l->out_pos, l->out.len - l->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            l->out_pos += (size_t)n;
            BUMP(l, bytes_sent, (uint64_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want(l, EV_READ | EV_WRITE);
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        link_close(l, "write failed");
        return false;
    }
    l->out.len = l->out_pos = 0;
    if (l->state != LINK_CONNECTING)
        want(l, EV_READ);
    return true;
}

static void send_error(struct link *l, uint16_t code, const char *text)
{
    frame_encode_error(&l->out, code, text, strlen(text));
    flush_out(l);
}

/* --- publisher: full-sync walk and log streaming ------------------------------------- */

/* Remember when the mark for pos went out, for lag_ms (a small ring: an ACK
 * covers one of the last few marks, or its lag is not measured). */
static void mark_sent(struct link *l, uint64_t pos)
{
    l->marks[l->nmarks++ % REPL_MARKS] = (struct mark){pos, mono_ms()};
}

static void walk_item(void *arg, const struct store_view *v)
{
    struct link *l = arg;
    if (v->version < l->walk_since)
        return;
    struct frame_rec rec = {
        .origin = hlc_node_of(v->version), .version = v->version, .flags = v->flags,
        .exptime = v->exptime, .key = v->key, .nkey = v->nkey, .value = v->value,
        .nvalue = v->nvalue, .binary_key = v->binary_key, .stale = v->stale,
    };
    if (v->tombstone)
        frame_encode_tomb(&l->out, &rec);
    else
        frame_encode_set(&l->out, &rec);
    BUMP(l, records_sent, 1);
}

/* A full sync starts with the flush cutoffs, so the subscriber drops what
 * the publisher flushed even if it never saw that flush_all. */
static void send_flush_state(struct link *l)
{
    struct store_flush_info fi;
    store_flush_state(l->r->store, &fi);
    frame_encode_flush_state(&l->out, &fi);
}

static void walk_start(struct link *l, uint64_t since)
{
    send_flush_state(l);
    l->walking = true;
    l->walk_since = since;
    l->walk_started = hlc_now();
    l->walk_pos0 = repl_log_last(l->r->log);
    memset(&l->scur, 0, sizeof(l->scur));
    repl_log_cursor_seek(l->r->log, &l->cur, l->walk_pos0);
}

static void walk_step(struct link *l)
{
    store_scan(l->r->store, &l->scur, REPL_SCAN_SLICE, true, walk_item, l);
    if (!l->scur.done)
        return;
    l->walking = false;
    frame_encode_sync_end(&l->out, l->walk_pos0);
    mark_sent(l, l->walk_pos0);
}

/* Copy frames from the log, dropping other origins' records for a peer. */
static enum repl_log_status stream_step(struct link *l)
{
    struct buf batch = {0};
    enum repl_log_status st = repl_log_read(l->r->log, &l->cur, &batch, LOG_BATCH);
    if (st == REPL_LOG_OK) {
        uint16_t self = l->r->cfg.node_id;
        for (size_t off = 0; off < batch.len;) {
            struct frame f;
            if (frame_decode(batch.data + off, batch.len - off, &f) != FRAME_OK)
                break; /* cannot happen: the log holds frames we encoded */
            bool own = (f.type == FRAME_FLUSH ? f.flush.origin : f.rec.origin) == self;
            if (!l->only_own || own) {
                buf_append(&l->out, batch.data + off, f.size);
                BUMP(l, records_sent, 1);
            }
            off += f.size;
        }
        uint64_t pos = l->cur.next - 1;
        frame_encode_sync_end(&l->out, pos);
        mark_sent(l, pos);
    }
    buf_free(&batch);
    return st;
}

/* Fill the output from the walk or the log, up to REPL_OUT_HIGH, and send.
 * When the socket took it all and there is more to send, come back on the
 * next turn of the loop: nothing else would (the log wakes a link only
 * after it has read to the end, and EV_WRITE is armed only after EAGAIN),
 * so without this a full sync would advance only when the subscriber
 * happened to send a frame. */
static void pump(struct link *l)
{
    if (!l->publishing || l->state == LINK_CLOSED)
        return;
    bool more = false;
    for (int i = 0; i < 64 && l->out.len - l->out_pos < REPL_OUT_HIGH; i++) {
        more = true;
        if (l->walking) {
            walk_step(l);
            continue;
        }
        enum repl_log_status st = stream_step(l);
        if (st == REPL_LOG_FELL_BEHIND) {
            /* the log lost frames this link still needed: walk again, sending
             * only what changed since the last walk (or everything) began */
            BUMP(l, full_syncs, 1);
            walk_start(l, l->walk_started);
            continue;
        }
        if (st != REPL_LOG_OK) {
            more = false; /* at the end of the log: its wake-up is armed */
            break;
        }
    }
    atomic_store_explicit(&stats_of(l)->lag_records,
                          repl_log_last(l->r->log) - l->acked_pos, memory_order_relaxed);
    if (flush_out(l) && more && l->out.len == 0)
        event_active(l->wake, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pump(arg);
}

/* Runs on whichever thread appended to the log. */
static void log_wake(void *arg)
{
    struct link *l = arg;
    event_active(l->wake, EV_READ, 0);
}

static void start_publish(struct link *l)
{
    struct repl_log *log = l->r->log;
    uint64_t hist = repl_log_history(log);
    l->publishing = true;
    l->only_own = l->hello.role == FRAME_ROLE_PEER;
    bool partial = l->hello.resume_pos > 0 && l->hello.resume_history == hist &&
                   repl_log_covers(log, l->hello.resume_pos);
    uint64_t from = partial ? l->hello.resume_pos : repl_log_last(log);
    if (repl_log_cursor_open(log, &l->cur, from, log_wake, l) != REPL_LOG_OK) {
        link_close(l, "cannot open the write log");
        return;
    }
    l->cur_open = true;
    frame_encode_sync_begin(&l->out, partial ? FRAME_SYNC_PARTIAL : FRAME_SYNC_FULL, from, hist);
    if (partial) {
        BUMP(l, partial_syncs, 1);
        log_info("replication: %s resumes from position %llu", l->peer,
                 (unsigned long long)from);
    } else {
        BUMP(l, full_syncs, 1);
        walk_start(l, 0);
        log_info("replication: full sync to %s", l->peer);
    }
    pump(l);
}

/* --- handshake --------------------------------------------------------------------------- */

static void send_hello(struct link *l)
{
    struct frame_hello h = {
        .node = l->r->cfg.node_id,
        .flags = l->r->cfg.secret ? FRAME_HELLO_AUTH : 0,
        .history = repl_log_history(l->r->log),
        .cluster = cluster_of(l->r),
        .ncluster = (uint8_t)strlen(cluster_of(l->r)),
    };
    if (l->up) { /* we subscribe */
        h.role = l->up->master ? FRAME_ROLE_REPLICA : FRAME_ROLE_PEER;
        h.resume_pos = l->up->resume_pos;
        h.resume_history = l->up->resume_history;
    } else {
        h.role = l->hello.role == FRAME_ROLE_REPLICA ? FRAME_ROLE_MASTER : FRAME_ROLE_PEER;
    }
    frame_encode_hello(&l->out, &h);
    l->sent_hello = true;
    if (l->r->cfg.secret) {
        if (repl_auth_nonce(l->my_nonce) != REPL_AUTH_OK) {
            link_close(l, "no random bytes for a challenge");
            return;
        }
        frame_encode_challenge(&l->out, l->my_nonce);
        l->challenged_them = true;
    }
    l->state = LINK_AUTH;
}

static void check_ready(struct link *l)
{
    if (l->state != LINK_AUTH || !l->got_hello || !l->sent_hello)
        return;
    if (l->r->cfg.secret && !(l->verified_them && l->they_verified_us))
        return;
    l->state = LINK_READY;
    log_info("replication: link %s %s ready", l->up ? "to" : "from", l->peer);
    if (l->up) {
        l->up->backoff_ms = REPL_BACKOFF_MIN_MS;
        atomic_store_explicit(&l->up->unreachable, 0, memory_order_relaxed);
    }
    else
        start_publish(l);
}

static bool on_hello(struct link *l, const struct frame_hello *h)
{
    const char *cl = cluster_of(l->r);
    if (h->ncluster != strlen(cl) || memcmp(h->cluster, cl, h->ncluster) != 0) {
        send_error(l, FRAME_ERR_CLUSTER, "cluster name differs");
        link_close(l, "cluster name differs");
        return false;
    }
    if (h->node == l->r->cfg.node_id) {
        send_error(l, FRAME_ERR_REFUSED, "same node id on both ends (set --node-id)");
        link_close(l, "same node id on both ends (set --node-id)");
        return false;
    }
    bool mine = l->r->cfg.secret != NULL, theirs = (h->flags & FRAME_HELLO_AUTH) != 0;
    if (mine != theirs) {
        const char *why = mine ? "authentication failed: the peer has no replication secret"
                               : NO_SECRET_HERE;
        BUMP(l, auth_failures, 1);
        atomic_fetch_add_explicit(&l->r->auth_failures, 1, memory_order_relaxed);
        log_error("replication: %s: %s", l->peer, why);
        send_error(l, FRAME_ERR_AUTH, why);
        link_close(l, why);
        return false;
    }
    if (!l->up && h->role == FRAME_ROLE_MASTER) {
        send_error(l, FRAME_ERR_REFUSED, "a master cannot subscribe");
        link_close(l, "a master tried to subscribe");
        return false;
    }
    l->got_hello = true;
    l->hello.node = h->node;
    l->hello.role = h->role;
    l->hello.history = h->history;
    l->hello.resume_pos = h->resume_pos;
    l->hello.resume_history = h->resume_history;
    if (!l->sent_hello)
        send_hello(l);
    check_ready(l);
    return l->state != LINK_CLOSED;
}

static bool on_challenge(struct link *l, const uint8_t *nonce)
{
    if (!l->r->cfg.secret) {
        send_error(l, FRAME_ERR_AUTH, "authentication required: no secret configured here");
        link_close(l, NO_SECRET_HERE);
        return false;
    }
    memcpy(l->peer_nonce, nonce, FRAME_NONCE_LEN);
    l->they_challenged = true;
    uint8_t mac[FRAME_MAC_LEN];
    const char *user = user_of(l->r);
    struct repl_auth_input in = {
        .side = l->up ? REPL_AUTH_DIALER : REPL_AUTH_ACCEPTOR, /* we prove */
        .prover_nonce = l->my_nonce,
        .verifier_nonce = l->peer_nonce,
        .user = user,
        .nuser = strlen(user),
        .node = l->r->cfg.node_id,
    };
    if (!l->challenged_them || repl_auth_proof(l->r->cfg.secret, &in, mac) != REPL_AUTH_OK) {
        link_close(l, "cannot compute an authentication proof");
        return false;
    }
    frame_encode_proof(&l->out, user, strlen(user), mac);
    return true;
}

static bool on_proof(struct link *l, const struct frame_proof *p)
{
    struct repl_auth_input in = {
        .side = l->up ? REPL_AUTH_ACCEPTOR : REPL_AUTH_DIALER, /* they prove */
        .prover_nonce = l->peer_nonce,
        .verifier_nonce = l->my_nonce,
        .user = p->user,
        .nuser = p->nuser,
        .node = l->hello.node,
    };
    bool ok = l->r->cfg.secret && l->challenged_them && l->they_challenged &&
              repl_auth_verify(l->r->cfg.secret, &in, p->mac) == REPL_AUTH_OK;
    if (!ok) {
        BUMP(l, auth_failures, 1);
        atomic_fetch_add_explicit(&l->r->auth_failures, 1, memory_order_relaxed);
        log_error("replication: authentication failed from %s (user %.*s)", l->peer,
                  (int)p->nuser, p->user);
        send_error(l, FRAME_ERR_AUTH, "authentication failed");
        link_close(l, "authentication failed");
        return false;
    }
    l->verified_them = true;
    frame_encode_auth_ok(&l->out);
    check_ready(l);
    return l->state != LINK_CLOSED;
}

/* --- subscriber: applying records --------------------------------------------------- */

static void apply_record(struct link *l, const struct frame *f)
{
    struct store_record rec;
    if (!frame_to_store_record(f, &rec))
        return;
    enum store_status st = store_apply(l->r->store, &rec);
    BUMP(l, records_applied, 1);
    BUMP(l, bytes_applied, f->size);
    if (st == STORE_IGNORED)
        BUMP(l, lww_ignored, 1);
}

static void on_sync_end(struct link *l, uint64_t pos)
{
    struct upstream *u = l->up;
    if (!u)
        return;
    u->resume_pos = pos;
    u->resume_history = l->hello.history;
    if (!atomic_load(&u->synced))
        log_info("replication: synced with %s", u->name);
    atomic_store(&u->synced, true);
    l->syncing = false;
    l->ack_pos = pos; /* acknowledged once the frames read so far are handled */
}

static void on_ack(struct link *l, const struct frame_ack *a)
{
    l->acked_pos = a->pos;
    if (l->r->cfg.min_acks)
        repl_acks_changed(l->r);
    struct link_stats *st = stats_of(l);
    atomic_store_explicit(&st->lag_records, repl_log_last(l->r->log) - a->pos,
                          memory_order_relaxed);
    /* lag in time: since the newest mark this ACK covers was sent */
    uint64_t sent = 0;
    for (unsigned i = 0; i < REPL_MARKS; i++)
        if (l->marks[i].pos && l->marks[i].pos <= a->pos && l->marks[i].ms > sent)
            sent = l->marks[i].ms;
    if (sent)
        atomic_store_explicit(&st->lag_ms, mono_ms() - sent, memory_order_relaxed);
}

/* One decoded frame; false if the link was closed. */
static bool handle(struct link *l, const struct frame *f)
{
    bool ready = l->state == LINK_READY;
    switch (f->type) {
    case FRAME_HELLO:
        if (l->got_hello) {
            link_close(l, "second HELLO");
            return false;
        }
        return on_hello(l, &f->hello);
    case FRAME_CHALLENGE: return on_challenge(l, f->nonce);
    case FRAME_PROOF: return on_proof(l, &f->proof);
    case FRAME_AUTH_OK:
        l->they_verified_us = true;
        check_ready(l);
        return l->state != LINK_CLOSED;
    case FRAME_ERROR: {
        char why[160];
        if (f->error.code == FRAME_ERR_AUTH && !l->r->cfg.secret)
            snprintf(why, sizeof(why), "%s", NO_SECRET_HERE); /* the cause is on our side */
        else
            snprintf(why, sizeof(why), "peer said: %.*s", (int)f->error.ntext, f->error.text);
        log_error("replication: %s: %s", l->peer, why);
        link_close(l, why);
        return false;
    }
    case FRAME_PING:
        frame_encode_pong(&l->out, f->time_ms);
        return true;
    case FRAME_PONG: return true;
    default: break;
    }
    if (!ready) {
        atomic_fetch_add_explicit(&l->r->bad_frames, 1, memory_order_relaxed);
        send_error(l, FRAME_ERR_PROTOCOL, "records before the handshake completed");
        link_close(l, "records before the handshake completed");
        return false;
    }
    switch (f->type) {
    case FRAME_SET:
    case FRAME_TOMB:
        if (l->up)
            apply_record(l, f);
        return true;
    case FRAME_FLUSH:
        if (l->up)
            store_apply_flush(l->r->store, f->flush.cutoff, f->flush.when, f->flush.issued);
        return true;
    case FRAME_SYNC_BEGIN:
        l->syncing = true;
        if (l->up && f->sync_begin.mode == FRAME_SYNC_FULL)
            BUMP(l, full_syncs, 1);
        else if (l->up)
            BUMP(l, partial_syncs, 1);
        return true;
    case FRAME_SYNC_END: on_sync_end(l, f->pos); return true;
    case FRAME_ACK: on_ack(l, &f->ack); return true;
    default:
        send_error(l, FRAME_ERR_PROTOCOL, "unexpected frame");
        link_close(l, "unexpected frame");
        return false;
    }
}

/* --- input --------------------------------------------------------------------------- */

static void read_input(struct link *l)
{
    for (int round = 0; round < 16; round++) {
        if (!buf_reserve(&l->in, READ_CHUNK)) {
            link_close(l, "out of memory");
            return;
        }
        ssize_t n = recv(l->fd, l->in.data + l->in.len, l->in.cap - l->in.len, 0);
        if (n == 0) {
            link_close(l, "connection closed by peer");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            link_close(l, strerror(errno));
            return;
        }
        l->in.len += (size_t)n;
        l->last_rx_ms = mono_ms();
        size_t off = 0;
        while (off < l->in.len) {
            struct frame f;
            enum frame_status st = frame_decode(l->in.data + off, l->in.len - off, &f);
            if (st == FRAME_NEED_MORE)
                break;
            if (st != FRAME_OK) {
                char why[160];
                snprintf(why, sizeof(why), "bad frame at byte %zu: %s", off + f.err_at,
                         frame_strerror(st));
                atomic_fetch_add_explicit(&l->r->bad_frames, 1, memory_order_relaxed);
                log_error("replication: %s: %s; closing the link", l->peer, why);
                send_error(l, FRAME_ERR_PROTOCOL, why);
                link_close(l, why);
                return;
            }
            if (!handle(l, &f) || l->state == LINK_CLOSED)
                return;
            off += f.size;
        }
        buf_consume(&l->in, off);
    }
    if (l->ack_pos) { /* one ACK for every mark in this read */
        frame_encode_ack(&l->out, l->ack_pos, clock_now_ms());
        l->ack_pos = 0;
    }
    if (l->publishing)
        pump(l);
    else
        flush_out(l);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;
    if (l->state == LINK_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            link_close(l, strerror(err));
            return;
        }
        l->state = LINK_HELLO;
        l->last_rx_ms = mono_ms();
        send_hello(l);
        flush_out(l);
        return;
    }
    if (what & EV_WRITE) {
        if (!flush_out(l))
            return;
        if (l->publishing && l->out.len == 0) {
            pump(l);
            return;
        }
    }
    if (what & EV_READ)
        read_input(l);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct link *l = arg;
    if (mono_ms() - l->last_rx_ms > REPL_DEAD_MS) {
        link_close(l, "no traffic for 5 s");
        return;
    }
    if (l->state != LINK_CONNECTING) {
        frame_encode_ping(&l->out, clock_now_ms());
        flush_out(l);
    }
}

/* --- lifecycle ----------------------------------------------------------------------- */

static struct link *link_new(struct repl *r, int fd, const char *peer, struct upstream *up)
{
    struct link *l = calloc(1, sizeof(*l));
    if (!l) {
        close(fd);
        return NULL;
    }
    l->r = r;
    l->fd = fd;
    l->up = up;
    snprintf(l->peer, sizeof(l->peer), "%s", peer);
    l->last_rx_ms = mono_ms();
    l->ev = event_new(r->base, fd, EV_READ | EV_PERSIST, on_event, l);
    l->wake = event_new(r->base, -1, 0, on_wake, l);
    l->timer = event_new(r->base, -1, EV_PERSIST, on_timer, l);
    struct timeval tv = {REPL_PING_MS / 1000, (REPL_PING_MS % 1000) * 1000};
    event_add(l->timer, &tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_mutex_lock(&r->links_lock);
    l->next = r->links;
    if (r->links)
        r->links->prev = l;
    r->links = l;
    pthread_mutex_unlock(&r->links_lock);
    return l;
}

void link_accepted(struct repl *r, int fd, const char *peer)
{
    struct link *l = link_new(r, fd, peer, NULL);
    if (!l)
        return;
    l->state = LINK_HELLO;
    event_add(l->ev, NULL);
    log_info("replication: connection from %s", peer);
}

void link_free(struct link *l)
{
    struct repl *r = l->r;
    if (l->cur_open)
        repl_log_cursor_close(r->log, &l->cur); /* no log_wake runs after this */
    pthread_mutex_lock(&r->links_lock);
    if (l->prev)
        l->prev->next = l->next;
    else
        r->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    pthread_mutex_unlock(&r->links_lock);
    event_free(l->ev);
    event_free(l->wake);
    event_free(l->timer);
    close(l->fd);
    buf_free(&l->in);
    buf_free(&l->out);
    free(l);
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    link_free(arg);
}

/* Close a link. Its memory is freed from the event loop later, so every
 * caller up the stack may still look at l (and sees LINK_CLOSED). */
void link_close(struct link *l, const char *why)
{
    if (l->state == LINK_CLOSED)
        return;
    if (l->up && l->state != LINK_READY) /* refused, or the handshake failed */
        atomic_fetch_add_explicit(&l->up->unreachable, 1, memory_order_relaxed);
    l->state = LINK_CLOSED;
    snprintf(l->last_error, sizeof(l->last_error), "%s", why);
    event_del(l->ev);
    event_del(l->timer);
    if (l->cur_open) {
        repl_log_cursor_close(l->r->log, &l->cur);
        l->cur_open = false;
    }
    event_del(l->wake);
    struct timeval now = {0, 0};
    event_base_once(l->r->base, -1, EV_TIMEOUT, reap, l, &now);
    struct upstream *u = l->up;
    if (u && atomic_load(&u->retired)) {
        u->link = NULL;
        log_info("replication: left %s: %s", u->name, why);
    } else if (u) {
        snprintf(u->last_error, sizeof(u->last_error), "%s", why);
        u->link = NULL;
        log_info("replication: link to %s down: %s; retrying in %u ms", u->name, why,
                 u->backoff_ms);
        upstream_schedule(u, u->backoff_ms);
        u->backoff_ms = u->backoff_ms * 2 > REPL_BACKOFF_MAX_MS ? REPL_BACKOFF_MAX_MS
                                                                 : u->backoff_ms * 2;
    } else {
        log_info("replication: link from %s closed: %s", l->peer, why);
    }
}

/* --- dialing ----------------------------------------------------------------------- */

static void dial(struct upstream *u)
{
    struct repl *r = u->r;
    int idx = (int)(u - r->up);
    const struct repl_upstream_config *c = &r->cfg.up[idx];
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(c->host, port, &hints, &res) != 0) {
        snprintf(u->last_error, sizeof(u->last_error), "cannot resolve %s", c->host);
        upstream_schedule(u, REPL_BACKOFF_MAX_MS);
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (fd < 0 || (rc != 0 && errno != EINPROGRESS)) {
        snprintf(u->last_error, sizeof(u->last_error), "connect: %s", strerror(errno));
        atomic_fetch_add_explicit(&u->unreachable, 1, memory_order_relaxed);
        if (fd >= 0)
            close(fd);
        upstream_schedule(u, u->backoff_ms);
        u->backoff_ms = u->backoff_ms * 2 > REPL_BACKOFF_MAX_MS ? REPL_BACKOFF_MAX_MS
                                                                 : u->backoff_ms * 2;
        return;
    }
    struct link *l = link_new(r, fd, u->name, u);
    if (!l)
        return;
    u->link = l;
    atomic_fetch_add_explicit(&u->connects, 1, memory_order_relaxed);
    l->state = LINK_CONNECTING;
    want(l, EV_WRITE);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct upstream *u = arg;
    if (!u->link && !atomic_load(&u->retired))
        dial(u);
}

void upstream_schedule(struct upstream *u, uint32_t delay_ms)
{
    if (!u->retry_ev)
        u->retry_ev = evtimer_new(u->r->base, on_retry, u);
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(u->retry_ev, &tv);
}
