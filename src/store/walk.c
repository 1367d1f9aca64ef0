/*
 * walk: everything that walks the table instead of looking up one key:
 * the resumable scan that full sync and snapshots use, and the bounded
 * background steps of store_maintain.
 *
 * Scan. The cursor is (shard, reverse-binary bucket cursor). Shards are
 * walked in order; inside a shard the bucket cursor is Redis's SCAN cursor
 * (see hash.h), which guarantees that an item present for the whole walk is
 * visited at least once even if the shard's table grows, once or several
 * times, between two calls. Items may be visited twice across a growth;
 * last-writer-wins makes that harmless for replication. A call visits whole
 * bucket families, so it may stop short of `max`, and it exceeds `max` only
 * when a single family holds more items than that.
 *
 * Maintenance, in small steps so it can run between client work:
 *   - fold a pending flush whose time has come;
 *   - move MAINT_REHASH buckets of each of up to MAINT_REHASH_HOLDS growing
 *     shards, one lock hold each, taking the shards in turn: with ~1.5
 *     items a bucket a hold is a couple of hundred key hashes, tens of
 *     microseconds, so a worker that needs the shard waits little (1024
 *     buckets took hundreds of microseconds, which showed in the p99.9
 *     during growth in docs/BENCHMARKS.md);
 *   - sweep up to MAINT_SWEEP items from a private cursor, unlinking
 *     expired and flushed items (crawler_reclaimed) and expired tombstones
 *     (tombstone GC), counting every item looked at (crawler_items_checked);
 *   - if a lowered memory limit has not been reached yet, release more.
 * store_maintain returns true while a growth or a sweep round is unfinished.
 * Sweep rounds start at most once a second (of clock_now()), so a caller
 * that loops while it returns true and then sleeps crawls the table at most
 * once a second. tandemd's caller sleeps about a millisecond between steps
 * even while there is more (src/server/main.c).
 *
 * A whole step is short too, not only each lock hold: whichever thread the
 * scheduler picks may run a full scheduler slice before a waking thread gets
 * its CPU back, whatever its nice value, so a worker that wakes up for a
 * request on the maintenance thread's CPU waits for the step to end. When a
 * step moved 128 buckets of all 64 shards it ran 0.5-1 ms, and `perf sched`
 * showed workers waiting that long behind it while a loaded table grew; a
 * step is now about a tenth of that.
 */
#include "store/store_int.h"

#include "core/clock.h"

#define MAINT_REHASH 128      /* buckets per shard lock hold */
#define MAINT_REHASH_HOLDS 8  /* shard lock holds per step */
#define MAINT_SWEEP 1024
#define MAINT_GARBAGE 256
#define SWEEP_INTERVAL 1 /* seconds between the starts of two sweep rounds, at least */
#define SWEEP_RATE 10000 /* items a second a sweep may look at, on average */
#define SWEEP_PAUSE_MAX 60 /* seconds between rounds, at most */

/* --- scan ------------------------------------------------------------------ */

struct scan_ctx {
    struct store *s;
    uint32_t now;
    bool tombstones;
    store_view_fn fn;
    void *arg;
    size_t visited;
};

static bool scan_visit(void *arg, struct store_item *it)
{
    struct scan_ctx *c = arg;
    if (store_item_state(c->s, it, c->now) != ITEM_LIVE)
        return true;
    if (item_has(it, ITEM_TOMBSTONE) && !c->tombstones)
        return true;
    struct store_view v;
    store_view_fill(it, &v);
    if (c->fn != NULL)
        c->fn(c->arg, &v);
    c->visited++;
    return true;
}

