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
 *
 * Filters in the links. A lookup used to dereference every item on its
 * chain just to compare keys, and those loads are the cache and TLB misses
 * that dominated the profile. Every link (a bucket slot or an item's `link`
 * field) is therefore a 64-bit word holding the pointer and, in the 16 bits
 * x86-64 and AArch64 leave unused in a user-space pointer, a filter:
 *
 *     63           48 47                                            0
 *    +---------------+-----------------------------------------------+
 *    |   filter      |  struct store_item * (bits 48..63 are zero)   |
 *    +---------------+-----------------------------------------------+
 *
 *    slot --> [A | link] --> [B | link] --> [C | 0]
 *    filter:   sig(A)|sig(B)|sig(C)   sig(B)|sig(C)   sig(C)
 *
 * htab_sig(h) sets 2 of the 16 bits, chosen by hash bits 40..51, which neither
 * the bucket index (bits 0..39) nor the shard (bits 58..63) uses.
 * Invariant: the filter of a link contains htab_sig() of every item reachable
 * through it (the one it points to and all after it); a null link is 0.
 * A lookup follows a link only while the filter contains the key's sig, so
 * a miss usually stops at the bucket slot (a false positive needs both of
 * its bits in the filter: 1/120 behind one item, ~1/20 behind two), and a
 * hit dereferences only the items in front of it, as before. A filter per
 * link rather than a tag of the one item a link points to is deliberate:
 * in a chained table a lookup must load an item to find its successor, so
 * an exact per-item tag would save the key compare but not the miss.
 *
 * Keeping the invariant: prepending (insert, rehash) ORs the new sig into
 * the head; a replace keeps the key, hence the filters; a removal recomputes
 * the filters of the up to HTAB_REFILTER links in front of the gap (it
 * rehashes those keys, which the walk has just brought into cache) and
 * leaves any earlier ones as they were, a superset, which is still correct
 * and only costs an occasional needless load until the next growth.
 *
 * Prefetching without the lock. A multi-get hashes its next keys ahead and
 * asks for their bucket slots (htab_prefetch), then a few keys later for the
 * first item behind each slot (htab_prefetch_item), so that the misses of
 * several keys overlap instead of following one another. The second step
 * *loads* a slot without the shard lock, so:
 *   - every link word is written with a relaxed atomic store (a plain
 *     move on x86-64 and AArch64) and the unlocked load is atomic too;
 *   - mask0 is published after t0 (release/acquire), so an index computed
 *     from mask0 is always inside the t0 read after it;
 *   - a bucket array replaced by growth is never unmapped while the store
 *     runs: its pages are returned to the kernel (MADV_DONTNEED, so RSS
 *     drops at once) and the address range is kept, reading as zeros, on
 *     the table's `retired` list until htab_free. A reader holding the old
 *     address reads 0 (no item) or a stale word, and a stale item pointer
 *     is only ever prefetched, never dereferenced: the lookup proper runs
 *     under the lock. The retired ranges add up to less than the live
 *     table's size in address space, and nothing in RSS.
 *
 * The pointer-width assumption (Linux hands user space addresses below
 * 2^47 unless mmap is given a higher hint, which Tandem never does) is
 * checked once at start-up (htab_pointers_ok) and on every link made.
 */
#ifndef TANDEM_STORE_HASH_H
#define TANDEM_STORE_HASH_H

#include "store/item.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_STEP 2 /* buckets moved per operation while growing */
#define HTAB_REFILTER 16 /* links in front of a removed item whose filter is recomputed */

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "hash.h keeps filters in the top 16 bits of pointers: x86-64 or AArch64 only"
#endif

struct htab_retired; /* a replaced bucket array, kept mapped (hash.c) */

struct htab {
    uint64_t *t0, *t1; /* bucket slots (link words); t1 != NULL while growing */
    uint64_t mask0, mask1;
    uint64_t rehash; /* t0 buckets below this have moved to t1 */
    uint64_t count;  /* linked items, tombstones included */
    struct htab_retired *retired; /* replaced arrays, unmapped by htab_free */
};

#define HTAB_PTR_BITS 48
#define HTAB_PTR_MASK ((UINT64_C(1) << HTAB_PTR_BITS) - 1)

/* The filter bits of a key with hash h: two distinct bits of 16, from hash
 * bits 40..51, already in the filter's place. Never 0, so a null link
 * (filter 0) stops every lookup. */
static inline uint64_t htab_sig(uint64_t h)
{
    unsigned a = (unsigned)(h >> 40) & 15;
    unsigned b = (a + 1 + (unsigned)((h >> 44) & 0xff) % 15) & 15;
    return ((UINT64_C(1) << a) | (UINT64_C(1) << b)) << HTAB_PTR_BITS;
}

/* Hash of a key: the one function every part of the store uses. */
uint64_t htab_hash(const char *key, size_t nkey);

/* Allocate a table of 2^power buckets. False if out of memory. */
bool htab_init(struct htab *t, unsigned power);

/* Free the bucket arrays (not the items). */
void htab_free(struct htab *t);

/* True if heap, mmap'd and stack addresses fit in the 48 bits a link word
 * leaves for the pointer; checked once before any table is built. */
bool htab_pointers_ok(void);

/* The bucket slot (link word) a key with hash h lives on. */
uint64_t *htab_head(struct htab *t, uint64_t h);

/* Find a key. */
struct store_item *htab_find(struct htab *t, uint64_t h, const char *key, size_t nkey);

/* Prefetch the bucket slots of hash h, without the shard lock: a hint that
 * reads only the table's address and mask (racy but harmless, see hash.c). */
void htab_prefetch(const struct htab *t, uint64_t h);

/* Prefetch the first item behind hash h's slot in t0, without the shard
 * lock, if the slot's filter admits the key (see "Prefetching" above).
 * Loads the slot, so call it a few keys after htab_prefetch. */
void htab_prefetch_item(const struct htab *t, uint64_t h);

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

/* Links whose filter misses the sig of an item behind them (must be 0) and,
 * through *loose (if not NULL), links whose filter holds extra bits. For
 * tests; walks the whole table. */
uint64_t htab_check(const struct htab *t, uint64_t *loose);

/* Visit every item of the bucket family at reverse-binary cursor v: bucket
 * v&mask0 of t0 and, while growing, its expansions in t1. fn returns false
 * to stop early (the family is then not finished). Returns the number of
 * items in the family when fn == NULL. */
typedef bool (*htab_visit_fn)(void *arg, struct store_item *it);
size_t htab_scan_family(struct htab *t, uint64_t v, htab_visit_fn fn, void *arg);

/* The cursor after v; 0 when the walk has wrapped around (done). */
uint64_t htab_scan_next(const struct htab *t, uint64_t v);

#endif
