/*
 * stats: `stats`, `stats items|slabs|sizes|conns|detail|settings|reset|
 * cachedump|extstore`, and the streaming `lru_crawler metadump`.
 */
#include "server/stats.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/listen.h"
#include "core/netstat.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/snapshot.h"
#include "server/watch.h"
#include "repl/repl.h"

#define DUMP_SLICE 512 /* items per metadump step */
#define MAX_CLASSES 256

static void stat_u64(struct buf *b, const char *name, uint64_t v)
{
    buf_puts(b, "STAT ");
    buf_puts(b, name);
    buf_append(b, " ", 1);
    buf_put_u64(b, v);
    buf_append(b, "\r\n", 2);
}

static void stat_str(struct buf *b, const char *name, const char *v)
{
    buf_printf(b, "STAT %s %s\r\n", name, v);
}

static void stat_tv(struct buf *b, const char *name, struct timeval tv)
{
    buf_printf(b, "STAT %s %ld.%06ld\r\n", name, (long)tv.tv_sec, (long)tv.tv_usec);
}

static void general(struct conn *c)
{
    struct thread_ctx *t = conn_thread(c);
    struct server *srv = t->srv;
    struct buf *b = &c->wbuf;
    struct tstats_sum *ts = malloc(sizeof(*ts));
    if (!ts) {
        session_reply(c, "SERVER_ERROR out of memory writing stats", false);
        return;
    }
    tstats_sum(srv->tstats, srv->nworkers, ts);
    struct store_stats ss;
    store_stats(srv->store, &ss);
    struct netstat ns;
    netstat_get(&ns);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint32_t now = clock_now();

    uint64_t get_hits = 0, touch_hits = 0, cas_hits = 0, cas_badval = 0, incr_hits = 0,
             decr_hits = 0, delete_hits = 0, cmd_set = 0;
    for (int i = 0; i < TSTATS_CLASSES; i++) {
        get_hits += ts->cls[i].get_hits;
        touch_hits += ts->cls[i].touch_hits;
        cas_hits += ts->cls[i].cas_hits;
        cas_badval += ts->cls[i].cas_badval;
        incr_hits += ts->cls[i].incr_hits;
        decr_hits += ts->cls[i].decr_hits;
        delete_hits += ts->cls[i].delete_hits;
        cmd_set += ts->cls[i].cmd_set;
    }
    cas_hits += ts->cas_hits;
    cas_badval += ts->cas_badval;
    delete_hits += ts->delete_hits;

    stat_u64(b, "pid", (uint64_t)getpid());
    stat_u64(b, "uptime", now - srv->started);
    stat_u64(b, "time", now);
    stat_str(b, "version", TANDEM_MEMCACHED_VERSION);
    stat_str(b, "libevent", event_get_version());
    stat_u64(b, "pointer_size", 8 * sizeof(void *));
    stat_tv(b, "rusage_user", ru.ru_utime);
    stat_tv(b, "rusage_system", ru.ru_stime);
    stat_u64(b, "max_connections", srv->settings->maxconns);
    stat_u64(b, "curr_connections", ns.curr_connections);
    stat_u64(b, "total_connections", ns.total_connections + (uint64_t)listen_count());
    stat_u64(b, "rejected_connections", ns.rejected_connections);
    stat_u64(b, "connection_structures", ns.connection_structures + (uint64_t)listen_count());
    stat_u64(b, "response_obj_oom", 0);
    stat_u64(b, "response_obj_count", 1);
    stat_u64(b, "response_obj_bytes", 16384);
    stat_u64(b, "read_buf_count", ns.curr_connections + 1);
    stat_u64(b, "read_buf_bytes", (ns.curr_connections + 1) * 16384);
    stat_u64(b, "read_buf_bytes_free", 0);
    stat_u64(b, "read_buf_oom", 0);
    stat_u64(b, "reserved_fds", srv->reserved_fds);
    stat_u64(b, "cmd_get", ts->get_cmds);
    stat_u64(b, "cmd_set", cmd_set);
    stat_u64(b, "cmd_flush", ts->flush_cmds);
    stat_u64(b, "cmd_touch", ts->touch_cmds);
    stat_u64(b, "cmd_meta", ts->meta_cmds);
    stat_u64(b, "get_hits", get_hits);
    stat_u64(b, "get_misses", ts->get_misses);
    stat_u64(b, "get_expired", ss.get_expired);
    stat_u64(b, "get_flushed", ss.get_flushed);
    stat_u64(b, "delete_misses", ts->delete_misses);
    stat_u64(b, "delete_hits", delete_hits);
    stat_u64(b, "incr_misses", ts->incr_misses);
    stat_u64(b, "incr_hits", incr_hits);
    stat_u64(b, "decr_misses", ts->decr_misses);
    stat_u64(b, "decr_hits", decr_hits);
    stat_u64(b, "cas_misses", ts->cas_misses);
    stat_u64(b, "cas_hits", cas_hits);
    stat_u64(b, "cas_badval", cas_badval);
    stat_u64(b, "touch_hits", touch_hits);
    stat_u64(b, "touch_misses", ts->touch_misses);
    stat_u64(b, "store_too_large", ts->store_too_large);
    stat_u64(b, "store_no_memory", ts->store_no_memory);
    stat_u64(b, "auth_cmds", ts->auth_cmds);
    stat_u64(b, "auth_errors", ts->auth_errors);
    stat_u64(b, "bytes_read", ns.bytes_read);
    stat_u64(b, "bytes_written", ns.bytes_written);
    stat_u64(b, "limit_maxbytes", srv->settings->maxbytes);
    stat_u64(b, "accepting_conns", listen_accepting() ? 1 : 0);
    stat_u64(b, "listen_disabled_num", ns.listen_disabled_num);
    stat_u64(b, "time_in_listen_disabled_us", 0);
    stat_u64(b, "threads", (uint64_t)srv->nworkers);
    stat_u64(b, "conn_yields", ns.conn_yields);
    stat_u64(b, "hash_power_level", ss.hash_power_level);
    stat_u64(b, "hash_bytes", ss.hash_bytes);
    stat_u64(b, "hash_is_expanding", ss.hash_is_expanding);
    static const char *const idle[] = {
        "slab_reassign_rescues", "slab_reassign_chunk_rescues", "slab_reassign_evictions_nomem",
        "slab_reassign_inline_reclaim", "slab_reassign_busy_items", "slab_reassign_busy_deletes",
        "slab_reassign_running", "slabs_moved", "lru_crawler_running"};
    for (size_t i = 0; i < sizeof(idle) / sizeof(idle[0]); i++)
        stat_u64(b, idle[i], 0);
    stat_u64(b, "lru_crawler_starts", 1);
    stat_u64(b, "lru_maintainer_juggles", 0);
    stat_u64(b, "malloc_fails", ss.malloc_fails);
    struct watch_stats ws;
    watch_stats(srv->watch, &ws);
    stat_u64(b, "log_worker_dropped", 0);
    stat_u64(b, "log_worker_written", ws.sent);
    stat_u64(b, "log_watcher_skipped", ws.skipped);
    stat_u64(b, "log_watcher_sent", ws.sent);
    stat_u64(b, "log_watchers", ws.watchers);
    stat_u64(b, "unexpected_napi_ids", 0);
    stat_u64(b, "round_robin_fallback", 0);
    stat_u64(b, "bytes", ss.bytes);
    stat_u64(b, "curr_items", ss.curr_items);
    stat_u64(b, "total_items", ss.total_items);
    stat_u64(b, "slab_global_page_pool", 0);
    stat_u64(b, "expired_unfetched", ss.expired_unfetched);
    stat_u64(b, "evicted_unfetched", ss.evicted_unfetched);
    stat_u64(b, "evicted_active", ss.evicted_active);
    stat_u64(b, "evictions", ss.evictions);
    stat_u64(b, "reclaimed", ss.reclaimed);
    stat_u64(b, "crawler_reclaimed", ss.crawler_reclaimed);
    stat_u64(b, "crawler_items_checked", ss.crawler_items_checked);
    static const char *const idle3[] = {"lrutail_reflocked", "moves_to_cold",  "moves_to_warm",
                                        "moves_within_lru",  "direct_reclaims", "lru_bumps_dropped"};
    for (size_t i = 0; i < sizeof(idle3) / sizeof(idle3[0]); i++)
        stat_u64(b, idle3[i], 0);
    free(ts);
}

