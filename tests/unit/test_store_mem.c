/* Unit tests for store memory: the limit holds, CLOCK eviction keeps what
 * is read, -M refuses, expired memory is reclaimed first, pages move between
 * size classes, large items, shrinking the limit (and the resident size with
 * it), class stats, the page pool. */
#include "test_store_util.h"

#include "store/pages.h"
#include "store/slab.h"


#define MB (1024u * 1024u)
#define NOW 1800000000u

static int setup(void **state)
{
    (void)state;
    clock_set(NOW);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clock_set(0);
    return 0;
}

static void keyf(char *buf, size_t n, const char *prefix, int i)
{
    snprintf(buf, n, "%s%08d", prefix, i);
}

static void fill_value(char *v, size_t n, int i)
{
    for (size_t k = 0; k < n; k++)
        v[k] = (char)('a' + (i + (int)k) % 26);
}

static void test_clock_keeps_fetched_key(void **state)
{
    (void)state;
    struct store *s = mk_store(1 * MB, true, 0);
    char key[32], val[100];
    fill_value(val, sizeof(val), 0);
    assert_int_equal(put_full(s, "hot", val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    for (int i = 0; i < 50000; i++) {
        keyf(key, sizeof(key), "cold", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
        if (i % 500 == 0) {
            struct got g;
            assert_true(get(s, "hot", &g));
        }
        assert_true(stats_of(s).mem_used <= 1 * MB);
    }
    struct got g;
    assert_true(get(s, "hot", &g));
    assert_memory_equal(g.val, val, sizeof(val));
    assert_false(has(s, "cold00000000"));
    assert_true(has(s, "cold00049999"));
    struct store_stats st = stats_of(s);
    assert_true(st.evictions > 40000);
    assert_true(st.evicted_unfetched > 40000);
    assert_int_equal(st.reclaimed, 0);
    assert_true(st.curr_items > 5000); /* ~1 MB of 152-byte chunks */
    store_destroy(s);
}

static void test_no_evict_returns_no_memory(void **state)
{
    (void)state;
    struct store *s = mk_store(1 * MB, false, 0);
    char key[32], val[100];
    fill_value(val, sizeof(val), 1);
    int stored = 0;
    enum store_status st = STORE_OK;
    for (int i = 0; i < 100000 && st == STORE_OK; i++) {
        keyf(key, sizeof(key), "m", i);
        st = put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL);
        if (st == STORE_OK)
            stored++;
    }
    assert_int_equal(st, STORE_NO_MEMORY);
    struct store_stats ss = stats_of(s);
    assert_int_equal(ss.store_no_memory, 1);
    assert_int_equal(ss.evictions, 0);
    assert_int_equal(ss.curr_items, stored);
    assert_true(ss.mem_used <= 1 * MB);
    /* everything stored is still there */
    for (int i = 0; i < stored; i++) {
        keyf(key, sizeof(key), "m", i);
        assert_true(has(s, key));
    }
    /* the failed SET's caller deletes the old value (memcached's rule) */
    assert_int_equal(store_delete(s, "m00000000", 9, NULL), STORE_OK);
    /* and freeing memory makes room again */
    assert_int_equal(put_full(s, "again", val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    /* large items are refused the same way */
    struct store_item *it;
    assert_int_equal(store_item_alloc(s, "big", 3, 0, 0, 512 * 1024, &it), STORE_NO_MEMORY);
    store_destroy(s);
}

static void test_limit_holds_mixed_sizes(void **state)
{
    (void)state;
    const size_t limit = 4 * MB;
    struct store *s = mk_store(limit, true, 0);
    static char val[300000];
    char key[32];
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % 5 == 0 ? (seed >> 4) % sizeof(val) : (seed >> 4) % 3000;
        keyf(key, sizeof(key), "mix", i % 5000);
        fill_value(val, n, i);
        assert_int_equal(put_full(s, key, val, n, 0, 0, STORE_SET, 0, NULL), STORE_OK);
        struct store_stats st = stats_of(s);
        assert_true(st.mem_used <= limit);
        assert_true(st.bytes <= st.mem_used);
    }
    /* the last write of each key that survived reads back intact */
    struct got g;
    keyf(key, sizeof(key), "mix", 19999 % 5000);
    assert_true(get(s, key, &g));
    store_destroy(s);
}

static void test_expired_reclaimed_not_evicted(void **state)
{
    (void)state;
    struct store *s = mk_store(1 * MB, true, 0);
    char key[32], val[100];
    fill_value(val, sizeof(val), 2);
    for (int i = 0; i < 5000; i++) {
        keyf(key, sizeof(key), "t", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, NOW + 10, STORE_SET, 0, NULL),
                         STORE_OK);
    }
    clock_set(NOW + 10);
    for (int i = 0; i < 5000; i++) {
        keyf(key, sizeof(key), "u", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    struct store_stats st = stats_of(s);
    assert_int_equal(st.evictions, 0);
    assert_true(st.reclaimed > 0);
    assert_true(st.expired_unfetched > 0);
    for (int i = 0; i < 5000; i++) {
        keyf(key, sizeof(key), "u", i);
        assert_true(has(s, key));
    }
    store_destroy(s);
}

static void test_pages_move_between_classes(void **state)
{
    (void)state;
    struct store *s = mk_store(2 * MB, true, 0);
    char key[32];
    static char val[4000];
    fill_value(val, sizeof(val), 3);
    for (int i = 0; i < 30000; i++) { /* fill everything with small items */
        keyf(key, sizeof(key), "small", i);
        assert_int_equal(put_full(s, key, val, 50, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    /* a class that owns no page still gets memory, repeatedly */
    for (int i = 0; i < 200; i++) {
        keyf(key, sizeof(key), "mid", i);
        assert_int_equal(put_full(s, key, val, 3000, 0, 0, STORE_SET, 0, NULL), STORE_OK);
        assert_true(has(s, key));
    }
    /* and so do large items (beyond the largest class) */
    static char big[200000];
    fill_value(big, sizeof(big), 4);
    for (int i = 0; i < 5; i++) {
        keyf(key, sizeof(key), "large", i);
        assert_int_equal(put_full(s, key, big, sizeof(big), 0, 0, STORE_SET, 0, NULL), STORE_OK);
        struct got g;
        assert_true(get(s, key, &g));
        assert_int_equal(g.nvalue, sizeof(big));
        assert_true(stats_of(s).mem_used <= 2 * MB);
    }
    /* small items can come back after large ones took the memory */
    for (int i = 0; i < 30000; i++) {
        keyf(key, sizeof(key), "again", i);
        assert_int_equal(put_full(s, key, val, 50, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    assert_true(stats_of(s).mem_used <= 2 * MB);
    store_destroy(s);
}

static void test_size_shift_rebalances(void **state)
{
    (void)state;
    struct store *s = mk_store(4 * MB, true, 0);
    char key[32];
    static char val[600];
    fill_value(val, sizeof(val), 7);
    for (int i = 0; i < 40000; i++) { /* memory full of 100-byte values */
        keyf(key, sizeof(key), "old", i);
        assert_int_equal(put_full(s, key, val, 100, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    clock_set(NOW + 100); /* they go idle; the workload moves to 500 bytes */
    const int n = 6000;
    for (int i = 0; i < n; i++) {
        keyf(key, sizeof(key), "new", i);
        assert_int_equal(put_full(s, key, val, 500, 0, 0, STORE_SET, 0, NULL), STORE_OK);
        assert_true(stats_of(s).mem_used <= 4 * MB);
    }
    /* the 500-byte class grew well past the one page it would have owned
     * (~120 items), so most of the recent working set fits */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        keyf(key, sizeof(key), "new", i);
        kept += has(s, key);
    }
    assert_true(kept > n / 2);
    store_destroy(s);
}

static void test_big_items_with_large_item_limit(void **state)
{
    (void)state;
    struct store_config cfg;
    store_config_init(&cfg);
    cfg.mem_limit = 16 * MB;
    cfg.item_size_max = 8 * MB; /* -I 8m */
    const char *err;
    struct store *s = store_create(&cfg, &err);
    char key[32];
    char *big = malloc(5 * MB);
    for (int i = 0; i < 12; i++) {
        keyf(key, sizeof(key), "huge", i);
        fill_value(big, 5 * MB, i);
        assert_int_equal(put_full(s, key, big, 5 * MB, 0, 0, STORE_SET, 0, NULL), STORE_OK);
        struct store_stats st = stats_of(s);
        assert_true(st.mem_used <= 16 * MB);
        assert_true(st.curr_items <= 3);
    }
    keyf(key, sizeof(key), "huge", 11);
    struct got g;
    assert_true(get(s, key, &g));
    assert_int_equal(g.nvalue, 5 * MB);
    assert_true(stats_of(s).evictions >= 9);
    free(big);
    store_destroy(s);
}

static void test_set_limit_shrinks(void **state)
{
    (void)state;
    struct store *s = mk_store(8 * MB, true, 0);
    char key[32], val[200];
    fill_value(val, sizeof(val), 5);
    for (int i = 0; i < 60000; i++) {
        keyf(key, sizeof(key), "s", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    assert_true(stats_of(s).mem_used > 6 * MB);
    assert_int_equal(store_set_limit(s, 1000), STORE_NO_MEMORY); /* unusable: refused */
    assert_int_equal(stats_of(s).limit_maxbytes, 8 * MB);
    assert_int_equal(store_set_limit(s, 3 * MB), STORE_OK);
    struct store_stats st = stats_of(s);
    assert_true(st.mem_used <= 3 * MB);
    assert_int_equal(st.limit_maxbytes, 3 * MB);
    assert_true(st.curr_items > 5000);
    assert_true(has(s, "s00059999") || st.curr_items > 0);
    for (int i = 0; i < 10000; i++) {
        keyf(key, sizeof(key), "n", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
        assert_true(stats_of(s).mem_used <= 3 * MB);
    }
    /* growing again lets it use more */
    assert_int_equal(store_set_limit(s, 16 * MB), STORE_OK);
    for (int i = 0; i < 60000; i++) {
        keyf(key, sizeof(key), "g", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    assert_true(stats_of(s).mem_used > 8 * MB);
    store_destroy(s);
}

/* Lowering the limit gives the memory back to the system, not only to the
 * budget: the resident size falls with it. */
static void test_set_limit_returns_memory(void **state)
{
    (void)state;
    struct store *s = mk_store(96 * MB, true, 0);
    static char val[1000];
    char key[32];
    fill_value(val, sizeof(val), 3);
    for (int i = 0; i < 80000; i++) {
        keyf(key, sizeof(key), "r", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    long full = rss_bytes();
    assert_true(stats_of(s).mem_used > 64 * MB);
    assert_int_equal(store_set_limit(s, 8 * MB), STORE_OK);
    long shrunk = rss_bytes();
    assert_true(full - shrunk > 48 * (long)MB);
    store_destroy(s);
}

/* Pages come from 2 MiB-aligned arenas (so they can be huge pages), one
 * arena's pages in order, and a page given back is the next handed out. */
static void test_page_pool(void **state)
{
    (void)state;
    struct page_pool p;
    pages_setup(&p);
    enum { N = 2 * (2 << 20) / SLAB_PAGE_SIZE + 3 }; /* into a third arena */
    char *pg[N];
    for (int i = 0; i < N; i++) {
        pg[i] = pages_get(&p);
        assert_non_null(pg[i]);
        memset(pg[i], i, SLAB_PAGE_SIZE); /* all of it is ours */
        if (i % ((2 << 20) / SLAB_PAGE_SIZE) == 0)
            assert_int_equal((uintptr_t)pg[i] % (2u << 20), 0);
        else
            assert_ptr_equal(pg[i], pg[i - 1] + SLAB_PAGE_SIZE);
    }
    assert_int_equal(p.narenas, 3);
    pages_put(&p, pg[5], false);
    assert_int_equal(pg[5][100], 5); /* kept: only the link word is written */
    pages_put(&p, pg[7], true);
    assert_ptr_equal(pages_get(&p), pg[7]);
    assert_ptr_equal(pages_get(&p), pg[5]);
    assert_int_equal(pg[7][100], 0); /* released pages come back zeroed */
    assert_int_equal(p.narenas, 3);
    pages_teardown(&p);
}

static void test_class_stats(void **state)
{
    (void)state;
    struct store *s = mk_store(64 * MB, true, 0);
    static char val[100000];
    fill_value(val, sizeof(val), 6);
    assert_int_equal(put_full(s, "a", val, 10, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_full(s, "b", val, 100, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_full(s, "c", val, 101, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_full(s, "d", val, 5000, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_full(s, "e", val, 100000, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    struct store_class_stats cs[256];
    size_t n = store_class_stats(s, cs, 256);
    assert_true(n >= 4);
    uint64_t items = 0, mem = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(cs[i].clsid > cs[i - 1].clsid);
        assert_true(cs[i].used_chunks >= cs[i].number);
        assert_true(cs[i].total_chunks == cs[i].used_chunks + cs[i].free_chunks);
        items += cs[i].number;
        mem += cs[i].mem_requested;
    }
    struct store_stats st = stats_of(s);
    assert_int_equal(items, st.curr_items);
    assert_int_equal(mem, st.bytes);
    /* 100- and 101-byte values with a 1-byte key: 133 and 134 bytes, one
     * 136-byte class: the 8-byte steps keep the waste small */
    struct got g;
    assert_true(get(s, "b", &g));
    assert_int_equal(cs[1].chunk_size, 136);
    assert_int_equal(cs[1].number, 2);
    store_destroy(s);
}

static void test_stats_reset(void **state)
{
    (void)state;
    struct store *s = mk_store(1 * MB, true, 0);
    char key[32], val[100] = {0};
    for (int i = 0; i < 20000; i++) {
        keyf(key, sizeof(key), "r", i);
        assert_int_equal(put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    struct store_stats st = stats_of(s);
    assert_true(st.evictions > 0 && st.total_items == 20000);
    store_stats_reset(s);
    struct store_stats after = stats_of(s);
    assert_int_equal(after.evictions, 0);
    assert_int_equal(after.total_items, 0);
    assert_int_equal(after.curr_items, st.curr_items);
    assert_int_equal(after.mem_used, st.mem_used);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clock_keeps_fetched_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_evict_returns_no_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_holds_mixed_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_reclaimed_not_evicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_move_between_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_shift_rebalances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_items_with_large_item_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_limit_shrinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_limit_returns_memory, setup, teardown),
        cmocka_unit_test(test_page_pool),
        cmocka_unit_test_setup_teardown(test_class_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_reset, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_mem", tests, NULL, NULL);
}
