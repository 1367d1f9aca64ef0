/* Unit tests for the filters in the hash chains (src/store/hash.h): keys
 * forced into one bucket with equal and with different filter bits, a miss
 * that must not touch the items of its bucket, removals deep in a chain
 * (past HTAB_REFILTER), growth in progress, and the scan cursor through
 * growth and unlinking. The table is driven directly with real XXH3 hashes,
 * so rehashing moves items exactly as in the server. */
#include "test_store_util.h"

#include "store/hash.h"
#include "store/store_int.h"

#include <sys/mman.h>
#include <unistd.h>

/* A minimal item: header and key (NUL-terminated here, for the test's
 * convenience), no flags, no value. */
static struct store_item *mk_item(const char *key)
{
    size_t n = strlen(key);
    struct store_item *it = calloc(1, sizeof(*it) + n + 1);
    assert_non_null(it);
    it->nkey = (uint8_t)n;
    memcpy(it->data, key, n);
    return it;
}

static uint64_t hkey(const char *key) { return htab_hash(key, strlen(key)); }

static bool found(struct htab *t, const char *key)
{
    struct store_item *it = htab_find(t, hkey(key), key, strlen(key));
    return it != NULL && it->nkey == strlen(key) && memcmp(it->data, key, it->nkey) == 0;
}

static void assert_filters_ok(const struct htab *t) { assert_int_equal(htab_check(t, NULL), 0); }

/* Keys of bucket 0 (of a table with `mask`) whose filter bits are (equal)
 * or are not (!equal) those of `ref`; numbered from *next. */
static void find_keys(uint64_t mask, uint64_t ref, bool equal, char keys[][24], int n, int *next)
{
    for (int got = 0; got < n; (*next)++) {
        char k[24];
        snprintf(k, sizeof(k), "k%d", *next);
        uint64_t h = hkey(k);
        if ((h & mask) != 0 || (htab_sig(h) == htab_sig(ref)) != equal)
            continue;
        memcpy(keys[got++], k, sizeof(k));
    }
}

#define NEQ 12
#define NNE 12

static void test_one_bucket_equal_and_unequal_tags(void **state)
{
    (void)state;
    struct htab t;
    assert_true(htab_init(&t, 2));
    char ref[24] = "k0";
    int next = 1;
    while ((hkey(ref) & t.mask0) != 0)
        snprintf(ref, sizeof(ref), "k%d", next++);
    char eq[NEQ + 4][24], ne[NNE][24];
    find_keys(t.mask0, hkey(ref), true, eq, NEQ + 4, &next); /* the last 4 stay absent */
    find_keys(t.mask0, hkey(ref), false, ne, NNE, &next);
    struct store_item *items[1 + NEQ + NNE];
    int n = 0;
    items[n++] = mk_item(ref);
    for (int i = 0; i < NEQ; i++) {
        items[n++] = mk_item(eq[i]);
        items[n++] = mk_item(ne[i]);
    }
    for (int i = 0; i < n; i++)
        htab_insert(&t, hkey((char *)items[i]->data), items[i]);
    uint64_t loose = 1;
    assert_int_equal(htab_check(&t, &loose), 0);
    assert_int_equal(loose, 0); /* inserting keeps filters exact */
    assert_true(found(&t, ref));
    for (int i = 0; i < NEQ; i++)
        assert_true(found(&t, eq[i]) && found(&t, ne[i]));
    for (int i = NEQ; i < NEQ + 4; i++) /* same bucket, same filter bits, absent */
        assert_false(found(&t, eq[i]));

    /* replace in the middle of the chain: the same key, a new item */
    struct store_item *repl = mk_item(eq[5]);
    struct store_item *old = htab_find(&t, hkey(eq[5]), eq[5], strlen(eq[5]));
    htab_replace(&t, hkey(eq[5]), old, repl);
    assert_ptr_equal(htab_find(&t, hkey(eq[5]), eq[5], strlen(eq[5])), repl);
    for (int i = 0; i < n; i++)
        if (items[i] == old)
            items[i] = repl;
    free(old);
    assert_filters_ok(&t);

    /* remove the tail (24 links in front: more than HTAB_REFILTER), then the
     * head, then from the middle, checking everything after each */
    int order[] = {0, n - 1, 12, 1, 7, 20, 3, 22, 2, 10};
    bool gone[1 + NEQ + NNE] = {0};
    for (size_t r = 0; r < sizeof(order) / sizeof(order[0]); r++) {
        struct store_item *it = items[order[r]];
        htab_remove(&t, hkey((char *)it->data), it);
        gone[order[r]] = true;
        assert_filters_ok(&t);
        for (int i = 0; i < n; i++) {
            char k[24] = {0};
            memcpy(k, items[i]->data, items[i]->nkey);
            assert_int_equal(found(&t, k), !gone[i]);
        }
    }
    assert_int_equal(t.count, (uint64_t)n - 10);
    for (int i = 0; i < n; i++) {
        if (!gone[i])
            htab_remove(&t, hkey((char *)items[i]->data), items[i]);
        free(items[i]);
    }
    assert_int_equal(t.count, 0);
    assert_int_equal(t.t0[0], 0); /* an empty chain leaves no filter bits behind */
    htab_free(&t);
}

