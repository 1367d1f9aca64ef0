/*
 * store_int: what the store's own files share and nobody else sees.
 *
 * struct store hangs everything off one object (no globals): the shards of
 * the hash table, the slab allocator, the flush cutoffs and the counters.
 *
 * Liveness of an item, decided lazily wherever an item is looked at:
 *   dead-expired  exptime != 0 && exptime <= now
 *   dead-flushed  version < applied cutoff, or
 *                 (pending time reached && version < pending cutoff)
 * A dead item is unlinked by whoever finds it (fetch, write, the clock hand,
 * the maintenance sweep) and counted by the finder.
 */
#ifndef TANDEM_STORE_STORE_INT_H
#define TANDEM_STORE_STORE_INT_H

#include "store/hash.h"
#include "store/item.h"
#include "store/slab.h"
#include "store/store.h"

#include <pthread.h>

#define STORE_SHARD_BITS 6
#define STORE_NSHARD (1u << STORE_SHARD_BITS)

struct shard {
    pthread_mutex_t lock;
    struct htab tab;
    /* under lock */
    uint64_t curr_items, curr_tombstones, bytes, total_items, get_expired, get_flushed;
} __attribute__((aligned(64)));

/* flush_all state. Writers hold `lock`; readers use the seqlock. */
struct flush_state {
    pthread_mutex_t lock;
    uint64_t applied;     /* every version below is dead (monotonic) */
    uint32_t seq;         /* odd while a writer changes the pending pair */
    uint32_t pend_time;   /* 0: no pending flush */
    uint64_t pend_cutoff; /* versions below die at pend_time */
    uint64_t pend_issued; /* the version the pending flush was issued at */
    uint64_t last_issued; /* the latest issue version seen, of any flush */
};

struct store {
    struct store_config cfg;
    struct shard shards[STORE_NSHARD];
    struct slabs slabs;
    struct flush_state flush;
    pthread_mutex_t maint_lock; /* one maintenance step at a time; guards sweep_* and rehash_shard */
    uint32_t rehash_shard;      /* the shard the next growth step starts at */
    bool sweeping;
    uint32_t sweep_started; /* clock_now() when the current/last round began */
    uint32_t sweep_shard;
    uint64_t sweep_cursor;
    uint64_t sweep_round_checked; /* items looked at in the current round */
    uint32_t sweep_pause;         /* seconds between round starts, set by the last round */
    bool sweep_enabled; /* atomic: the background expiry sweep (lru_crawler enable|disable) */
    /* atomics */
    uint64_t too_large, no_memory, malloc_fails, crawler_reclaimed, crawler_items_checked;
};

enum item_state { ITEM_LIVE, ITEM_EXPIRED, ITEM_FLUSHED };

#define STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define STAT_SUB(field, n) __atomic_fetch_sub(&(field), (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static inline struct shard *store_shard(struct store *s, uint64_t h)
{
    return &s->shards[h >> (64 - STORE_SHARD_BITS)];
}

/* Is the item alive at `now`? (flush.c) */
enum item_state store_item_state(struct store *s, const struct store_item *it, uint32_t now);

/* Is a version behind a flush cutoff at `now`? (flush.c) */
bool store_version_flushed(struct store *s, uint64_t version, uint32_t now);

/* Fold a pending flush whose time has come into the applied cutoff. (flush.c) */
void store_flush_fold(struct store *s);

/* Link a new item / unlink a linked one with every counter kept right.
 * The shard lock is held. (store.c) */
void store_link_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *it);
void store_unlink_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *it);

/* Put `repl` in place of the linked `old` (same key). (store.c) */
void store_replace_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *old,
                          struct store_item *repl);

/* Look a key up, unlinking a dead item on the way (returned in *dead for
 * the caller to free after unlocking, counted when count_misses). Tombstones
 * are returned as they are. (store.c) */
struct store_item *store_lookup_locked(struct store *s, struct shard *sh, uint64_t h,
                                       const char *key, size_t nkey, uint32_t now,
                                       bool count_misses, struct store_item **dead);

/* Fill a view of a linked item. (store.c) */
void store_view_fill(struct store_item *it, struct store_view *v);

/* Report a change to cfg.on_change, if set (shard lock held). */
void store_emit_item(struct store *s, struct store_item *it, bool applied);
void store_emit_tomb(struct store *s, const char *key, size_t nkey, uint64_t version,
                     bool binary_key, bool applied);

/* One rehash step on a shard, started from any operation. (store.c) */
void store_shard_step(struct store *s, struct shard *sh);

#endif
