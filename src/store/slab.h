/*
 * slab: item memory, the memory limit, and eviction.
 *
 * Memory is taken from one global budget (the -m limit) in 64 KiB pages
 * (from huge-page arenas, pages.h); each page belongs to one size class and is cut into chunks of that class's
 * size. Class sizes, from chunk_min (-n) and growth_factor (-f):
 *
 *     c1      = round8(32-byte header + chunk_min)          (80 by default)
 *     c(i+1)  = c(i) + 8                 while c(i) < 512
 *             = round8(c(i) * growth_factor), at least +8, beyond
 *     last    = 16 KiB (a quarter page)
 *
 * 8-byte steps where most keys and small values live keep rounding waste
 * under 8 bytes per item (a 100-byte value and 13-byte key use 145 bytes of
 * a 152-byte chunk); the geometric tail bounds the class count (about 70 with
 * -f 1.25). Items larger than the last class are malloc'd one by one into
 * the "large" class, with their exact allocation counted against the same
 * budget. Headers, rounding and page slack all count: mem_used <= limit.
 *
 * Eviction is CLOCK per class: a hand sweeps the class's chunks in page
 * order; a fetch sets ITEM_REFERENCED, which buys one pass of the hand.
 * Expired or flushed items under the hand are always taken (counted as
 * `reclaimed`, never as evictions). To bound the time under the class lock,
 * a hand that has looked at 4096 chunks without a victim stops sparing
 * referenced items. The large class runs the same hand over a ring of its
 * items.
 *
 * Locks: each class has a mutex; the normal order is shard -> class. The
 * evictor holds a class lock and only TRYLOCKs the victim's shard (skipping
 * the item when that fails), and takes other classes' locks only by trylock.
 * The large class's lock may be taken (blocking) under a shard or class
 * lock, because its holder takes shard and class locks only by trylock. So
 * no cycle can form.
 *
 * Allocation for class C, under C's lock, until one step yields a chunk:
 *   1. C's free list, then the uncut tail of C's newest page;
 *   2. a new page if the budget allows;
 *   3. (evict only) the clock hand of C, except that once per page-worth of
 *      evictions C may instead take a page from the class holding the most
 *      pages if that class's next victim is much older (age balancing);
 *   4. (evict only) move a page: empty a page of the class holding the most
 *      memory (or free large items) and re-cut it for C. This is what lets a
 *      class that owns no pages at all get one when others hold the budget.
 * With eviction off, steps 3-4 are skipped and the caller gets NO_MEMORY.
 */
#ifndef TANDEM_STORE_SLAB_H
#define TANDEM_STORE_SLAB_H

#include "store/item.h"

#include "store/pages.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_PAGE_SIZE (64u * 1024u)
#define SLAB_CHUNK_MAX (16u * 1024u)
#define SLAB_STEP_LIMIT 512u
#define SLAB_MAX_CLASSES 200

struct store;

struct slab_class {
    pthread_mutex_t lock;
    uint32_t size;    /* chunk bytes (0 for the large class) */
    uint32_t perpage; /* chunks per page */
    bool large;
    char **pages;
    uint32_t npages, pages_cap; /* npages read racily via __atomic */
    struct store_item *free;    /* free list through item->next */
    uint64_t nfree;             /* on the free list */
    char *carve;                /* newest page, cut lazily from its front */
    uint32_t carve_left;        /* chunks of `carve` never handed out */
    uint32_t hand_page, hand_chunk;
    uint32_t since_check; /* evictions since the last age-balancing check */
    struct large_hdr *ring; /* large class: clock ring, the hand is `ring` */
    uint64_t large_count, large_bytes;
    /* counters under the lock */
    uint64_t evicted, evicted_nonzero, evicted_unfetched, evicted_active, reclaimed,
        expired_unfetched, outofmemory;
    uint32_t evicted_time;
    /* maintained at link/unlink under shard locks, hence atomic */
    uint64_t number, mem_requested;
} __attribute__((aligned(64)));

struct slabs {
    size_t limit, used; /* accessed with __atomic */
    unsigned nclass;    /* slab classes are 1..nclass; nclass+1 is large */
    uint8_t large_id;
    struct slab_class *cls; /* nclass + 2 entries, [0] unused */
    struct page_pool pages; /* where every class's pages come from */
    uint8_t class_of[SLAB_CHUNK_MAX / 8 + 1];
};

/* Compute the classes; false with *err on a bad chunk_min/growth_factor. */
bool slab_setup(struct slabs *sl, const struct store_config *cfg, const char **err);

/* Free all pages and large items. */
void slab_teardown(struct slabs *sl);

/* Class id for an item of ntotal bytes (the large class past the last). */
uint8_t slab_class_for(const struct slabs *sl, size_t ntotal);

/* Take an unlinked item for key/flags/nvalue, evicting if allowed. The
 * header, client flags and key are written under the class lock. */
enum store_status slab_alloc(struct store *s, const char *key, size_t nkey, uint32_t flags,
                             uint32_t nvalue, struct store_item **out);

/* Return an unlinked item's memory. */
void slab_free(struct store *s, struct store_item *it);

/* Release pages and large items until mem_used <= target. False if busy
 * items prevented reaching it. */
bool slab_shrink(struct store *s, size_t target);

/* Fill one class's numbers for stats; false if the class is empty. */
bool slab_class_stats(struct store *s, unsigned id, struct store_class_stats *out);

#endif
