/*
 * ctl/keyset: the (key, cas) pairs of one node, sorted, with a digest.
 *
 * Keys live back to back in one arena and entries point into it by offset,
 * so a million keys cost about their bytes plus 16 bytes each, not a
 * million mallocs. After ctl_keyset_finish the entries are sorted by key
 * bytes (shorter first on a common prefix) and unique: if a dump listed a
 * key twice (the table grew under the crawler), the higher cas wins, which
 * is the newer version under last-writer-wins.
 *
 * The digest is XXH3-64 over the sorted entries, each encoded as
 *
 *     u32 key length (LE) | key bytes | u64 cas (LE)
 *
 * so two nodes have equal digests exactly when they hold the same keys at
 * the same versions (up to hash collisions), whatever order they dumped in.
 */
#ifndef TANDEM_CTL_KEYSET_H
#define TANDEM_CTL_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_key {
    uint64_t off; /* into the arena */
    uint32_t len;
    uint64_t cas;
};

struct ctl_keyset {
    char *arena;
    size_t used, cap;
    struct ctl_key *keys;
    size_t n, ncap;
};

/* Add a pair; false on out of memory. */
bool ctl_keyset_add(struct ctl_keyset *ks, const char *key, size_t len, uint64_t cas);

/* Sort and remove duplicates (keeping the highest cas). */
void ctl_keyset_finish(struct ctl_keyset *ks);

/* The digest of a finished set. */
uint64_t ctl_keyset_digest(const struct ctl_keyset *ks);

/* The bytes of entry i. */
static inline const char *ctl_keyset_key(const struct ctl_keyset *ks, size_t i)
{
    return ks->arena + ks->keys[i].off;
}

/* Compare two keys as the sort orders them. */
int ctl_key_cmp(const char *a, size_t na, const char *b, size_t nb);

/* Free everything and reset to empty. */
void ctl_keyset_free(struct ctl_keyset *ks);

/* --- comparing finished sets ----------------------------------------------- */

/* One key of the union of n sets: its bytes and, per node, whether it has
 * the key and at which cas; `same` when every node has it at the same cas. */
struct ctl_diff_row {
    const char *key;
    size_t len;
    const bool *has;     /* n entries */
    const uint64_t *cas; /* n entries (0 where !has) */
    bool same;
};

/* Called for every key of the union in sorted order; return false to stop. */
typedef bool (*ctl_diff_fn)(void *arg, const struct ctl_diff_row *row);

/* Walk the union of n finished sets (merge join); false on out of memory. */
bool ctl_keyset_walk(const struct ctl_keyset *sets, size_t n, ctl_diff_fn fn, void *arg);

#endif
