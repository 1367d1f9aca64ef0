/*
 * merge: last-writer-wins application of records from peers, snapshots and
 * backups.
 *
 * A record carries its version; it replaces what we hold for the key (a
 * live item or a tombstone) only if its version is strictly higher, so
 * applying the same stream twice, or two streams in any order, ends in the
 * same state. A record whose version is behind a flush cutoff is dropped:
 * the flush already said everything that old is gone. Every applied version
 * is folded into our clock (hlc_observe), so a local write made afterwards
 * is newer than anything we have seen.
 *
 * Tombstone records become tombstones (kept tombstone_ttl seconds). With
 * tombstone_ttl == 0 no tombstones are kept, and a newer tombstone record
 * just deletes an older item. Evictions are never turned into records.
 */
#include "store/store_int.h"

#include "core/clock.h"
#include "core/hlc.h"

/* Build the item or tombstone a record describes (shard lock held). */
static enum store_status record_item(struct store *s, const struct store_record *r, uint32_t now,
                                     struct store_item **out)
{
    uint32_t nvalue = r->tombstone ? 0 : r->nvalue;
    uint32_t flags = r->tombstone ? 0 : r->flags;
    struct store_item *it;
    if (slab_alloc(s, r->key, r->nkey, flags, nvalue, &it) != STORE_OK) {
        STAT_ADD(s->no_memory, 1);
        return STORE_NO_MEMORY;
    }
    if (nvalue > 0)
        memcpy(item_value(it), r->value, nvalue);
    it->version = r->version;
    item_atime_set(it, now);
    if (r->tombstone) {
        item_set(it, ITEM_TOMBSTONE);
        it->exptime = now + s->cfg.tombstone_ttl;
    } else {
        it->exptime = r->exptime;
    }
    if (r->binary_key)
        item_set(it, ITEM_BINARY_KEY);
    if (r->stale && !r->tombstone)
        item_set(it, ITEM_STALE);
    *out = it;
    return STORE_OK;
}

enum store_status store_apply(struct store *s, const struct store_record *r)
{
    if (r->nkey == 0)
        return STORE_IGNORED;
    if (r->nkey > STORE_KEY_MAX ||
        (!r->tombstone && !store_item_size_ok(s, r->nkey, r->flags, r->nvalue)))
        return STORE_TOO_LARGE;
    hlc_observe(r->version);
    uint32_t now = clock_now();
    if (store_version_flushed(s, r->version, now))
        return STORE_IGNORED;

    uint64_t h = htab_hash(r->key, r->nkey);
    struct shard *sh = store_shard(s, h);
    struct store_item *dead = NULL, *garbage = NULL, *it = NULL;
    enum store_status st = STORE_OK;

    pthread_mutex_lock(&sh->lock);
    store_shard_step(s, sh);
    struct store_item *old = store_lookup_locked(s, sh, h, r->key, r->nkey, now, false, &dead);
    if (old != NULL && old->version >= r->version) {
        st = STORE_IGNORED;
    } else if (r->tombstone && s->cfg.tombstone_ttl == 0) {
        if (old != NULL) {
            store_unlink_locked(s, sh, h, old);
            garbage = old;
        }
        store_emit_tomb(s, r->key, r->nkey, r->version, r->binary_key, !r->local);
    } else if ((st = record_item(s, r, now, &it)) == STORE_OK) {
        if (old != NULL) {
            store_replace_locked(s, sh, h, old, it);
            garbage = old;
        } else {
            store_link_locked(s, sh, h, it);
        }
        store_emit_item(s, it, !r->local);
    } else if (old != NULL && r->tombstone) {
        /* No memory for the tombstone: the delete must still happen. */
        store_unlink_locked(s, sh, h, old);
        garbage = old;
        store_emit_tomb(s, r->key, r->nkey, r->version, r->binary_key, !r->local);
    }
    pthread_mutex_unlock(&sh->lock);
    if (dead != NULL)
        slab_free(s, dead);
    if (garbage != NULL)
        slab_free(s, garbage);
    return st;
}