/* Items on a page the test makes unreadable: a miss whose filter bits are
 * not in the chain's filter must answer without loading any item. */
static void test_miss_does_not_touch_items(void **state)
{
    (void)state;
    struct htab t;
    assert_true(htab_init(&t, 2));
    long pg = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    char a[24], b[24], miss[24];
    int next = 0;
    find_keys(t.mask0, 0, false, (char(*)[24])a, 1, &next);
    uint64_t ha = hkey(a);
    for (;; next++) { /* b: same bucket, any filter bits */
        snprintf(b, sizeof(b), "k%d", next);
        if ((hkey(b) & t.mask0) == 0 && strcmp(a, b) != 0)
            break;
    }
    uint64_t chain = htab_sig(ha) | htab_sig(hkey(b));
    for (next++;; next++) { /* miss: same bucket, a bit outside the chain's filter */
        snprintf(miss, sizeof(miss), "k%d", next);
        uint64_t h = hkey(miss);
        if ((h & t.mask0) == 0 && (htab_sig(h) & ~chain) != 0)
            break;
    }
    struct store_item *ia = (struct store_item *)page, *ib = (struct store_item *)(page + 256);
    ia->nkey = (uint8_t)strlen(a);
    memcpy(ia->data, a, ia->nkey);
    ib->nkey = (uint8_t)strlen(b);
    memcpy(ib->data, b, ib->nkey);
    htab_insert(&t, ha, ia);
    htab_insert(&t, hkey(b), ib);
    assert_int_equal(mprotect(page, (size_t)pg, PROT_NONE), 0);
    assert_null(htab_find(&t, hkey(miss), miss, strlen(miss))); /* faults if it loads an item */
    assert_int_equal(mprotect(page, (size_t)pg, PROT_READ | PROT_WRITE), 0);
    assert_true(found(&t, a) && found(&t, b));
    htab_remove(&t, ha, ia);
    htab_remove(&t, hkey(b), ib);
    munmap(page, (size_t)pg);
    htab_free(&t);
}

/* --- growth ---------------------------------------------------------------------- */

#define NKEYS 3000

struct pool {
    struct store_item *it[NKEYS];
    bool in[NKEYS];
};

static void pool_key(char *k, int i) { snprintf(k, 24, "grow:%d", i); }

static void pool_add(struct htab *t, struct pool *p, int i)
{
    char k[24];
    pool_key(k, i);
    p->it[i] = mk_item(k);
    htab_insert(t, hkey(k), p->it[i]);
    p->in[i] = true;
    htab_maybe_grow(t, true);
}

static void pool_del(struct htab *t, struct pool *p, int i)
{
    char k[24];
    pool_key(k, i);
    htab_remove(t, hkey(k), p->it[i]);
    free(p->it[i]);
    p->it[i] = NULL;
    p->in[i] = false;
}

static void pool_verify(struct htab *t, const struct pool *p, int upto)
{
    for (int i = 0; i < upto; i++) {
        char k[24];
        pool_key(k, i);
        assert_int_equal(found(t, k), p->in[i]);
    }
    assert_filters_ok(t);
}

static void pool_free(struct htab *t, struct pool *p)
{
    for (int i = 0; i < NKEYS; i++)
        if (p->in[i])
            pool_del(t, p, i);
    htab_free(t);
}

/* Insert, remove and look up one bucket at a time while the table grows,
 * through several growths, with everything checked at each step. */
static void test_rehash_in_progress(void **state)
{
    (void)state;
    static struct pool p;
    memset(&p, 0, sizeof(p));
    struct htab t;
    assert_true(htab_init(&t, 2));
    int added = 0, growths = 0;
    while (added < 200)
        pool_add(&t, &p, added++);
    assert_non_null(t.t1); /* 200 items in 4 buckets: growing */
    while (added < NKEYS) {
        bool was = t.t1 != NULL;
        htab_rehash(&t, 1);
        growths += was && t.t1 == NULL;
        for (int k = 0; k < 7 && added < NKEYS; k++)
            pool_add(&t, &p, added++);
        if (p.in[added / 3])
            pool_del(&t, &p, added / 3); /* a key that may be in t0 or in t1 */
        if (added % 64 == 0)
            pool_verify(&t, &p, added);
    }
    while (htab_rehash(&t, 1))
        ;
    pool_verify(&t, &p, NKEYS);
    assert_true(growths >= 3);
    assert_null(t.t1);
    uint64_t loose;
    assert_int_equal(htab_check(&t, &loose), 0);
    pool_free(&t, &p);
}