static void items(struct conn *c)
{
    struct server *srv = conn_thread(c)->srv;
    struct store_class_stats *cs = calloc(MAX_CLASSES, sizeof(*cs));
    if (!cs)
        return;
    size_t n = store_class_stats(srv->store, cs, MAX_CLASSES);
    for (size_t i = 0; i < n; i++) {
        const struct store_class_stats *k = &cs[i];
        if (k->number == 0)
            continue;
        uint64_t v[] = {k->number, 0, 0, k->number, 0, 0, k->age, k->mem_requested, k->evicted,
                        k->evicted_nonzero, k->evicted_time, k->outofmemory, 0, k->reclaimed,
                        k->expired_unfetched, k->evicted_unfetched, k->evicted_active, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0};
        static const char *const names[] = {
            "number", "number_hot", "number_warm", "number_cold", "age_hot", "age_warm", "age",
            "mem_requested", "evicted", "evicted_nonzero", "evicted_time", "outofmemory",
            "tailrepairs", "reclaimed", "expired_unfetched", "evicted_unfetched",
            "evicted_active", "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked",
            "moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
            "hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp"};
        for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++)
            buf_printf(&c->wbuf, "STAT items:%u:%s %llu\r\n", k->clsid, names[f],
                       (unsigned long long)v[f]);
    }
    free(cs);
}

