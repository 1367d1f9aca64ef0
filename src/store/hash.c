/*
 * hash: chained tables with incremental growth and a growth-proof scan
 * cursor. The story is in hash.h; the caller holds the shard lock for every
 * call.
 */
#include "store/hash.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <xxhash.h>

/* Bucket arrays are mapped directly, never malloc'd: the array a growth
 * replaces goes back to the kernel at once (no hole in the malloc heap,
 * about 8 bytes of RSS per item at a million items), and its address range
 * can stay mapped for unlocked readers (see hash.h, "Prefetching"). */
struct htab_retired {
    struct htab_retired *next;
    void *addr;
    size_t bytes;
};

/* --- link words (layout in hash.h) -------------------------------------------- */

#define PTR_MASK HTAB_PTR_MASK

static inline struct store_item *lptr(uint64_t w)
{
    return (struct store_item *)(uintptr_t)(w & PTR_MASK);
}

static inline uint64_t lfilter(uint64_t w) { return w & ~PTR_MASK; }

/* Every store of a link word: atomic because htab_prefetch_item loads
 * bucket slots without the lock. */
static inline void lset(uint64_t *l, uint64_t w) { __atomic_store_n(l, w, __ATOMIC_RELAXED); }

static inline uint64_t lmake(struct store_item *it, uint64_t filter)
{
    assert(((uintptr_t)it & ~PTR_MASK) == 0); /* see htab_pointers_ok */
    return (uint64_t)(uintptr_t)it | filter;
}

static uint64_t item_sig(struct store_item *it)
{
    return htab_sig(htab_hash(item_key(it), it->nkey));
}

static bool addr_ok(const void *p) { return ((uintptr_t)p & ~PTR_MASK) == 0; }

bool htab_pointers_ok(void)
{
    int on_stack = 0;
    void *heap = malloc(1), *big = malloc(1 << 20); /* brk and mmap'd malloc */
    void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok = addr_ok(&on_stack) && addr_ok(heap) && addr_ok(big) &&
              (map == MAP_FAILED || addr_ok(map));
    free(heap);
    free(big);
    if (map != MAP_FAILED)
        munmap(map, 4096);
    return ok;
}

/* --- tables ------------------------------------------------------------------ */

static size_t tab_bytes(uint64_t n)
{
    size_t page = 4096;
    return (n * sizeof(uint64_t) + page - 1) / page * page;
}

