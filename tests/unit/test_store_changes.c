/* The store's change feed (what replication and snapshots follow): every
 * write is reported once, with the resulting item, in version order per key;
 * evictions and expiry are never reported. */
#include "test_store_util.h"

#define MAX_SEEN 64

struct seen {
    int n;
    enum store_change_kind kind[MAX_SEEN];
    char key[MAX_SEEN][32];
    char val[MAX_SEEN][32];
    uint64_t version[MAX_SEEN];
    uint32_t exptime[MAX_SEEN];
    bool applied[MAX_SEEN];
    uint64_t cutoff[MAX_SEEN];
};

static void record(void *arg, const struct store_change *ch)
{
    struct seen *s = arg;
    assert_true(s->n < MAX_SEEN);
    int i = s->n++;
    s->kind[i] = ch->kind;
    s->applied[i] = ch->applied;
    s->cutoff[i] = ch->cutoff;
    if (ch->item) {
        snprintf(s->key[i], sizeof(s->key[i]), "%.*s", ch->item->nkey, ch->item->key);
        snprintf(s->val[i], sizeof(s->val[i]), "%.*s", (int)ch->item->nvalue,
                 ch->item->value ? ch->item->value : "");
        s->version[i] = ch->item->version;
        s->exptime[i] = ch->item->exptime;
    }
}

static struct store *mk(struct seen *seen, size_t mem, uint32_t tombstone_ttl, bool touch_version)
{
    struct store_config cfg;
    store_config_init(&cfg);
    cfg.mem_limit = mem;
    cfg.tombstone_ttl = tombstone_ttl;
    cfg.on_change = record;
    cfg.on_change_arg = seen;
    cfg.touch_new_version = touch_version;
    const char *err = NULL;
    struct store *s = store_create(&cfg, &err);
    assert_non_null(s);
    return s;
}

static void test_writes_report_the_resulting_item(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct store *s = mk(&seen, 8 << 20, 60, true);
    uint64_t v1, v2;
    assert_int_equal(put_mode(s, "k", "ab", STORE_SET, 0, &v1), STORE_OK);
    assert_int_equal(put_mode(s, "k", "cd", STORE_APPEND, 0, &v2), STORE_OK);
    assert_int_equal(put_mode(s, "k", "zz", STORE_ADD, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(seen.n, 2); /* a refused add changes nothing */
    assert_int_equal(seen.kind[0], STORE_CHANGE_SET);
    assert_string_equal(seen.val[0], "ab");
    assert_true(seen.version[0] == v1);
    assert_string_equal(seen.val[1], "abcd"); /* state, not the command */
    assert_true(seen.version[1] == v2 && v2 > v1);
    assert_false(seen.applied[1]);

    assert_int_equal(put(s, "n", "41"), STORE_OK);
    struct store_arith a = {.incr = true, .delta = 1};
    uint64_t value;
    assert_int_equal(store_arith(s, "n", 1, &a, &value, NULL, NULL), STORE_OK);
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.key[3], "n");
    assert_string_equal(seen.val[3], "42");
    store_destroy(s);
}

static void test_touch_replicates_with_a_new_version(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct store *s = mk(&seen, 8 << 20, 60, true);
    assert_int_equal(put(s, "t", "v"), STORE_OK);
    struct store_fetch touch = {.touch = true, .exptime = clock_now() + 100};
    assert_int_equal(store_fetch(s, "t", 1, &touch, NULL, NULL), STORE_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.exptime[1], clock_now() + 100);
    assert_true(seen.version[1] > seen.version[0]);
    /* a plain read is not a change */
    assert_int_equal(store_fetch(s, "t", 1, NULL, NULL, NULL), STORE_OK);
    assert_int_equal(seen.n, 2);
    store_destroy(s);
}

static void test_delete_reports_a_tombstone_with_or_without_local_ones(void **state)
{
    (void)state;
    for (uint32_t ttl = 0; ttl <= 60; ttl += 60) {
        struct seen seen = {0};
        struct store *s = mk(&seen, 8 << 20, ttl, false);
        assert_int_equal(put(s, "d", "v"), STORE_OK);
        assert_int_equal(store_delete(s, "d", 1, NULL), STORE_OK);
        assert_int_equal(store_delete(s, "d", 1, NULL), STORE_NOT_FOUND);
        assert_int_equal(seen.n, 2);
        assert_int_equal(seen.kind[1], STORE_CHANGE_TOMB);
        assert_string_equal(seen.key[1], "d");
        assert_true(seen.version[1] > seen.version[0]);
        store_destroy(s);
    }
}

static void test_flush_and_applied_records(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct store *s = mk(&seen, 8 << 20, 60, false);
    store_flush(s, 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.kind[0], STORE_CHANGE_FLUSH);
    assert_true(seen.cutoff[0] > 0);

    struct store_record r = {.key = "p", .nkey = 1, .value = "peer", .nvalue = 4,
                             .version = hlc_now()};
    assert_int_equal(store_apply(s, &r), STORE_OK);
    assert_int_equal(store_apply(s, &r), STORE_IGNORED); /* same version: nothing new */
    assert_int_equal(seen.n, 2);
    assert_true(seen.applied[1]);
    assert_string_equal(seen.val[1], "peer");
    store_destroy(s);
}

static void test_evictions_and_expiry_stay_local(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct store *s = mk(&seen, 256 * 1024, 0, false); /* four 64 KiB pages */
    char key[32], val[1000];
    memset(val, 'x', sizeof(val));
    int stored = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "e%d", i);
        if (put_full(s, key, val, sizeof(val), 0, 0, STORE_SET, 0, NULL) == STORE_OK)
            stored++;
        assert_int_equal(seen.n, 1); /* the write itself, never the items it evicted */
        seen.n = 0;
    }
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.evictions > 0);
    assert_true(stored == 600);
    seen.n = 0;
    uint32_t now = clock_now();
    assert_int_equal(put_full(s, "short", "v", 1, 0, now + 1, STORE_SET, 0, NULL), STORE_OK);
    assert_int_equal(seen.n, 1);
    clock_set(now + 5);
    assert_int_equal(store_fetch(s, "short", 5, NULL, NULL, NULL), STORE_NOT_FOUND);
    while (store_maintain(s))
        ;
    assert_int_equal(seen.n, 1); /* the expiry was not reported */
    clock_set(0);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_report_the_resulting_item),
        cmocka_unit_test(test_touch_replicates_with_a_new_version),
        cmocka_unit_test(test_delete_reports_a_tombstone_with_or_without_local_ones),
        cmocka_unit_test(test_flush_and_applied_records),
        cmocka_unit_test(test_evictions_and_expiry_stay_local),
    };
    return cmocka_run_group_tests_name("store_changes", tests, NULL, NULL);
}