static void slabs(struct conn *c)
{
    struct server *srv = conn_thread(c)->srv;
    struct store_class_stats *cs = calloc(MAX_CLASSES, sizeof(*cs));
    struct tstats_sum *ts = malloc(sizeof(*ts));
    if (!cs || !ts) {
        free(cs);
        free(ts);
        return;
    }
    tstats_sum(srv->tstats, srv->nworkers, ts);
    size_t n = store_class_stats(srv->store, cs, MAX_CLASSES);
    uint64_t active = 0;
    for (size_t i = 0; i < n; i++) {
        const struct store_class_stats *k = &cs[i];
        if (k->total_pages == 0)
            continue;
        active++;
        const typeof(ts->cls[0]) *h = &ts->cls[k->clsid];
        uint64_t v[] = {k->chunk_size, k->chunks_per_page, k->total_pages, k->total_chunks,
                        k->used_chunks, k->free_chunks, k->free_chunks_end, h->get_hits,
                        h->cmd_set, h->delete_hits, h->incr_hits, h->decr_hits, h->cas_hits,
                        h->cas_badval, h->touch_hits};
        static const char *const names[] = {
            "chunk_size", "chunks_per_page", "total_pages", "total_chunks", "used_chunks",
            "free_chunks", "free_chunks_end", "get_hits", "cmd_set", "delete_hits", "incr_hits",
            "decr_hits", "cas_hits", "cas_badval", "touch_hits"};
        for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++)
            buf_printf(&c->wbuf, "STAT %u:%s %llu\r\n", k->clsid, names[f],
                       (unsigned long long)v[f]);
    }
    stat_u64(&c->wbuf, "active_slabs", active);
    struct store_stats ss; /* all item memory counted against -m */
    store_stats(srv->store, &ss);
    stat_u64(&c->wbuf, "total_malloced", ss.mem_used);
    free(cs);
    free(ts);
}

/* `stats sizes`: live items per 32-byte size bucket. memcached keeps this
 * histogram up to date on every write when tracking is on; Tandem computes
 * it from a walk when asked, so tracking costs nothing until it is used. */
