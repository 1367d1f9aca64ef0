/*
 * server: tandemd's glue. A request flows
 *
 *     core/conn (bytes) -> session (framing, protocol choice, value reads)
 *         -> cmd_text / cmd_meta / cmd_binary (one function per command)
 *         -> store (the cache)  -> reply written into the connection's wbuf
 *
 * struct server is the process-wide context; every worker reaches it through
 * its struct thread_ctx (worker->ctx). Nothing here is a global variable.
 */
#ifndef TANDEM_SERVER_SERVER_H
#define TANDEM_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/conn.h"
#include "core/worker.h"
#include "server/tstats.h"

#define TANDEM_MEMCACHED_VERSION "1.6.18" /* the memcached version we answer as */

struct settings;
struct store;
struct event_base;

struct server {
    struct settings *settings;
    struct store *store;
    struct worker *workers;
    int nworkers;
    struct tstats **tstats;         /* one per worker */
    struct thread_ctx *ctx;         /* one per worker */
    struct event_base *main_base;
    struct watch *watch;            /* `watch` log streams */
    struct repl *repl;              /* replication engine, NULL when not replicating */
    struct snapshotter *snapshots;  /* --snapshot-dir's thread, NULL without one */
    int stop_signal;                /* the signal that ended the main loop (main thread) */
    bool sync_refuse;               /* --repl-sync-wait error: refuse data commands ... */
    _Atomic bool synced;            /* ... until the first sync completed (then stays true) */
    uint32_t started;               /* clock_started() at boot */
    unsigned reserved_fds;
    /* Admin commands change some settings at run time from any worker;
     * they write, and `stats` reads, the settings under this lock. */
    pthread_mutex_t settings_lock;
    /* Runtime-adjustable knobs, changed by admin commands from any worker. */
    _Atomic bool detail_enabled;    /* stats detail on|off */
    _Atomic int shutdown_signal;    /* set by `shutdown`: SIGINT or SIGUSR1 */
};

/* Per-worker context: worker->ctx. */
struct thread_ctx {
    struct server *srv;
    struct tstats *stats;
};

static inline struct thread_ctx *conn_thread(const struct conn *c)
{
    return (struct thread_ctx *)c->worker->ctx;
}

/* The connection handler tandemd installs on every client socket. */
extern const struct conn_handler session_handler;

/* Convert a memcached exptime (0 = never, <= 30 days relative, larger is an
 * absolute Unix time, negative = already expired) to absolute Unix seconds. */
uint32_t server_exptime(int64_t exptime);

/* The CAS value clients see for a version (0 under -C). */
uint64_t server_cas(const struct server *srv, uint64_t version);

#endif
