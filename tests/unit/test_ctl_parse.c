/* Unit tests for tandemctl's pure parsers: URL decoding and metadump lines,
 * STAT lines, mg VA headers and request formatting, addresses, JSON strings
 * and command-line options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/json.h"
#include "ctl/metadump.h"
#include "ctl/stats.h"
#include "ctl/values.h"

static long dec(const char *s, char *out)
{
    long n = ctl_urldecode(s, strlen(s), out);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

static void test_urldecode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(dec("plain-key_1.~", out), 13);
    assert_string_equal(out, "plain-key_1.~");
    assert_int_equal(dec("a%20b", out), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(dec("%2f%2F%41", out), 3); /* either case of hex digit */
    assert_string_equal(out, "//A");
    assert_int_equal(dec("a+b", out), 3); /* '+' is not a space in metadump */
    assert_string_equal(out, "a+b");
    assert_int_equal(ctl_urldecode("%00%FF", 6, out), 2);
    assert_int_equal((unsigned char)out[0], 0);
    assert_int_equal((unsigned char)out[1], 0xff);
    assert_int_equal(dec("", out), 0);
    /* malformed escapes are errors, not guesses */
    assert_int_equal(dec("%", out), -1);
    assert_int_equal(dec("ab%4", out), -1);
    assert_int_equal(dec("%zz", out), -1);
    assert_int_equal(dec("%4g", out), -1);
}

static bool parse(const char *line, struct ctl_meta *m)
{
    return ctl_metadump_parse(line, strlen(line), m);
}

static void test_metadump_line_memcached(void **state)
{
    (void)state;
    struct ctl_meta m;
    assert_true(parse("key=a%2520b exp=-1 la=1795271608 cas=1 fetch=no cls=1 size=65", &m));
    assert_int_equal(m.nkey, 5);
    assert_memory_equal(m.key, "a%20b", 5);
    assert_int_equal(m.cas, 1);
    assert_int_equal(m.exp, -1);
    assert_int_equal(m.size, 65);
    assert_true(parse("key=sp exp=1795271708 la=1 cas=18446744073709551615 fetch=yes cls=1 size=62",
                      &m));
    assert_int_equal(m.exp, 1795271708);
    assert_true(m.cas == UINT64_MAX);
}

static void test_metadump_line_binary_key_and_unknown_fields(void **state)
{
    (void)state;
    struct ctl_meta m;
    /* a key with a control byte and a space; a newer server's extra field */
    assert_true(parse("key=k%01%20x exp=-1 la=5 cas=42 fetch=no cls=3 size=70 flags=7", &m));
    assert_int_equal(m.nkey, 4);
    assert_memory_equal(m.key, "k\x01 x", 4);
    assert_int_equal(m.cas, 42);
    /* fields in another order still parse */
    assert_true(parse("cas=9 key=z", &m));
    assert_int_equal(m.cas, 9);
    assert_string_equal(m.key, "z");
}

static void test_metadump_line_rejects(void **state)
{
    (void)state;
    struct ctl_meta m;
    assert_false(parse("", &m));
    assert_false(parse("END", &m));
    assert_false(parse("key=a exp=-1 la=1", &m));             /* no cas */
    assert_false(parse("exp=-1 cas=3", &m));                  /* no key */
    assert_false(parse("key= cas=3", &m));                    /* empty key */
    assert_false(parse("key=%zz cas=3", &m));                 /* bad escape */
    assert_false(parse("key=a cas=3x", &m));                  /* bad number */
    assert_false(parse("key=a cas=18446744073709551616", &m)); /* overflow */
    assert_false(parse("key=a cas=1 exp=soon", &m));
    assert_false(parse("BUSY currently processing crawler request", &m));
    char line[1200];
    int n = snprintf(line, sizeof(line), "key=");
    for (int i = 0; i < 251; i++)
        line[n++] = 'k';
    snprintf(line + n, sizeof(line) - (size_t)n, " cas=1");
    assert_false(parse(line, &m)); /* 251 bytes: longer than any memcached key */
    line[n - 1] = ' ';
    memcpy(line + n - 1, " cas=1", 7);
    assert_true(parse(line, &m));
    assert_int_equal(m.nkey, 250);
}