struct sizes_ctx {
    uint32_t *bucket;
    size_t n, cap;
    bool oom;
};

static void note_size(void *arg, const struct store_view *v)
{
    struct sizes_ctx *x = arg;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4096;
        uint32_t *p = x->oom ? NULL : realloc(x->bucket, cap * sizeof(*p));
        if (!p) {
            x->oom = true;
            return;
        }
        x->bucket = p;
        x->cap = cap;
    }
    x->bucket[x->n++] = (v->size + 31) / 32;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void sizes(struct conn *c)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->settings->track_sizes) {
        buf_puts(&c->wbuf, "STAT sizes_status disabled\r\n");
        return;
    }
    struct sizes_ctx x = {0};
    struct store_cursor cur = {0};
    while (!cur.done && !x.oom)
        store_scan(srv->store, &cur, 4096, false, note_size, &x);
    if (x.oom) {
        free(x.bucket);
        session_reply(c, "SERVER_ERROR out of memory writing stats", false);
        return;
    }
    qsort(x.bucket, x.n, sizeof(*x.bucket), cmp_u32);
    for (size_t i = 0; i < x.n;) {
        size_t j = i;
        while (j < x.n && x.bucket[j] == x.bucket[i])
            j++;
        buf_printf(&c->wbuf, "STAT %u %zu\r\n", x.bucket[i] * 32, j - i);
        i = j;
    }
    free(x.bucket);
}

struct conns_ctx {
    struct buf *b;
    uint32_t now;
};

static void one_listener(int fd, const char *local, bool udp, void *arg)
{
    struct conns_ctx *x = arg;
    buf_printf(x->b, "STAT %d:addr %s\r\n", fd, local);
    buf_printf(x->b, "STAT %d:state %s\r\n", fd, udp ? "conn_read" : "conn_listening");
    buf_printf(x->b, "STAT %d:secs_since_last_cmd %u\r\n", fd, 0u);
}

static void one_conn(struct conn *c, void *arg)
{
    struct conns_ctx *x = arg;
    if (c->kind == CONN_UDP)
        return; /* listed with the listeners */
    uint32_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
    buf_printf(x->b, "STAT %d:addr %s\r\n", c->fd, c->peer);
    buf_printf(x->b, "STAT %d:listen_addr %s\r\n", c->fd, c->local);
    buf_printf(x->b, "STAT %d:state %s\r\n", c->fd,
               atomic_load_explicit(&c->state, memory_order_relaxed));
    buf_printf(x->b, "STAT %d:secs_since_last_cmd %u\r\n", c->fd, x->now - last);
}

static void conns(struct conn *c)
{
    struct server *srv = conn_thread(c)->srv;
    struct buf tmp = {0}; /* our own wbuf must not grow while we read other conns */
    struct conns_ctx x = {&tmp, clock_now()};
    listen_each(one_listener, &x);
    workers_each_conn(srv->workers, srv->nworkers, one_conn, &x);
    buf_append(&c->wbuf, tmp.data, tmp.len);
    buf_free(&tmp);
}

static bool tok_is(const struct proto_token *t, const char *s)
{
    size_t n = strlen(s);
    return t->n == n && memcmp(t->p, s, n) == 0;
}

static enum conn_action done(struct conn *c)
{
    buf_append(&c->wbuf, "END\r\n", 5);
    return CONN_WAIT;
}

static enum conn_action cachedump(struct conn *c, struct proto_req *req);

static enum conn_action stats_run_locked(struct conn *c, struct session *s,
                                         struct proto_req *req);

/* Every stats group reads settings that admin commands may be changing. */
enum conn_action stats_run(struct conn *c, struct session *s, struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    pthread_mutex_lock(&srv->settings_lock);
    enum conn_action a = stats_run_locked(c, s, req);
    pthread_mutex_unlock(&srv->settings_lock);
    return a;
}

