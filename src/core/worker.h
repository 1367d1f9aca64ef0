/*
 * worker: the threads that serve connections.
 *
 * Like memcached, the main thread accepts and hands each new socket to a
 * worker, round-robin, through a queue and an eventfd wake-up. A connection
 * then lives on its worker for good, so its state needs no locks. Each worker
 * runs its own libevent loop.
 */
#ifndef TANDEM_CORE_WORKER_H
#define TANDEM_CORE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"

struct event_base;

struct worker_pending; /* a socket on its way to a worker */

struct worker {
    int id;
    pthread_t tid;
    struct event_base *base;
    int wake_fd;                     /* eventfd: new sockets or a stop request */
    struct event *wake_ev;
    pthread_mutex_t lock;            /* guards `pending`, `stop` and the conns list links */
    struct worker_pending *pending;
    bool stop;
    struct conn *conns;              /* live connections, owned by this thread */
    unsigned nconns;
    void *ctx;                       /* the server's per-thread state (stats) */
    uint32_t idle_timeout;           /* close connections idle this many seconds (0 = never) */
    struct event *idle_ev;           /* once a second while idle_timeout is set */
};

/* Create `n` workers (not yet running). */
struct worker *workers_create(int n);

/* Close client connections that sent nothing for `secs` seconds (memcached's
 * -o idle_timeout). Call before workers_start. */
void workers_set_idle_timeout(struct worker *w, int n, uint32_t secs);

/* Start every worker's thread. False if a thread could not start. */
bool workers_start(struct worker *w, int n);

/* Hand an accepted socket to a worker, chosen round-robin. Any thread. */
void workers_dispatch(struct worker *w, int n, int fd, enum conn_kind kind,
                      const struct conn_handler *h, const char *peer, const char *local);

/* Run `fn(c, arg)` for every live connection of every worker, holding that
 * worker's lock (used by `stats conns`; fn may read only the atomic and
 * immutable fields of c). */
void workers_each_conn(struct worker *w, int n, void (*fn)(struct conn *c, void *arg), void *arg);

/* Stop the loops, close all connections, join the threads, free. */
void workers_stop(struct worker *w, int n);

#endif
