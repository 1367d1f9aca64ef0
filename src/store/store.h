/*
 * store: the cache itself. Items, the hash table, memory and eviction,
 * expiry, flush cutoffs and tombstones. It knows nothing of sockets or
 * protocols; the server calls it, replication and snapshots read and merge
 * through it.
 *
 * Every item carries a version (core/hlc.h) which is also its CAS value.
 * Each modification stamps a new version. The version is what
 * last-writer-wins compares when records arrive from peers or backups
 * (store_apply).
 *
 * Concurrency: every function here is thread-safe. Reads never hand out
 * pointers into the cache; instead a store_view_fn callback runs while the
 * item's lock is held and copies what it needs. A callback must not call back
 * into the store.
 *
 * Times are absolute Unix seconds (0 = never expires); the caller converts
 * memcached's relative/absolute exptime rules before calling.
 */
#ifndef TANDEM_STORE_STORE_H
#define TANDEM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 250

/* Outcome of a store operation. Misses caused by expiry or flush are plain
 * STORE_NOT_FOUND to callers; the store counts them itself. */
enum store_status {
    STORE_OK,          /* stored, found, deleted, touched */
    STORE_NOT_STORED,  /* add on a live key; replace/append/prepend on a missing one */
    STORE_EXISTS,      /* CAS mismatch */
    STORE_NOT_FOUND,   /* no live item (cas, delete, incr, touch, fetch) */
    STORE_TOO_LARGE,   /* larger than the item size limit (-I) */
    STORE_NO_MEMORY,   /* limit reached and eviction not allowed or impossible */
    STORE_NON_NUMERIC, /* incr/decr on a value that is not an unsigned decimal */
    STORE_IGNORED,     /* store_apply: the record is not newer than what we hold */
};

struct store_view;

/* A change to the cache, as replication sees it: the resulting item (SET),
 * a delete (TOMB: key and version only) or a flush cutoff (FLUSH).
 * Evictions and expiry are never reported: they stay local. */
enum store_change_kind { STORE_CHANGE_SET, STORE_CHANGE_TOMB, STORE_CHANGE_FLUSH };

struct store_change {
    enum store_change_kind kind;
    const struct store_view *item; /* SET, TOMB */
    uint64_t cutoff;               /* FLUSH: versions below it are gone ... */
    uint32_t when;                 /* ... from this Unix second on (0 = now) */
    uint64_t issued;               /* FLUSH: the version it was issued at */
    bool applied;                  /* merged from a peer (store_apply), not written here */
};

/* Called for every change, under the lock that orders changes to that key
 * (so per key, calls come in version order). Must be quick and must not call
 * back into the store. */
typedef void (*store_change_fn)(void *arg, const struct store_change *ch);

struct store_config {
    size_t mem_limit;        /* bytes for items, including all per-item overhead (-m) */
    size_t item_size_max;    /* largest item, counted the way memcached counts it (-I) */
    bool evict;              /* false: fail with STORE_NO_MEMORY instead of evicting (-M) */
    bool use_cas;            /* false under -C: memcached's size rule drops the 8 CAS bytes */
    unsigned hashpower;      /* initial table size is 2^hashpower buckets (-o hashpower) */
    bool hash_expand;        /* grow the table as it fills (-o no_hashexpand clears it) */
    double growth_factor;    /* size class growth (-f), >1.0 */
    unsigned chunk_min;      /* smallest chunk payload (-n) */
    uint32_t tombstone_ttl;  /* seconds a delete is remembered; 0 keeps no tombstones */
    bool no_sweep;           /* no background expiry sweep (-o no_lru_crawler) */
    store_change_fn on_change; /* replication's feed; NULL = nobody listens */
    void *on_change_arg;
    bool touch_new_version;  /* touch/gat stamp a new version (needed so a touch replicates
                                by last-writer-wins; memcached keeps the CAS on touch) */
};

struct store;

/* Fill a config with memcached's defaults (-m 64, -I 1m, -f 1.25, -n 48,
 * hashpower 16, CAS and eviction on, no tombstones). */
void store_config_init(struct store_config *cfg);

