/* Unit tests for ctl/keyset: sorting and de-duplication, the digest's exact
 * encoding and its independence from dump order, and the merge join that
 * lists the keys nodes disagree on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <xxhash.h>

#include "ctl/keyset.h"

static void add(struct ctl_keyset *ks, const char *key, uint64_t cas)
{
    assert_true(ctl_keyset_add(ks, key, strlen(key), cas));
}

static void test_sort_and_dedupe(void **state)
{
    (void)state;
    struct ctl_keyset ks = {0};
    add(&ks, "b", 5);
    add(&ks, "ab", 1);
    add(&ks, "a", 2);
    add(&ks, "b", 9); /* listed twice (table grew under the crawler): newest wins */
    add(&ks, "b", 7);
    assert_true(ctl_keyset_add(&ks, "a\0z", 3, 4)); /* binary key, sorts after "a" */
    ctl_keyset_finish(&ks);
    assert_int_equal(ks.n, 4);
    assert_int_equal(ks.keys[0].len, 1);
    assert_memory_equal(ctl_keyset_key(&ks, 0), "a", 1);
    assert_int_equal(ks.keys[1].len, 3);
    assert_memory_equal(ctl_keyset_key(&ks, 1), "a\0z", 3);
    assert_memory_equal(ctl_keyset_key(&ks, 2), "ab", 2);
    assert_memory_equal(ctl_keyset_key(&ks, 3), "b", 1);
    assert_int_equal(ks.keys[3].cas, 9);
    ctl_keyset_free(&ks);
    assert_int_equal(ks.n, 0);
}

static void test_key_cmp(void **state)
{
    (void)state;
    assert_true(ctl_key_cmp("a", 1, "b", 1) < 0);
    assert_true(ctl_key_cmp("a", 1, "ab", 2) < 0);
    assert_true(ctl_key_cmp("ab", 2, "a", 1) > 0);
    assert_int_equal(ctl_key_cmp("ab", 2, "ab", 2), 0);
    assert_true(ctl_key_cmp("\xff", 1, "a", 1) > 0); /* bytes compare unsigned */
}

static void test_digest_encoding(void **state)
{
    (void)state;
    struct ctl_keyset ks = {0};
    ctl_keyset_finish(&ks);
    assert_true(ctl_keyset_digest(&ks) == XXH3_64bits("", 0));
    add(&ks, "k1", 0x0102030405060708ull);
    add(&ks, "abc", 1);
    ctl_keyset_finish(&ks);
    /* sorted entries, each: u32 LE length, key, u64 LE cas */
    static const unsigned char want[] = {
        3, 0, 0, 0, 'a', 'b', 'c', 1, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 0, 0, 'k', '1', 8, 7, 6, 5, 4, 3, 2, 1,
    };
    assert_true(ctl_keyset_digest(&ks) == XXH3_64bits(want, sizeof(want)));
    ctl_keyset_free(&ks);
}

static uint64_t digest_of(const char *const *keys, const uint64_t *cas, size_t n)
{
    struct ctl_keyset ks = {0};
    for (size_t i = 0; i < n; i++)
        add(&ks, keys[i], cas[i]);
    ctl_keyset_finish(&ks);
    uint64_t d = ctl_keyset_digest(&ks);
    ctl_keyset_free(&ks);
    return d;
}

static void test_digest_order_independent_and_sensitive(void **state)
{
    (void)state;
    const char *k1[] = {"x", "y", "z"}, *k2[] = {"z", "x", "y"};
    uint64_t c1[] = {1, 2, 3}, c2[] = {3, 1, 2};
    uint64_t d = digest_of(k1, c1, 3);
    assert_true(d == digest_of(k2, c2, 3));
    uint64_t other_cas[] = {1, 2, 4};
    assert_true(d != digest_of(k1, other_cas, 3));
    const char *other_key[] = {"x", "y", "zz"};
    assert_true(d != digest_of(other_key, c1, 3));
    assert_true(d != digest_of(k1, c1, 2));
    /* length prefixes keep ("ab","c") apart from ("a","bc") */
    const char *s1[] = {"ab", "c"}, *s2[] = {"a", "bc"};
    uint64_t z[] = {0, 0};
    assert_true(digest_of(s1, z, 2) != digest_of(s2, z, 2));
}

static void test_many_keys_grow(void **state)
{
    (void)state;
    struct ctl_keyset a = {0}, b = {0};
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        assert_true(ctl_keyset_add(&a, key, (size_t)n, (uint64_t)i));
        n = snprintf(key, sizeof(key), "key:%d", 99999 - i);
        assert_true(ctl_keyset_add(&b, key, (size_t)n, (uint64_t)(99999 - i)));
    }
    ctl_keyset_finish(&a);
    ctl_keyset_finish(&b);
    assert_int_equal(a.n, 100000);
    assert_true(ctl_keyset_digest(&a) == ctl_keyset_digest(&b));
    ctl_keyset_free(&a);
    ctl_keyset_free(&b);
}

struct rows {
    char text[1024];
    size_t len;
    size_t n;
};

/* "key:same:cas|cas|-;" per row ('-' for missing) */
static bool record(void *arg, const struct ctl_diff_row *row)
{
    struct rows *r = arg;
    r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "%.*s:%d:",
                               (int)row->len, row->key, row->same);
    for (size_t i = 0; i < 3; i++) {
        if (row->has[i])
            r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "%llu",
                                       (unsigned long long)row->cas[i]);
        else
            r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "-");
        r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, i < 2 ? "|" : ";");
    }
    r->n++;
    return true;
}

static bool stop_after_one(void *arg, const struct ctl_diff_row *row)
{
    (void)row;
    ++*(int *)arg;
    return false;
}

static void test_walk(void **state)
{
    (void)state;
    struct ctl_keyset s[3] = {{0}};
    add(&s[0], "a", 1);
    add(&s[0], "b", 2);
    add(&s[0], "d", 4);
    add(&s[1], "b", 2);
    add(&s[1], "a", 1);
    add(&s[1], "c", 3);
    add(&s[1], "d", 5);
    add(&s[2], "d", 4);
    add(&s[2], "b", 2);
    add(&s[2], "a", 1);
    for (int i = 0; i < 3; i++)
        ctl_keyset_finish(&s[i]);
    struct rows r = {0};
    assert_true(ctl_keyset_walk(s, 3, record, &r));
    assert_string_equal(r.text, "a:1:1|1|1;b:1:2|2|2;c:0:-|3|-;d:0:4|5|4;");
    int calls = 0;
    assert_true(ctl_keyset_walk(s, 3, stop_after_one, &calls));
    assert_int_equal(calls, 1);
    /* empty sets: nothing to walk */
    struct ctl_keyset e[2] = {{0}};
    struct rows none = {0};
    assert_true(ctl_keyset_walk(e, 2, record, &none));
    assert_int_equal(none.n, 0);
    for (int i = 0; i < 3; i++)
        ctl_keyset_free(&s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_and_dedupe),
        cmocka_unit_test(test_key_cmp),
        cmocka_unit_test(test_digest_encoding),
        cmocka_unit_test(test_digest_order_independent_and_sensitive),
        cmocka_unit_test(test_many_keys_grow),
        cmocka_unit_test(test_walk),
    };
    return cmocka_run_group_tests_name("ctl_keyset", tests, NULL, NULL);
}
