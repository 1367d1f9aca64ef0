/*
 * ctl/keyset: collect, sort, digest and merge-join the key lists of nodes.
 *
 * Comparing n nodes is a merge join over their sorted lists: at each step
 * the smallest head key is the next key of the union, and each node either
 * has it (its cas) or not (missing). That is O(total keys) after the sorts
 * and needs no hash map.
 */
#include "ctl/keyset.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static bool grow_arena(struct ctl_keyset *ks, size_t extra)
{
    if (ks->used + extra <= ks->cap)
        return true;
    size_t cap = ks->cap ? ks->cap : 64 * 1024;
    while (cap < ks->used + extra)
        cap *= 2;
    char *p = realloc(ks->arena, cap);
    if (!p)
        return false;
    ks->arena = p;
    ks->cap = cap;
    return true;
}

bool ctl_keyset_add(struct ctl_keyset *ks, const char *key, size_t len, uint64_t cas)
{
    if (len > UINT32_MAX || !grow_arena(ks, len))
        return false;
    if (ks->n == ks->ncap) {
        size_t ncap = ks->ncap ? ks->ncap * 2 : 1024;
        struct ctl_key *k = realloc(ks->keys, ncap * sizeof(*k));
        if (!k)
            return false;
        ks->keys = k;
        ks->ncap = ncap;
    }
    memcpy(ks->arena + ks->used, key, len);
    ks->keys[ks->n++] = (struct ctl_key){.off = ks->used, .len = (uint32_t)len, .cas = cas};
    ks->used += len;
    return true;
}

int ctl_key_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c)
        return c;
    return (na > nb) - (na < nb);
}

static int entry_cmp(const void *x, const void *y, void *arg)
{
    const char *arena = arg;
    const struct ctl_key *a = x, *b = y;
    int c = ctl_key_cmp(arena + a->off, a->len, arena + b->off, b->len);
    if (c)
        return c;
    return (a->cas > b->cas) - (a->cas < b->cas);
}

void ctl_keyset_finish(struct ctl_keyset *ks)
{
    if (ks->n < 2)
        return;
    qsort_r(ks->keys, ks->n, sizeof(ks->keys[0]), entry_cmp, ks->arena);
    size_t o = 0;
    for (size_t i = 0; i < ks->n; i++) {
        const struct ctl_key *k = &ks->keys[i];
        bool dup = o > 0 && ctl_key_cmp(ks->arena + ks->keys[o - 1].off, ks->keys[o - 1].len,
                                        ks->arena + k->off, k->len) == 0;
        /* equal keys are sorted by cas, so the last one seen is the highest */
        ks->keys[dup ? o - 1 : o++] = *k;
    }
    ks->n = o;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t ctl_keyset_digest(const struct ctl_keyset *ks)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h)
        abort(); /* a few hundred bytes; nothing sensible to report instead */
    XXH3_64bits_reset(h);
    for (size_t i = 0; i < ks->n; i++) {
        unsigned char len[4], cas[8];
        put_le(len, ks->keys[i].len, 4);
        put_le(cas, ks->keys[i].cas, 8);
        XXH3_64bits_update(h, len, sizeof(len));
        XXH3_64bits_update(h, ctl_keyset_key(ks, i), ks->keys[i].len);
        XXH3_64bits_update(h, cas, sizeof(cas));
    }
    uint64_t d = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return d;
}

void ctl_keyset_free(struct ctl_keyset *ks)
{
    free(ks->arena);
    free(ks->keys);
    memset(ks, 0, sizeof(*ks));
}

/* The index of the set whose head key is smallest, or n if all are done. */
static size_t smallest(const struct ctl_keyset *sets, size_t n, const size_t *pos)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        if (pos[i] == sets[i].n)
            continue;
        const struct ctl_key *k = &sets[i].keys[pos[i]];
        if (best == n) {
            best = i;
            continue;
        }
        const struct ctl_key *b = &sets[best].keys[pos[best]];
        if (ctl_key_cmp(sets[i].arena + k->off, k->len, sets[best].arena + b->off, b->len) < 0)
            best = i;
    }
    return best;
}

bool ctl_keyset_walk(const struct ctl_keyset *sets, size_t n, ctl_diff_fn fn, void *arg)
{
    size_t *pos = calloc(n, sizeof(*pos));
    uint64_t *cas = calloc(n, sizeof(*cas));
    bool *has = calloc(n, sizeof(*has));
    bool ok = pos && cas && has;
    for (size_t lo; ok && (lo = smallest(sets, n, pos)) < n;) {
        const struct ctl_key *k = &sets[lo].keys[pos[lo]];
        struct ctl_diff_row row = {.key = sets[lo].arena + k->off, .len = k->len, .has = has,
                                   .cas = cas, .same = true};
        for (size_t i = 0; i < n; i++) {
            const struct ctl_key *h = pos[i] < sets[i].n ? &sets[i].keys[pos[i]] : NULL;
            has[i] = h && ctl_key_cmp(sets[i].arena + h->off, h->len, row.key, row.len) == 0;
            cas[i] = has[i] ? h->cas : 0;
            row.same = row.same && has[i] && cas[i] == cas[0];
        }
        if (!fn(arg, &row))
            break;
        for (size_t i = 0; i < n; i++)
            pos[i] += has[i];
    }
    free(pos);
    free(cas);
    free(has);
    return ok;
}