size_t store_scan(struct store *s, struct store_cursor *cur, size_t max, bool tombstones,
                  store_view_fn fn, void *arg)
{
    struct scan_ctx c = {s, clock_now(), tombstones, fn, arg, 0};
    if (cur->done || max == 0)
        return 0;
    while (cur->shard < STORE_NSHARD) {
        struct shard *sh = &s->shards[cur->shard];
        pthread_mutex_lock(&sh->lock);
        for (;;) {
            size_t family = htab_scan_family(&sh->tab, cur->bucket, NULL, NULL);
            if (c.visited > 0 && c.visited + family > max) {
                pthread_mutex_unlock(&sh->lock);
                return c.visited;
            }
            htab_scan_family(&sh->tab, cur->bucket, scan_visit, &c);
            cur->bucket = htab_scan_next(&sh->tab, cur->bucket);
            if (cur->bucket == 0) {
                cur->shard++;
                break;
            }
            if (c.visited >= max) {
                pthread_mutex_unlock(&sh->lock);
                return c.visited;
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    cur->done = true;
    return c.visited;
}

/* --- maintenance ------------------------------------------------------------- */

struct sweep_ctx {
    struct store *s;
    struct shard *sh;
    uint32_t now;
    size_t checked, reclaimed, ngarbage;
    struct store_item *garbage[MAINT_GARBAGE];
};

static bool sweep_visit(void *arg, struct store_item *it)
{
    struct sweep_ctx *c = arg;
    c->checked++;
    if (c->ngarbage == MAINT_GARBAGE)
        return false;
    if (store_item_state(c->s, it, c->now) == ITEM_LIVE)
        return true;
    if (!item_has(it, ITEM_TOMBSTONE))
        c->reclaimed++;
    store_unlink_locked(c->s, c->sh, htab_hash(item_key(it), it->nkey), it);
    c->garbage[c->ngarbage++] = it;
    return true;
}

/* One bounded sweep step; false when no round is under way. A new round
 * starts at most every SWEEP_INTERVAL seconds, so an idle server does not
 * crawl a big table back to back. */
static bool sweep_step(struct store *s)
{
    struct sweep_ctx c = {.s = s, .now = clock_now()};
    bool more = true;
    if (!s->sweeping) {
        uint32_t pause = s->sweep_pause > SWEEP_INTERVAL ? s->sweep_pause : SWEEP_INTERVAL;
        if (s->sweep_started != 0 && c.now - s->sweep_started < pause)
            return false;
        s->sweeping = true;
        s->sweep_started = c.now;
        s->sweep_shard = 0;
        s->sweep_cursor = 0;
        s->sweep_round_checked = 0;
    }
    while (c.checked < MAINT_SWEEP && c.ngarbage < MAINT_GARBAGE) {
        if (s->sweep_shard >= STORE_NSHARD) {
            /* pace rounds by table size: a big table is crawled at most
             * SWEEP_RATE items a second on average, so an idle server with
             * millions of items stays idle; lookups still expire lazily */
            s->sweeping = false;
            s->sweep_pause = (uint32_t)(s->sweep_round_checked / SWEEP_RATE);
            if (s->sweep_pause > SWEEP_PAUSE_MAX)
                s->sweep_pause = SWEEP_PAUSE_MAX;
            more = false;
            break;
        }
        c.sh = &s->shards[s->sweep_shard];
        pthread_mutex_lock(&c.sh->lock);
        for (int k = 0; k < 64 && c.checked < MAINT_SWEEP && c.ngarbage < MAINT_GARBAGE; k++) {
            htab_scan_family(&c.sh->tab, s->sweep_cursor, sweep_visit, &c);
            s->sweep_cursor = htab_scan_next(&c.sh->tab, s->sweep_cursor);
            if (s->sweep_cursor == 0) {
                s->sweep_shard++;
                break;
            }
        }
        pthread_mutex_unlock(&c.sh->lock);
        for (size_t i = 0; i < c.ngarbage; i++)
            slab_free(s, c.garbage[i]);
        c.ngarbage = 0;
    }
    s->sweep_round_checked += c.checked;
    STAT_ADD(s->crawler_items_checked, c.checked);
    STAT_ADD(s->crawler_reclaimed, c.reclaimed);
    return more;
}

static bool rehash_step(struct store *s)
{
    bool more = false;
    unsigned holds = 0;
    for (unsigned n = 0; n < STORE_NSHARD && holds < MAINT_REHASH_HOLDS; n++) {
        struct shard *sh = &s->shards[s->rehash_shard];
        s->rehash_shard = (s->rehash_shard + 1) % STORE_NSHARD;
        pthread_mutex_lock(&sh->lock);
        bool growing = sh->tab.t1 != NULL;
        more |= htab_rehash(&sh->tab, MAINT_REHASH);
        pthread_mutex_unlock(&sh->lock);
        holds += growing;
    }
    /* stopped early: the shards not looked at may still be growing */
    return more || holds == MAINT_REHASH_HOLDS;
}

bool store_maintain(struct store *s)
{
    if (pthread_mutex_trylock(&s->maint_lock) != 0)
        return false;
    store_flush_fold(s);
    bool more = rehash_step(s);
    if (__atomic_load_n(&s->sweep_enabled, __ATOMIC_RELAXED))
        more |= sweep_step(s);
    if (STAT_GET(s->slabs.used) > STAT_GET(s->slabs.limit))
        slab_shrink(s, STAT_GET(s->slabs.limit));
    pthread_mutex_unlock(&s->maint_lock);
    return more;
}

void store_set_sweep(struct store *s, bool on)
{
    __atomic_store_n(&s->sweep_enabled, on, __ATOMIC_RELAXED);
}

enum store_status store_set_limit(struct store *s, size_t mem_limit)
{
    if (mem_limit < 2 * SLAB_PAGE_SIZE)
        return STORE_NO_MEMORY;
    __atomic_store_n(&s->slabs.limit, mem_limit, __ATOMIC_RELAXED);
    if (STAT_GET(s->slabs.used) > mem_limit)
        slab_shrink(s, mem_limit); /* busy leftovers: store_maintain goes on */
    return STORE_OK;
}
