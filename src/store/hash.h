/*
 * hash: one shard's chained hash table, grown by incremental rehash.
 *
 * The store splits keys over STORE_NSHARD shards by the top bits of the
 * 64-bit XXH3 hash; each shard owns one htab and a mutex that guards it.
 * Buckets are chosen by the low bits, so the two never correlate.
 *
 * Growth never stalls a client. When the shard holds more than 1.5 items per
 * bucket (memcached's trigger), a table twice the size is allocated and t0's
 * buckets are moved into t1 a few at a time: every operation on the shard
 * moves HTAB_STEP buckets, and store_maintain moves many more. During the
 * move, bucket b of t0 has been moved iff b < rehash, which tells a lookup
 * which table holds a key (htab_head). When every bucket is moved, t1
 * becomes t0.
 *
 * Scanning uses Redis's reverse-binary cursor (htab_scan_family): the
 * cursor counts with its bits reversed, so the set of buckets still to visit
 * is the same whether the table has 2^n or 2^(n+1) buckets; visiting bucket
 * v of t0 also visits its expansions v, v+2^n, ... in t1. An item that stays
 * put for the whole walk is therefore seen at least once, through any number
 * of growths between calls.
 */
#ifndef TANDEM_STORE_HASH_H
#define TANDEM_STORE_HASH_H

#include "store/item.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_STEP 2 /* buckets moved per operation while growing */

struct htab {
    struct store_item **t0, **t1; /* t1 != NULL while growing */
    uint64_t mask0, mask1;
    uint64_t rehash; /* t0 buckets below this have moved to t1 */
    uint64_t count;  /* linked items, tombstones included */
};

/* Hash of a key: the one function every part of the store uses. */
uint64_t htab_hash(const char *key, size_t nkey);

/* Allocate a table of 2^power buckets. False if out of memory. */
bool htab_init(struct htab *t, unsigned power);

/* Free the bucket arrays (not the items). */
void htab_free(struct htab *t);

/* The chain head a key with hash h lives on. */
struct store_item **htab_head(struct htab *t, uint64_t h);

/* Find a key; *prevp (if not NULL) receives the link that points to it. */
struct store_item *htab_find(struct htab *t, uint64_t h, const char *key, size_t nkey,
                             struct store_item ***prevp);

/* Link an item (its key must not be present). */
void htab_insert(struct htab *t, uint64_t h, struct store_item *it);

/* Put `repl` where `old` is (same key), in one step. */
void htab_replace(struct htab *t, uint64_t h, struct store_item *old, struct store_item *repl);

/* Unlink an item known to be present. */
void htab_remove(struct htab *t, uint64_t h, struct store_item *it);

/* Start growing if the table is loaded past 1.5 and `expand` allows it. */
void htab_maybe_grow(struct htab *t, bool expand);

/* Move up to n buckets of an ongoing growth. True if growth continues. */
bool htab_rehash(struct htab *t, unsigned n);

/* Total buckets (both tables while growing), for stats. */
uint64_t htab_buckets(const struct htab *t);

/* Visit every item of the bucket family at reverse-binary cursor v: bucket
 * v&mask0 of t0 and, while growing, its expansions in t1. fn returns false
 * to stop early (the family is then not finished). Returns the number of
 * items in the family when fn == NULL. */
typedef bool (*htab_visit_fn)(void *arg, struct store_item *it);
size_t htab_scan_family(struct htab *t, uint64_t v, htab_visit_fn fn, void *arg);

/* The cursor after v; 0 when the walk has wrapped around (done). */
uint64_t htab_scan_next(const struct htab *t, uint64_t v);

#endif
