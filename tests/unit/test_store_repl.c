/* Unit tests for the replication side of store: tombstones, last-writer-
 * wins store_apply, replicated flush cutoffs. */
#include "test_store_util.h"

#define NOW 1800000000u

static int setup(void **state)
{
    clock_set(NOW);
    *state = mk_store(64u << 20, true, 60);
    return 0;
}

static int teardown(void **state)
{
    store_destroy(*state);
    clock_set(0);
    return 0;
}

static struct store_record rec(const char *key, const char *val, uint64_t version)
{
    return (struct store_record){.key = key, .nkey = (uint8_t)strlen(key), .value = val,
                                 .nvalue = val ? (uint32_t)strlen(val) : 0, .version = version};
}

static struct store_record tomb(const char *key, uint64_t version)
{
    struct store_record r = rec(key, NULL, version);
    r.tombstone = true;
    return r;
}

static size_t count_scan(struct store *s, bool tombstones)
{
    struct store_cursor cur = {0};
    size_t n = 0;
    while (!cur.done)
        n += store_scan(s, &cur, 100, tombstones, NULL, NULL);
    return n;
}

static void test_delete_leaves_tombstone(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v;
    assert_int_equal(put_mode(s, "k", "val", STORE_SET, 0, &v), STORE_OK);
    assert_int_equal(store_delete(s, "k", 1, NULL), STORE_OK);
    struct store_stats st = stats_of(s);
    assert_int_equal(st.curr_items, 0);
    assert_int_equal(st.curr_tombstones, 1);
    /* invisible to every read and to delete */
    assert_false(get(s, "k", &g));
    assert_int_equal(store_delete(s, "k", 1, NULL), STORE_NOT_FOUND);
    assert_int_equal(put_mode(s, "k", "x", STORE_REPLACE, 0, NULL), STORE_NOT_STORED);
    struct store_arith a = {.incr = true, .delta = 1};
    assert_int_equal(store_arith(s, "k", 1, &a, NULL, NULL, NULL), STORE_NOT_FOUND);
    /* a scan shows it only when asked */
    assert_int_equal(count_scan(s, false), 0);
    assert_int_equal(count_scan(s, true), 1);
    /* an older replicated set cannot resurrect it */
    struct store_record r = rec("k", "old", v);
    assert_int_equal(store_apply(s, &r), STORE_IGNORED);
    assert_false(get(s, "k", &g));
    /* a local add after the delete works and replaces the tombstone */
    assert_int_equal(put_mode(s, "k", "again", STORE_ADD, 0, NULL), STORE_OK);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "again");
    st = stats_of(s);
    assert_int_equal(st.curr_items, 1);
    assert_int_equal(st.curr_tombstones, 0);
}

static void test_tombstone_gc(void **state)
{
    struct store *s = *state;
    uint64_t v;
    assert_int_equal(put_mode(s, "k", "val", STORE_SET, 0, &v), STORE_OK);
    assert_int_equal(store_delete(s, "k", 1, NULL), STORE_OK);
    clock_set(NOW + 59);
    while (store_maintain(s))
        ;
    assert_int_equal(stats_of(s).curr_tombstones, 1);
    clock_set(NOW + 60);
    while (store_maintain(s))
        ;
    struct store_stats st = stats_of(s);
    assert_int_equal(st.curr_tombstones, 0);
    assert_int_equal(st.crawler_reclaimed, 0); /* tombstones are not items */
    /* once forgotten, the old record is accepted again (bounded memory) */
    struct store_record r = rec("k", "old", v);
    assert_int_equal(store_apply(s, &r), STORE_OK);
}

static void test_apply_lww(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t base = hlc_now();
    struct store_record r1 = rec("k", "v1", base + 100);
    r1.flags = 9;
    r1.exptime = NOW + 500;
    assert_int_equal(store_apply(s, &r1), STORE_OK);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "v1");
    assert_true(g.version == base + 100); /* the record's version is kept */
    assert_int_equal(g.flags, 9);
    assert_int_equal(g.exptime, NOW + 500);
    struct store_record older = rec("k", "v0", base + 50);
    assert_int_equal(store_apply(s, &older), STORE_IGNORED);
    assert_int_equal(store_apply(s, &r1), STORE_IGNORED); /* replay is idempotent */
    struct store_record newer = rec("k", "v2", base + 200);
    assert_int_equal(store_apply(s, &newer), STORE_OK);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "v2");
    /* a local write after seeing a remote version is newer than it */
    struct store_record future = rec("f", "remote", hlc_from_ms(clock_now_ms() + 3600000));
    assert_int_equal(store_apply(s, &future), STORE_OK);
    uint64_t local;
    assert_int_equal(put_mode(s, "f", "local", STORE_SET, 0, &local), STORE_OK);
    assert_true(local > future.version);
    assert_int_equal(stats_of(s).curr_items, 2);
}

static void test_apply_tombstones(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t v;
    assert_int_equal(put_mode(s, "k", "live", STORE_SET, 0, &v), STORE_OK);
    struct store_record old_del = tomb("k", v - 1);
    assert_int_equal(store_apply(s, &old_del), STORE_IGNORED);
    assert_true(get(s, "k", &g));
    struct store_record del = tomb("k", v + 10);
    assert_int_equal(store_apply(s, &del), STORE_OK);
    assert_false(get(s, "k", &g));
    assert_int_equal(stats_of(s).curr_tombstones, 1);
    struct store_record set_between = rec("k", "mid", v + 5);
    assert_int_equal(store_apply(s, &set_between), STORE_IGNORED);
    struct store_record set_after = rec("k", "back", v + 20);
    assert_int_equal(store_apply(s, &set_after), STORE_OK);
    assert_true(get(s, "k", &g));
    assert_string_equal(g.val, "back");
    /* a tombstone for a key we never had is remembered too */
    struct store_record lone = tomb("never", v + 30);
    assert_int_equal(store_apply(s, &lone), STORE_OK);
    struct store_record late = rec("never", "x", v + 29);
    assert_int_equal(store_apply(s, &late), STORE_IGNORED);
    assert_false(get(s, "never", &g));
}