static uint64_t *tab_alloc(uint64_t n)
{
    void *p = mmap(NULL, tab_bytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void tab_free(uint64_t *t, uint64_t n)
{
    if (t != NULL)
        munmap(t, tab_bytes(n));
}

/* Give a replaced array's memory back but keep its addresses readable (as
 * zeros) until htab_free. If the list entry cannot be allocated the range
 * is left mapped for good: a few pages of address space, never a fault. */
static void tab_retire(struct htab *t, uint64_t *old, uint64_t n)
{
    madvise(old, tab_bytes(n), MADV_DONTNEED);
    struct htab_retired *r = malloc(sizeof *r);
    if (r == NULL)
        return;
    *r = (struct htab_retired){t->retired, old, tab_bytes(n)};
    t->retired = r;
}

uint64_t htab_hash(const char *key, size_t nkey) { return XXH3_64bits(key, nkey); }

/* t0, t1, mask0 and mask1 change under the shard lock, but htab_prefetch
 * reads them without it, so they are written with atomic stores: relaxed,
 * except mask0, whose release orders it after t0 (htab_prefetch_item). */
#define SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

bool htab_init(struct htab *t, unsigned power)
{
    uint64_t n = (uint64_t)1 << power;
    *t = (struct htab){0};
    t->t0 = tab_alloc(n);
    if (t->t0 == NULL)
        return false;
    t->mask0 = n - 1;
    return true;
}

void htab_free(struct htab *t)
{
    tab_free(t->t0, t->mask0 + 1);
    if (t->t1 != NULL)
        tab_free(t->t1, t->mask1 + 1);
    for (struct htab_retired *r = t->retired, *next; r != NULL; r = next) {
        next = r->next;
        munmap(r->addr, r->bytes);
        free(r);
    }
    *t = (struct htab){0};
}

static bool key_eq(const struct store_item *it, const char *key, size_t nkey)
{
    return it->nkey == nkey && memcmp(item_ckey(it), key, nkey) == 0;
}

uint64_t *htab_head(struct htab *t, uint64_t h)
{
    uint64_t b = h & t->mask0;
    if (t->t1 != NULL && b < t->rehash)
        return &t->t1[h & t->mask1];
    return &t->t0[b];
}

void htab_prefetch(const struct htab *t, uint64_t h)
{
    /* Only addresses are computed, nothing behind them is loaded: a
     * prefetch never faults, so a table freed by a growth that finishes
     * meanwhile, or a mask read from the other table, costs a useless
     * prefetch and nothing else. */
    const uint64_t *t0 = __atomic_load_n(&t->t0, __ATOMIC_RELAXED);
    const uint64_t *t1 = __atomic_load_n(&t->t1, __ATOMIC_RELAXED);
    __builtin_prefetch(&t0[h & __atomic_load_n(&t->mask0, __ATOMIC_RELAXED)]);
    if (t1 != NULL)
        __builtin_prefetch(&t1[h & __atomic_load_n(&t->mask1, __ATOMIC_RELAXED)]);
}

void htab_prefetch_item(const struct htab *t, uint64_t h)
{
    /* mask0 first (acquire), then t0: a mask read here is never larger than
     * the array read after it (htab_rehash stores t0, then mask0). The array
     * may be a retired one: it stays mapped, see hash.h. */
    uint64_t mask = __atomic_load_n(&t->mask0, __ATOMIC_ACQUIRE);
    const uint64_t *t0 = __atomic_load_n(&t->t0, __ATOMIC_RELAXED);
    if (t0 == NULL)
        return;
    uint64_t w = __atomic_load_n(&t0[h & mask], __ATOMIC_RELAXED);
    uint64_t want = htab_sig(h);
    if ((w & want) != want)
        return;
    /* The first 192 bytes, wherever the item starts in its line: header,
     * key and a value of up to about 150 bytes. The header is not loaded
     * yet, so the item's size is unknown; a longer value's later lines are
     * sequential and the hardware prefetcher follows the copy. */
    const char *p = (const char *)lptr(w);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 191);
}

struct store_item *htab_find(struct htab *t, uint64_t h, const char *key, size_t nkey)
{
    uint64_t want = htab_sig(h);
    for (uint64_t w = *htab_head(t, h); (w & want) == want;) {
        struct store_item *it = lptr(w);
        if (key_eq(it, key, nkey))
            return it;
        w = it->link;
    }
    return NULL;
}

static void prepend(uint64_t *head, uint64_t h, struct store_item *it)
{
    lset(&it->link, *head);
    lset(head, lmake(it, lfilter(*head) | htab_sig(h)));
}

void htab_insert(struct htab *t, uint64_t h, struct store_item *it)
{
    prepend(htab_head(t, h), h, it);
    t->count++;
}

void htab_replace(struct htab *t, uint64_t h, struct store_item *old, struct store_item *repl)
{
    uint64_t *pp = htab_head(t, h);
    while (lptr(*pp) != old)
        pp = &lptr(*pp)->link;
    lset(&repl->link, old->link);
    lset(pp, lmake(repl, lfilter(*pp))); /* same key, same sig: filters hold */
    lset(&old->link, 0);
}

void htab_remove(struct htab *t, uint64_t h, struct store_item *it)
{
    /* the last HTAB_REFILTER links in front of `it`, in a ring */
    uint64_t *front[HTAB_REFILTER];
    size_t n = 0;
    uint64_t *pp = htab_head(t, h);
    while (lptr(*pp) != it) {
        front[n++ % HTAB_REFILTER] = pp;
        pp = &lptr(*pp)->link;
    }
    lset(pp, it->link);
    lset(&it->link, 0);
    t->count--;
    /* back to front: a link's filter is its item's sig and the filter behind */
    uint64_t behind = lfilter(*pp);
    for (size_t k = 0; k < n && k < HTAB_REFILTER; k++) {
        uint64_t *l = front[(n - 1 - k) % HTAB_REFILTER];
        struct store_item *p = lptr(*l);
        behind |= item_sig(p);
        lset(l, lmake(p, behind));
    }
}

void htab_maybe_grow(struct htab *t, bool expand)
{
    if (!expand || t->t1 != NULL || t->count <= (t->mask0 + 1) + (t->mask0 + 1) / 2)
        return;
    uint64_t n = (t->mask0 + 1) * 2;
    if (n == 0 || n > ((uint64_t)1 << 40))
        return;
    uint64_t *nt = tab_alloc(n);
    if (nt == NULL)
        return; /* keep serving from the loaded table; try again later */
    t->rehash = 0;
    SET(t->mask1, n - 1);
    SET(t->t1, nt);
}

bool htab_rehash(struct htab *t, unsigned n)
{
    if (t->t1 == NULL)
        return false;
    while (n-- > 0 && t->rehash <= t->mask0) {
        uint64_t w = t->t0[t->rehash];
        lset(&t->t0[t->rehash], 0);
        while (w != 0) {
            struct store_item *it = lptr(w);
            w = it->link;
            uint64_t h = htab_hash(item_key(it), it->nkey);
            prepend(&t->t1[h & t->mask1], h, it);
        }
        t->rehash++;
    }
    if (t->rehash <= t->mask0)
        return true;
    tab_retire(t, t->t0, t->mask0 + 1);
    SET(t->t0, t->t1);
    __atomic_store_n(&t->mask0, t->mask1, __ATOMIC_RELEASE);
    SET(t->t1, NULL);
    SET(t->mask1, 0);
    t->rehash = 0;
    return false;
}

uint64_t htab_buckets(const struct htab *t)
{
    return (t->mask0 + 1) + (t->t1 != NULL ? t->mask1 + 1 : 0);
}

/* Check one chain from the back: returns the exact filter of `w`. */
static uint64_t check_chain(uint64_t w, uint64_t *bad, uint64_t *loose)
{
    if (w == 0)
        return 0;
    struct store_item *it = lptr(w);
    uint64_t exact = check_chain(it->link, bad, loose) | item_sig(it);
    if ((lfilter(w) & exact) != exact)
        (*bad)++;
    else if (lfilter(w) != exact)
        (*loose)++;
    return exact;
}

uint64_t htab_check(const struct htab *t, uint64_t *loose)
{
    uint64_t bad = 0, extra = 0;
    for (uint64_t b = 0; b <= t->mask0; b++)
        check_chain(t->t0[b], &bad, &extra);
    for (uint64_t b = 0; t->t1 != NULL && b <= t->mask1; b++)
        check_chain(t->t1[b], &bad, &extra);
    if (loose != NULL)
        *loose = extra;
    return bad;
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
}

/* Reverse-binary increment of the bits under `mask`. */
static uint64_t rev_incr(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static size_t visit_chain(uint64_t w, htab_visit_fn fn, void *arg, bool *stop)
{
    size_t n = 0;
    while (w != 0 && !*stop) {
        struct store_item *it = lptr(w);
        w = it->link; /* before fn, which may unlink `it` (the sweep does) */
        if (fn != NULL && !fn(arg, it))
            *stop = true;
        n++;
    }
    return n;
}

size_t htab_scan_family(struct htab *t, uint64_t v, htab_visit_fn fn, void *arg)
{
    bool stop = false;
    size_t n = visit_chain(t->t0[v & t->mask0], fn, arg, &stop);
    if (t->t1 == NULL)
        return n;
    /* The expansions of bucket v&mask0 in the larger table. */
    uint64_t diff = t->mask0 ^ t->mask1;
    uint64_t w = v & t->mask0;
    do {
        n += visit_chain(t->t1[w & t->mask1], fn, arg, &stop);
        w = rev_incr(w, t->mask1);
    } while ((w & diff) != 0 && !stop);
    return n;
}

uint64_t htab_scan_next(const struct htab *t, uint64_t v) { return rev_incr(v, t->mask0); }