/* A read-only look at one item, valid only inside the callback. */
struct store_view {
    const char *key;
    uint8_t nkey;
    const char *value; /* the value only, without memcached's trailing "\r\n" */
    uint32_t nvalue;
    uint32_t flags;       /* client flags */
    uint32_t exptime;     /* absolute Unix seconds, 0 = never (after any touch) */
    uint32_t atime;       /* last access before this operation */
    uint64_t version;     /* the CAS value */
    uint32_t size;        /* the item's own bytes: header, flags, key, value (memcached's ntotal; `bytes` sums these) */
    uint8_t clsid;        /* size class, for stats and metadump */
    bool fetched;         /* had been fetched before this operation (mg h) */
    bool stale;           /* marked stale by an invalidation (mg X) */
    bool won;             /* this request won the right to recache (mg W) */
    bool win_sent;        /* another request already holds that right (mg Z) */
    bool binary_key;      /* the key was stored through meta's base64 mode */
    bool tombstone;       /* only from store_scan with tombstones: a delete marker */
    uint32_t prev_exptime; /* expiry before this operation's touch (mg `t` before `T`) */
    bool created;         /* store_fetch's vivify created this item just now (mg N) */
};

typedef void (*store_view_fn)(void *arg, const struct store_view *v);

/* Create a store; NULL with *err set if the configuration is unusable. */
struct store *store_create(const struct store_config *cfg, const char **err);

/* Free a store and every item in it. */
void store_destroy(struct store *s);

/* --- reads ------------------------------------------------------------ */

struct store_fetch {
    bool touch;              /* set the expiry to `exptime` (gat, touch, mg T) */
    uint32_t exptime;
    bool no_bump;            /* leave recency, atime and fetched alone (mg u, me) */
    bool vivify;             /* on a miss, create an empty item and win (mg N) */
    uint32_t vivify_exptime;
    bool recache;            /* win if the remaining TTL is below recache_ttl (mg R) */
    uint32_t recache_ttl;    /* seconds; above 30 days it is an absolute Unix time */
};

/* The hash a key is filed under. A caller that prefetches computes it
 * once and hands it to store_prefetch and store_fetch_hashed. */
uint64_t store_hash(const char *key, size_t nkey);

/* A hint before the fetch of the key hashed h, without taking a lock, so
 * the cache misses of several keys of a multi-get overlap instead of
 * following each other. Two steps: first (item false) start loading the
 * key's bucket slot; later (item true) load the by then cached slot, still
 * without a lock, and start loading the item behind it. The item is never
 * dereferenced. */
void store_prefetch(struct store *s, uint64_t h, bool item);

/* Look a key up. STORE_OK calls fn (if not NULL) with the item; a miss
 * returns STORE_NOT_FOUND without calling it. `opt` may be NULL. */
enum store_status store_fetch(struct store *s, const char *key, size_t nkey,
                              const struct store_fetch *opt, store_view_fn fn, void *arg);

/* store_fetch of a key whose store_hash is h. */
enum store_status store_fetch_hashed(struct store *s, const char *key, size_t nkey, uint64_t h,
                                     const struct store_fetch *opt, store_view_fn fn, void *arg);

/* --- writes ----------------------------------------------------------- */

/* An item being filled by a client before it is linked into the table. */
struct store_item;

/* Reserve an item for a value of `nvalue` bytes. May evict to make room.
 * Fails with STORE_TOO_LARGE or STORE_NO_MEMORY. */
enum store_status store_item_alloc(struct store *s, const char *key, size_t nkey, uint32_t flags,
                                   uint32_t exptime, uint32_t nvalue, struct store_item **out);

/* Where the caller writes the item's `nvalue` value bytes. */
char *store_item_data(struct store_item *it);

/* The size class the item was allocated in (stats slabs counts sets per class). */
uint8_t store_item_class(const struct store_item *it);

/* Give up an item that was never linked (client went away, bad data chunk). */
void store_item_free(struct store *s, struct store_item *it);

