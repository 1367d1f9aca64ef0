/*
 * engine: the replication thread, its listener, its dialers and its links.
 *
 * Every link runs the same small state machine, whichever side dialed:
 *
 *   HELLO ──(secrets?)── AUTH ── READY
 *
 * then the publisher (the side that was dialed) sends SYNC_BEGIN and streams,
 * and the subscriber applies. A full sync walks the table with the store's
 * resumable cursor while the write log keeps collecting live writes; when
 * the walk ends the link continues from the log position it started at. If
 * the log overwrote that position meanwhile, the walk runs again but sends
 * only items changed since the previous walk began. Duplicates are harmless:
 * the subscriber applies by last-writer-wins.
 *
 * The publisher sends a SYNC_END "mark" after every batch: the subscriber
 * then knows which publisher log position it holds, acknowledges it (lag),
 * and resumes from it after a reconnect (partial resync).
 *
 * Threading: links, listener, timers and upstream state belong to the repl
 * thread. Worker threads touch only the write log (through repl_on_change)
 * and the wake events (event_active is thread-safe). Stats are read by
 * `stats replication` on a worker through relaxed atomics.
 */
#include "repl/repl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "core/log.h"
#include "repl/auth.h"
#include "repl/frame.h"
#include "repl/log.h"
#include "repl/link.h"

/* --- the change feed (worker threads) ---------------------------------------- */

/* Each writing thread encodes into its own buffer, found through a
 * thread-specific key whose destructor frees it when the thread exits. The
 * key itself is created once (pthread_once) and never changes. */
static pthread_key_t feed_key;

/* The position of this thread's last logged record (repl_thread_pos). */
static __thread uint64_t tl_pos;
static pthread_once_t feed_once = PTHREAD_ONCE_INIT;

static void feed_free(void *p)
{
    buf_free(p);
    free(p);
}

static void feed_init(void) { pthread_key_create(&feed_key, feed_free); }

static struct buf *feed_buf_get(void)
{
    pthread_once(&feed_once, feed_init);
    struct buf *b = pthread_getspecific(feed_key);
    if (!b && (b = calloc(1, sizeof(*b))) != NULL)
        pthread_setspecific(feed_key, b);
    return b;
}

void repl_on_change(void *arg, const struct store_change *ch)
{
    struct repl *r = arg;
    if (ch->applied && !r->forward_applied)
        return; /* a peer's write: its other subscribers hear it from the peer */
    struct buf *fb = feed_buf_get();
    if (!fb) {
        atomic_fetch_add_explicit(&r->feed_dropped, 1, memory_order_relaxed);
        return;
    }
    uint64_t seq = atomic_fetch_add_explicit(&r->seq, 1, memory_order_relaxed) + 1;
    buf_reset(fb);
    if (ch->kind == STORE_CHANGE_FLUSH) {
        /* the cutoff carries the node that flushed in its low bits (store
         * flush.c): a peer's flush keeps its origin and is never echoed back */
        struct frame_flush fl = {.origin = hlc_node_of(ch->cutoff), .seq = seq,
                                 .cutoff = ch->cutoff, .when = ch->when,
                                 .issued = ch->when ? ch->issued : 0};
        frame_encode_flush(fb, &fl);
    } else {
        const struct store_view *v = ch->item;
        /* a peer's write keeps its origin; ours, including a client's
         * restore of someone else's version (`apply`), is our own */
        struct frame_rec rec = {
            .origin = ch->applied ? hlc_node_of(v->version) : r->cfg.node_id,
            .seq = seq,
            .version = v->version,
            .flags = v->flags,
            .exptime = v->exptime,
            .key = v->key,
            .nkey = v->nkey,
            .value = v->value,
            .nvalue = v->nvalue,
            .binary_key = v->binary_key,
            .stale = v->stale,
        };
        if (ch->kind == STORE_CHANGE_TOMB)
            frame_encode_tomb(fb, &rec);
        else
            frame_encode_set(fb, &rec);
    }
    if (fb->oom) {
        buf_free(fb);
        atomic_fetch_add_explicit(&r->feed_dropped, 1, memory_order_relaxed);
        return;
    }
    tl_pos = repl_log_append(r->log, fb->data, fb->len);
}

