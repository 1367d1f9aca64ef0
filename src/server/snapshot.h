/*
 * server/snapshot: tandemd's in-server snapshots (--snapshot-dir).
 *
 * At start, before any client or peer is served, the newest snapshot in the
 * directory that verifies whole is merged into the empty store
 * (server_snapshot_load). Afterwards one dedicated thread, the snapshotter,
 * writes a new snapshot every --snapshot-interval seconds, whenever a
 * client sends `snapshot`, and once more on a graceful stop; it keeps the
 * newest --snapshot-keep files. It never forks and never blocks clients:
 * see snapshot.c for how it walks the table.
 *
 * Thread safety: every function may be called from any thread, except
 * load (before the threads start) and stop (once, from main).
 */
#ifndef TANDEM_SERVER_SNAPSHOT_H
#define TANDEM_SERVER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct server;
struct store;
struct event;
struct snapshotter;

/* What the start-up load did (for logs and `stats snapshot`). */
struct snapshot_load {
    char path[512];     /* the file loaded, "" if none */
    uint64_t records;   /* records in it */
    uint64_t applied;   /* of which merged into the store */
    uint64_t expired;   /* skipped: already expired */
    uint64_t ms;        /* time it took */
    int rejected;       /* newer files that did not verify (each logged) */
};

/* Create dir if it is missing (owned by `user` when root starts tandemd
 * with -u) and check that files can be created in it. False with err set. */
bool server_snapshot_prepare(const char *dir, const char *user, char *err, size_t errlen);

/* Merge the newest snapshot in dir that verifies into s, falling back to
 * older ones (logging each rejected file with its offset). False with err
 * set only if the directory cannot be read; no snapshot is not an error. */
bool server_snapshot_load(struct store *s, const char *dir, struct snapshot_load *out,
                          char *err, size_t errlen);

/* Check that dir is writable (by writing and removing a probe file), then
 * start the thread. NULL with err set. */
struct snapshotter *server_snapshot_start(struct server *srv, const struct snapshot_load *ld,
                                          char *err, size_t errlen);

/* A client waiting for a snapshot it asked for. */
struct snapshot_waiter {
    struct event *ev;        /* activated once, from the snapshot thread, when done */
    bool queued;
    bool done;               /* set with ok and result once the snapshot finished */
    bool ok;
    char result[600];        /* the file written, or why it failed */
    struct snapshot_waiter *next, *prev;
};

/* Ask for a snapshot that starts after this call. w (may be NULL) is
 * completed and its event activated when that snapshot is committed or
 * failed. */
void server_snapshot_request(struct snapshotter *sn, struct snapshot_waiter *w);

/* True once w's snapshot finished (w->ok and w->result are then set). */
bool server_snapshot_done(struct snapshotter *sn, const struct snapshot_waiter *w);

/* Forget w if it is still waiting (safe to call twice). */
void server_snapshot_cancel(struct snapshotter *sn, struct snapshot_waiter *w);

/* Stop the thread; with `final`, write one last snapshot first (call it
 * once the workers and replication stopped, so the store is quiet).
 * Waiting clients are failed. Frees sn (NULL is fine). */
void server_snapshot_stop(struct snapshotter *sn, bool final);

/* The body of `stats snapshot` (STAT lines, without END). */
void server_snapshot_write_stats(struct snapshotter *sn, struct buf *out);

#endif