enum store_mode {
    STORE_SET,
    STORE_ADD,
    STORE_REPLACE,
    STORE_APPEND,  /* keeps the old flags and expiry */
    STORE_PREPEND,
    STORE_CAS,     /* replace only if the live version equals `cas` */
};

struct store_write {
    enum store_mode mode;
    uint64_t cas;     /* STORE_CAS: required version; APPEND/PREPEND: checked if non-zero */
    bool invalidate;  /* meta ms I: a CAS lower than the live one is accepted, item marked stale */
    bool binary_key;  /* remember that the key came base64-encoded (meta b) */
};

/* Link a filled item according to `w`. The item is consumed whatever the
 * outcome. On STORE_OK, *version (if not NULL) receives the new CAS.
 * Append/prepend answer STORE_NOT_STORED when the combined item cannot be
 * built (too large or no memory), as memcached does. */
enum store_status store_item_link(struct store *s, struct store_item *it,
                                  const struct store_write *w, uint64_t *version);

struct store_delete {
    uint64_t cas;        /* delete only if the live version equals this (0 = any) */
    bool invalidate;     /* meta md I: keep the item, mark it stale, new version */
    bool touch;          /* with invalidate: also set the expiry */
    uint32_t exptime;
};

/* Delete a key (leaving a tombstone if configured). STORE_OK, STORE_NOT_FOUND
 * or STORE_EXISTS. `opt` may be NULL. */
enum store_status store_delete(struct store *s, const char *key, size_t nkey,
                               const struct store_delete *opt);

struct store_arith {
    bool incr;               /* false: decr, which floors at 0; incr wraps at 2^64 */
    uint64_t delta;
    uint64_t cas;            /* apply only if the live version equals this (0 = any) */
    bool vivify;             /* on a miss, create the item with `initial` (delta not applied) */
    uint64_t initial;
    uint32_t vivify_exptime;
    bool touch;              /* also set the expiry of an existing item */
    uint32_t exptime;
};

/* incr/decr. On STORE_OK *value gets the new number and fn (if not NULL)
 * sees the resulting item. memcached's quirk is kept: a shorter result is
 * written in place and right-padded with spaces to the old length.
 * Fails with STORE_NOT_FOUND, STORE_EXISTS, STORE_NON_NUMERIC or STORE_NO_MEMORY. */
enum store_status store_arith(struct store *s, const char *key, size_t nkey,
                              const struct store_arith *a, uint64_t *value, store_view_fn fn,
                              void *arg);

/* flush_all: every item older than the flush stops being visible at `when`
 * (absolute Unix seconds; 0 or a past time means now). Implemented as a
 * version cutoff, not a walk over the items. */
void store_flush(struct store *s, uint32_t when);

/* --- replication, snapshots, restore ------------------------------------ */

/* One item or tombstone as it travels between nodes and files. */
struct store_record {
    const char *key;
    uint8_t nkey;
    const char *value;
    uint32_t nvalue;
    uint32_t flags;
    uint32_t exptime;
    uint64_t version;
    bool tombstone;
    bool binary_key;
    bool stale;          /* invalidated (meta I): readers see X and may win the recache */
    bool local;          /* a client's restore (`apply`): report the change as this
                            node's own write, so peers hear of it from us */
};

/* Merge a record by last-writer-wins: it replaces the live item or
 * tombstone only if its version is higher, and never resurrects a key behind
 * a flush cutoff. STORE_OK, STORE_IGNORED, STORE_TOO_LARGE or STORE_NO_MEMORY. */
enum store_status store_apply(struct store *s, const struct store_record *r);

/* Merge a replicated flush cutoff: items with a version below `cutoff`
 * vanish at `when` (absolute Unix seconds; 0 = now). `issued` is the
 * version the flush was issued at (0: unknown; an immediate flush was
 * issued at its cutoff): the latest issued flush replaces a pending delayed
 * one, whatever order they arrive in, so nodes converge. */
void store_apply_flush(struct store *s, uint64_t cutoff, uint32_t when, uint64_t issued);