static void test_stats_line(void **state)
{
    (void)state;
    struct ctl_stats st = {0};
    bool oom;
    assert_true(ctl_stats_parse_line(&st, "STAT pid 123", 12, &oom));
    const char *err = "STAT upstream_0:last_error connect: Connection refused";
    assert_true(ctl_stats_parse_line(&st, err, strlen(err), &oom));
    assert_false(ctl_stats_parse_line(&st, "END", 3, &oom));
    assert_false(oom);
    assert_false(ctl_stats_parse_line(&st, "STAT lonely", 11, &oom));
    assert_false(ctl_stats_parse_line(&st, "HTTP/1.1 400", 12, &oom));
    assert_int_equal(st.n, 2);
    assert_string_equal(ctl_stats_get(&st, "pid"), "123");
    assert_string_equal(ctl_stats_get(&st, "upstream_0:last_error"),
                        "connect: Connection refused");
    assert_null(ctl_stats_get(&st, "nope"));
    uint64_t v;
    assert_true(ctl_stats_u64(&st, "pid", &v));
    assert_int_equal(v, 123);
    assert_false(ctl_stats_u64(&st, "upstream_0:last_error", &v));
    ctl_stats_free(&st);
    assert_int_equal(st.n, 0);
}

static void test_va_header(void **state)
{
    (void)state;
    struct ctl_value v;
    assert_true(ctl_values_parse_va("VA 5 c123", 9, &v));
    assert_true(v.found);
    assert_int_equal(v.len, 5);
    assert_int_equal(v.cas, 123);
    assert_true(ctl_values_parse_va("VA 0 f1 c7 t-1", 14, &v));
    assert_int_equal(v.len, 0);
    assert_int_equal(v.cas, 7);
    assert_false(ctl_values_parse_va("VA x c1", 7, &v));
    assert_false(ctl_values_parse_va("VA 5 cx", 7, &v));
    assert_false(ctl_values_parse_va("EN", 2, &v));
    assert_false(ctl_values_parse_va("VALUE a 0 1", 11, &v));
}

static void test_mg_format(void **state)
{
    (void)state;
    char out[CTL_MG_MAX];
    size_t n = ctl_values_format_mg(out, "foo", 3);
    assert_int_equal(n, strlen("mg foo v c\r\n"));
    assert_memory_equal(out, "mg foo v c\r\n", n);
    /* a key with a space or control byte goes base64 with the b flag */
    n = ctl_values_format_mg(out, "a b", 3);
    assert_memory_equal(out, "mg YSBi b v c\r\n", n);
    n = ctl_values_format_mg(out, "k\x01", 2);
    assert_memory_equal(out, "mg awE= b v c\r\n", n);
    char big[250];
    memset(big, 0x80, sizeof(big));
    n = ctl_values_format_mg(out, big, sizeof(big));
    assert_true(n < CTL_MG_MAX);
}

static void test_value_equal(void **state)
{
    (void)state;
    struct ctl_value a = {.found = true, .cas = 1, .len = 3, .hash = {1, 2}};
    struct ctl_value b = a, missing = {0}, missing2 = {.cas = 9};
    assert_true(ctl_value_equal(&a, &b));
    b.hash[1] = 3;
    assert_false(ctl_value_equal(&a, &b));
    b = a;
    b.cas = 2;
    assert_false(ctl_value_equal(&a, &b));
    assert_false(ctl_value_equal(&a, &missing));
    assert_true(ctl_value_equal(&missing, &missing2));
}

static bool split(const char *a, char *h, char *p)
{
    return ctl_addr_split(a, h, 64, p, 16);
}

