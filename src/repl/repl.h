/*
 * repl: the replication engine (docs/replication.md, DESIGN §4).
 *
 * One thread runs every replication link on its own event loop, so links
 * never block client traffic and clients never block links. Each node
 * publishes its write log to whoever subscribes to its replication port, and
 * subscribes to its upstreams: every --peer (multi-master) or its master
 * (--replica-of). The subscriber dials; the publisher streams.
 *
 *     worker threads ──store change feed──> repl_on_change ──> write log
 *     repl thread: publisher links read the log (or walk the table for a
 *                  full sync) and send records; subscriber links apply the
 *                  records they receive with last-writer-wins (store_apply)
 *
 * A peer subscriber gets only the publisher's own writes (it hears every
 * other peer directly); a replica subscriber gets everything the publisher
 * holds, so replicas can be chained.
 */
#ifndef TANDEM_REPL_REPL_H
#define TANDEM_REPL_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "repl/auth.h"
#include "store/store.h"

#define REPL_MAX_UPSTREAMS 64

struct repl_upstream_config {
    const char *host;
    int port;
    bool master; /* --replica-of (else a multi-master peer) */
};

struct repl_config {
    uint16_t node_id;        /* this node's HLC node id; must differ between nodes */
    const char *bind_addr;   /* the replication listener's address (NULL: 127.0.0.1) */
    int port;                /* the replication listener's port (0: no listener) */
    struct repl_upstream_config up[REPL_MAX_UPSTREAMS];
    int nup;
    bool read_only;          /* a replica: clients may not write */
    const char *user;        /* --repl-user (NULL: "tandem") */
    struct repl_secret *secret; /* shared secret, owned by the engine from repl_create on;
                                   NULL: links are not authenticated */
    const char *cluster;     /* cluster name both sides must agree on */
    size_t log_bytes;        /* write log size (0: default) */
    unsigned min_acks;       /* --repl-min-acks: subscribers that must apply a write
                                before it is answered (0: answer at once) */
};

struct repl;

/* Create the engine (no thread, no sockets yet); NULL with err set. */
struct repl *repl_create(const struct repl_config *cfg, char *err, size_t errlen);

/* The store change feed: pass as store_config.on_change with the engine as
 * its argument. Runs on the writing thread, under the store's lock. */
void repl_on_change(void *arg, const struct store_change *ch);

/* Bind the listener, start the thread and dial the upstreams. */
bool repl_start(struct repl *r, struct store *store, char *err, size_t errlen);

/* Stop the thread and close every link (before the store is destroyed). */
void repl_stop(struct repl *r);

/* Free the engine. */
void repl_destroy(struct repl *r);

/* True once every upstream that is up has completed one sync (an upstream
 * that refused several connections in a row counts as down). */
bool repl_synced(const struct repl *r);

/* Copy "host:port" of the master (for a replica's refusal message) into
 * out; "" if this node follows none. Safe against a concurrent repl_follow. */
void repl_master(struct repl *r, char *out, size_t outlen);

/* This node's id in versions (given or derived). */
uint16_t repl_node_id(const struct repl *r);

/* Where the write log stands: its history id and newest position. */
void repl_log_position(const struct repl *r, uint64_t *history, uint64_t *pos);

/* Following a master (--replica-of, or since repl_follow): writes are refused. */
bool repl_read_only(struct repl *r);

/* Manual failover, from any thread; each waits for the replication thread
 * to act (a few ms) and returns false with err set if it cannot.
 * promote: stop following the master and take writes (a replica becomes a
 * master; its own replicas keep following it).
 * follow: become a read-only replica of the node whose replication port is
 * host:port (a demoted old master, or a replica re-pointed at a new
 * master). A multi-master node has no master and refuses both. */
bool repl_promote(struct repl *r, char *err, size_t errlen);
bool repl_follow(struct repl *r, const char *host, int port, char *err, size_t errlen);

/* --- synchronous writes (--repl-min-acks) ------------------------------- *
 * A worker that made a write notes the log position it got
 * (repl_thread_pos) and waits, without blocking its thread, until
 * min_acks subscribers have acknowledged that position: repl_wait queues a
 * waiter whose event the replication thread activates once, when enough
 * ACKs have arrived. A waiter belongs to the worker that queued it; it must
 * be cancelled before its event is freed. */

struct event;

struct repl_waiter {
    uint64_t pos;
    struct event *ev;        /* activated once, from the replication thread */
    bool queued;
    struct repl_waiter *next, *prev;
};

/* The log position of the last record this thread's writes appended (0: none). */
uint64_t repl_thread_pos(void);

/* Subscribers (peers and replicas of this node) that acknowledged pos. */
unsigned repl_acked(struct repl *r, uint64_t pos);

/* True if min_acks subscribers already acknowledged w->pos; otherwise
 * queue w (its event fires when they have) and return false. */
bool repl_wait(struct repl *r, struct repl_waiter *w);

/* Take w out of the queue if it is still there, counting it as not
 * acknowledged in `stats replication` (safe to call twice). */
void repl_wait_cancel(struct repl *r, struct repl_waiter *w);

/* The configured --repl-min-acks. */
unsigned repl_min_acks(const struct repl *r);

/* The body of `stats replication` (STAT lines, without END). */
void repl_write_stats(struct repl *r, struct buf *out);

#endif
