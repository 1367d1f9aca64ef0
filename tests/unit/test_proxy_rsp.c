/*
 * Unit tests for proxy/rsp: the backend reply grammar. Every reply memcached
 * 1.6 sends parses to its exact length; anything else is RSP_INVALID, and a
 * reply cut anywhere is RSP_NEED_MORE (never a wrong length).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/rsp.h"

/* Parse s whole; then every prefix must need more (resuming the same state
 * from each shorter prefix, as the server loop does). */
static void ok_at(enum rsp_kind k, const char *s, size_t n, enum rsp_class cls, const char *file,
                  int line)
{
    struct rsp r;
    for (size_t cut = 0; cut < n; cut++) {
        memset(&r, 0, sizeof(r));
        for (size_t i = 0; i <= cut; i++)
            _assert_int_equal(rsp_parse(k, s, i, &r), RSP_NEED_MORE, file, line);
    }
    memset(&r, 0, sizeof(r));
    _assert_int_equal(rsp_parse(k, s, n, &r), RSP_OK, file, line);
    _assert_int_equal(r.len, n, file, line);
    _assert_int_equal(r.cls, cls, file, line);
}

static void bad_at(enum rsp_kind k, const char *s, size_t n, const char *file, int line)
{
    struct rsp r = {0};
    _assert_int_equal(rsp_parse(k, s, n, &r), RSP_INVALID, file, line);
}

#define OK(k, lit, cls) ok_at(k, lit, sizeof(lit) - 1, cls, __FILE__, __LINE__)
#define BAD(k, lit) bad_at(k, lit, sizeof(lit) - 1, __FILE__, __LINE__)

static void test_retrieval(void **state)
{
    (void)state;
    OK(RSP_KIND_RETRIEVAL, "END\r\n", RSP_MISS);
    OK(RSP_KIND_RETRIEVAL, "VALUE a 0 1\r\nx\r\nEND\r\n", RSP_SUCCESS);
    OK(RSP_KIND_RETRIEVAL, "VALUE a 4294967295 3 12345\r\na\r\n\r\nVALUE bb 1 0\r\n\r\nEND\r\n",
       RSP_SUCCESS);
    OK(RSP_KIND_RETRIEVAL, "SERVER_ERROR out of memory\r\n", RSP_SERVER_ERROR);
    OK(RSP_KIND_RETRIEVAL, "CLIENT_ERROR bad command line format\r\n", RSP_ERROR);
    OK(RSP_KIND_RETRIEVAL, "VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing\r\n",
       RSP_SERVER_ERROR);
    BAD(RSP_KIND_RETRIEVAL, "STORED\r\n");
    BAD(RSP_KIND_RETRIEVAL, "END\n");
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 0 1\r\nxy\r\nEND\r\n");     /* block too long */
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 0 -1\r\n");
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 4294967296 1\r\n");         /* flags > 32 bits */
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 0 99999999999\r\n");        /* > RSP_VALUE_MAX */
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 0 1 2 3\r\n");
    BAD(RSP_KIND_RETRIEVAL, "VALUE  0 1\r\n");
    BAD(RSP_KIND_RETRIEVAL, "VALUE a 0 1 \r\n");
}

static void test_line_kinds(void **state)
{
    (void)state;
    OK(RSP_KIND_STORE, "STORED\r\n", RSP_SUCCESS);
    OK(RSP_KIND_STORE, "NOT_STORED\r\n", RSP_SUCCESS);
    OK(RSP_KIND_STORE, "EXISTS\r\n", RSP_SUCCESS);
    OK(RSP_KIND_STORE, "NOT_FOUND\r\n", RSP_MISS);
    OK(RSP_KIND_STORE, "SERVER_ERROR object too large for cache\r\n", RSP_SERVER_ERROR);
    OK(RSP_KIND_STORE, "ERROR\r\n", RSP_ERROR);
    OK(RSP_KIND_DELETE, "DELETED\r\n", RSP_SUCCESS);
    OK(RSP_KIND_TOUCH, "TOUCHED\r\n", RSP_SUCCESS);
    OK(RSP_KIND_ARITH, "18446744073709551615\r\n", RSP_SUCCESS);
    OK(RSP_KIND_ARITH, "NOT_FOUND\r\n", RSP_MISS);
    OK(RSP_KIND_ARITH, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
       RSP_ERROR);
    OK(RSP_KIND_VERSION, "VERSION 1.6.18\r\n", RSP_SUCCESS);
    OK(RSP_KIND_OK, "OK\r\n", RSP_SUCCESS);
    BAD(RSP_KIND_STORE, "DELETED\r\n");
    BAD(RSP_KIND_DELETE, "STORED\r\n");
    BAD(RSP_KIND_ARITH, "18446744073709551616\r\n");
    BAD(RSP_KIND_ARITH, "-1\r\n");
    BAD(RSP_KIND_ARITH, "12a\r\n");
    BAD(RSP_KIND_VERSION, "VERSION \r\n");
    BAD(RSP_KIND_OK, "NOT_FOUND\r\n");
    BAD(RSP_KIND_STORE, "SERVER_ERROR \x01\r\n");
    BAD(RSP_KIND_STORE, "\r\n");
    BAD(RSP_KIND_STORE, "ERRORS\r\n");
}

static void test_meta(void **state)
{
    (void)state;
    OK(RSP_KIND_META, "HD\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "HD c5 kfoo O12\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "EN\r\n", RSP_MISS);
    OK(RSP_KIND_META, "NF O1 kx\r\n", RSP_MISS);
    OK(RSP_KIND_META, "NS\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "EX\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "VA 2 f0 t-1\r\nhi\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "VA 0\r\n\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "ME k exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\n", RSP_SUCCESS);
    OK(RSP_KIND_META, "CLIENT_ERROR bad data chunk\r\n", RSP_ERROR);
    BAD(RSP_KIND_META, "VA x\r\n");
    BAD(RSP_KIND_META, "VA 1\r\nab\r\n");
    BAD(RSP_KIND_META, "ZZ\r\n");
    BAD(RSP_KIND_META, "HDX\r\n");
    BAD(RSP_KIND_META, "VALUE a 0 1\r\nx\r\nEND\r\n");
}

static void test_long_line_without_newline_is_invalid(void **state)
{
    (void)state;
    static char big[5000];
    memset(big, 'A', sizeof(big));
    struct rsp r = {0};
    assert_int_equal(rsp_parse(RSP_KIND_STORE, big, 100, &r), RSP_NEED_MORE);
    assert_int_equal(rsp_parse(RSP_KIND_STORE, big, sizeof(big), &r), RSP_INVALID);
}

static void test_next_value_walks_blocks(void **state)
{
    (void)state;
    const char s[] = "VALUE a 0 1\r\nx\r\nVALUE bb 7 3 9\r\nyyy\r\nEND\r\n";
    size_t pos = 0, nkey, blen;
    const char *key;
    assert_true(rsp_next_value(s, sizeof(s) - 1, &pos, &key, &nkey, &blen));
    assert_int_equal(nkey, 1);
    assert_memory_equal(key, "a", 1);
    assert_int_equal(blen, 16);
    assert_true(rsp_next_value(s, sizeof(s) - 1, &pos, &key, &nkey, &blen));
    assert_memory_equal(key, "bb", 2);
    assert_int_equal(blen, 21);
    assert_false(rsp_next_value(s, sizeof(s) - 1, &pos, &key, &nkey, &blen));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrieval),
        cmocka_unit_test(test_line_kinds),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_long_line_without_newline_is_invalid),
        cmocka_unit_test(test_next_value_walks_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
