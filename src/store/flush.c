/*
 * flush: flush_all as a version cutoff, and item liveness.
 *
 * flush_all never walks the items. It records "every version below V is
 * gone", and every place that looks at an item asks store_item_state(),
 * which also checks expiry. Two cutoffs exist:
 *
 *   applied            versions below it are dead now. It only grows.
 *   pending (T, V)     at most one delayed flush: from Unix second T on,
 *                      versions below V are dead too. V is the smallest
 *                      version stampable at T (hlc_from_ms), so an item
 *                      written before T dies at T and one written after
 *                      lives.
 *
 * Like memcached's single oldest_live setting, a new flush_all replaces a
 * pending delayed one: a delayed flush replaces it, and an immediate flush
 * cancels it (memcached's `flush_all 100` then `flush_all` leaves only the
 * immediate one). Once T has passed, the pending pair is folded into applied
 * (lazily: by the next flush or store_maintain; readers compute it anyway).
 *
 * "New" means issued later, by version, not arrived later: two nodes that
 * issue delayed flushes at the same moment receive each other's in opposite
 * orders, and must still keep the same one. So every flush carries the
 * version it was issued at; a delayed flush becomes the pending one only if
 * it was issued after every flush seen so far (last_issued), and an
 * immediate flush cancels the pending one only if issued after it.
 *
 * Readers are lock-free: applied is one atomic, and the pending pair is read
 * under a seqlock whose writers hold flush.lock.
 */
#include "core/clock.h"
#include "core/hlc.h"
#include "store/store_int.h"

enum item_state store_item_state(struct store *s, const struct store_item *it, uint32_t now)
{
    if (it->exptime != 0 && it->exptime <= now)
        return ITEM_EXPIRED;
    if (store_version_flushed(s, it->version, now))
        return ITEM_FLUSHED;
    return ITEM_LIVE;
}

static void pending_read(struct flush_state *f, uint32_t *when, uint64_t *cutoff)
{
    uint32_t seq;
    do {
        seq = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE);
        *when = __atomic_load_n(&f->pend_time, __ATOMIC_RELAXED);
        *cutoff = __atomic_load_n(&f->pend_cutoff, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((seq & 1) || seq != __atomic_load_n(&f->seq, __ATOMIC_RELAXED));
}

bool store_version_flushed(struct store *s, uint64_t version, uint32_t now)
{
    struct flush_state *f = &s->flush;
    if (version < __atomic_load_n(&f->applied, __ATOMIC_ACQUIRE))
        return true;
    uint32_t when = __atomic_load_n(&f->pend_time, __ATOMIC_RELAXED);
    if (when == 0 || now < when)
        return false;
    uint64_t cutoff;
    pending_read(f, &when, &cutoff);
    return when != 0 && now >= when && version < cutoff;
}

/* flush.lock held. */
static void applied_raise(struct flush_state *f, uint64_t cutoff)
{
    if (cutoff > __atomic_load_n(&f->applied, __ATOMIC_RELAXED))
        __atomic_store_n(&f->applied, cutoff, __ATOMIC_RELEASE);
}

/* flush.lock held. */
static void pending_write(struct flush_state *f, uint32_t when, uint64_t cutoff, uint64_t issued)
{
    __atomic_store_n(&f->seq, f->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&f->pend_time, when, __ATOMIC_RELAXED);
    __atomic_store_n(&f->pend_cutoff, cutoff, __ATOMIC_RELAXED);
    f->pend_issued = issued; /* read only under flush.lock */
    __atomic_store_n(&f->seq, f->seq + 1, __ATOMIC_RELEASE);
}

/* flush.lock held: fold a pending flush whose time has come. */
static void pending_fold(struct flush_state *f, uint32_t now)
{
    if (f->pend_time != 0 && now >= f->pend_time) {
        applied_raise(f, f->pend_cutoff);
        pending_write(f, 0, 0, 0);
    }
}

void store_flush_fold(struct store *s)
{
    struct flush_state *f = &s->flush;
    if (__atomic_load_n(&f->pend_time, __ATOMIC_RELAXED) == 0)
        return;
    pthread_mutex_lock(&f->lock);
    pending_fold(f, clock_now());
    pthread_mutex_unlock(&f->lock);
}

static void flush_merge(struct store *s, uint64_t cutoff, uint32_t when, uint64_t issued,
                        bool applied)
{
    struct flush_state *f = &s->flush;
    uint32_t now = clock_now();
    pthread_mutex_lock(&f->lock);
    pending_fold(f, now);
    if (when == 0 || when <= now) {
        applied_raise(f, cutoff);
        if (f->pend_time != 0 && issued > f->pend_issued)
            pending_write(f, 0, 0, 0);
    } else if (issued > f->last_issued) {
        pending_write(f, when, cutoff, issued);
    }
    if (issued > f->last_issued)
        f->last_issued = issued;
    if (s->cfg.on_change != NULL) {
        struct store_change ch = {.kind = STORE_CHANGE_FLUSH, .cutoff = cutoff,
                                  .when = when, .issued = issued, .applied = applied};
        s->cfg.on_change(s->cfg.on_change_arg, &ch);
    }
    pthread_mutex_unlock(&f->lock);
}

void store_flush(struct store *s, uint32_t when)
{
    uint32_t now = clock_now();
    uint64_t issued = hlc_now();
    if (when == 0 || when == now)
        flush_merge(s, issued, 0, issued, false);
    else if (when < now) /* a time in the past: what was written up to then goes */
        flush_merge(s, hlc_from_ms(((uint64_t)when + 1) * 1000) | hlc_node(), 0, issued, false);
    else
        flush_merge(s, hlc_from_ms((uint64_t)when * 1000) | hlc_node(), when, issued, false);
}

void store_apply_flush(struct store *s, uint64_t cutoff, uint32_t when, uint64_t issued)
{
    /* A delayed flush's cutoff is a stamp from the future: observing it would
     * push our clock past T and every write we make before T would outlive
     * the flush. Only an immediate flush's cutoff is a real event to observe. */
    if (when == 0)
        hlc_observe(cutoff);
    if (issued == 0 && when == 0)
        issued = cutoff; /* an immediate flush is issued at its cutoff */
    if (issued)
        hlc_observe(issued);
    flush_merge(s, cutoff, when, issued, true);
}

void store_flush_state(struct store *s, struct store_flush_info *out)
{
    struct flush_state *f = &s->flush;
    pthread_mutex_lock(&f->lock);
    out->applied = f->applied;
    out->pend_when = f->pend_time;
    out->pend_cutoff = f->pend_cutoff;
    out->pend_issued = f->pend_issued;
    pthread_mutex_unlock(&f->lock);
}
