/* Unit tests for store_arith: memcached's incr/decr number rules, wrap,
 * floor, the space-padding quirk, CAS and vivify. */
#include "test_store_util.h"

#define NOW 1800000000u

static int setup(void **state)
{
    clock_set(NOW);
    *state = mk_store(64u << 20, true, 0);
    return 0;
}

static int teardown(void **state)
{
    store_destroy(*state);
    clock_set(0);
    return 0;
}

static enum store_status arith(struct store *s, const char *key, bool incr, uint64_t delta,
                               uint64_t *out)
{
    struct store_arith a = {.incr = incr, .delta = delta};
    return store_arith(s, key, strlen(key), &a, out, NULL, NULL);
}

static void check_value(struct store *s, const char *key, const char *want)
{
    struct got g;
    assert_true(get(s, key, &g));
    assert_int_equal(g.nvalue, strlen(want));
    assert_string_equal(g.val, want);
}

static void test_incr_decr_basic(void **state)
{
    struct store *s = *state;
    uint64_t v;
    assert_int_equal(arith(s, "n", true, 1, &v), STORE_NOT_FOUND);
    assert_int_equal(put(s, "n", "10"), STORE_OK);
    assert_int_equal(arith(s, "n", true, 5, &v), STORE_OK);
    assert_int_equal(v, 15);
    check_value(s, "n", "15");
    assert_int_equal(arith(s, "n", false, 3, &v), STORE_OK);
    assert_int_equal(v, 12);
    check_value(s, "n", "12");
}

static void test_incr_wraps_decr_floors(void **state)
{
    struct store *s = *state;
    uint64_t v;
    assert_int_equal(put(s, "w", "18446744073709551615"), STORE_OK);
    assert_int_equal(arith(s, "w", true, 2, &v), STORE_OK);
    assert_int_equal(v, 1);
    check_value(s, "w", "1                   "); /* padded to 20 */
    assert_int_equal(put(s, "f", "5"), STORE_OK);
    assert_int_equal(arith(s, "f", false, 6, &v), STORE_OK);
    assert_int_equal(v, 0);
    check_value(s, "f", "0");
    assert_int_equal(arith(s, "f", false, UINT64_MAX, &v), STORE_OK);
    assert_int_equal(v, 0);
}

static void test_padding_quirk(void **state)
{
    struct store *s = *state;
    uint64_t v;
    assert_int_equal(put(s, "p", "100"), STORE_OK);
    assert_int_equal(arith(s, "p", false, 1, &v), STORE_OK);
    check_value(s, "p", "99 ");
    assert_int_equal(put(s, "z", "00012"), STORE_OK);
    assert_int_equal(arith(s, "z", true, 1, &v), STORE_OK);
    check_value(s, "z", "13   ");
    /* longer result: a new item, no padding */
    assert_int_equal(put(s, "g", "99"), STORE_OK);
    assert_int_equal(arith(s, "g", true, 1, &v), STORE_OK);
    check_value(s, "g", "100");
    /* "99 " incr 1 fits in place again */
    assert_int_equal(arith(s, "p", true, 1, &v), STORE_OK);
    check_value(s, "p", "100");
}

static void test_keeps_flags_ttl_new_version(void **state)
{
    struct store *s = *state;
    uint64_t v0, v;
    struct got g;
    assert_int_equal(put_full(s, "k", "9", 1, 77, NOW + 50, STORE_SET, 0, &v0), STORE_OK);
    assert_int_equal(arith(s, "k", true, 1, &v), STORE_OK); /* new item: 10 */
    assert_true(get(s, "k", &g));
    assert_int_equal(g.flags, 77);
    assert_int_equal(g.exptime, NOW + 50);
    assert_true(g.version > v0);
    uint64_t v1 = g.version;
    assert_int_equal(arith(s, "k", false, 1, &v), STORE_OK); /* in place: "9 " */
    assert_true(get(s, "k", &g));
    assert_int_equal(g.flags, 77);
    assert_true(g.version > v1);
    assert_string_equal(g.val, "9 ");
    assert_int_equal(stats_of(s).curr_items, 1);
}

static void test_non_numeric(void **state)
{
    struct store *s = *state;
    static const char *bad[] = {"", "-5", "1.5", "abc", "123456789012345678901", "18446744073709551616",
                                "12abc", "+", " ", "0x10"};
    uint64_t v;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(put(s, "x", bad[i]), STORE_OK);
        assert_int_equal(arith(s, "x", true, 1, &v), STORE_NON_NUMERIC);
    }
}

static void test_numeric_lenient_forms(void **state)
{
    struct store *s = *state;
    static const struct {
        const char *in;
        uint64_t out;
    } ok[] = {{"  5", 6}, {"5 ", 6}, {"007", 8}, {"5\r\n", 6}, {"12 abc", 13}, {"+4", 5}, {"-0", 1}};
    uint64_t v;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(put(s, "x", ok[i].in), STORE_OK);
        assert_int_equal(arith(s, "x", true, 1, &v), STORE_OK);
        assert_int_equal(v, ok[i].out);
    }
}

static void test_cas_and_touch(void **state)
{
    struct store *s = *state;
    uint64_t ver, v;
    struct got g;
    assert_int_equal(put_mode(s, "c", "1", STORE_SET, 0, &ver), STORE_OK);
    struct store_arith a = {.incr = true, .delta = 1, .cas = ver + 1};
    assert_int_equal(store_arith(s, "c", 1, &a, &v, NULL, NULL), STORE_EXISTS);
    a.cas = ver;
    a.touch = true;
    a.exptime = NOW + 99;
    assert_int_equal(store_arith(s, "c", 1, &a, &v, got_fn, &g), STORE_OK);
    assert_int_equal(v, 2);
    assert_string_equal(g.val, "2");
    assert_true(g.version > ver);
    assert_int_equal(g.exptime, NOW + 99);
}

static void test_vivify_uses_initial(void **state)
{
    struct store *s = *state;
    uint64_t v;
    struct got g;
    struct store_arith a = {.incr = true, .delta = 5, .vivify = true, .initial = 42,
                            .vivify_exptime = NOW + 10};
    assert_int_equal(store_arith(s, "viv", 3, &a, &v, got_fn, &g), STORE_OK);
    assert_int_equal(v, 42);
    assert_string_equal(g.val, "42");
    assert_true(g.created);
    assert_int_equal(g.exptime, NOW + 10);
    assert_int_equal(store_arith(s, "viv", 3, &a, &v, NULL, NULL), STORE_OK);
    assert_int_equal(v, 47);
    clock_set(NOW + 10); /* expired: gone, and recreated only with vivify */
    a.vivify = false;
    assert_int_equal(store_arith(s, "viv", 3, &a, &v, NULL, NULL), STORE_NOT_FOUND);
    a.vivify = true;
    assert_int_equal(store_arith(s, "viv", 3, &a, &v, NULL, NULL), STORE_OK);
    assert_int_equal(v, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incr_decr_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr_wraps_decr_floors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_padding_quirk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_flags_ttl_new_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_numeric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_lenient_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_and_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vivify_uses_initial, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_arith", tests, NULL, NULL);
}