struct scan_seen {
    struct htab *t;
    struct pool *p;
    int unlinked;
    bool seen[NKEYS];
};

/* Mark an item seen; unlink every fifth one, as the sweep does. */
static bool scan_mark(void *arg, struct store_item *it)
{
    struct scan_seen *s = arg;
    char k[24] = {0};
    memcpy(k, it->data, it->nkey);
    int i = atoi(k + 5);
    s->seen[i] = true;
    if (i % 5 == 0) {
        pool_del(s->t, s->p, i);
        s->unlinked++;
    }
    return true;
}

/* The cursor visits every item present for the whole walk while the table
 * grows between families, and the visitor may unlink what it is given. */
static void test_scan_during_growth(void **state)
{
    (void)state;
    static struct pool p;
    static struct scan_seen sn;
    memset(&p, 0, sizeof(p));
    memset(&sn, 0, sizeof(sn));
    struct htab t;
    assert_true(htab_init(&t, 6));
    const int base = 90; /* below the 96 that start a growth of 64 buckets */
    int added = 0;
    while (added < base)
        pool_add(&t, &p, added++);
    sn.t = &t;
    sn.p = &p;
    uint64_t v = 0;
    int families = 0;
    do {
        htab_scan_family(&t, v, scan_mark, &sn);
        v = htab_scan_next(&t, v);
        families++;
        htab_rehash(&t, 4); /* growths finish mid-walk, several times */
        for (int k = 0; k < 10 && added < NKEYS; k++)
            pool_add(&t, &p, added++);
    } while (v != 0);
    for (int i = 0; i < base; i++)
        assert_true(sn.seen[i]);
    assert_true(families > 64);
    assert_true(t.mask0 > 127); /* it grew more than once during the walk */
    assert_true(sn.unlinked >= base / 5);
    pool_verify(&t, &p, added);
    pool_free(&t, &p);
}

/* --- through the store ------------------------------------------------------------- */

/* A fixed table of 4 buckets a shard and long chains: deletes deep in the
 * chains (past HTAB_REFILTER), re-adds and misses, with the filters of every
 * shard checked afterwards. */
static void test_store_long_chains(void **state)
{
    (void)state;
    struct store_config cfg;
    store_config_init(&cfg);
    cfg.hashpower = 8;
    cfg.hash_expand = false;
    const char *err;
    struct store *s = store_create(&cfg, &err);
    assert_non_null(s);
    char key[32];
    const int n = 20000; /* ~78 items a chain */
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "long:%d", i);
        assert_int_equal(put(s, key, key), STORE_OK);
    }
    for (int i = 0; i < n; i += 3) {
        snprintf(key, sizeof(key), "long:%d", i);
        assert_int_equal(store_delete(s, key, strlen(key), NULL), STORE_OK);
    }
    for (int i = 0; i < n; i += 9) {
        snprintf(key, sizeof(key), "long:%d", i);
        assert_int_equal(put(s, key, "again"), STORE_OK);
    }
    for (unsigned i = 0; i < STORE_NSHARD; i++)
        assert_int_equal(htab_check(&s->shards[i].tab, NULL), 0);
    for (int i = 0; i < n; i++) {
        struct got g;
        snprintf(key, sizeof(key), "long:%d", i);
        bool hit = get(s, key, &g);
        assert_int_equal(hit, i % 3 != 0 || i % 9 == 0);
        if (hit)
            assert_string_equal(g.val, i % 9 == 0 ? "again" : key);
        snprintf(key, sizeof(key), "absent:%d", i);
        assert_false(has(s, key));
    }
    store_destroy(s);
}

static void test_pointers_fit(void **state)
{
    (void)state;
    assert_true(htab_pointers_ok());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointers_fit),
        cmocka_unit_test(test_one_bucket_equal_and_unequal_tags),
        cmocka_unit_test(test_miss_does_not_touch_items),
        cmocka_unit_test(test_rehash_in_progress),
        cmocka_unit_test(test_scan_during_growth),
        cmocka_unit_test(test_store_long_chains),
    };
    return cmocka_run_group_tests_name("store_tags", tests, NULL, NULL);
}
