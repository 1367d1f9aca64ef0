/*
 * item: the memory layout of one cache entry.
 *
 * An item is one chunk of a slab page (slab.c), or for items larger than the
 * largest chunk a malloc'd block with a small prefix that threads it on the
 * large-item clock ring. The header is 32 bytes, 8-aligned:
 *
 *    0        8          16        20       24       28     29     30      32
 *    +--------+----------+---------+--------+--------+------+------+-------+
 *    | next   | version  | exptime | atime  | nvalue | nkey | clsid| iflags|
 *    +--------+----------+---------+--------+--------+------+------+-------+
 *    | client flags (4 bytes, present only if ITEM_HAS_FLAGS)              |
 *    | key (nkey bytes, not NUL-terminated)                                |
 *    | value (nvalue bytes, without memcached's trailing "\r\n")            |
 *    +---------------------------------------------------------------------+
 *
 *   next     while linked: the hash-chain link word, a pointer with a
 *            16-bit filter in its top bits (`link`, see hash.h); while
 *            free: the plain free-list pointer (`next`, slab.c)
 *   version  HLC stamp of the last modification, which is also the CAS
 *   exptime  absolute Unix seconds, 0 = never (tombstones: when to reap)
 *   atime    Unix seconds of the last access (creation or fetch)
 *   clsid    size class (slab.c); the large class for malloc'd items
 *   iflags   ITEM_* bits below
 *
 * Large items carry a struct large_hdr in front of the header:
 *
 *    +------+------+-------+------------------------------+
 *    | prev | next | alloc | item header | flags | key ...|
 *    +------+------+-------+------------------------------+
 *
 * Locking: the key, nkey, clsid and ITEM_HAS_FLAGS are written once when
 * the chunk is handed out (under the class lock) and never change until it
 * is freed (under the class lock again), so an evictor holding the class
 * lock may read them freely. Everything else belongs to the shard lock of
 * the item's key while it is linked, or to the thread that allocated it
 * while it is not. iflags and atime are touched from both sides (the clock
 * hand reads LINKED, clears REFERENCED and reads atime without the shard
 * lock), so they are only accessed through the atomic helpers below;
 * setting LINKED is a release and reading iflags an acquire, so a hand that
 * sees LINKED also sees the item that was linked.
 */
#ifndef TANDEM_STORE_ITEM_H
#define TANDEM_STORE_ITEM_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum item_flag {
    ITEM_LINKED = 1 << 0,     /* in the hash table */
    ITEM_FETCHED = 1 << 1,    /* read at least once (mg h, evicted_unfetched) */
    ITEM_REFERENCED = 1 << 2, /* read since the clock hand last passed: second chance */
    ITEM_STALE = 1 << 3,      /* invalidated by md I / ms I (mg X) */
    ITEM_WIN_SENT = 1 << 4,   /* a recache token was handed out (mg Z) */
    ITEM_BINARY_KEY = 1 << 5, /* key arrived base64-encoded (meta b) */
    ITEM_TOMBSTONE = 1 << 6,  /* a delete marker: key + version, no value */
    ITEM_HAS_FLAGS = 1 << 7,  /* 4 bytes of client flags precede the key */
    ITEM_FREE = 1 << 8,       /* on a slab free list */
};

struct store_item {
    union {
        uint64_t link;           /* linked: tagged chain link, only through hash.c */
        struct store_item *next; /* free: slab free list */
    };
    uint64_t version;
    uint32_t exptime;
    uint32_t atime;
    uint32_t nvalue;
    uint8_t nkey;
    uint8_t clsid;
    uint16_t iflags; /* only through item_flags() / item_set() / item_clear() */
    char data[];
};

_Static_assert(sizeof(struct store_item) == 32, "item header must stay 32 bytes");

/* Prefix of a malloc'd large item: links on the large class's clock ring. */
struct large_hdr {
    struct large_hdr *prev, *next;
    size_t alloc; /* bytes counted against the memory limit */
};

#define ITEM_HDR_SIZE sizeof(struct store_item)

static inline unsigned item_flags(const struct store_item *it)
{
    return __atomic_load_n(&it->iflags, __ATOMIC_ACQUIRE);
}

static inline bool item_has(const struct store_item *it, unsigned f)
{
    return (item_flags(it) & f) != 0;
}

static inline void item_set(struct store_item *it, unsigned f)
{
    __atomic_fetch_or(&it->iflags, (uint16_t)f, __ATOMIC_RELEASE);
}

static inline void item_clear(struct store_item *it, unsigned f)
{
    __atomic_fetch_and(&it->iflags, (uint16_t)~f, __ATOMIC_RELAXED);
}

static inline void item_store_flags(struct store_item *it, unsigned f)
{
    __atomic_store_n(&it->iflags, (uint16_t)f, __ATOMIC_RELEASE);
}

/* atime is read by the clock hand and stats without the shard lock. */
static inline uint32_t item_atime(const struct store_item *it)
{
    return __atomic_load_n(&it->atime, __ATOMIC_RELAXED);
}

static inline void item_atime_set(struct store_item *it, uint32_t now)
{
    __atomic_store_n(&it->atime, now, __ATOMIC_RELAXED);
}

/* Bytes an item needs: header, optional client flags, key and value. */
static inline size_t item_ntotal(size_t nkey, uint32_t flags, size_t nvalue)
{
    return ITEM_HDR_SIZE + (flags != 0 ? 4 : 0) + nkey + nvalue;
}

static inline size_t item_size(const struct store_item *it)
{
    return ITEM_HDR_SIZE + (item_has(it, ITEM_HAS_FLAGS) ? 4 : 0) + it->nkey + it->nvalue;
}

static inline char *item_key(struct store_item *it)
{
    return it->data + (item_has(it, ITEM_HAS_FLAGS) ? 4 : 0);
}

static inline const char *item_ckey(const struct store_item *it)
{
    return it->data + (item_has(it, ITEM_HAS_FLAGS) ? 4 : 0);
}

static inline char *item_value(struct store_item *it)
{
    return item_key(it) + it->nkey;
}

static inline uint32_t item_client_flags(const struct store_item *it)
{
    uint32_t f = 0;
    if (item_has(it, ITEM_HAS_FLAGS))
        memcpy(&f, it->data, 4);
    return f;
}

static inline struct large_hdr *item_large_hdr(struct store_item *it)
{
    return (struct large_hdr *)it - 1;
}

static inline struct store_item *large_hdr_item(struct large_hdr *h)
{
    return (struct store_item *)(h + 1);
}

#endif