uint64_t repl_thread_pos(void) { return tl_pos; }

/* --- engine lifecycle ---------------------------------------------------------- */

struct repl *repl_create(const struct repl_config *cfg, char *err, size_t errlen)
{
    struct repl *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        repl_auth_secret_free(cfg->secret);
        return NULL;
    }
    r->cfg = *cfg;
    pthread_mutex_init(&r->links_lock, NULL);
    pthread_mutex_init(&r->wait_lock, NULL);
    pthread_mutex_init(&r->cmd_lock, NULL);
    pthread_mutex_init(&r->master_lock, NULL);
    pthread_cond_init(&r->cmd_cond, NULL);
    atomic_store(&r->read_only, cfg->read_only);
    r->forward_applied = true; /* a node may have replicas (chains), always log */
    struct repl_log_config lc;
    repl_log_config_init(&lc);
    if (cfg->log_bytes)
        lc.max_bytes = cfg->log_bytes;
    enum repl_log_status st;
    const char *lerr = NULL;
    r->log = repl_log_create(&lc, &st, &lerr);
    if (!r->log) {
        snprintf(err, errlen, "replication log: %s", lerr ? lerr : repl_log_strerror(st));
        repl_auth_secret_free(cfg->secret);
        free(r);
        return NULL;
    }
    for (int i = 0; i < cfg->nup; i++) {
        struct upstream *u = &r->up[i];
        u->r = r;
        snprintf(u->name, sizeof(u->name), "%s:%d", cfg->up[i].host, cfg->up[i].port);
        u->master = cfg->up[i].master;
        u->backoff_ms = REPL_BACKOFF_MIN_MS;
        if (u->master)
            snprintf(r->master, sizeof(r->master), "%s", u->name);
    }
    r->nup = cfg->nup;
    return r;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct repl *r = arg;
    for (int i = 0; i < 16; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        }
        char name[96];
        snprintf(name, sizeof(name), "%s:%d", host, port);
        link_accepted(r, c, name);
    }
}

static bool listen_repl(struct repl *r, char *err, size_t errlen)
{
    if (r->cfg.port <= 0)
        return true;
    char port[16];
    snprintf(port, sizeof(port), "%d", r->cfg.port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;
    const char *host = r->cfg.bind_addr ? r->cfg.bind_addr : "127.0.0.1";
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "replication listener %s:%s: %s", host, port, gai_strerror(rc));
        return false;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "failed to listen on replication port %s:%s: %s", host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return false;
    }
    freeaddrinfo(res);
    r->listen_fd = fd;
    r->listen_ev = event_new(r->base, fd, EV_READ | EV_PERSIST, on_accept, r);
    event_add(r->listen_ev, NULL);
    return true;
}

static void *repl_main(void *arg)
{
    struct repl *r = arg;
    pthread_setname_np(pthread_self(), "tandem-repl");
    event_base_loop(r->base, 0);
    return NULL;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct repl *r = arg;
    event_base_loopbreak(r->base);
}

bool repl_start(struct repl *r, struct store *store, char *err, size_t errlen)
{
    r->store = store;
    r->listen_fd = -1;
    r->base = event_base_new();
    r->stop_ev = event_new(r->base, -1, 0, on_stop, r);
    r->cmd_ev = event_new(r->base, -1, 0, repl_run_cmd, r);
    if (!r->base || !r->stop_ev || !r->cmd_ev || !listen_repl(r, err, errlen))
        return false;
    for (int i = 0; i < r->nup; i++)
        upstream_schedule(&r->up[i], 0);
    if (pthread_create(&r->tid, NULL, repl_main, r) != 0) {
        snprintf(err, errlen, "failed to start the replication thread");
        return false;
    }
    r->started = true;
    log_info("replication: node %u, listening on %s:%d, %d upstream(s)", r->cfg.node_id,
             r->cfg.bind_addr ? r->cfg.bind_addr : "127.0.0.1", r->cfg.port, r->nup);
    return true;
}

