/*
 * acks: --repl-min-acks, writes answered only once enough subscribers
 * applied them.
 *
 * A subscriber ACKs the position of every batch it has applied (SYNC_END
 * marks follow each batch, link.c), so an ACK arrives about one round trip
 * after the write. Workers never block on it: a writer queues a waiter and
 * parks its connection (core/conn.c CONN_PARK); the replication thread
 * activates the waiter's event once `min_acks` incoming links acknowledged
 * its position. A link that dies simply stops acknowledging, and the
 * worker's own timeout answers the client.
 *
 * Lock order: wait_lock, then links_lock. The replication thread updates a
 * link's acked_pos before it takes wait_lock, and a worker counts ACKs under
 * wait_lock before it queues, so a wake-up is never lost between the two.
 */
#include <event2/event.h>

#include "repl/link.h"

/* ACKs for pos among incoming links; the caller holds links_lock or runs on
 * the replication thread (which alone changes the list). */
static unsigned count_acked(struct repl *r, uint64_t pos)
{
    unsigned n = 0;
    for (struct link *l = r->links; l; l = l->next)
        if (!l->up && l->publishing && l->state == LINK_READY &&
            atomic_load_explicit(&l->acked_pos, memory_order_relaxed) >= pos)
            n++;
    return n;
}

unsigned repl_acked(struct repl *r, uint64_t pos)
{
    pthread_mutex_lock(&r->links_lock);
    unsigned n = count_acked(r, pos);
    pthread_mutex_unlock(&r->links_lock);
    return n;
}

unsigned repl_min_acks(const struct repl *r) { return r->cfg.min_acks; }

static void unqueue(struct repl *r, struct repl_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        r->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

bool repl_wait(struct repl *r, struct repl_waiter *w)
{
    pthread_mutex_lock(&r->wait_lock);
    atomic_fetch_add_explicit(&r->acks_waited, 1, memory_order_relaxed);
    bool done = repl_acked(r, w->pos) >= r->cfg.min_acks;
    if (!done) {
        w->prev = NULL;
        w->next = r->waiters;
        if (r->waiters)
            r->waiters->prev = w;
        r->waiters = w;
        w->queued = true;
    }
    pthread_mutex_unlock(&r->wait_lock);
    return done;
}

void repl_wait_cancel(struct repl *r, struct repl_waiter *w)
{
    pthread_mutex_lock(&r->wait_lock);
    if (w->queued) { /* it never got its ACKs */
        unqueue(r, w);
        atomic_fetch_add_explicit(&r->acks_timed_out, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&r->wait_lock);
}

void repl_acks_changed(struct repl *r)
{
    pthread_mutex_lock(&r->wait_lock);
    struct repl_waiter *next;
    for (struct repl_waiter *w = r->waiters; w; w = next) {
        next = w->next;
        if (count_acked(r, w->pos) < r->cfg.min_acks)
            continue;
        unqueue(r, w);
        /* under wait_lock: once a cancel returns, nothing touches w->ev */
        event_active(w->ev, 0, 0);
    }
    pthread_mutex_unlock(&r->wait_lock);
}
