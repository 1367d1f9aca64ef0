/*
 * link: one replication connection (internal to src/repl).
 *
 * The structures below belong to the replication thread, except the
 * counters marked atomic, which `stats replication` reads from a worker.
 */
#ifndef TANDEM_REPL_LINK_H
#define TANDEM_REPL_LINK_H

#include <event2/util.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "repl/frame.h"
#include "repl/log.h"
#include "repl/repl.h"
#include "store/store.h"

#define REPL_HOST_MAX 80             /* host names repl_follow takes, with the NUL */
#define REPL_BACKOFF_MIN_MS 100
#define REPL_BACKOFF_MAX_MS 5000
#define REPL_PING_MS 1000
#define REPL_DEAD_MS 5000
#define REPL_OUT_HIGH (256 * 1024)  /* refill the output below this */
#define REPL_SCAN_SLICE 256         /* items per step of a full-sync walk */
#define REPL_MARKS 64               /* SYNC_END marks remembered for lag_ms */
#define REPL_UNREACHABLE 3          /* failed connects after which an upstream counts as down */

struct link;

enum link_state { LINK_CONNECTING, LINK_HELLO, LINK_AUTH, LINK_READY, LINK_CLOSED };

/* Counters shown by `stats replication`. */
struct link_stats {
    _Atomic uint64_t records_sent, bytes_sent, records_applied, bytes_applied;
    _Atomic uint64_t lww_ignored, full_syncs, partial_syncs, auth_failures;
    _Atomic uint64_t lag_records, lag_ms;
};

/* An upstream this node subscribes to (a --peer or its --replica-of master). */
struct upstream {
    struct repl *r;
    char name[96];          /* host:port */
    char host[REPL_HOST_MAX]; /* for an upstream added at run time (repl_follow) */
    bool master;
    _Atomic bool retired;   /* promoted away from (repl_promote): never dialed again */
    struct link *link;      /* the current connection, or NULL */
    struct event *retry_ev;
    uint32_t backoff_ms;
    uint64_t resume_pos;     /* last publisher log position applied */
    uint64_t resume_history; /* that publisher's history */
    _Atomic bool synced;     /* completed a sync at least once */
    _Atomic uint32_t unreachable; /* connection attempts refused or failed in a row */
    struct link_stats st;
    _Atomic uint64_t connects;
    char last_error[128];    /* written by the repl thread, read racily by stats */
};

struct link {
    struct repl *r;
    struct upstream *up;     /* NULL: an incoming link (we publish) */
    int fd;
    char peer[96];
    enum link_state state;
    struct event *ev;
    struct event *wake;      /* the write log has new frames for us */
    struct event *timer;     /* heartbeat */
    struct buf in, out;
    size_t out_pos;
    uint64_t last_rx_ms;

    /* handshake */
    bool sent_hello, got_hello;
    struct {
        uint16_t node;
        uint8_t role;
        uint64_t history, resume_pos, resume_history;
    } hello;
    uint8_t my_nonce[FRAME_NONCE_LEN], peer_nonce[FRAME_NONCE_LEN];
    bool challenged_them, verified_them, they_challenged, they_verified_us;

    /* publisher */
    bool publishing, only_own;
    struct repl_log_cursor cur;
    bool cur_open;
    bool walking;            /* a full sync's table walk is in progress */
    struct store_cursor scur;
    uint64_t walk_pos0;      /* log position the walk started at */
    uint64_t walk_since;     /* send only items with a version at least this */
    uint64_t walk_started;   /* hlc at the start of this walk */
    struct mark {
        uint64_t pos, ms;
    } marks[REPL_MARKS];     /* the last SYNC_END marks sent, for lag_ms */
    unsigned nmarks;
    _Atomic uint64_t acked_pos; /* read by workers under links_lock (repl_acked) */

    /* subscriber */
    bool syncing;
    uint64_t ack_pos;        /* the newest mark applied and not yet acknowledged */

    struct link_stats st;    /* incoming links; upstream links count in up->st */
    char last_error[128];
    struct link *next, *prev;
};

struct repl {
    struct repl_config cfg;
    struct store *store;
    struct repl_log *log;
    bool forward_applied;
    _Atomic uint64_t seq;
    _Atomic uint64_t feed_dropped;
    struct event_base *base;
    pthread_t tid;
    bool started;
    struct event *stop_ev;
    int listen_fd;
    struct event *listen_ev;
    struct upstream up[REPL_MAX_UPSTREAMS];
    int nup;
    char master[96];            /* written by the repl thread under master_lock */
    pthread_mutex_t master_lock;
    pthread_mutex_t links_lock; /* guards the links list for stats readers */
    struct link *links;
    _Atomic uint64_t auth_failures, bad_frames;
    _Atomic bool read_only;     /* following a master: clients may not write */
    /* promote/follow requests from workers, run on the replication thread */
    pthread_mutex_t cmd_lock;
    pthread_cond_t cmd_cond;
    struct event *cmd_ev;
    struct {
        bool busy;              /* a request is posted and not yet run */
        int op;                 /* what it is: failover.c */
        char host[REPL_HOST_MAX];
        int port;
        uint64_t gen, done_gen; /* requests posted / run so far */
        char *err;              /* the waiter's error buffer, NULL once it gave up */
        size_t errlen;
    } cmd;
    pthread_mutex_t wait_lock;  /* guards waiters; taken before links_lock */
    struct repl_waiter *waiters;
    _Atomic uint64_t acks_waited, acks_timed_out;
};

/* An accepted connection on the replication port. */
void link_accepted(struct repl *r, int fd, const char *peer);

/* (Re)connect an upstream after `delay_ms`. */
void upstream_schedule(struct upstream *u, uint32_t delay_ms);

/* Wake the writers whose positions enough subscribers have acknowledged
 * (repl thread, after an ACK). */
void repl_acks_changed(struct repl *r);

/* Run a worker's promote/follow request (repl thread; failover.c). */
void repl_run_cmd(evutil_socket_t fd, short what, void *arg);

/* Close a link; it is freed from the event loop later, so callers up the
 * stack may still look at it (repl thread). */
void link_close(struct link *l, const char *why);

/* Close and free a link (repl thread). */
void link_free(struct link *l);

#endif
