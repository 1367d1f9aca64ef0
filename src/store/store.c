/*
 * store: lifecycle, reads and client writes.
 *
 * Every operation on a key follows one pattern:
 *
 *     h = XXH3(key); shard = top 6 bits of h
 *     lock shard; move HTAB_STEP buckets if the shard is growing
 *     look the key up, unlinking it if dead (expired / flushed)
 *     decide, stamp hlc_now() on any change, link / replace / unlink
 *     copy out through the caller's view callback
 *     unlock; free what was unlinked
 *
 * Memory is freed after the shard lock is dropped, so a critical section
 * is a hash lookup plus a few stores; only writes that must build a new item
 * from the old one (append, prepend, a longer incr, vivify, a tombstone)
 * allocate under the shard lock, which the lock order shard -> class allows.
 *
 * Versions: every modification stamps hlc_now() under the shard lock, so
 * versions of one key only grow, and the version is the CAS value handed to
 * clients. touch and gat change the expiry only, like memcached's CAS.
 */
#include "store/store_int.h"

#include "core/clock.h"
#include "core/hlc.h"

#include <stdlib.h>

/* --- lifecycle ------------------------------------------------------------ */

void store_config_init(struct store_config *cfg)
{
    *cfg = (struct store_config){
        .mem_limit = 64u * 1024 * 1024,
        .item_size_max = 1024 * 1024,
        .evict = true,
        .use_cas = true,
        .hashpower = 16,
        .hash_expand = true,
        .growth_factor = 1.25,
        .chunk_min = 48,
        .tombstone_ttl = 0,
    };
}

static const char *config_check(const struct store_config *cfg)
{
    if (cfg->item_size_max < 1024)
        return "item size limit must be at least 1 KiB";
    if (cfg->item_size_max > (size_t)1024 * 1024 * 1024)
        return "item size limit must be at most 1 GiB";
    if (cfg->hashpower > 40)
        return "hashpower must be at most 40";
    return NULL;
}

struct store *store_create(const struct store_config *cfg, const char **err)
{
    const char *why = config_check(cfg);
    if (why != NULL) {
        *err = why;
        return NULL;
    }
    if (!htab_pointers_ok()) {
        *err = "this system hands out addresses above 2^48, where the hash table keeps its "
               "filters (see src/store/hash.h); run on x86-64 or AArch64 with 48-bit user space";
        return NULL;
    }
    struct store *s;
    if (posix_memalign((void **)&s, 64, sizeof(*s)) != 0) {
        *err = "out of memory";
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->sweep_enabled = !cfg->no_sweep;
    if (!slab_setup(&s->slabs, cfg, err)) {
        free(s);
        return NULL;
    }
    unsigned power = cfg->hashpower > STORE_SHARD_BITS + 2 ? cfg->hashpower - STORE_SHARD_BITS : 2;
    for (unsigned i = 0; i < STORE_NSHARD; i++) {
        pthread_mutex_init(&s->shards[i].lock, NULL);
        if (!htab_init(&s->shards[i].tab, power)) {
            *err = "out of memory for the hash table";
            for (unsigned j = 0; j <= i; j++)
                htab_free(&s->shards[j].tab);
            slab_teardown(&s->slabs);
            free(s);
            return NULL;
        }
    }
    pthread_mutex_init(&s->flush.lock, NULL);
    pthread_mutex_init(&s->maint_lock, NULL);
    return s;
}

void store_destroy(struct store *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < STORE_NSHARD; i++) {
        htab_free(&s->shards[i].tab);
        pthread_mutex_destroy(&s->shards[i].lock);
    }
    slab_teardown(&s->slabs); /* frees the items with their pages */
    pthread_mutex_destroy(&s->flush.lock);
    pthread_mutex_destroy(&s->maint_lock);
    free(s);
}

/* --- linking and lookup (shard lock held) ----------------------------------- */

