#include "server/watch.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/worker.h"

#define WATCH_QUEUE_MAX (4 * 1024 * 1024) /* bytes a slow watcher may have waiting */
#define WATCH_CONN_MAX (256 * 1024)       /* unsent bytes before lines stay queued */
#define KEY_ENCODED_MAX (3 * 250 + 1)

struct sub {
    struct conn *c;
    unsigned kinds;
    struct buf pending;  /* lines not yet moved to the connection; under w->lock */
    struct event *wake;  /* runs on c's worker */
    struct watch *w;
    struct sub *next;
};

struct watch {
    _Atomic unsigned mask;      /* union of every watcher's kinds */
    pthread_mutex_t lock;       /* guards subs and each sub's pending */
    struct sub *subs;
    _Atomic uint64_t gid, sent, skipped, nsubs;
};

struct watch *watch_create(void)
{
    struct watch *w = calloc(1, sizeof(*w));
    if (w)
        pthread_mutex_init(&w->lock, NULL);
    return w;
}

void watch_destroy(struct watch *w)
{
    if (!w)
        return;
    pthread_mutex_destroy(&w->lock);
    free(w);
}

bool watch_wanted(const struct watch *w, unsigned kind)
{
    return (atomic_load_explicit(&w->mask, memory_order_relaxed) & kind) != 0;
}

unsigned watch_kinds(const struct proto_token *args, size_t n)
{
    static const struct { const char *name; unsigned kind; } names[] = {
        {"fetchers", WATCH_FETCHERS},  {"mutations", WATCH_MUTATIONS},
        {"evictions", WATCH_EVICTIONS}, {"connevents", WATCH_CONNEVENTS},
        {"proxyreqs", WATCH_OTHER},     {"proxyevents", WATCH_OTHER},
        {"proxyuser", WATCH_OTHER},     {"sysevents", WATCH_OTHER},
        {"rawcmds", WATCH_OTHER},
    };
    if (n == 0)
        return WATCH_FETCHERS;
    unsigned kinds = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = 0;
        for (size_t j = 0; j < sizeof(names) / sizeof(names[0]) && !k; j++)
            if (args[i].n == strlen(names[j].name) && !memcmp(args[i].p, names[j].name, args[i].n))
                k = names[j].kind;
        if (!k)
            return 0;
        kinds |= k;
    }
    return kinds;
}

static void recompute_mask(struct watch *w)
{
    unsigned m = 0;
    for (struct sub *s = w->subs; s; s = s->next)
        m |= s->kinds;
    atomic_store_explicit(&w->mask, m, memory_order_relaxed);
}

/* On the watcher's worker: move queued lines into its output and send. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct sub *s = arg;
    struct conn *c = s->c;
    bool left = false;
    pthread_mutex_lock(&s->w->lock);
    if (c->wbuf.len - c->wpos < WATCH_CONN_MAX) {
        buf_append(&c->wbuf, s->pending.data, s->pending.len);
        buf_reset(&s->pending);
    } else {
        left = true; /* a slow reader: lines wait in the capped queue */
    }
    pthread_mutex_unlock(&s->w->lock);
    if (left) {
        struct timeval tv = {0, 10000};
        event_add(s->wake, &tv); /* look again once the socket had time to drain */
    }
    conn_send(c);
}

bool watch_subscribe(struct watch *w, struct conn *c, unsigned kinds)
{
    struct sub *s = calloc(1, sizeof(*s));
    if (!s)
        return false;
    s->wake = event_new(c->worker->base, -1, 0, on_wake, s);
    if (!s->wake) {
        free(s);
        return false;
    }
    s->c = c;
    s->kinds = kinds;
    s->w = w;
    pthread_mutex_lock(&w->lock);
    s->next = w->subs;
    w->subs = s;
    recompute_mask(w);
    pthread_mutex_unlock(&w->lock);
    atomic_fetch_add(&w->nsubs, 1);
    return true;
}

void watch_unsubscribe(struct watch *w, struct conn *c)
{
    pthread_mutex_lock(&w->lock);
    for (struct sub **p = &w->subs; *p; p = &(*p)->next) {
        struct sub *s = *p;
        if (s->c != c)
            continue;
        *p = s->next;
        recompute_mask(w);
        event_free(s->wake); /* under the lock: no emitter can activate it now */
        buf_free(&s->pending);
        free(s);
        atomic_fetch_sub(&w->nsubs, 1);
        break;
    }
    pthread_mutex_unlock(&w->lock);
}

static void emit(struct watch *w, unsigned kind, const char *line, size_t n)
{
    pthread_mutex_lock(&w->lock);
    for (struct sub *s = w->subs; s; s = s->next) {
        if (!(s->kinds & kind))
            continue;
        if (s->pending.len + n > WATCH_QUEUE_MAX) {
            atomic_fetch_add_explicit(&w->skipped, 1, memory_order_relaxed);
            continue;
        }
        bool was_empty = s->pending.len == 0;
        buf_append(&s->pending, line, n);
        atomic_fetch_add_explicit(&w->sent, 1, memory_order_relaxed);
        if (was_empty)
            event_active(s->wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&w->lock);
}

/* memcached's uriencode: everything but [A-Za-z0-9._~-] as %XX */
static void urlencode(const char *k, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '.' || ch == '_' || ch == '~' || ch == '-') {
            *out++ = (char)ch;
        } else {
            *out++ = '%';
            *out++ = hex[ch >> 4];
            *out++ = hex[ch & 15];
        }
    }
    *out = '\0';
}

/* "ts=<sec>.<usec> gid=<n> " */
static int prefix(struct watch *w, char *line, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long long gid = atomic_fetch_add_explicit(&w->gid, 1, memory_order_relaxed);
    return snprintf(line, cap, "ts=%d.%d gid=%llu ", (int)tv.tv_sec, (int)tv.tv_usec, gid);
}

void watch_item_get(struct watch *w, int fd, const char *key, size_t nkey,
                    enum watch_get_status status, unsigned clsid, uint32_t nvalue)
{
    static const char *const names[] = {"not_found", "found", "flushed", "expired"};
    char k[KEY_ENCODED_MAX], line[1024];
    urlencode(key, nkey, k);
    int n = prefix(w, line, sizeof(line));
    n += snprintf(line + n, sizeof(line) - (size_t)n,
                  "type=item_get key=%s status=%s clsid=%u cfd=%d size=%u\n", k, names[status],
                  clsid, fd, nvalue);
    emit(w, WATCH_FETCHERS, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void watch_item_store(struct watch *w, int fd, const char *key, size_t nkey, const char *status,
                      const char *cmd, uint32_t ttl, unsigned clsid, uint32_t nvalue)
{
    char k[KEY_ENCODED_MAX], line[1024];
    urlencode(key, nkey, k);
    int n = prefix(w, line, sizeof(line));
    n += snprintf(line + n, sizeof(line) - (size_t)n,
                  "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%u\n", k,
                  status, cmd, ttl, clsid, fd, nvalue);
    emit(w, WATCH_MUTATIONS, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void watch_stats(struct watch *w, struct watch_stats *out)
{
    out->watchers = atomic_load(&w->nsubs);
    out->sent = atomic_load(&w->sent);
    out->skipped = atomic_load(&w->skipped);
}