static enum conn_action stats_run_locked(struct conn *c, struct session *s,
                                         struct proto_req *req)
{
    (void)s;
    struct server *srv = conn_thread(c)->srv;
    if (req->ntokens == 1) {
        general(c);
        return done(c);
    }
    const struct proto_token *sub = &req->tokens[1];
    if (tok_is(sub, "reset")) {
        tstats_reset(srv->tstats, srv->nworkers);
        netstat_reset();
        store_stats_reset(srv->store);
        session_reply(c, "RESET", false);
        return CONN_WAIT;
    }
    if (tok_is(sub, "detail")) {
        if (req->ntokens >= 3 && tok_is(&req->tokens[2], "on")) {
            atomic_store(&srv->detail_enabled, true);
            session_reply(c, "OK", false);
        } else if (req->ntokens >= 3 && tok_is(&req->tokens[2], "off")) {
            atomic_store(&srv->detail_enabled, false);
            session_reply(c, "OK", false);
        } else if (req->ntokens >= 3 && tok_is(&req->tokens[2], "dump")) {
            cmd_detail_dump(srv, &c->wbuf);
        } else {
            session_reply(c, "CLIENT_ERROR usage: stats detail on|off|dump", false);
        }
        return CONN_WAIT;
    }
    if (tok_is(sub, "settings")) {
        settings_write_stats(&c->wbuf, srv->settings);
        return done(c);
    }
    if (tok_is(sub, "tandem")) { /* Tandem's own settings; `stats settings` stays memcached's */
        settings_write_stats_tandem(&c->wbuf, srv->settings);
        return done(c);
    }
    if (tok_is(sub, "cachedump"))
        return cachedump(c, req);
    if (tok_is(sub, "conns")) {
        conns(c);
        return done(c);
    }
    if (tok_is(sub, "items")) {
        items(c);
        return done(c);
    }
    if (tok_is(sub, "slabs")) {
        slabs(c);
        return done(c);
    }
    if (tok_is(sub, "sizes")) {
        sizes(c);
        return done(c);
    }
    if (tok_is(sub, "extstore"))
        return done(c);
    if (tok_is(sub, "replication")) {
        if (srv->repl)
            repl_write_stats(srv->repl, &c->wbuf);
        else
            buf_puts(&c->wbuf, "STAT role standalone\r\n");
        return done(c);
    }
    if (tok_is(sub, "snapshot")) {
        server_snapshot_write_stats(srv->snapshots, &c->wbuf);
        return done(c);
    }
    if (tok_is(sub, "sizes_enable") || tok_is(sub, "sizes_disable")) {
        /* 1.6.18 answers with one line and no END */
        bool on = tok_is(sub, "sizes_enable");
        srv->settings->track_sizes = on;
        buf_puts(&c->wbuf, on ? "STAT sizes_status enabled\r\n" : "STAT sizes_status disabled\r\n");
        return CONN_WAIT;
    }
    session_reply(c, "ERROR", false);
    return CONN_WAIT;
}

/* --- cachedump and metadump --------------------------------------------- */

struct dump_ctx {
    struct conn *c;
    struct session *s;
    uint32_t started;
    uint32_t limit;   /* cachedump: lines wanted (0 = no limit) */
    uint32_t printed; /* cachedump: lines written */
    bool full;        /* cachedump: the limit was reached */
    unsigned clsid;   /* cachedump: the one class */
    bool cachedump;
};

static bool class_wanted(const struct session *s, unsigned clsid)
{
    return s->dump.all || (clsid < 256 && (s->dump.classes[clsid / 64] >> (clsid % 64)) & 1);
}

/* memcached's metadump key encoding: everything but [A-Za-z0-9._~-] as %XX. */
static void put_urlencoded(struct buf *b, const char *k, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '.' || ch == '_' || ch == '~' || ch == '-') {
            buf_append(b, &k[i], 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(b, e, 3);
        }
    }
}