static void account(struct store *s, struct shard *sh, struct store_item *it, int dir)
{
    struct slab_class *c = &s->slabs.cls[it->clsid];
    if (item_has(it, ITEM_TOMBSTONE)) {
        sh->curr_tombstones += (uint64_t)(int64_t)dir;
        return;
    }
    uint64_t size = item_size(it);
    if (dir > 0) {
        sh->curr_items++;
        sh->total_items++;
        sh->bytes += size;
        STAT_ADD(c->number, 1);
        STAT_ADD(c->mem_requested, size);
    } else {
        sh->curr_items--;
        sh->bytes -= size;
        STAT_SUB(c->number, 1);
        STAT_SUB(c->mem_requested, size);
    }
}

void store_link_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *it)
{
    item_set(it, ITEM_LINKED);
    htab_insert(&sh->tab, h, it);
    account(s, sh, it, +1);
    htab_maybe_grow(&sh->tab, s->cfg.hash_expand);
}

void store_unlink_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *it)
{
    htab_remove(&sh->tab, h, it);
    item_clear(it, ITEM_LINKED | ITEM_REFERENCED);
    account(s, sh, it, -1);
}

void store_replace_locked(struct store *s, struct shard *sh, uint64_t h, struct store_item *old,
                          struct store_item *repl)
{
    item_set(repl, ITEM_LINKED);
    htab_replace(&sh->tab, h, old, repl);
    item_clear(old, ITEM_LINKED | ITEM_REFERENCED);
    account(s, sh, old, -1);
    account(s, sh, repl, +1);
}

struct store_item *store_lookup_locked(struct store *s, struct shard *sh, uint64_t h,
                                       const char *key, size_t nkey, uint32_t now,
                                       bool count_misses, struct store_item **dead)
{
    struct store_item *it = htab_find(&sh->tab, h, key, nkey);
    if (it == NULL)
        return NULL;
    enum item_state st = store_item_state(s, it, now);
    if (st == ITEM_LIVE)
        return it;
    if (count_misses && !item_has(it, ITEM_TOMBSTONE)) {
        if (st == ITEM_EXPIRED)
            sh->get_expired++;
        else
            sh->get_flushed++;
    }
    store_unlink_locked(s, sh, h, it);
    *dead = it;
    return NULL;
}

void store_shard_step(struct store *s, struct shard *sh)
{
    (void)s;
    if (sh->tab.t1 != NULL)
        htab_rehash(&sh->tab, HTAB_STEP);
}

static void shard_lock(struct store *s, struct shard *sh)
{
    pthread_mutex_lock(&sh->lock);
    store_shard_step(s, sh);
}

static void free_if(struct store *s, struct store_item *it)
{
    if (it != NULL)
        slab_free(s, it);
}

void store_view_fill(struct store_item *it, struct store_view *v)
{
    unsigned fl = item_flags(it);
    *v = (struct store_view){
        .key = item_key(it),
        .nkey = it->nkey,
        .value = item_value(it),
        .nvalue = it->nvalue,
        .flags = item_client_flags(it),
        .exptime = it->exptime,
        .atime = item_atime(it),
        .version = it->version,
        .size = (uint32_t)item_size(it),
        .clsid = it->clsid,
        .fetched = (fl & ITEM_FETCHED) != 0,
        .stale = (fl & ITEM_STALE) != 0,
        .win_sent = (fl & ITEM_WIN_SENT) != 0,
        .binary_key = (fl & ITEM_BINARY_KEY) != 0,
        .tombstone = (fl & ITEM_TOMBSTONE) != 0,
        .prev_exptime = it->exptime,
    };
}

/* --- reads ---------------------------------------------------------------- */

/* mg R's token: a TTL, or an absolute time past 30 days (memcached's rule). */
static uint32_t recache_deadline(uint32_t ttl, uint32_t now)
{
    return ttl > 60 * 60 * 24 * 30 ? ttl : now + ttl;
}

void store_emit_item(struct store *s, struct store_item *it, bool applied)
{
    if (s->cfg.on_change == NULL)
        return;
    struct store_view v;
    store_view_fill(it, &v);
    bool tomb = item_has(it, ITEM_TOMBSTONE);
    struct store_change ch = {.kind = tomb ? STORE_CHANGE_TOMB : STORE_CHANGE_SET,
                              .item = &v, .applied = applied};
    s->cfg.on_change(s->cfg.on_change_arg, &ch);
}

