/* Unit tests for store: write modes, CAS/versions, expiry, flush, meta
 * read semantics, delete and the item size rule. */
#include "test_store_util.h"

#define MB (1024u * 1024u)
#define NOW 1800000000u

static int setup(void **state)
{
    clock_set(NOW);
    *state = mk_store(64 * MB, true, 0);
    return 0;
}

static int teardown(void **state)
{
    store_destroy(*state);
    clock_set(0);
    return 0;
}

static void test_set_get_roundtrip(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t ver = 0;
    assert_false(get(s, "k", &g));
    assert_int_equal(put_full(s, "k", "hello", 5, 42, NOW + 100, STORE_SET, 0, &ver), STORE_OK);
    assert_true(ver != 0);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "hello");
    assert_int_equal(g.nvalue, 5);
    assert_int_equal(g.flags, 42);
    assert_int_equal(g.exptime, NOW + 100);
    assert_true(g.version == ver);
    /* zero-length value and a binary value with NULs */
    assert_int_equal(put_full(s, "empty", "", 0, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_true(get(s, "empty", &g));
    assert_int_equal(g.nvalue, 0);
    assert_int_equal(put_full(s, "bin", "a\0b\r\n", 5, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_true(get(s, "bin", &g));
    assert_int_equal(g.nvalue, 5);
    assert_memory_equal(g.val, "a\0b\r\n", 5);
    /* max flags round-trip */
    assert_int_equal(put_full(s, "f", "x", 1, 0xffffffffu, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_true(get(s, "f", &g));
    assert_int_equal(g.flags, 0xffffffffu);
    struct store_stats st = stats_of(s);
    assert_int_equal(st.curr_items, 4);
    assert_int_equal(st.total_items, 4);
}

static void test_set_overwrites_and_versions_grow(void **state)
{
    struct store *s = *state;
    uint64_t v1, v2;
    struct got g;
    assert_int_equal(put_mode(s, "k", "one", STORE_SET, 0, &v1), STORE_OK);
    assert_int_equal(put_mode(s, "k", "two", STORE_SET, 0, &v2), STORE_OK);
    assert_true(v2 > v1);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "two");
    assert_int_equal(stats_of(s).curr_items, 1);
    assert_int_equal(stats_of(s).total_items, 2);
}

static void test_add(void **state)
{
    struct store *s = *state;
    struct got g;
    assert_int_equal(put_mode(s, "a", "first", STORE_ADD, 0, NULL), STORE_OK);
    assert_int_equal(put_mode(s, "a", "second", STORE_ADD, 0, NULL), STORE_NOT_STORED);
    assert_true(get(s, "a", &g));
    assert_string_equal(g.val, "first");
    /* add over an expired item succeeds */
    assert_int_equal(put_full(s, "e", "old", 3, 0, NOW + 1, STORE_SET, 0, NULL), STORE_OK);
    clock_set(NOW + 1);
    assert_int_equal(put_mode(s, "e", "new", STORE_ADD, 0, NULL), STORE_OK);
    assert_true(get(s, "e", &g));
    assert_string_equal(g.val, "new");
}

static void test_replace(void **state)
{
    struct store *s = *state;
    struct got g;
    assert_int_equal(put_mode(s, "r", "x", STORE_REPLACE, 0, NULL), STORE_NOT_STORED);
    assert_false(get(s, "r", &g));
    assert_int_equal(put(s, "r", "x"), STORE_OK);
    assert_int_equal(put_mode(s, "r", "y", STORE_REPLACE, 0, NULL), STORE_OK);
    assert_true(get(s, "r", &g));
    assert_string_equal(g.val, "y");
}

static void test_append_prepend(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v0, v1;
    assert_int_equal(put_mode(s, "ap", "x", STORE_APPEND, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put_mode(s, "ap", "x", STORE_PREPEND, 0, NULL), STORE_NOT_STORED);
    assert_false(get(s, "ap", &g));
    assert_int_equal(put_full(s, "ap", "mid", 3, 7, NOW + 500, STORE_SET, 0, &v0), STORE_OK);
    /* the flags/exptime given with append are ignored */
    assert_int_equal(put_full(s, "ap", "END", 3, 99, NOW + 5, STORE_APPEND, 0, &v1), STORE_OK);
    assert_true(v1 > v0);
    assert_int_equal(put_full(s, "ap", "<<", 2, 0, 0, STORE_PREPEND, 0, NULL), STORE_OK);
    assert_true(get(s, "ap", &g));
    assert_string_equal(g.val, "<<midEND");
    assert_int_equal(g.flags, 7);
    assert_int_equal(g.exptime, NOW + 500);
    /* binary protocol: a non-zero cas is compared */
    assert_int_equal(put_mode(s, "ap", "!", STORE_APPEND, g.version + 1, NULL), STORE_EXISTS);
    assert_int_equal(put_mode(s, "ap", "!", STORE_APPEND, g.version, NULL), STORE_OK);
    assert_true(get(s, "ap", &g));
    assert_string_equal(g.val, "<<midEND!");
    assert_int_equal(stats_of(s).curr_items, 1);
}

static void test_append_beyond_size_limit_not_stored(void **state)
{
    struct store *s = *state;
    size_t n = 1048516;
    char *big = malloc(n);
    memset(big, 'v', n);
    assert_int_equal(put_full(s, "b", big, n, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_mode(s, "b", "x", STORE_APPEND, 0, NULL), STORE_NOT_STORED);
    struct got g;
    assert_true(get(s, "b", &g));
    assert_int_equal(g.nvalue, n);
    free(big);
}

static void test_cas(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v1, v2;
    assert_int_equal(put_mode(s, "c", "x", STORE_CAS, 12345, NULL), STORE_NOT_FOUND);
    assert_int_equal(put_mode(s, "c", "one", STORE_SET, 0, &v1), STORE_OK);
    assert_int_equal(put_mode(s, "c", "bad", STORE_CAS, v1 + 1, NULL), STORE_EXISTS);
    assert_int_equal(put_mode(s, "c", "bad", STORE_CAS, 0, NULL), STORE_EXISTS);
    assert_int_equal(put_mode(s, "c", "two", STORE_CAS, v1, &v2), STORE_OK);
    assert_true(v2 > v1);
    assert_true(get(s, "c", &g));
    assert_string_equal(g.val, "two");
    assert_true(g.version == v2);
    /* the old CAS is now stale */
    assert_int_equal(put_mode(s, "c", "three", STORE_CAS, v1, NULL), STORE_EXISTS);
}

static void test_touch_keeps_version(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v;
    assert_int_equal(put_full(s, "t", "val", 3, 0, NOW + 10, STORE_SET, 0, &v), STORE_OK);
    struct store_fetch touch = {.touch = true, .exptime = NOW + 1000};
    assert_true(get_opt(s, "t", &touch, &g));
    assert_true(g.version == v);
    assert_int_equal(g.exptime, NOW + 1000);
    assert_int_equal(g.prev_exptime, NOW + 10);
    clock_set(NOW + 500);
    assert_true(get(s, "t", &g));
    assert_true(g.version == v);
    /* gat with an expiry in the past returns the value once */
    struct store_fetch gone = {.touch = true, .exptime = 1};
    assert_true(get_opt(s, "t", &gone, &g));
    assert_string_equal(g.val, "val");
    assert_false(get(s, "t", &g));
}

static void test_expiry_frozen_clock(void **state)
{
    struct store *s = *state;
    struct got g;
    assert_int_equal(put_full(s, "e", "v", 1, 0, NOW + 10, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(put_full(s, "forever", "v", 1, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    clock_set(NOW + 9);
    assert_true(get(s, "e", &g));
    clock_set(NOW + 10);
    assert_false(get(s, "e", &g));
    assert_true(get(s, "forever", &g));
    struct store_stats st = stats_of(s);
    assert_int_equal(st.get_expired, 1);
    assert_int_equal(st.curr_items, 1);
    /* the second miss finds nothing to count */
    assert_false(get(s, "e", &g));
    assert_int_equal(stats_of(s).get_expired, 1);
    /* an expiry already in the past: stored, never visible */
    assert_int_equal(put_full(s, "past", "v", 1, 0, 1, STORE_SET, 0, NULL), STORE_OK);
    assert_false(get(s, "past", &g));
    /* replace / delete / incr do not see expired items */
    assert_int_equal(put_full(s, "e2", "5", 1, 0, NOW + 11, STORE_SET, 0, NULL), STORE_OK);
    clock_set(NOW + 11);
    assert_int_equal(put_mode(s, "e2", "x", STORE_REPLACE, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(store_delete(s, "e2", 2, NULL), STORE_NOT_FOUND);
}

static void test_maintain_reclaims_expired(void **state)
{
    struct store *s = *state;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "exp%d", i);
        assert_int_equal(put_full(s, key, "v", 1, 0, i < 600 ? NOW + 5 : 0, STORE_SET, 0, NULL),
                         STORE_OK);
    }
    clock_set(NOW + 5);
    while (store_maintain(s))
        ;
    struct store_stats st = stats_of(s);
    assert_int_equal(st.crawler_reclaimed, 600);
    assert_true(st.crawler_items_checked >= 1000);
    assert_int_equal(st.curr_items, 400);
    assert_int_equal(st.get_expired, 0);
    /* rounds are paced: none again within the same second, one after */
    while (store_maintain(s))
        ;
    assert_int_equal(stats_of(s).crawler_items_checked, st.crawler_items_checked);
    clock_set(NOW + 6);
    while (store_maintain(s))
        ;
    assert_true(stats_of(s).crawler_items_checked >= st.crawler_items_checked + 400);
}

static void test_flush_now(void **state)
{
    struct store *s = *state;
    struct got g;
    assert_int_equal(put(s, "a", "1"), STORE_OK);
    assert_int_equal(put(s, "b", "2"), STORE_OK);
    store_flush(s, 0);
    assert_false(get(s, "a", &g));
    assert_int_equal(stats_of(s).get_flushed, 1);
    assert_int_equal(put(s, "c", "3"), STORE_OK);
    assert_true(get(s, "c", &g));
    /* a flushed key can be added again */
    assert_int_equal(put_mode(s, "b", "new", STORE_ADD, 0, NULL), STORE_OK);
    assert_true(get(s, "b", &g));
    assert_string_equal(g.val, "new");
    /* a time in the past means now */
    store_flush(s, NOW - 100);
    assert_false(get(s, "b", &g));
    assert_false(get(s, "c", &g));
}

/* Move the HLC forward as if real time reached `unix_s` (the test clock is
 * frozen but versions come from the wall clock). */
static void hlc_reach(uint32_t unix_s) { hlc_observe(hlc_from_ms((uint64_t)unix_s * 1000)); }

/* Freeze the clock where the HLC is, so versions and seconds agree. */
static uint32_t sync_time(void)
{
    uint32_t t = (uint32_t)(hlc_to_ms(hlc_now()) / 1000) + 1;
    clock_set(t);
    hlc_reach(t);
    return t;
}

static void test_flush_delayed(void **state)
{
    struct store *s = *state;
    struct got g;
    uint32_t now = sync_time();
    assert_int_equal(put(s, "old", "1"), STORE_OK);
    store_flush(s, now + 10);
    assert_true(get(s, "old", &g));
    clock_set(now + 9);
    assert_true(get(s, "old", &g));
    clock_set(now + 10);
    hlc_reach(now + 10);
    assert_false(get(s, "old", &g));
    assert_int_equal(put(s, "new", "2"), STORE_OK); /* written after the flush time */
    assert_true(get(s, "new", &g));
    while (store_maintain(s)) /* folds the pending flush */
        ;
    assert_true(get(s, "new", &g));
}

static void test_flush_delayed_replaced(void **state)
{
    struct store *s = *state;
    struct got g;
    uint32_t now = sync_time();
    assert_int_equal(put(s, "k", "1"), STORE_OK);
    store_flush(s, now + 100);
    store_flush(s, now + 50); /* replaces the first */
    clock_set(now + 50);
    hlc_reach(now + 50);
    assert_false(get(s, "k", &g));
    /* an immediate flush cancels a pending delayed one, like memcached */
    assert_int_equal(put(s, "k2", "1"), STORE_OK);
    store_flush(s, now + 200);
    store_flush(s, 0);
    assert_false(get(s, "k2", &g));
    assert_int_equal(put(s, "k3", "1"), STORE_OK);
    clock_set(now + 200);
    assert_true(get(s, "k3", &g));
}

static void test_size_rule_exact_limits(void **state)
{
    struct store *s = *state;
    assert_true(store_item_size_ok(s, 1, 0, 1048516));
    assert_false(store_item_size_ok(s, 1, 0, 1048517));
    assert_true(store_item_size_ok(s, 1, 1, 1048512));
    assert_false(store_item_size_ok(s, 1, 1, 1048513));
    assert_true(store_item_size_ok(s, 250, 0, 1048267));
    assert_false(store_item_size_ok(s, 250, 0, 1048268));

    struct store_item *it;
    assert_int_equal(store_item_alloc(s, "k", 1, 0, 0, 1048517, &it), STORE_TOO_LARGE);
    assert_int_equal(stats_of(s).store_too_large, 1);
    assert_int_equal(store_item_alloc(s, "k", 1, 0, 0, 1048516, &it), STORE_OK);
    memset(store_item_data(it), 'z', 1048516);
    struct store_write w = {.mode = STORE_SET};
    assert_int_equal(store_item_link(s, it, &w, NULL), STORE_OK);
    struct got g;
    assert_true(get(s, "k", &g));
    assert_int_equal(g.nvalue, 1048516);
    assert_int_equal(g.val[0], 'z');

    /* -C drops the 8 CAS bytes from the rule */
    struct store_config cfg;
    store_config_init(&cfg);
    cfg.use_cas = false;
    const char *err;
    struct store *nc = store_create(&cfg, &err);
    assert_true(store_item_size_ok(nc, 1, 0, 1048524));
    assert_false(store_item_size_ok(nc, 1, 0, 1048525));
    store_destroy(nc);
}

static void test_item_free_unlinked(void **state)
{
    struct store *s = *state;
    struct store_item *it;
    assert_int_equal(store_item_alloc(s, "gone", 4, 0, 0, 100, &it), STORE_OK);
    store_item_free(s, it);
    struct got g;
    assert_false(get(s, "gone", &g));
    assert_int_equal(stats_of(s).curr_items, 0);
}

static void test_delete(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v;
    assert_int_equal(store_delete(s, "d", 1, NULL), STORE_NOT_FOUND);
    assert_int_equal(put_mode(s, "d", "x", STORE_SET, 0, &v), STORE_OK);
    struct store_delete bad = {.cas = v + 1};
    assert_int_equal(store_delete(s, "d", 1, &bad), STORE_EXISTS);
    assert_true(get(s, "d", &g));
    struct store_delete good = {.cas = v};
    assert_int_equal(store_delete(s, "d", 1, &good), STORE_OK);
    assert_false(get(s, "d", &g));
    assert_int_equal(store_delete(s, "d", 1, NULL), STORE_NOT_FOUND);
    assert_int_equal(stats_of(s).curr_items, 0);
    assert_int_equal(stats_of(s).curr_tombstones, 0);
}

static void test_meta_invalidate_and_win_tokens(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v;
    assert_int_equal(put_full(s, "m", "v", 1, 0, NOW + 30, STORE_SET, 0, &v), STORE_OK);
    struct store_delete inv = {.invalidate = true, .touch = true, .exptime = NOW + 60};
    assert_int_equal(store_delete(s, "m", 1, &inv), STORE_OK);
    /* first reader: X W; later readers: Z X */
    assert_true(get(s, "m", &g));
    assert_true(g.stale && g.won && !g.win_sent);
    assert_true(g.version > v);
    assert_int_equal(g.exptime, NOW + 60);
    assert_true(get(s, "m", &g));
    assert_true(g.stale && !g.won && g.win_sent);
    /* ms I with the lower (old) CAS is accepted and stays stale with Z */
    struct store_item *it;
    assert_int_equal(store_item_alloc(s, "m", 1, 0, 0, 3, &it), STORE_OK);
    memcpy(store_item_data(it), "new", 3);
    struct store_write w = {.mode = STORE_CAS, .cas = v, .invalidate = true};
    assert_int_equal(store_item_link(s, it, &w, NULL), STORE_OK);
    assert_true(get(s, "m", &g));
    assert_string_equal(g.val, "new");
    assert_true(g.stale && g.win_sent && !g.won);
    assert_int_equal(g.exptime, NOW + 60);
    /* a plain set clears everything */
    assert_int_equal(put(s, "m", "fresh"), STORE_OK);
    assert_true(get(s, "m", &g));
    assert_false(g.stale || g.win_sent || g.won);
    /* without I, a lower CAS is just EXISTS */
    assert_int_equal(put_mode(s, "m", "x", STORE_CAS, v, NULL), STORE_EXISTS);
}

static void test_meta_vivify_and_recache(void **state)
{
    struct store *s = *state;
    struct got g;
    struct store_fetch viv = {.vivify = true, .vivify_exptime = NOW + 30};
    assert_true(get_opt(s, "v", &viv, &g));
    assert_int_equal(g.nvalue, 0);
    assert_true(g.won && !g.win_sent && g.created);
    assert_int_equal(g.exptime, NOW + 30);
    assert_true(get_opt(s, "v", &viv, &g));
    assert_true(!g.won && g.win_sent && !g.created);

    /* recache: win when the remaining TTL is under the token, once */
    assert_int_equal(put_full(s, "r", "v", 1, 0, NOW + 20, STORE_SET, 0, NULL), STORE_OK);
    struct store_fetch rc = {.recache = true, .recache_ttl = 10};
    assert_true(get_opt(s, "r", &rc, &g));
    assert_false(g.won);
    rc.recache_ttl = 30;
    assert_true(get_opt(s, "r", &rc, &g));
    assert_true(g.won && !g.win_sent);
    assert_true(get_opt(s, "r", &rc, &g));
    assert_true(!g.won && g.win_sent);
    /* an absolute token works too */
    assert_int_equal(put_full(s, "r2", "v", 1, 0, NOW + 20, STORE_SET, 0, NULL), STORE_OK);
    rc.recache_ttl = NOW + 25;
    assert_true(get_opt(s, "r2", &rc, &g));
    assert_true(g.won);
    /* items that never expire never win a recache */
    assert_int_equal(put(s, "r3", "v"), STORE_OK);
    assert_true(get_opt(s, "r3", &rc, &g));
    assert_false(g.won);
}

static void test_fetched_and_no_bump(void **state)
{
    struct store *s = *state;
    struct got g;
    struct store_fetch nb = {.no_bump = true};
    assert_int_equal(put(s, "h", "v"), STORE_OK);
    assert_true(get_opt(s, "h", &nb, &g));
    assert_false(g.fetched);
    assert_true(get_opt(s, "h", &nb, &g));
    assert_false(g.fetched);
    clock_set(NOW + 7);
    assert_true(get(s, "h", &g));
    assert_false(g.fetched); /* h shows the state before this access */
    assert_int_equal(g.atime, NOW);
    assert_true(get(s, "h", &g));
    assert_true(g.fetched);
    assert_int_equal(g.atime, NOW + 7);
}

static void test_binary_key_remembered(void **state)
{
    struct store *s = *state;
    struct store_item *it;
    struct got g;
    assert_int_equal(store_item_alloc(s, "bk", 2, 0, 0, 1, &it), STORE_OK);
    memcpy(store_item_data(it), "v", 1);
    struct store_write w = {.mode = STORE_SET, .binary_key = true};
    assert_int_equal(store_item_link(s, it, &w, NULL), STORE_OK);
    assert_true(get(s, "bk", &g));
    assert_true(g.binary_key);
}

static void test_bad_keys(void **state)
{
    struct store *s = *state;
    char key[300];
    memset(key, 'k', sizeof(key));
    struct store_item *it;
    assert_int_equal(store_item_alloc(s, key, 251, 0, 0, 1, &it), STORE_TOO_LARGE);
    assert_int_equal(store_fetch(s, key, 251, NULL, NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_item_alloc(s, key, 250, 0, 0, 1, &it), STORE_OK);
    store_item_free(s, it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_overwrites_and_versions_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_prepend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_beyond_size_limit_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_keeps_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_frozen_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintain_reclaims_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_delayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_delayed_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_rule_exact_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_free_unlinked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_invalidate_and_win_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_vivify_and_recache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetched_and_no_bump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_key_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
