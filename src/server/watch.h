/*
 * watch: memcached's `watch` log streams.
 *
 * A client that sends `watch fetchers mutations ...` stops issuing commands
 * and receives one line per matching event, in memcached's format:
 *
 *   ts=<sec>.<usec> gid=<n> type=item_get key=<urlenc> status=found clsid=1 cfd=12 size=5
 *   ts=<sec>.<usec> gid=<n> type=item_store key=<k> status=stored cmd=set ttl=0 clsid=1 cfd=12 size=5
 *
 * Emitting is free while nobody watches (one relaxed load of a mask). When
 * someone does, the emitting worker appends the line to each watcher's queue
 * under the registry lock and wakes the watcher's own worker, which moves the
 * queue into the connection's output. A watcher that does not read loses
 * lines (counted as log_watcher_skipped) instead of growing without bound.
 */
#ifndef TANDEM_SERVER_WATCH_H
#define TANDEM_SERVER_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conn.h"
#include "proto/text.h"

enum watch_kind {
    WATCH_FETCHERS = 1 << 0,
    WATCH_MUTATIONS = 1 << 1,
    WATCH_EVICTIONS = 1 << 2,
    WATCH_CONNEVENTS = 1 << 3,
    WATCH_OTHER = 1 << 4, /* proxy*, sysevents, rawcmds: accepted, nothing emitted */
};

/* item_get status, memcached's names */
enum watch_get_status { WATCH_NOT_FOUND, WATCH_FOUND, WATCH_FLUSHED, WATCH_EXPIRED };

struct watch;

struct watch_stats {
    uint64_t watchers, sent, skipped;
};

/* The registry; one per server. */
struct watch *watch_create(void);
void watch_destroy(struct watch *w);

/* Is anyone watching events of this kind? Cheap; call before formatting. */
bool watch_wanted(const struct watch *w, unsigned kind);

/* Parse `watch` arguments into kinds: 0 on an unknown name. No argument
 * means fetchers, as in memcached. */
unsigned watch_kinds(const struct proto_token *args, size_t n);

/* Make `c` (on its own worker thread) a watcher of `kinds`. */
bool watch_subscribe(struct watch *w, struct conn *c, unsigned kinds);

/* Forget `c` (on its worker thread, when it closes). */
void watch_unsubscribe(struct watch *w, struct conn *c);

/* Events. `fd` is the client connection that caused them. */
void watch_item_get(struct watch *w, int fd, const char *key, size_t nkey,
                    enum watch_get_status status, unsigned clsid, uint32_t nvalue);
void watch_item_store(struct watch *w, int fd, const char *key, size_t nkey, const char *status,
                      const char *cmd, uint32_t ttl, unsigned clsid, uint32_t nvalue);

void watch_stats(struct watch *w, struct watch_stats *out);

#endif