void repl_stop(struct repl *r)
{
    if (!r || !r->started)
        return;
    event_active(r->stop_ev, EV_READ, 0);
    pthread_join(r->tid, NULL);
    r->started = false;
    while (r->links)
        link_free(r->links);
    for (int i = 0; i < r->nup; i++)
        if (r->up[i].retry_ev)
            event_free(r->up[i].retry_ev);
    if (r->listen_ev)
        event_free(r->listen_ev);
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    event_free(r->stop_ev);
    event_free(r->cmd_ev);
    event_base_free(r->base);
}

void repl_destroy(struct repl *r)
{
    if (!r)
        return;
    repl_log_destroy(r->log);
    repl_auth_secret_free(r->cfg.secret);
    pthread_mutex_destroy(&r->links_lock);
    pthread_mutex_destroy(&r->wait_lock);
    pthread_mutex_destroy(&r->cmd_lock);
    pthread_mutex_destroy(&r->master_lock);
    pthread_cond_destroy(&r->cmd_cond);
    free(r);
}

/* An upstream that is up must have given us its data; one that refused
 * REPL_UNREACHABLE connections in a row is down and cannot (a fresh
 * cluster's first node, or a peer that died): waiting for it helps no one. */
bool repl_synced(const struct repl *r)
{
    int nup = __atomic_load_n(&r->nup, __ATOMIC_ACQUIRE); /* repl_follow may add one */
    for (int i = 0; i < nup; i++) {
        const struct upstream *u = &r->up[i];
        if (atomic_load(&u->retired))
            continue;
        if (!atomic_load_explicit(&u->synced, memory_order_relaxed) &&
            atomic_load_explicit(&u->unreachable, memory_order_relaxed) < REPL_UNREACHABLE)
            return false;
    }
    return true;
}

void repl_master(struct repl *r, char *out, size_t outlen)
{
    pthread_mutex_lock(&r->master_lock);
    snprintf(out, outlen, "%s", r->master);
    pthread_mutex_unlock(&r->master_lock);
}

bool repl_read_only(struct repl *r) { return atomic_load(&r->read_only); }

uint16_t repl_node_id(const struct repl *r) { return r->cfg.node_id; }

void repl_log_position(const struct repl *r, uint64_t *history, uint64_t *pos)
{
    *history = repl_log_history(r->log);
    *pos = repl_log_last(r->log);
}

/* --- stats replication ------------------------------------------------------------ */