void store_emit_tomb(struct store *s, const char *key, size_t nkey, uint64_t version,
                     bool binary_key, bool applied)
{
    if (s->cfg.on_change == NULL)
        return;
    struct store_view v = {.key = key, .nkey = (uint8_t)nkey, .version = version,
                           .binary_key = binary_key, .tombstone = true};
    struct store_change ch = {.kind = STORE_CHANGE_TOMB, .item = &v, .applied = applied};
    s->cfg.on_change(s->cfg.on_change_arg, &ch);
}

/* mg N: create an empty item on a miss (shard lock held). */
static struct store_item *vivify(struct store *s, struct shard *sh, uint64_t h, const char *key,
                                 size_t nkey, uint32_t exptime, uint32_t now,
                                 struct store_item **tomb)
{
    struct store_item *it;
    if (slab_alloc(s, key, nkey, 0, 0, &it) != STORE_OK)
        return NULL;
    it->exptime = exptime;
    item_atime_set(it, now);
    it->version = hlc_now();
    struct store_item *old = htab_find(&sh->tab, h, key, nkey); /* a tombstone */
    if (old != NULL) {
        store_replace_locked(s, sh, h, old, it);
        *tomb = old;
    } else {
        store_link_locked(s, sh, h, it);
    }
    return it;
}

uint64_t store_hash(const char *key, size_t nkey) { return htab_hash(key, nkey); }

void store_prefetch(struct store *s, uint64_t h, bool item)
{
    if (item)
        htab_prefetch_item(&store_shard(s, h)->tab, h);
    else
        htab_prefetch(&store_shard(s, h)->tab, h);
}

enum store_status store_fetch(struct store *s, const char *key, size_t nkey,
                              const struct store_fetch *opt, store_view_fn fn, void *arg)
{
    return store_fetch_hashed(s, key, nkey, htab_hash(key, nkey), opt, fn, arg);
}

enum store_status store_fetch_hashed(struct store *s, const char *key, size_t nkey, uint64_t h,
                                     const struct store_fetch *opt, store_view_fn fn, void *arg)
{
    static const struct store_fetch none;
    if (nkey == 0 || nkey > STORE_KEY_MAX)
        return STORE_NOT_FOUND;
    if (opt == NULL)
        opt = &none;
    struct shard *sh = store_shard(s, h);
    uint32_t now = clock_now();
    struct store_item *dead = NULL, *tomb = NULL;
    bool created = false;

    shard_lock(s, sh);
    struct store_item *it = store_lookup_locked(s, sh, h, key, nkey, now, true, &dead);
    if (it != NULL && item_has(it, ITEM_TOMBSTONE))
        it = NULL;
    if (it == NULL && opt->vivify) {
        it = vivify(s, sh, h, key, nkey, opt->vivify_exptime, now, &tomb);
        created = it != NULL;
        if (created)
            store_emit_item(s, it, false);
    }
    if (it == NULL) {
        pthread_mutex_unlock(&sh->lock);
        free_if(s, dead);
        return STORE_NOT_FOUND;
    }

    struct store_view v;
    store_view_fill(it, &v);
    if (opt->touch && !created) {
        it->exptime = opt->exptime;
        if (s->cfg.touch_new_version)
            it->version = hlc_now();
        store_emit_item(s, it, false);
    }
    bool won = created;
    unsigned fl = item_flags(it);
    if (opt->recache && !created && !(fl & ITEM_WIN_SENT) && it->exptime != 0 &&
        it->exptime < recache_deadline(opt->recache_ttl, now))
        won = true;
    if ((fl & ITEM_STALE) && !(fl & ITEM_WIN_SENT))
        won = true;
    if (won)
        item_set(it, ITEM_WIN_SENT);
    if (!opt->no_bump && !created) {
        item_atime_set(it, now);
        if ((fl & (ITEM_FETCHED | ITEM_REFERENCED)) != (ITEM_FETCHED | ITEM_REFERENCED))
            item_set(it, ITEM_FETCHED | ITEM_REFERENCED);
    }
    v.exptime = it->exptime;
    v.version = it->version;
    v.won = won;
    v.created = created;
    if (fn != NULL)
        fn(arg, &v);
    pthread_mutex_unlock(&sh->lock);
    free_if(s, dead);
    free_if(s, tomb);
    return STORE_OK;
}