/* The flush cutoffs in force (for a full sync or a snapshot to carry). */
struct store_flush_info {
    uint64_t applied;     /* versions below it are gone */
    uint32_t pend_when;   /* not 0: a delayed flush is pending for this Unix second ... */
    uint64_t pend_cutoff; /* ... and removes the versions below this */
    uint64_t pend_issued; /* the version it was issued at */
};
void store_flush_state(struct store *s, struct store_flush_info *out);

/* A resumable position in a walk over the whole table. Zero it to start. */
struct store_cursor {
    uint32_t shard;
    uint64_t bucket;
    bool done;
};

/* Visit up to `max` live items from the cursor on, calling fn for each
 * (tombstones too if `tombstones`). Items present for the whole walk are
 * visited at least once even while the table grows; items written during it
 * may or may not be. Returns how many were visited; sets cursor->done at the end. */
size_t store_scan(struct store *s, struct store_cursor *cur, size_t max, bool tombstones,
                  store_view_fn fn, void *arg);

/* --- housekeeping and stats ------------------------------------------- */

/* Background work in small steps: grow the hash table, reclaim expired items
 * and old tombstones (a sweep round starts at most once a second), finish a
 * lowered memory limit. Returns true if there is more to do right away. */
bool store_maintain(struct store *s);

/* Turn the background expiry sweep on or off (lru_crawler enable|disable).
 * Expired items are still removed lazily when looked up. */
void store_set_sweep(struct store *s, bool on);

/* Change the memory limit at run time (cache_memlimit). Shrinking evicts
 * and frees pages down to the new limit at once, whatever `evict` says;
 * memory held by items busy at that moment is released by store_maintain
 * soon after. STORE_NO_MEMORY (limit unchanged) below two 64 KiB pages. */
enum store_status store_set_limit(struct store *s, size_t mem_limit);

struct store_stats {
    uint64_t curr_items;
    uint64_t total_items;
    uint64_t bytes;           /* bytes of item data (memcached's "bytes") */
    uint64_t mem_used;        /* bytes counted against the limit */
    uint64_t limit_maxbytes;
    uint64_t evictions;
    uint64_t evicted_unfetched;
    uint64_t evicted_active;
    uint64_t reclaimed;       /* expired items whose memory was reused */
    uint64_t expired_unfetched;
    uint64_t crawler_reclaimed;
    uint64_t crawler_items_checked;
    uint64_t get_expired;     /* fetches that found an expired item */
    uint64_t get_flushed;     /* fetches that found a flushed item */
    uint64_t curr_tombstones;
    uint64_t store_too_large;
    uint64_t store_no_memory;
    uint64_t malloc_fails;
    unsigned hash_power_level;
    uint64_t hash_bytes;
    bool hash_is_expanding;
};

/* Totals across the store. */
void store_stats(struct store *s, struct store_stats *out);

/* Zero the resettable counters (stats reset). */
void store_stats_reset(struct store *s);

/* The highest size class id (classes are numbered from 1; the last one
 * holds the items too large for a slab chunk). */
unsigned store_class_count(const struct store *s);

/* Per size-class numbers for `stats items` and `stats slabs`. */
struct store_class_stats {
    uint8_t clsid;
    uint32_t chunk_size;
    uint32_t chunks_per_page;
    uint64_t total_pages;
    uint64_t total_chunks;
    uint64_t used_chunks;
    uint64_t free_chunks;
    uint64_t free_chunks_end;
    uint64_t number;          /* live items */
    uint64_t age;             /* seconds since the oldest item's last access */
    uint64_t mem_requested;
    uint64_t evicted;
    uint64_t evicted_nonzero;
    uint64_t evicted_time;
    uint64_t outofmemory;
    uint64_t reclaimed;
    uint64_t expired_unfetched;
    uint64_t evicted_unfetched;
    uint64_t evicted_active;
};

/* Fill up to `max` entries, one per non-empty class, in class order.
 * Returns how many were filled. */
size_t store_class_stats(struct store *s, struct store_class_stats *out, size_t max);

/* memcached's item size rule: would an item with this key, flags and value
 * length fit under the item size limit? */
bool store_item_size_ok(const struct store *s, size_t nkey, uint32_t flags, size_t nvalue);

#endif