static const char *state_name(int st, bool syncing)
{
    switch (st) {
    case LINK_CONNECTING: return "connecting";
    case LINK_HELLO:
    case LINK_AUTH: return "handshake";
    case LINK_READY: return syncing ? "syncing" : "streaming";
    default: return "down";
    }
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static void link_counters(struct buf *out, const char *p, const struct link_stats *st)
{
    buf_printf(out, "STAT %s:records_sent %llu\r\nSTAT %s:bytes_sent %llu\r\n", p,
               LOAD(st->records_sent), p, LOAD(st->bytes_sent));
    buf_printf(out, "STAT %s:records_applied %llu\r\nSTAT %s:bytes_applied %llu\r\n", p,
               LOAD(st->records_applied), p, LOAD(st->bytes_applied));
    buf_printf(out, "STAT %s:lag_records %llu\r\nSTAT %s:lag_ms %llu\r\n", p,
               LOAD(st->lag_records), p, LOAD(st->lag_ms));
    buf_printf(out, "STAT %s:full_syncs %llu\r\nSTAT %s:partial_syncs %llu\r\n", p,
               LOAD(st->full_syncs), p, LOAD(st->partial_syncs));
    buf_printf(out, "STAT %s:auth_failures %llu\r\nSTAT %s:lww_ignored %llu\r\n", p,
               LOAD(st->auth_failures), p, LOAD(st->lww_ignored));
}

void repl_write_stats(struct repl *r, struct buf *out)
{
    int nup = __atomic_load_n(&r->nup, __ATOMIC_ACQUIRE), npeers = 0;
    for (int i = 0; i < nup; i++)
        npeers += !r->up[i].master && !atomic_load(&r->up[i].retired);
    const char *role = atomic_load(&r->read_only) ? "replica" : npeers > 0 ? "peer" : "master";
    struct repl_log_stats ls;
    repl_log_stats(r->log, &ls);
    struct store_stats ss;
    store_stats(r->store, &ss);
    buf_printf(out, "STAT role %s\r\nSTAT node_id %u\r\nSTAT repl_port %d\r\n", role,
               r->cfg.node_id, r->cfg.port);
    buf_printf(out, "STAT repl_port %d\r\nSTAT history %016llx\r\n", r->cfg.port,
               (unsigned long long)ls.history);
    buf_printf(out, "STAT log_first %llu\r\nSTAT log_last %llu\r\nSTAT log_bytes %llu\r\n",
               (unsigned long long)ls.first, (unsigned long long)ls.last,
               (unsigned long long)ls.bytes);
    buf_printf(out, "STAT tombstones %llu\r\nSTAT auth_failures %llu\r\nSTAT bad_frames %llu\r\n",
               (unsigned long long)ss.curr_tombstones, LOAD(r->auth_failures),
               LOAD(r->bad_frames));
    uint64_t ignored = 0;
    for (int i = 0, shown = 0; i < nup; i++) {
        struct upstream *u = &r->up[i];
        if (atomic_load(&u->retired))
            continue;
        char p[32];
        snprintf(p, sizeof(p), "upstream_%d", shown++);
        ignored += LOAD(u->st.lww_ignored);
        buf_printf(out, "STAT %s:peer %s\r\nSTAT %s:kind %s\r\n", p, u->name, p,
                   u->master ? "master" : "peer");
        pthread_mutex_lock(&r->links_lock);
        const char *state = u->link ? state_name(u->link->state, u->link->syncing) : "down";
        buf_printf(out, "STAT %s:state %s\r\n", p, state);
        pthread_mutex_unlock(&r->links_lock);
        /* synced: in step right now; ever_synced: had all of it once (restarts) */
        bool ever = atomic_load(&u->synced);
        buf_printf(out, "STAT %s:synced %s\r\nSTAT %s:ever_synced %s\r\n", p,
                   ever && strcmp(state, "streaming") == 0 ? "yes" : "no", p, ever ? "yes" : "no");
        buf_printf(out, "STAT %s:resume_pos %llu\r\n", p, (unsigned long long)u->resume_pos);
        link_counters(out, p, &u->st);
        buf_printf(out, "STAT %s:connects %llu\r\nSTAT %s:last_error %s\r\n", p,
                   LOAD(u->connects), p, u->last_error[0] ? u->last_error : "none");
    }
    pthread_mutex_lock(&r->links_lock);
    int i = 0;
    for (struct link *l = r->links; l; l = l->next) {
        if (l->up)
            continue;
        char p[32];
        snprintf(p, sizeof(p), "downstream_%d", i++);
        buf_printf(out, "STAT %s:peer %s\r\nSTAT %s:state %s\r\n", p, l->peer, p,
                   state_name(l->state, l->walking));
        buf_printf(out, "STAT %s:kind %s\r\n", p,
                   l->hello.role == FRAME_ROLE_REPLICA ? "replica" : "peer");
        link_counters(out, p, &l->st);
    }
    pthread_mutex_unlock(&r->links_lock);
    buf_printf(out, "STAT lww_ignored %llu\r\n", (unsigned long long)ignored);
    buf_printf(out, "STAT min_acks %u\r\nSTAT acks_waited %llu\r\nSTAT acks_timed_out %llu\r\n",
               r->cfg.min_acks, LOAD(r->acks_waited), LOAD(r->acks_timed_out));
}
