/*
 * arith: incr and decr, with memcached's number rules and its padding quirk.
 *
 * The value must read as memcached's safe_strtoull reads "<value>\r\n":
 * optional leading whitespace, an optional sign, at least one decimal digit,
 * no overflow of 64 bits, then whitespace or the end. A '-' is only refused
 * when the result would be negative as a signed number, so "-0" reads as 0
 * (as in memcached); "-5", "", "abc", "1.5" and 21-digit numbers do not
 * read. Anything after the first whitespace is ignored ("12 abc" is 12).
 *
 * incr wraps modulo 2^64; decr stops at 0. The result is written in place,
 * right-padded with spaces to the old length, when it is not longer than
 * the old value ("100" decr 1 gives "99 "); otherwise a new item with the
 * same flags and expiry replaces the old one. Either way it gets a new
 * version. A miss with vivify creates the item holding `initial`, without
 * applying the delta (meta ma N/J).
 */
#include "store/store_int.h"

#include "core/clock.h"
#include "core/hlc.h"

#include <ctype.h>
#include <stdio.h>

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    size_t first = i;
    uint64_t v = 0;
    bool range = false;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            range = true;
        else
            v = v * 10 + d;
    }
    if (i == first || range)
        return false;
    if (i < n && !isspace((unsigned char)p[i]))
        return false; /* the end of the value stands for memcached's "\r\n" */
    if (neg)
        v = (uint64_t)0 - v;
    if ((int64_t)v < 0 && memchr(p, '-', n) != NULL)
        return false;
    *out = v;
    return true;
}

static size_t fmt_u64(char *buf, uint64_t v)
{
    return (size_t)snprintf(buf, 24, "%llu", (unsigned long long)v);
}

static void view_out(struct store_item *it, bool created, store_view_fn fn, void *arg)
{
    if (fn == NULL)
        return;
    struct store_view v;
    store_view_fill(it, &v);
    v.created = created;
    fn(arg, &v);
}

/* ma N on a miss: link a new item holding `initial` (shard lock held). */
static enum store_status arith_vivify(struct store *s, struct shard *sh, uint64_t h,
                                      const char *key, size_t nkey, const struct store_arith *a,
                                      uint32_t now, struct store_item **tomb,
                                      struct store_item **out)
{
    char buf[24];
    size_t len = fmt_u64(buf, a->initial);
    struct store_item *it;
    if (slab_alloc(s, key, nkey, 0, (uint32_t)len, &it) != STORE_OK)
        return STORE_NO_MEMORY;
    memcpy(item_value(it), buf, len);
    it->exptime = a->vivify_exptime;
    item_atime_set(it, now);
    it->version = hlc_now();
    struct store_item *old = htab_find(&sh->tab, h, key, nkey); /* a tombstone */
    if (old != NULL) {
        store_replace_locked(s, sh, h, old, it);
        *tomb = old;
    } else {
        store_link_locked(s, sh, h, it);
    }
    *out = it;
    return STORE_OK;
}

/* Write the number into `it`, or into a new item that replaces it. */
static enum store_status arith_write(struct store *s, struct shard *sh, uint64_t h,
                                     struct store_item *it, uint64_t v, uint32_t now,
                                     struct store_item **garbage, struct store_item **out)
{
    char buf[24];
    size_t len = fmt_u64(buf, v);
    if (len <= it->nvalue) {
        char *val = item_value(it);
        memcpy(val, buf, len);
        memset(val + len, ' ', it->nvalue - len);
        it->version = hlc_now();
        item_atime_set(it, now);
        *out = it;
        return STORE_OK;
    }
    struct store_item *nw;
    if (slab_alloc(s, item_key(it), it->nkey, item_client_flags(it), (uint32_t)len, &nw) !=
        STORE_OK)
        return STORE_NO_MEMORY;
    memcpy(item_value(nw), buf, len);
    nw->exptime = it->exptime;
    item_atime_set(nw, now);
    nw->version = hlc_now();
    item_set(nw, item_flags(it) & (ITEM_BINARY_KEY | ITEM_FETCHED | ITEM_STALE | ITEM_WIN_SENT));
    store_replace_locked(s, sh, h, it, nw);
    *garbage = it;
    *out = nw;
    return STORE_OK;
}

enum store_status store_arith(struct store *s, const char *key, size_t nkey,
                              const struct store_arith *a, uint64_t *value, store_view_fn fn,
                              void *arg)
{
    if (nkey == 0 || nkey > STORE_KEY_MAX)
        return STORE_NOT_FOUND;
    uint64_t h = htab_hash(key, nkey);
    struct shard *sh = store_shard(s, h);
    uint32_t now = clock_now();
    struct store_item *dead = NULL, *garbage = NULL, *out = NULL;
    enum store_status st;
    uint64_t v = 0;
    bool created = false;

    pthread_mutex_lock(&sh->lock);
    store_shard_step(s, sh);
    struct store_item *it = store_lookup_locked(s, sh, h, key, nkey, now, true, &dead);
    if (it != NULL && item_has(it, ITEM_TOMBSTONE)) {
        garbage = NULL;
        it = NULL;
    }
    if (it == NULL) {
        if (a->vivify) {
            st = arith_vivify(s, sh, h, key, nkey, a, now, &garbage, &out);
            v = a->initial;
            created = st == STORE_OK;
        } else {
            st = STORE_NOT_FOUND;
        }
    } else if (a->cas != 0 && a->cas != it->version) {
        st = STORE_EXISTS;
    } else if (!parse_u64(item_value(it), it->nvalue, &v)) {
        st = STORE_NON_NUMERIC;
    } else {
        if (a->incr)
            v += a->delta;
        else
            v = a->delta > v ? 0 : v - a->delta;
        st = arith_write(s, sh, h, it, v, now, &garbage, &out);
        if (st == STORE_OK && a->touch)
            out->exptime = a->exptime;
    }
    if (st == STORE_OK) {
        if (value != NULL)
            *value = v;
        store_emit_item(s, out, false);
        view_out(out, created, fn, arg);
    }
    pthread_mutex_unlock(&sh->lock);
    if (dead != NULL)
        slab_free(s, dead);
    if (garbage != NULL)
        slab_free(s, garbage);
    return st;
}