static void test_addr_split(void **state)
{
    (void)state;
    char h[64], p[16];
    assert_true(split("127.0.0.1:11212", h, p));
    assert_string_equal(h, "127.0.0.1");
    assert_string_equal(p, "11212");
    assert_true(split("cache-1.example", h, p));
    assert_string_equal(p, "11211");
    assert_true(split("[::1]:5", h, p));
    assert_string_equal(h, "::1");
    assert_string_equal(p, "5");
    assert_true(split("[::1]", h, p));
    assert_string_equal(p, "11211");
    assert_false(split("", h, p));
    assert_false(split(":11211", h, p));
    assert_false(split("host:", h, p));
    assert_false(split("host:0", h, p));
    assert_false(split("host:65536", h, p));
    assert_false(split("host:12ab", h, p));
    assert_false(split("::1:11211", h, p)); /* IPv6 needs brackets */
    assert_false(split("[::1", h, p));
    assert_false(split("[::1]x", h, p));
    char longhost[100];
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[99] = '\0';
    assert_false(split(longhost, h, p)); /* does not fit: refused, not cut */
}

static void test_json_string(void **state)
{
    (void)state;
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    assert_non_null(f);
    ctl_json_str(f, "a\"b\\c\n\x01\xc3");
    fputc(' ', f);
    ctl_json_str(f, NULL);
    bool first = true;
    fputc(' ', f);
    ctl_json_key(f, &first, "x");
    ctl_json_u64(f, true, 18446744073709551615ull);
    ctl_json_key(f, &first, "y");
    ctl_json_u64(f, false, 1);
    fclose(f);
    assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\\u0001\\u00c3\" null "
                             "\"x\": 18446744073709551615, \"y\": null");
    free(out);
}

static void test_options(void **state)
{
    (void)state;
    struct ctl_opts o;
    char a0[] = "verify", a1[] = "h1:1", a2[] = "--timeout", a3[] = "2.5", a4[] = "--values",
         a5[] = "h2:2", a6[] = "--", a7[] = "--weird-host";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7};
    assert_true(ctl_opts_parse("verify", 8, argv, CTL_OPT_VALUES | CTL_OPT_TIMEOUT, &o));
    assert_int_equal(o.timeout_ms, 2500);
    assert_true(o.values);
    assert_false(o.json);
    assert_int_equal(o.nargs, 3);
    assert_string_equal(o.args[0], "h1:1");
    assert_string_equal(o.args[1], "h2:2");
    assert_string_equal(o.args[2], "--weird-host");

    char b0[] = "status", b1[] = "--timeout=0.001", b2[] = "h";
    char *bv[] = {b0, b1, b2};
    assert_true(ctl_opts_parse("status", 3, bv, CTL_OPT_JSON | CTL_OPT_TIMEOUT, &o));
    assert_int_equal(o.timeout_ms, 1);
    assert_int_equal(o.nargs, 1);

    /* options a command does not take, bad numbers and typos are errors */
    char c0[] = "status", c1[] = "--values";
    char *cv[] = {c0, c1};
    assert_false(ctl_opts_parse("status", 2, cv, CTL_OPT_JSON | CTL_OPT_TIMEOUT, &o));
    char d0[] = "status", d1[] = "--timeout", d2[] = "0";
    char *dv[] = {d0, d1, d2};
    assert_false(ctl_opts_parse("status", 3, dv, CTL_OPT_TIMEOUT, &o));
    char e0[] = "status", e1[] = "--timeout";
    char *ev[] = {e0, e1};
    assert_false(ctl_opts_parse("status", 2, ev, CTL_OPT_TIMEOUT, &o));
    char f0[] = "status", f1[] = "--timeout=10s";
    char *fv[] = {f0, f1};
    assert_false(ctl_opts_parse("status", 2, fv, CTL_OPT_TIMEOUT, &o));
    char g0[] = "status", g1[] = "-j";
    char *gv[] = {g0, g1};
    assert_false(ctl_opts_parse("status", 2, gv, CTL_OPT_JSON, &o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urldecode),
        cmocka_unit_test(test_metadump_line_memcached),
        cmocka_unit_test(test_metadump_line_binary_key_and_unknown_fields),
        cmocka_unit_test(test_metadump_line_rejects),
        cmocka_unit_test(test_stats_line),
        cmocka_unit_test(test_va_header),
        cmocka_unit_test(test_mg_format),
        cmocka_unit_test(test_value_equal),
        cmocka_unit_test(test_addr_split),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests_name("ctl_parse", tests, NULL, NULL);
}