/* --- writes --------------------------------------------------------------- */

bool store_item_size_ok(const struct store *s, size_t nkey, uint32_t flags, size_t nvalue)
{
    size_t n = 48 + (s->cfg.use_cas ? 8 : 0) + nkey + 1 + nvalue + 2 + (flags != 0 ? 4 : 0);
    return nvalue <= UINT32_MAX && n <= s->cfg.item_size_max;
}

enum store_status store_item_alloc(struct store *s, const char *key, size_t nkey, uint32_t flags,
                                   uint32_t exptime, uint32_t nvalue, struct store_item **out)
{
    if (nkey == 0 || nkey > STORE_KEY_MAX || !store_item_size_ok(s, nkey, flags, nvalue)) {
        STAT_ADD(s->too_large, 1);
        return STORE_TOO_LARGE;
    }
    if (slab_alloc(s, key, nkey, flags, nvalue, out) != STORE_OK) {
        STAT_ADD(s->no_memory, 1);
        return STORE_NO_MEMORY;
    }
    (*out)->exptime = exptime;
    return STORE_OK;
}

char *store_item_data(struct store_item *it) { return item_value(it); }

uint8_t store_item_class(const struct store_item *it) { return it->clsid; }

unsigned store_class_count(const struct store *s) { return s->slabs.large_id; }

void store_item_free(struct store *s, struct store_item *it) { slab_free(s, it); }

/* append/prepend: a new item holding both values, with the old flags and
 * expiry (shard lock held). NULL if it cannot be built. */
static struct store_item *concat(struct store *s, struct store_item *old, struct store_item *add,
                                 bool append)
{
    uint32_t flags = item_client_flags(old);
    uint64_t n = (uint64_t)old->nvalue + add->nvalue;
    struct store_item *it;
    if (!store_item_size_ok(s, old->nkey, flags, n) ||
        slab_alloc(s, item_key(old), old->nkey, flags, (uint32_t)n, &it) != STORE_OK)
        return NULL;
    it->exptime = old->exptime;
    char *dst = item_value(it);
    struct store_item *first = append ? old : add, *second = append ? add : old;
    memcpy(dst, item_value(first), first->nvalue);
    memcpy(dst + first->nvalue, item_value(second), second->nvalue);
    if (item_has(old, ITEM_BINARY_KEY))
        item_set(it, ITEM_BINARY_KEY);
    return it;
}

struct link_ctx {
    struct store_item *in;  /* the client's item */
    struct store_item *old; /* live item, tombstone or NULL */
    bool live;              /* old is a live item */
};

/* Decide what a write does; returns the item to install or NULL with *st. */
static struct store_item *link_decide(struct store *s, struct link_ctx *c,
                                      const struct store_write *w, enum store_status *st)
{
    struct store_item *old = c->live ? c->old : NULL;
    *st = STORE_OK;
    switch (w->mode) {
    case STORE_SET:
        return c->in;
    case STORE_ADD:
        if (old != NULL) {
            *st = STORE_NOT_STORED;
            return NULL;
        }
        return c->in;
    case STORE_REPLACE:
        if (old == NULL)
            *st = STORE_NOT_STORED;
        return old != NULL ? c->in : NULL;
    case STORE_APPEND:
    case STORE_PREPEND: {
        if (old == NULL) {
            *st = STORE_NOT_STORED;
            return NULL;
        }
        if (w->cas != 0 && w->cas != old->version) {
            *st = STORE_EXISTS;
            return NULL;
        }
        struct store_item *it = concat(s, old, c->in, w->mode == STORE_APPEND);
        if (it == NULL)
            *st = STORE_NOT_STORED; /* memcached answers NOT_STORED here */
        return it;
    }
    case STORE_CAS:
        if (old == NULL) {
            *st = STORE_NOT_FOUND;
            return NULL;
        }
        if (w->cas == old->version)
            return c->in;
        if (w->invalidate && w->cas != 0 && w->cas < old->version) {
            /* ms I: the lower CAS is accepted; keep the TTL, mark it stale and
             * carry over a win token already handed out. */
            c->in->exptime = old->exptime;
            item_set(c->in, ITEM_STALE | (item_flags(old) & ITEM_WIN_SENT));
            return c->in;
        }
        *st = STORE_EXISTS;
        return NULL;
    }
    *st = STORE_NOT_STORED;
    return NULL;
}

