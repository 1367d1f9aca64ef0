/*
 * slab: pages, chunks, the memory budget and CLOCK eviction. The algorithm
 * and its lock rules are told in slab.h; this file keeps to them:
 *   - a class's pages, free list, carve state and hand change only under
 *     its lock;
 *   - a chunk's key is written under its class lock (slab_alloc), so the
 *     hand may hash it to find the victim's shard;
 *   - the hand and the page mover take shard and foreign class locks only
 *     with trylock.
 */
#include "store/slab.h"

#include "core/clock.h"
#include "store/store_int.h"

#include <sched.h>
#include <stdlib.h>

#define ALLOC_ATTEMPTS 8
#define STEAL_PAGES_TRIED 4
#define STEAL_CLASSES_TRIED 8
#define CLOCK_MAX_STEPS 4096 /* chunks the hand looks at before it stops sparing */
#define ALLOC_ROUNDS 4 /* retries when every victim was busy */

enum victim { VICTIM_TAKEN, VICTIM_SKIPPED };

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* --- budget -------------------------------------------------------------- */

static bool budget_take(struct slabs *sl, size_t n)
{
    size_t used = __atomic_load_n(&sl->used, __ATOMIC_RELAXED);
    do {
        if (used + n > __atomic_load_n(&sl->limit, __ATOMIC_RELAXED))
            return false;
    } while (!__atomic_compare_exchange_n(&sl->used, &used, used + n, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return true;
}

static void budget_put(struct slabs *sl, size_t n) { STAT_SUB(sl->used, n); }

/* --- setup --------------------------------------------------------------- */

bool slab_setup(struct slabs *sl, const struct store_config *cfg, const char **err)
{
    uint32_t sizes[SLAB_MAX_CLASSES];
    unsigned n = 0;
    size_t size = round8(ITEM_HDR_SIZE + cfg->chunk_min);

    if (!(cfg->growth_factor > 1.0)) {
        *err = "growth factor must be greater than 1.0";
        return false;
    }
    if (size > SLAB_CHUNK_MAX / 2) {
        *err = "chunk_min is too large: the smallest chunk must be at most 8 KiB";
        return false;
    }
    while (size < SLAB_CHUNK_MAX && n < SLAB_MAX_CLASSES - 1) {
        sizes[n++] = (uint32_t)size;
        size_t next = size < SLAB_STEP_LIMIT ? size + 8 : round8((size_t)(size * cfg->growth_factor));
        size = next < size + 8 ? size + 8 : next;
    }
    sizes[n++] = SLAB_CHUNK_MAX;

    sl->nclass = n;
    sl->large_id = (uint8_t)(n + 1);
    sl->cls = calloc(n + 2, sizeof(*sl->cls));
    if (sl->cls == NULL) {
        *err = "out of memory";
        return false;
    }
    for (unsigned i = 1; i <= n + 1; i++) {
        struct slab_class *c = &sl->cls[i];
        pthread_mutex_init(&c->lock, NULL);
        c->large = i == n + 1;
        c->size = c->large ? 0 : sizes[i - 1];
        c->perpage = c->large ? 1 : SLAB_PAGE_SIZE / c->size;
    }
    unsigned id = 1;
    for (unsigned b = 0; b <= SLAB_CHUNK_MAX / 8; b++) {
        while (sl->cls[id].size < b * 8)
            id++;
        sl->class_of[b] = (uint8_t)id;
    }
    sl->limit = cfg->mem_limit;
    sl->used = 0;
    pages_setup(&sl->pages);
    return true;
}

void slab_teardown(struct slabs *sl)
{
    if (sl->cls == NULL)
        return;
    for (unsigned i = 1; i <= sl->nclass + 1; i++) {
        struct slab_class *c = &sl->cls[i];
        free(c->pages);
        struct large_hdr *h = c->ring;
        if (h != NULL) {
            h->prev->next = NULL;
            while (h != NULL) {
                struct large_hdr *next = h->next;
                free(h);
                h = next;
            }
        }
        pthread_mutex_destroy(&c->lock);
    }
    free(sl->cls);
    sl->cls = NULL;
    pages_teardown(&sl->pages);
}

uint8_t slab_class_for(const struct slabs *sl, size_t ntotal)
{
    if (ntotal > SLAB_CHUNK_MAX)
        return sl->large_id;
    return sl->class_of[(ntotal + 7) / 8];
}

/* --- chunks and pages of one class (its lock held) ----------------------- */

static struct store_item *chunk_at(const struct slab_class *c, uint32_t p, uint32_t i)
{
    return (struct store_item *)(c->pages[p] + (size_t)i * c->size);
}

/* Chunks of page p that were ever handed out. */
static uint32_t page_limit(const struct slab_class *c, uint32_t p)
{
    return c->pages[p] == c->carve ? c->perpage - c->carve_left : c->perpage;
}

static struct store_item *chunk_pop(struct slab_class *c)
{
    struct store_item *it = c->free;
    if (it != NULL) {
        c->free = it->next;
        c->nfree--;
        return it;
    }
    if (c->carve_left > 0) {
        it = (struct store_item *)(c->carve + (size_t)(c->perpage - c->carve_left) * c->size);
        c->carve_left--;
        return it;
    }
    return NULL;
}

static void chunk_push(struct slab_class *c, struct store_item *it)
{
    item_store_flags(it, ITEM_FREE);
    it->next = c->free;
    c->free = it;
    c->nfree++;
}

static bool page_add(struct slab_class *c, char *page)
{
    if (c->npages == c->pages_cap) {
        uint32_t cap = c->pages_cap ? c->pages_cap * 2 : 8;
        char **np = realloc(c->pages, cap * sizeof(*np));
        if (np == NULL)
            return false;
        c->pages = np;
        c->pages_cap = cap;
    }
    c->pages[c->npages] = page;
    __atomic_store_n(&c->npages, c->npages + 1, __ATOMIC_RELAXED);
    c->carve = page;
    c->carve_left = c->perpage;
    return true;
}

static bool page_new(struct store *s, struct slab_class *c)
{
    struct slabs *sl = &s->slabs;
    if (!budget_take(sl, SLAB_PAGE_SIZE))
        return false;
    char *page = pages_get(&sl->pages);
    if (page == NULL || !page_add(c, page)) {
        if (page != NULL)
            pages_put(&sl->pages, page, false);
        budget_put(sl, SLAB_PAGE_SIZE);
        STAT_ADD(s->malloc_fails, 1);
        return false;
    }
    return true;
}

/* --- the clock hand -------------------------------------------------------- */

/* Try to unlink a linked item for reuse; `force` ignores the second chance
 * (page moves). The item's class lock is held. On VICTIM_TAKEN the item is
 * unlinked and the caller owns its memory. */
static enum victim victim_take(struct store *s, struct slab_class *c, struct store_item *it,
                               uint32_t now, bool force)
{
    unsigned fl = item_flags(it);
    if ((fl & ITEM_FREE) || !(fl & ITEM_LINKED))
        return VICTIM_SKIPPED;
    uint64_t h = htab_hash(item_key(it), it->nkey);
    struct shard *sh = store_shard(s, h);
    if (pthread_mutex_trylock(&sh->lock) != 0) {
        if (!force)
            item_clear(it, ITEM_REFERENCED);
        return VICTIM_SKIPPED;
    }
    fl = item_flags(it);
    if (!(fl & ITEM_LINKED)) {
        pthread_mutex_unlock(&sh->lock);
        return VICTIM_SKIPPED;
    }
    enum item_state st = store_item_state(s, it, now);
    if (st == ITEM_LIVE && !force && (fl & ITEM_REFERENCED)) {
        item_clear(it, ITEM_REFERENCED);
        pthread_mutex_unlock(&sh->lock);
        return VICTIM_SKIPPED;
    }
    if (fl & ITEM_TOMBSTONE) {
        /* memory pressure wins over delete memory; not an eviction */
    } else if (st != ITEM_LIVE) {
        c->reclaimed++;
        if (!(fl & ITEM_FETCHED))
            c->expired_unfetched++;
    } else {
        c->evicted++;
        if (it->exptime != 0)
            c->evicted_nonzero++;
        if (!(fl & ITEM_FETCHED))
            c->evicted_unfetched++;
        if (fl & ITEM_REFERENCED)
            c->evicted_active++;
        c->evicted_time = now >= item_atime(it) ? now - item_atime(it) : 0;
    }
    store_unlink_locked(s, sh, h, it);
    pthread_mutex_unlock(&sh->lock);
    return VICTIM_TAKEN;
}

/* Sweep the hand of slab class c until one chunk is freed. Every item gets
 * its second chance within two turns; to bound the time spent under the
 * class lock when nearly everything is referenced, after CLOCK_MAX_STEPS
 * chunks the next lockable item is taken regardless (evicted_active). */
static bool clock_evict(struct store *s, struct slab_class *c)
{
    uint32_t now = clock_now();
    uint64_t limit = 2 * ((uint64_t)c->npages * c->perpage + c->npages) + 2;
    if (limit > 2 * CLOCK_MAX_STEPS)
        limit = 2 * CLOCK_MAX_STEPS;
    for (uint64_t step = 0; step < limit && c->npages > 0; step++) {
        if (c->hand_page >= c->npages) {
            c->hand_page = 0;
            c->hand_chunk = 0;
        }
        if (c->hand_chunk >= page_limit(c, c->hand_page)) {
            c->hand_page = (c->hand_page + 1) % c->npages;
            c->hand_chunk = 0;
            continue;
        }
        struct store_item *it = chunk_at(c, c->hand_page, c->hand_chunk++);
        if (victim_take(s, c, it, now, step >= CLOCK_MAX_STEPS) == VICTIM_TAKEN) {
            chunk_push(c, it);
            return true;
        }
    }
    return false;
}

/* The same hand over the large ring (large lock held): frees one item's
 * memory back to the budget. */
static bool clock_evict_large(struct store *s, struct slab_class *c)
{
    uint32_t now = clock_now();
    uint64_t steps = 2 * c->large_count + 2;
    while (steps-- > 0 && c->ring != NULL) {
        struct large_hdr *h = c->ring;
        c->ring = h->next;
        struct store_item *it = large_hdr_item(h);
        if (victim_take(s, c, it, now, false) != VICTIM_TAKEN)
            continue;
        if (h->next == h) {
            c->ring = NULL;
        } else {
            h->prev->next = h->next;
            h->next->prev = h->prev;
            c->ring = h->next;
        }
        c->large_count--;
        STAT_SUB(c->large_bytes, h->alloc);
        budget_put(&s->slabs, h->alloc);
        free(h);
        return true;
    }
    return false;
}

/* Idle seconds of the next linked item under the hand (class lock held):
 * the age of what this class would evict next. */
static uint32_t hand_age(const struct slab_class *c, uint32_t now)
{
    uint32_t p = c->hand_page;
    if (c->large || p >= c->npages)
        return 0;
    for (uint32_t i = c->hand_chunk, k = 0; k < 64 && i < page_limit(c, p); i++, k++) {
        const struct store_item *it = chunk_at(c, p, i);
        if (item_has(it, ITEM_LINKED)) {
            uint32_t at = item_atime(it);
            return now > at ? now - at : 0;
        }
    }
    return 0;
}

/* --- moving pages ---------------------------------------------------------- */

/* Drop the free chunks that lie in `page` from c's free list. */
static void freelist_drop_page(struct slab_class *c, const char *page)
{
    struct store_item **pp = &c->free;
    while (*pp != NULL) {
        const char *p = (const char *)*pp;
        if (p >= page && p < page + SLAB_PAGE_SIZE) {
            *pp = (*pp)->next;
            c->nfree--;
        } else {
            pp = &(*pp)->next;
        }
    }
}

/* Empty page p of class c (its lock held) by evicting everything on it and
 * detach it. NULL if an item on it is busy (being written or freed). */
static char *page_detach(struct store *s, struct slab_class *c, uint32_t p)
{
    char *page = c->pages[p];
    uint32_t lim = page_limit(c, p), now = clock_now();
    for (uint32_t i = 0; i < lim; i++) {
        unsigned fl = item_flags(chunk_at(c, p, i));
        if (!(fl & ITEM_FREE) && !(fl & ITEM_LINKED))
            return NULL;
    }
    for (uint32_t i = 0; i < lim; i++) {
        struct store_item *it = chunk_at(c, p, i);
        if (item_has(it, ITEM_FREE))
            continue;
        if (victim_take(s, c, it, now, true) != VICTIM_TAKEN)
            return NULL;
        chunk_push(c, it);
    }
    freelist_drop_page(c, page);
    if (c->carve == page) {
        c->carve = NULL;
        c->carve_left = 0;
    }
    uint32_t last = c->npages - 1;
    c->pages[p] = c->pages[last];
    __atomic_store_n(&c->npages, last, __ATOMIC_RELAXED);
    if (c->hand_page == p || c->hand_page >= c->npages) {
        c->hand_chunk = 0;
        if (c->hand_page >= c->npages)
            c->hand_page = 0;
    }
    return page;
}

/* Detach some page of class c, trying a few from the hand on. */
static char *page_detach_any(struct store *s, struct slab_class *c)
{
    for (uint32_t k = 0; k < STEAL_PAGES_TRIED && c->npages > 0; k++) {
        char *page = page_detach(s, c, (c->hand_page + k) % c->npages);
        if (page != NULL)
            return page;
    }
    return NULL;
}

/* The slab class, other than `except`, holding the most pages. */
static struct slab_class *richest_class(struct slabs *sl, const struct slab_class *except)
{
    struct slab_class *best = NULL;
    uint32_t most = 0;
    for (unsigned i = 1; i <= sl->nclass; i++) {
        struct slab_class *c = &sl->cls[i];
        uint32_t n = __atomic_load_n(&c->npages, __ATOMIC_RELAXED);
        if (c != except && n > most) {
            most = n;
            best = c;
        }
    }
    return best;
}

/* Take a page away from another slab class, trying the classes with the
 * most pages first. Caller holds no lock of theirs. */
static char *page_steal_slab(struct store *s, struct slab_class *except)
{
    struct slabs *sl = &s->slabs;
    struct slab_class *tried[STEAL_CLASSES_TRIED];
    unsigned ntried = 0;
    while (ntried < STEAL_CLASSES_TRIED) {
        struct slab_class *src = NULL;
        uint32_t most = 0;
        for (unsigned i = 1; i <= sl->nclass; i++) {
            struct slab_class *c = &sl->cls[i];
            uint32_t n = __atomic_load_n(&c->npages, __ATOMIC_RELAXED);
            bool seen = c == except;
            for (unsigned k = 0; k < ntried && !seen; k++)
                seen = tried[k] == c;
            if (!seen && n > most) {
                most = n;
                src = c;
            }
        }
        if (src == NULL)
            return NULL;
        tried[ntried++] = src;
        if (pthread_mutex_trylock(&src->lock) != 0)
            continue;
        char *page = page_detach_any(s, src);
        pthread_mutex_unlock(&src->lock);
        if (page != NULL)
            return page;
    }
    return NULL;
}

/* Free large items until `need` bytes fit in the budget; takes them.
 * Blocking on the large lock is safe from under a class or shard lock:
 * whoever holds the large lock takes shard and class locks only by trylock. */
static bool large_make_room(struct store *s, size_t need)
{
    struct slab_class *lc = &s->slabs.cls[s->slabs.large_id];
    bool ok;
    pthread_mutex_lock(&lc->lock);
    while (!(ok = budget_take(&s->slabs, need)))
        if (!clock_evict_large(s, lc))
            break;
    pthread_mutex_unlock(&lc->lock);
    return ok;
}

/* Give class c (locked) one more page taken from elsewhere: whichever of
 * the richest other class and the large items holds more memory. */
static bool page_steal(struct store *s, struct slab_class *c)
{
    struct slabs *sl = &s->slabs;
    struct slab_class *lc = &sl->cls[sl->large_id];
    struct slab_class *rich = richest_class(sl, c);
    uint64_t rich_bytes = rich ? (uint64_t)__atomic_load_n(&rich->npages, __ATOMIC_RELAXED) *
                                     SLAB_PAGE_SIZE
                               : 0;
    uint64_t large_bytes = __atomic_load_n(&lc->large_bytes, __ATOMIC_RELAXED);
    char *page = NULL;

    if (large_bytes > rich_bytes && large_make_room(s, SLAB_PAGE_SIZE)) {
        page = pages_get(&sl->pages);
        if (page == NULL) {
            budget_put(sl, SLAB_PAGE_SIZE);
            STAT_ADD(s->malloc_fails, 1);
            return false;
        }
    }
    if (page == NULL)
        page = page_steal_slab(s, c);
    if (page == NULL)
        return false;
    if (!page_add(c, page)) {
        pages_put(&sl->pages, page, false);
        budget_put(sl, SLAB_PAGE_SIZE);
        return false;
    }
    return true;
}

/* Age balancing, checked once per `perpage` evictions a class needs: if
 * the class holding the most pages would next evict an item idle more than
 * twice as long as ours, its memory is worth less than ours, so one of its
 * pages moves here. Without this a class that owned one page when memory
 * filled up would stay that small after the workload's sizes shift. */
static bool rebalance(struct store *s, struct slab_class *c)
{
    if (++c->since_check < c->perpage)
        return false;
    c->since_check = 0;
    struct slab_class *r = richest_class(&s->slabs, c);
    if (r == NULL || __atomic_load_n(&r->npages, __ATOMIC_RELAXED) <= c->npages)
        return false;
    uint32_t now = clock_now(), mine = hand_age(c, now);
    if (pthread_mutex_trylock(&r->lock) != 0)
        return false;
    char *page = hand_age(r, now) > 2 * mine + 1 ? page_detach_any(s, r) : NULL;
    pthread_mutex_unlock(&r->lock);
    if (page == NULL)
        return false;
    if (!page_add(c, page)) {
        pages_put(&s->slabs.pages, page, false);
        budget_put(&s->slabs, SLAB_PAGE_SIZE);
        return false;
    }
    return true;
}

/* --- allocation ---------------------------------------------------------- */

static void item_init(struct store_item *it, uint8_t clsid, const char *key, size_t nkey,
                      uint32_t flags, uint32_t nvalue)
{
    it->next = NULL;
    it->version = 0;
    it->exptime = 0;
    item_atime_set(it, 0);
    it->nvalue = nvalue;
    it->nkey = (uint8_t)nkey;
    it->clsid = clsid;
    item_store_flags(it, flags != 0 ? ITEM_HAS_FLAGS : 0);
    if (flags != 0)
        memcpy(it->data, &flags, 4);
    memcpy(item_key(it), key, nkey);
}

static enum store_status alloc_chunk(struct store *s, uint8_t id, struct store_item **out)
{
    struct slab_class *c = &s->slabs.cls[id];
    struct store_item *it = NULL;
    for (int i = 0; i < ALLOC_ATTEMPTS * ALLOC_ROUNDS && it == NULL; i++) {
        if ((it = chunk_pop(c)) != NULL)
            break;
        if (page_new(s, c))
            continue;
        if (!s->cfg.evict)
            break;
        if (rebalance(s, c) || clock_evict(s, c) || page_steal(s, c))
            continue;
        /* Every candidate was locked by another thread: transient. */
        if (i % ALLOC_ATTEMPTS == ALLOC_ATTEMPTS - 1)
            sched_yield();
    }
    if (it == NULL) {
        c->outofmemory++;
        return STORE_NO_MEMORY;
    }
    *out = it;
    return STORE_OK;
}

/* Make room for a large item of `alloc` bytes (large lock held). */
static bool large_budget(struct store *s, struct slab_class *lc, size_t alloc)
{
    size_t rounds = 2 * (alloc / SLAB_PAGE_SIZE) + 64;
    for (size_t i = 0; i < rounds; i++) {
        if (budget_take(&s->slabs, alloc))
            return true;
        if (!s->cfg.evict)
            return false;
        if (clock_evict_large(s, lc))
            continue;
        char *page = page_steal_slab(s, NULL);
        if (page == NULL)
            return false;
        pages_put(&s->slabs.pages, page, true);
        budget_put(&s->slabs, SLAB_PAGE_SIZE);
    }
    return false;
}

/* What malloc really takes for n bytes (glibc): a 16-byte-rounded chunk
 * with an 8-byte header, or whole pages once it maps the block itself. */
static size_t malloc_footprint(size_t n)
{
    if (n >= 128 * 1024)
        return (n + 16 + 4095) & ~(size_t)4095;
    return (n + 8 + 15) & ~(size_t)15;
}

static enum store_status alloc_large(struct store *s, size_t ntotal, struct store_item **out)
{
    struct slab_class *lc = &s->slabs.cls[s->slabs.large_id];
    size_t want = sizeof(struct large_hdr) + ntotal;
    size_t alloc = malloc_footprint(want);
    pthread_mutex_lock(&lc->lock);
    if (!large_budget(s, lc, alloc)) {
        lc->outofmemory++;
        pthread_mutex_unlock(&lc->lock);
        return STORE_NO_MEMORY;
    }
    struct large_hdr *h = malloc(want);
    if (h == NULL) {
        budget_put(&s->slabs, alloc);
        pthread_mutex_unlock(&lc->lock);
        STAT_ADD(s->malloc_fails, 1);
        return STORE_NO_MEMORY;
    }
    h->alloc = alloc;
    if (lc->ring == NULL) {
        h->next = h->prev = h;
        lc->ring = h;
    } else { /* just behind the hand: the last to be examined */
        h->next = lc->ring;
        h->prev = lc->ring->prev;
        h->prev->next = h;
        lc->ring->prev = h;
    }
    lc->large_count++;
    STAT_ADD(lc->large_bytes, h->alloc);
    *out = large_hdr_item(h);
    return STORE_OK; /* lock still held: the caller writes the key first */
}

enum store_status slab_alloc(struct store *s, const char *key, size_t nkey, uint32_t flags,
                             uint32_t nvalue, struct store_item **out)
{
    size_t ntotal = item_ntotal(nkey, flags, nvalue);
    uint8_t id = slab_class_for(&s->slabs, ntotal);
    struct slab_class *c = &s->slabs.cls[id];
    enum store_status st;

    if (c->large) {
        if ((st = alloc_large(s, ntotal, out)) == STORE_OK) {
            item_init(*out, id, key, nkey, flags, nvalue);
            pthread_mutex_unlock(&c->lock);
        }
        return st;
    }
    pthread_mutex_lock(&c->lock);
    if ((st = alloc_chunk(s, id, out)) == STORE_OK)
        item_init(*out, id, key, nkey, flags, nvalue);
    pthread_mutex_unlock(&c->lock);
    return st;
}

void slab_free(struct store *s, struct store_item *it)
{
    struct slab_class *c = &s->slabs.cls[it->clsid];
    pthread_mutex_lock(&c->lock);
    if (!c->large) {
        chunk_push(c, it);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    struct large_hdr *h = item_large_hdr(it);
    if (h->next == h) {
        c->ring = NULL;
    } else {
        h->prev->next = h->next;
        h->next->prev = h->prev;
        if (c->ring == h)
            c->ring = h->next;
    }
    c->large_count--;
    STAT_SUB(c->large_bytes, h->alloc);
    pthread_mutex_unlock(&c->lock);
    budget_put(&s->slabs, h->alloc);
    free(h);
}

/* --- shrinking and stats --------------------------------------------------- */

bool slab_shrink(struct store *s, size_t target)
{
    struct slabs *sl = &s->slabs;
    struct slab_class *lc = &sl->cls[sl->large_id];
    int failures = 0;
    while (__atomic_load_n(&sl->used, __ATOMIC_RELAXED) > target) {
        if (failures > 16)
            return false; /* busy items in the way; store_maintain retries */
        pthread_mutex_lock(&lc->lock);
        bool freed = clock_evict_large(s, lc);
        pthread_mutex_unlock(&lc->lock);
        if (freed) {
            failures = 0;
            continue;
        }
        char *page = page_steal_slab(s, NULL);
        if (page == NULL) {
            failures++;
            continue;
        }
        pages_put(&sl->pages, page, true);
        budget_put(sl, SLAB_PAGE_SIZE);
        failures = 0;
    }
    return true;
}

bool slab_class_stats(struct store *s, unsigned id, struct store_class_stats *o)
{
    struct slab_class *c = &s->slabs.cls[id];
    uint32_t now = clock_now();
    pthread_mutex_lock(&c->lock);
    *o = (struct store_class_stats){.clsid = (uint8_t)id};
    o->number = STAT_GET(c->number);
    o->mem_requested = STAT_GET(c->mem_requested);
    if (c->large) {
        o->chunk_size = (uint32_t)s->cfg.item_size_max;
        o->chunks_per_page = 1;
        o->total_pages = o->total_chunks = o->used_chunks = c->large_count;
        if (c->ring != NULL) {
            uint32_t at = item_atime(large_hdr_item(c->ring));
            o->age = now > at ? now - at : 0;
        }
    } else {
        o->chunk_size = c->size;
        o->chunks_per_page = c->perpage;
        o->total_pages = c->npages;
        o->total_chunks = (uint64_t)c->npages * c->perpage;
        o->free_chunks = c->nfree + c->carve_left;
        o->free_chunks_end = c->carve_left;
        o->used_chunks = o->total_chunks - o->free_chunks;
        /* The item under the hand is the next eviction candidate: its idle
         * time stands in for memcached's LRU tail age. */
        o->age = hand_age(c, now);
    }
    o->evicted = c->evicted;
    o->evicted_nonzero = c->evicted_nonzero;
    o->evicted_time = c->evicted_time;
    o->outofmemory = c->outofmemory;
    o->reclaimed = c->reclaimed;
    o->expired_unfetched = c->expired_unfetched;
    o->evicted_unfetched = c->evicted_unfetched;
    o->evicted_active = c->evicted_active;
    bool used = o->total_pages > 0 || o->number > 0;
    pthread_mutex_unlock(&c->lock);
    return used;
}