static void test_apply_behind_flush_cutoff(void **state)
{
    struct store *s = *state;
    struct got g;
    uint64_t before = hlc_now();
    store_flush(s, 0);
    struct store_record r = rec("k", "old", before);
    assert_int_equal(store_apply(s, &r), STORE_IGNORED);
    assert_false(get(s, "k", &g));
    struct store_record r2 = rec("k", "new", hlc_now());
    assert_int_equal(store_apply(s, &r2), STORE_OK);
    assert_true(get(s, "k", &g));
}

static void test_apply_flush_replicated(void **state)
{
    struct store *s = *state;
    struct got g;
    assert_int_equal(put(s, "a", "1"), STORE_OK);
    uint64_t cutoff = hlc_now();
    store_apply_flush(s, cutoff, 0, 0);
    assert_false(get(s, "a", &g));
    uint64_t after;
    assert_int_equal(put_mode(s, "b", "2", STORE_SET, 0, &after), STORE_OK);
    assert_true(after > cutoff);
    assert_true(get(s, "b", &g));
    /* an older cutoff arriving later changes nothing */
    store_apply_flush(s, cutoff - 1000, 0, 0);
    assert_true(get(s, "b", &g));
}

/* Delayed flushes arrive in different orders on different nodes; the one
 * issued last must win everywhere. */
struct flush_op {
    uint64_t cutoff;
    uint32_t when;
    uint64_t issued;
};

static struct store_flush_info replay(const struct flush_op *ops, const int *order, int n)
{
    struct store *s = mk_store(8u << 20, true, 60);
    for (int i = 0; i < n; i++)
        store_apply_flush(s, ops[order[i]].cutoff, ops[order[i]].when, ops[order[i]].issued);
    struct store_flush_info fi;
    store_flush_state(s, &fi);
    store_destroy(s);
    return fi;
}

static void test_delayed_flushes_converge_by_issue_version(void **state)
{
    (void)state;
    uint64_t t0 = hlc_now();
    uint64_t later = hlc_from_ms((NOW + 100) * 1000ull), latest = hlc_from_ms((NOW + 200) * 1000ull);
    const struct flush_op ops[] = {
        {later | 1, NOW + 100, t0 + (1 << 10)},   /* node 1: flush_all 100 */
        {latest | 2, NOW + 200, t0 + (2 << 10)},  /* node 2, a moment later: flush_all 200 */
    };
    struct store_flush_info a = replay(ops, (const int[]){0, 1}, 2);
    struct store_flush_info b = replay(ops, (const int[]){1, 0}, 2);
    assert_int_equal(a.pend_when, NOW + 200);
    assert_int_equal(b.pend_when, NOW + 200);
    assert_true(a.pend_cutoff == b.pend_cutoff && a.pend_issued == b.pend_issued);

    /* an immediate flush issued after a delayed one cancels it, in any order;
     * one issued before it does not */
    const struct flush_op mixed[] = {
        {later | 1, NOW + 100, t0 + (5 << 10)},
        {t0 + (9 << 10), 0, 0},                   /* immediate, issued at its cutoff */
        {t0 + (3 << 10), 0, 0},                   /* immediate, issued before the delayed */
    };
    for (int first = 0; first < 3; first++) {
        int order[3] = {first, (first + 1) % 3, (first + 2) % 3};
        struct store_flush_info fi = replay(mixed, order, 3);
        assert_int_equal(fi.pend_when, 0);
        assert_true(fi.applied == t0 + (9 << 10));
    }
    struct store_flush_info keep = replay(mixed, (const int[]){2, 0}, 2);
    assert_int_equal(keep.pend_when, NOW + 100);
    keep = replay(mixed, (const int[]){0, 2}, 2);
    assert_int_equal(keep.pend_when, NOW + 100);
}

static void test_apply_too_large_and_no_tombstone_mode(void **state)
{
    (void)state;
    struct store *s = mk_store(64u << 20, true, 0);
    struct got g;
    char *big = calloc(1, 2u << 20);
    memset(big, 'x', (2u << 20) - 1);
    struct store_record r = rec("big", big, hlc_now());
    assert_int_equal(store_apply(s, &r), STORE_TOO_LARGE);
    free(big);
    /* tombstone_ttl == 0: a newer tombstone record deletes, nothing is kept */
    uint64_t v;
    assert_int_equal(put_mode(s, "k", "x", STORE_SET, 0, &v), STORE_OK);
    struct store_record t = tomb("k", hlc_now());
    assert_int_equal(store_apply(s, &t), STORE_OK);
    assert_false(get(s, "k", &g));
    assert_int_equal(stats_of(s).curr_tombstones, 0);
    assert_int_equal(store_delete(s, "k", 1, NULL), STORE_NOT_FOUND);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delete_leaves_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_lww, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_behind_flush_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_flush_replicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delayed_flushes_converge_by_issue_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_apply_too_large_and_no_tombstone_mode, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("store_repl", tests, NULL, NULL);
}