enum store_status store_item_link(struct store *s, struct store_item *it,
                                  const struct store_write *w, uint64_t *version)
{
    uint64_t h = htab_hash(item_key(it), it->nkey);
    struct shard *sh = store_shard(s, h);
    uint32_t now = clock_now();
    struct store_item *dead = NULL;
    enum store_status st;

    shard_lock(s, sh);
    struct link_ctx c = {.in = it};
    c.old = store_lookup_locked(s, sh, h, item_key(it), it->nkey, now, true, &dead);
    c.live = c.old != NULL && !item_has(c.old, ITEM_TOMBSTONE);
    struct store_item *nw = link_decide(s, &c, w, &st);
    if (nw != NULL) {
        nw->version = hlc_now();
        item_atime_set(nw, now);
        if (w->binary_key)
            item_set(nw, ITEM_BINARY_KEY);
        if (c.old != NULL)
            store_replace_locked(s, sh, h, c.old, nw);
        else
            store_link_locked(s, sh, h, nw);
        if (version != NULL)
            *version = nw->version;
        store_emit_item(s, nw, false);
    }
    pthread_mutex_unlock(&sh->lock);
    free_if(s, dead);
    if (nw != NULL)
        free_if(s, c.old);
    if (nw != it)
        slab_free(s, it);
    return st;
}

/* Turn a deleted live item into a tombstone (shard lock held). Prefers a
 * small new chunk; without memory, the old item is converted in place.
 * Returns the memory to free afterwards. */
static struct store_item *entomb(struct store *s, struct shard *sh, uint64_t h,
                                 struct store_item *old, uint32_t now)
{
    struct store_item *t;
    if (slab_alloc(s, item_key(old), old->nkey, 0, 0, &t) == STORE_OK) {
        item_set(t, ITEM_TOMBSTONE | (item_flags(old) & ITEM_BINARY_KEY));
        t->version = hlc_now();
        t->exptime = now + s->cfg.tombstone_ttl;
        item_atime_set(t, now);
        store_replace_locked(s, sh, h, old, t);
        return old;
    }
    store_unlink_locked(s, sh, h, old);
    old->nvalue = 0;
    item_clear(old, ITEM_STALE | ITEM_WIN_SENT | ITEM_FETCHED);
    item_set(old, ITEM_TOMBSTONE);
    old->version = hlc_now();
    old->exptime = now + s->cfg.tombstone_ttl;
    store_link_locked(s, sh, h, old);
    return NULL;
}

enum store_status store_delete(struct store *s, const char *key, size_t nkey,
                               const struct store_delete *opt)
{
    static const struct store_delete none;
    if (nkey == 0 || nkey > STORE_KEY_MAX)
        return STORE_NOT_FOUND;
    if (opt == NULL)
        opt = &none;
    uint64_t h = htab_hash(key, nkey);
    struct shard *sh = store_shard(s, h);
    uint32_t now = clock_now();
    struct store_item *dead = NULL, *garbage = NULL;
    enum store_status st = STORE_OK;

    shard_lock(s, sh);
    struct store_item *it = store_lookup_locked(s, sh, h, key, nkey, now, true, &dead);
    if (it == NULL || item_has(it, ITEM_TOMBSTONE)) {
        st = STORE_NOT_FOUND;
    } else if (opt->cas != 0 && opt->cas != it->version) {
        st = STORE_EXISTS;
    } else if (opt->invalidate) {
        if (opt->touch)
            it->exptime = opt->exptime;
        item_set(it, ITEM_STALE);
        item_clear(it, ITEM_WIN_SENT); /* so the next reader can win */
        it->version = hlc_now();
        store_emit_item(s, it, false);
    } else if (s->cfg.tombstone_ttl > 0) {
        garbage = entomb(s, sh, h, it, now);
        store_emit_item(s, htab_find(&sh->tab, h, key, nkey), false);
    } else {
        store_unlink_locked(s, sh, h, it);
        store_emit_tomb(s, key, nkey, hlc_now(), item_has(it, ITEM_BINARY_KEY), false);
        garbage = it;
    }
    pthread_mutex_unlock(&sh->lock);
    free_if(s, dead);
    free_if(s, garbage);
    return st;
}

