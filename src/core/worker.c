/*
 * worker: thread pool with one libevent loop per thread.
 *
 * Hand-off: the accepting thread pushes {fd, kind, handler} onto the chosen
 * worker's pending list under its lock and writes to its eventfd; the worker
 * wakes, drains the list and opens the connections on its own thread.
 */
#include "core/worker.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/netstat.h"

struct worker_pending {
    int fd;
    enum conn_kind kind;
    const struct conn_handler *h;
    char peer[64];
    char local[64];
    struct worker_pending *next;
};

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct worker *w = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0) {
        /* nothing to drain: spurious wake-up */
    }
    pthread_mutex_lock(&w->lock);
    struct worker_pending *p = w->pending;
    w->pending = NULL;
    bool stop = w->stop;
    pthread_mutex_unlock(&w->lock);

    /* the list is LIFO; reverse it so connections open in arrival order */
    struct worker_pending *rev = NULL;
    while (p) {
        struct worker_pending *n = p->next;
        p->next = rev;
        rev = p;
        p = n;
    }
    while (rev) {
        struct worker_pending *n = rev->next;
        if (stop) {
            close(rev->fd);
            if (rev->kind != CONN_UDP)
                netstat_conn_closed();
        }
        else
            conn_open(w, rev->fd, rev->kind, rev->h, rev->peer, rev->local);
        free(rev);
        rev = n;
    }
    if (stop)
        event_base_loopbreak(w->base);
}

static void on_idle_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct worker *w = arg;
    uint32_t now = clock_now();
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->next; /* conn_close unlinks c */
        uint32_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
        if (c->kind != CONN_UDP && now - last > w->idle_timeout) {
            log_debug("<%d idle for %u seconds; closing", c->fd, now - last);
            conn_close(c);
        }
        c = next;
    }
}

void workers_set_idle_timeout(struct worker *ws, int n, uint32_t secs)
{
    for (int i = 0; secs > 0 && i < n; i++) {
        struct worker *w = &ws[i];
        w->idle_timeout = secs;
        w->idle_ev = event_new(w->base, -1, EV_PERSIST, on_idle_check, w);
        struct timeval tv = {1, 0};
        event_add(w->idle_ev, &tv);
    }
}

struct worker *workers_create(int n)
{
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    if (!ws)
        return NULL;
    for (int i = 0; i < n; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        pthread_mutex_init(&w->lock, NULL);
        w->base = event_base_new();
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!w->base || w->wake_fd < 0) {
            log_error("failed to create worker %d's event loop", i);
            return NULL;
        }
        w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
        event_add(w->wake_ev, NULL);
    }
    return ws;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "tandem-w%d", w->id);
    pthread_setname_np(pthread_self(), name);
    event_base_loop(w->base, 0);
    return NULL;
}

bool workers_start(struct worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            log_error("failed to start worker thread %d", i);
            return false;
        }
    }
    return true;
}

static void wake(struct worker *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0) {
        /* counter overflow cannot happen at 2^64-1 wakes; EAGAIN means already woken */
    }
}

void workers_dispatch(struct worker *ws, int n, int fd, enum conn_kind kind,
                      const struct conn_handler *h, const char *peer, const char *local)
{
    /* Only the accepting (main) thread calls this; the counter is its own. */
    static _Atomic unsigned next;
    struct worker *w = &ws[atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % (unsigned)n];
    struct worker_pending *p = calloc(1, sizeof(*p));
    if (!p) {
        log_error("out of memory dispatching a connection; closing it");
        close(fd);
        if (kind != CONN_UDP)
            netstat_conn_closed();
        return;
    }
    p->fd = fd;
    p->kind = kind;
    p->h = h;
    snprintf(p->peer, sizeof(p->peer), "%s", peer ? peer : "");
    snprintf(p->local, sizeof(p->local), "%s", local ? local : "");
    pthread_mutex_lock(&w->lock);
    p->next = w->pending;
    w->pending = p;
    pthread_mutex_unlock(&w->lock);
    wake(w);
}

void workers_each_conn(struct worker *ws, int n, void (*fn)(struct conn *c, void *arg), void *arg)
{
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].lock);
        for (struct conn *c = ws[i].conns; c; c = c->next)
            fn(c, arg);
        pthread_mutex_unlock(&ws[i].lock);
    }
}

void workers_stop(struct worker *ws, int n)
{
    if (!ws)
        return;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].lock);
        ws[i].stop = true;
        pthread_mutex_unlock(&ws[i].lock);
        wake(&ws[i]);
    }
    for (int i = 0; i < n; i++) {
        struct worker *w = &ws[i];
        if (w->tid)
            pthread_join(w->tid, NULL);
        while (w->conns)
            conn_close(w->conns);
        on_wake(w->wake_fd, 0, w); /* close sockets still queued */
        event_free(w->wake_ev);
        if (w->idle_ev)
            event_free(w->idle_ev);
        close(w->wake_fd);
        event_base_free(w->base);
        pthread_mutex_destroy(&w->lock);
    }
    free(ws);
}
