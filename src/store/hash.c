/*
 * hash: chained tables with incremental growth and a growth-proof scan
 * cursor. The story is in hash.h; the caller holds the shard lock for every
 * call.
 */
#include "store/hash.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <xxhash.h>

/* Bucket arrays from 64 KiB up are mapped directly, so the old table a
 * growth frees goes back to the kernel at once instead of leaving a hole in
 * the malloc heap (about 8 bytes of RSS per item at a million items). */
#define TAB_MMAP_MIN (64u * 1024u)

static struct store_item **tab_alloc(uint64_t n)
{
    size_t bytes = n * sizeof(struct store_item *);
    if (bytes < TAB_MMAP_MIN)
        return calloc(n, sizeof(struct store_item *));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void tab_free(struct store_item **t, uint64_t n)
{
    size_t bytes = n * sizeof(struct store_item *);
    if (t == NULL)
        return;
    if (bytes < TAB_MMAP_MIN)
        free(t);
    else
        munmap(t, bytes);
}

uint64_t htab_hash(const char *key, size_t nkey) { return XXH3_64bits(key, nkey); }

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
    *t = (struct htab){0};
}

static bool key_eq(const struct store_item *it, const char *key, size_t nkey)
{
    return it->nkey == nkey && memcmp(item_ckey(it), key, nkey) == 0;
}

struct store_item **htab_head(struct htab *t, uint64_t h)
{
    uint64_t b = h & t->mask0;
    if (t->t1 != NULL && b < t->rehash)
        return &t->t1[h & t->mask1];
    return &t->t0[b];
}

struct store_item *htab_find(struct htab *t, uint64_t h, const char *key, size_t nkey,
                             struct store_item ***prevp)
{
    struct store_item **pp = htab_head(t, h);
    for (struct store_item *it = *pp; it != NULL; pp = &it->next, it = it->next) {
        if (key_eq(it, key, nkey)) {
            if (prevp != NULL)
                *prevp = pp;
            return it;
        }
    }
    return NULL;
}

void htab_insert(struct htab *t, uint64_t h, struct store_item *it)
{
    struct store_item **head = htab_head(t, h);
    it->next = *head;
    *head = it;
    t->count++;
}

static struct store_item **link_of(struct htab *t, uint64_t h, const struct store_item *it)
{
    struct store_item **pp = htab_head(t, h);
    while (*pp != it)
        pp = &(*pp)->next;
    return pp;
}

void htab_replace(struct htab *t, uint64_t h, struct store_item *old, struct store_item *repl)
{
    struct store_item **pp = link_of(t, h, old);
    repl->next = old->next;
    *pp = repl;
    old->next = NULL;
}

void htab_remove(struct htab *t, uint64_t h, struct store_item *it)
{
    struct store_item **pp = link_of(t, h, it);
    *pp = it->next;
    it->next = NULL;
    t->count--;
}

void htab_maybe_grow(struct htab *t, bool expand)
{
    if (!expand || t->t1 != NULL || t->count <= (t->mask0 + 1) + (t->mask0 + 1) / 2)
        return;
    uint64_t n = (t->mask0 + 1) * 2;
    if (n == 0 || n > ((uint64_t)1 << 40))
        return;
    struct store_item **nt = tab_alloc(n);
    if (nt == NULL)
        return; /* keep serving from the loaded table; try again later */
    t->t1 = nt;
    t->mask1 = n - 1;
    t->rehash = 0;
}

bool htab_rehash(struct htab *t, unsigned n)
{
    if (t->t1 == NULL)
        return false;
    while (n-- > 0 && t->rehash <= t->mask0) {
        struct store_item *it = t->t0[t->rehash];
        t->t0[t->rehash] = NULL;
        while (it != NULL) {
            struct store_item *next = it->next;
            struct store_item **head = &t->t1[htab_hash(item_key(it), it->nkey) & t->mask1];
            it->next = *head;
            *head = it;
            it = next;
        }
        t->rehash++;
    }
    if (t->rehash <= t->mask0)
        return true;
    tab_free(t->t0, t->mask0 + 1);
    t->t0 = t->t1;
    t->mask0 = t->mask1;
    t->t1 = NULL;
    t->mask1 = 0;
    t->rehash = 0;
    return false;
}

uint64_t htab_buckets(const struct htab *t)
{
    return (t->mask0 + 1) + (t->t1 != NULL ? t->mask1 + 1 : 0);
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

static size_t visit_chain(struct store_item *it, htab_visit_fn fn, void *arg, bool *stop)
{
    size_t n = 0;
    while (it != NULL && !*stop) {
        struct store_item *next = it->next; /* fn may not unlink, but be safe */
        if (fn != NULL && !fn(arg, it))
            *stop = true;
        n++;
        it = next;
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