/* --- stats ---------------------------------------------------------------- */

static unsigned log2_floor(uint64_t n)
{
    return n == 0 ? 0 : 63 - (unsigned)__builtin_clzll(n);
}

void store_stats(struct store *s, struct store_stats *o)
{
    uint64_t buckets = 0, bytes_tab = 0;
    *o = (struct store_stats){0};
    for (unsigned i = 0; i < STORE_NSHARD; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        o->curr_items += sh->curr_items;
        o->curr_tombstones += sh->curr_tombstones;
        o->total_items += sh->total_items;
        o->bytes += sh->bytes;
        o->get_expired += sh->get_expired;
        o->get_flushed += sh->get_flushed;
        buckets += sh->tab.mask0 + 1;
        bytes_tab += htab_buckets(&sh->tab) * sizeof(uint64_t);
        o->hash_is_expanding |= sh->tab.t1 != NULL;
        pthread_mutex_unlock(&sh->lock);
    }
    o->hash_power_level = log2_floor(buckets);
    o->hash_bytes = bytes_tab;
    o->mem_used = STAT_GET(s->slabs.used);
    o->limit_maxbytes = STAT_GET(s->slabs.limit);
    for (unsigned id = 1; id <= s->slabs.nclass + 1; id++) {
        struct slab_class *c = &s->slabs.cls[id];
        pthread_mutex_lock(&c->lock);
        o->evictions += c->evicted;
        o->evicted_unfetched += c->evicted_unfetched;
        o->evicted_active += c->evicted_active;
        o->reclaimed += c->reclaimed;
        o->expired_unfetched += c->expired_unfetched;
        pthread_mutex_unlock(&c->lock);
    }
    o->crawler_reclaimed = STAT_GET(s->crawler_reclaimed);
    o->crawler_items_checked = STAT_GET(s->crawler_items_checked);
    o->store_too_large = STAT_GET(s->too_large);
    o->store_no_memory = STAT_GET(s->no_memory);
    o->malloc_fails = STAT_GET(s->malloc_fails);
}

void store_stats_reset(struct store *s)
{
    for (unsigned i = 0; i < STORE_NSHARD; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        sh->total_items = sh->get_expired = sh->get_flushed = 0;
        pthread_mutex_unlock(&sh->lock);
    }
    for (unsigned id = 1; id <= s->slabs.nclass + 1; id++) {
        struct slab_class *c = &s->slabs.cls[id];
        pthread_mutex_lock(&c->lock);
        c->evicted = c->evicted_nonzero = c->evicted_unfetched = c->evicted_active = 0;
        c->reclaimed = c->expired_unfetched = c->outofmemory = 0;
        c->evicted_time = 0;
        pthread_mutex_unlock(&c->lock);
    }
    __atomic_store_n(&s->crawler_reclaimed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->crawler_items_checked, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->too_large, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->no_memory, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->malloc_fails, 0, __ATOMIC_RELAXED);
}

size_t store_class_stats(struct store *s, struct store_class_stats *out, size_t max)
{
    size_t n = 0;
    for (unsigned id = 1; id <= s->slabs.nclass + 1 && n < max; id++)
        if (slab_class_stats(s, id, &out[n]))
            n++;
    return n;
}