static void dump_one(void *arg, const struct store_view *v)
{
    struct dump_ctx *d = arg;
    struct buf *b = &d->c->wbuf;
    if (d->cachedump) {
        if (v->clsid != d->clsid || d->full)
            return;
        buf_puts(b, "ITEM ");
        buf_append(b, v->key, v->nkey);
        buf_printf(b, " [%u b; %u s]\r\n", v->nvalue, v->exptime);
        d->full = d->limit && ++d->printed >= d->limit;
        return;
    }
    if (!class_wanted(d->s, v->clsid))
        return;
    buf_puts(b, "key=");
    put_urlencoded(b, v->key, v->nkey);
    if (v->exptime)
        buf_printf(b, " exp=%u", v->exptime);
    else
        buf_puts(b, " exp=-1");
    /* memcached ends dump lines with a bare \n */
    buf_printf(b, " la=%u cas=%llu fetch=%s cls=%u size=%u\n", v->atime,
               (unsigned long long)server_cas(conn_thread(d->c)->srv, v->version),
               v->fetched ? "yes" : "no", v->clsid, v->size);
}

bool stats_valid_class_list(const struct store *st, const char *p, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return false;
    while (i < n) {
        unsigned v = 0;
        size_t start = i;
        while (i < n && p[i] >= '0' && p[i] <= '9' && v < 1000)
            v = v * 10 + (unsigned)(p[i++] - '0');
        if (i == start || v == 0 || v > store_class_count(st) || (i < n && p[i] != ','))
            return false;
        i++;
    }
    return p[n - 1] != ',';
}

void stats_metadump_begin(struct conn *c, struct session *s, const char *ids, size_t n)
{
    (void)c;
    memset(&s->dump, 0, sizeof(s->dump));
    s->dump.active = true;
    s->dump.all = (n == 3 && memcmp(ids, "all", 3) == 0) || (n == 4 && memcmp(ids, "hash", 4) == 0);
    for (size_t i = 0; !s->dump.all && i < n;) {
        unsigned v = 0;
        while (i < n && ids[i] != ',')
            v = v * 10 + (unsigned)(ids[i++] - '0');
        i++;
        if (v < MAX_CLASSES)
            s->dump.classes[v / 64] |= 1ull << (v % 64);
    }
}

bool stats_metadump_step(struct conn *c, struct session *s)
{
    struct dump_ctx d = {.c = c, .s = s};
    store_scan(conn_thread(c)->srv->store, &s->dump.cur, DUMP_SLICE, false, dump_one, &d);
    if (!s->dump.cur.done)
        return true;
    s->dump.active = false;
    buf_append(&c->wbuf, "END\r\n", 5);
    return false;
}

static enum conn_action cachedump(struct conn *c, struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->settings->dump_enabled) {
        session_reply(c, "CLIENT_ERROR stats cachedump not allowed", false);
        return CONN_WAIT;
    }
    uint32_t id, limit;
    if (req->ntokens < 4) {
        session_reply(c, "CLIENT_ERROR bad command line", false);
        return CONN_WAIT;
    }
    if (!proto_parse_u32(req->tokens[2].p, req->tokens[2].n, &id) ||
        !proto_parse_u32(req->tokens[3].p, req->tokens[3].n, &limit)) {
        session_reply(c, "CLIENT_ERROR bad command line format", false);
        return CONN_WAIT;
    }
    if (id == 0 || id > store_class_count(srv->store)) {
        session_reply(c, "CLIENT_ERROR Illegal slab id", false);
        return CONN_WAIT;
    }
    /* bounded like memcached's (2 MB of output at most) */
    struct dump_ctx d = {.c = c, .cachedump = true, .clsid = id, .limit = limit};
    struct store_cursor cur = {0};
    size_t start = c->wbuf.len;
    while (!cur.done && c->wbuf.len - start < 2 * 1024 * 1024 && !d.full)
        store_scan(srv->store, &cur, DUMP_SLICE, false, dump_one, &d);
    return done(c);
}
