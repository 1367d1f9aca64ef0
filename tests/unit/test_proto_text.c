/*
 * Unit tests for proto/text: framing, the classic commands, memcached's
 * number rules, base64 and the VALUE writer. Every expected string and quirk
 * here was observed on memcached 1.6.18. Meta commands: test_proto_meta.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/text.h"

static const char FORMAT[] = "CLIENT_ERROR bad command line format";
static const char DELETE_USAGE[] =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
static const char DELTA[] = "CLIENT_ERROR invalid numeric delta argument";
static const char EXPTIME[] = "CLIENT_ERROR invalid exptime argument";

static struct proto_req req;

static enum proto_status parse_n(const char *s, size_t n)
{
    memset(&req, 0xa5, sizeof(req)); /* the parser must not rely on a clean req */
    return proto_text_parse(s, n, &req);
}

#define PARSE(lit) parse_n(lit, sizeof(lit) - 1)

/* An error reply for a one-line input: the whole line is consumed. */
static void expect_error_at(const char *s, size_t n, const char *msg, bool noreply,
                            const char *file, int line)
{
    _assert_int_equal(parse_n(s, n), PROTO_ERROR, file, line);
    _assert_string_equal(req.error, msg, file, line);
    _assert_int_equal(req.noreply, noreply, file, line);
    _assert_int_equal(req.swallow, 0, file, line);
    _assert_int_equal(req.nread, n, file, line);
}

#define EXPECT_ERROR(lit, msg) expect_error_at(lit, sizeof(lit) - 1, msg, false, __FILE__, __LINE__)
#define EXPECT_ERROR_NOREPLY(lit, msg) \
    expect_error_at(lit, sizeof(lit) - 1, msg, true, __FILE__, __LINE__)

static void expect_ok_at(const char *s, size_t n, enum proto_cmd cmd, const char *file, int line)
{
    _assert_int_equal(parse_n(s, n), PROTO_OK, file, line);
    _assert_int_equal(req.cmd, cmd, file, line);
    _assert_int_equal(req.nread, n, file, line);
}

#define EXPECT_OK(lit, cmd) expect_ok_at(lit, sizeof(lit) - 1, cmd, __FILE__, __LINE__)

static void assert_token(struct proto_token t, const char *s)
{
    assert_int_equal(t.n, strlen(s));
    assert_memory_equal(t.p, s, t.n);
}

/* --- framing ------------------------------------------------------------- */

static void test_incomplete_line_needs_more(void **state)
{
    (void)state;
    assert_int_equal(PARSE(""), PROTO_NEED_MORE);
    assert_int_equal(PARSE("get foo\r"), PROTO_NEED_MORE);
    char buf[PROTO_LINE_MAX + 1];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(parse_n(buf, PROTO_LINE_MAX), PROTO_NEED_MORE);
    assert_int_equal(parse_n(buf, PROTO_LINE_MAX + 1), PROTO_CLOSE);
}

static void test_long_unterminated_get_waits(void **state)
{
    (void)state;
    static char buf[4096];
    const char *prefixes[] = {"get ", "gets "};
    for (size_t i = 0; i < 2; i++) {
        memset(buf, 'a', sizeof(buf));
        memcpy(buf, prefixes[i], strlen(prefixes[i]));
        assert_int_equal(parse_n(buf, sizeof(buf)), PROTO_NEED_MORE);
    }
    /* up to 100 leading spaces are tolerated, 101 are not */
    memset(buf, 'a', sizeof(buf));
    memset(buf, ' ', 100);
    memcpy(buf + 100, "get ", 4);
    assert_int_equal(parse_n(buf, sizeof(buf)), PROTO_NEED_MORE);
    memset(buf, ' ', 101);
    memcpy(buf + 101, "get ", 4);
    assert_int_equal(parse_n(buf, sizeof(buf)), PROTO_CLOSE);
    /* only get/gets, and only with a space after them */
    const char *others[] = {"gat 1 ", "get\t", "set ", "bget "};
    for (size_t i = 0; i < 4; i++) {
        memset(buf, 'a', sizeof(buf));
        memcpy(buf, others[i], strlen(others[i]));
        assert_int_equal(parse_n(buf, sizeof(buf)), PROTO_CLOSE);
    }
}

static void test_long_terminated_line_is_parsed(void **state)
{
    (void)state;
    static char buf[3002];
    memset(buf, 'x', 3000);
    memcpy(buf + 3000, "\r\n", 2);
    assert_int_equal(parse_n(buf, sizeof(buf)), PROTO_ERROR);
    assert_string_equal(req.error, "ERROR");
    assert_int_equal(req.nread, sizeof(buf));
}

static void test_line_endings(void **state)
{
    (void)state;
    EXPECT_OK("version\n", PROTO_CMD_VERSION);
    EXPECT_OK("version\r\n", PROTO_CMD_VERSION);
    /* a stray \r inside the line belongs to the token */
    EXPECT_OK("get foo\r\r\n", PROTO_CMD_GET);
    assert_token(req.keys, "foo\r");
    /* only the first line is consumed */
    assert_int_equal(PARSE("version\r\nget a\r\n"), PROTO_OK);
    assert_int_equal(req.nread, 9);
}

static void test_empty_short_and_unknown_lines(void **state)
{
    (void)state;
    EXPECT_ERROR("\r\n", "ERROR");
    EXPECT_ERROR("\n", "ERROR");
    EXPECT_ERROR("   \r\n", "ERROR");
    EXPECT_ERROR("g\r\n", "ERROR");
    EXPECT_ERROR("GET foo\r\n", "ERROR");
    EXPECT_ERROR("Set k 0 0 1\r\n", "ERROR");
    EXPECT_ERROR("xyz\r\n", "ERROR");
    EXPECT_ERROR("debugtime 1\r\n", "ERROR");
    EXPECT_ERROR("misbehave\r\n", "ERROR");
}

static void test_nul_ends_the_line(void **state)
{
    (void)state;
    EXPECT_OK("get foo\0bar\r\n", PROTO_CMD_GET);
    assert_token(req.keys, "foo");
    EXPECT_OK("set nul 0 0 1\0xx\r\n", PROTO_CMD_SET);
    assert_int_equal(req.nbytes, 1);
    EXPECT_ERROR("\0version\r\n", "ERROR");
}

static void test_spaces_collapse_tabs_do_not_split(void **state)
{
    (void)state;
    EXPECT_OK("  set  spaced   0  0  1 \r\n", PROTO_CMD_SET);
    assert_token(req.key, "spaced");
    assert_int_equal(req.nbytes, 1);
    EXPECT_OK("set a\tb 0 0 1\r\n", PROTO_CMD_SET);
    assert_token(req.key, "a\tb");
    EXPECT_OK("set a\001b 0 0 1\r\n", PROTO_CMD_SET);
    assert_token(req.key, "a\001b");
}

static void test_http_closes_only_outside_command_branches(void **state)
{
    (void)state;
    assert_int_equal(PARSE("GET / HTTP/1.1\r\n"), PROTO_CLOSE);
    assert_int_equal(PARSE("POST /x HTTP/1.0\r\n"), PROTO_CLOSE);
    assert_int_equal(PARSE("foo bar HTTP/\r\n"), PROTO_CLOSE);
    assert_int_equal(PARSE("ver HTTP/1.1\r\n"), PROTO_CLOSE);
    assert_int_equal(PARSE("mxx HTTP/1.1\r\n"), PROTO_CLOSE);
    assert_int_equal(PARSE("misbehave HTTP/1.1\r\n"), PROTO_CLOSE);
    EXPECT_ERROR("foo bar xHTTP/\r\n", "ERROR");
    EXPECT_ERROR("foo HTTP/1.1 bar\r\n", "ERROR");
    /* memcached's first-letter branches answer ERROR themselves */
    EXPECT_ERROR("sx HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("gx HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("ax HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("cx HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("ix HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("debugtime HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("tx HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("mx HTTP/1.1\r\n", "ERROR");
    EXPECT_ERROR("x HTTP/1.1\r\n", "ERROR");
    /* the check looks at the 23rd token when the line has more */
    assert_int_equal(PARSE("foo a a a a a a a a a a a a a a a a a a a a a HTTP/1.1 b c\r\n"),
                     PROTO_CLOSE);
    EXPECT_ERROR("foo a a a a a a a a a a a a a a a a a a a a a a HTTP/1.1\r\n", "ERROR");
}

static void test_token_cap(void **state)
{
    (void)state;
    EXPECT_OK("stats a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", PROTO_CMD_STATS);
    assert_int_equal(req.ntokens, PROTO_MAX_TOKENS - 1);
    assert_token(req.tokens[22], "v");
    EXPECT_ERROR("set k 0 0 1 x x x x x x x x x x x x x x x x x x x x\r\n", "ERROR");
}

/* --- retrieval ----------------------------------------------------------- */

static void test_get_family(void **state)
{
    (void)state;
    EXPECT_ERROR("get\r\n", "ERROR");
    EXPECT_ERROR("gets\r\n", "ERROR");
    EXPECT_ERROR("bget\r\n", "ERROR");
    EXPECT_ERROR("get \r\n", "ERROR");
    EXPECT_OK("get a\r\n", PROTO_CMD_GET);
    assert_token(req.keys, "a");
    EXPECT_OK("bget a\r\n", PROTO_CMD_GET);
    EXPECT_OK("gets a b\r\n", PROTO_CMD_GETS);
    assert_token(req.keys, "a b");
    EXPECT_OK("get noreply\r\n", PROTO_CMD_GET); /* just a key */
    assert_false(req.noreply);
}

static void test_next_key_walks_keys(void **state)
{
    (void)state;
    EXPECT_OK("get  a  bb   a \r\n", PROTO_CMD_GET);
    struct proto_token rest = req.keys, key;
    const char *want[] = {"a", "bb", "a"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(proto_text_next_key(&rest, &key));
        assert_token(key, want[i]);
    }
    assert_false(proto_text_next_key(&rest, &key));
    assert_false(proto_text_next_key(&rest, &key));
}

static void test_multiget_past_token_cap(void **state)
{
    (void)state;
    char line[4096] = "get";
    for (int i = 0; i < 40; i++)
        sprintf(line + strlen(line), " k%d", i);
    size_t n = strlen(line);
    memcpy(line + n, " \0tail\r\n", 9);
    n += 9;
    assert_int_equal(parse_n(line, n), PROTO_OK);
    struct proto_token rest = req.keys, key;
    int count = 0;
    while (proto_text_next_key(&rest, &key)) {
        char want[8];
        sprintf(want, "k%d", count++);
        assert_token(key, want);
    }
    assert_int_equal(count, 40); /* and nothing after the NUL */
}

static void test_long_key_is_left_to_the_server(void **state)
{
    (void)state;
    char line[600] = "get a ";
    memset(line + 6, 'k', 251);
    strcpy(line + 257, " b\r\n");
    assert_int_equal(parse_n(line, strlen(line)), PROTO_OK);
    struct proto_token rest = req.keys, key;
    assert_true(proto_text_next_key(&rest, &key));
    assert_true(proto_text_next_key(&rest, &key));
    assert_int_equal(key.n, 251);
}

static void test_gat(void **state)
{
    (void)state;
    EXPECT_ERROR("gat\r\n", "ERROR");
    EXPECT_OK("gat 10\r\n", PROTO_CMD_GAT); /* memcached answers END */
    assert_int_equal(req.keys.n, 0);
    assert_int_equal(req.exptime, 10);
    EXPECT_OK("gats -1 a b\r\n", PROTO_CMD_GATS);
    assert_int_equal(req.exptime, -1);
    assert_token(req.keys, "a b");
    EXPECT_ERROR("gat abc k\r\n", EXPTIME);
    EXPECT_ERROR("gat 10x k\r\n", EXPTIME);
    EXPECT_OK("gat 4294967296 k\r\n", PROTO_CMD_GAT);
    assert_int_equal(req.exptime, 0);
}

/* --- storage ------------------------------------------------------------- */

static void test_set_fields(void **state)
{
    (void)state;
    EXPECT_OK("set foo 5 100 3\r\n", PROTO_CMD_SET);
    assert_token(req.key, "foo");
    assert_int_equal(req.flags, 5);
    assert_int_equal(req.exptime, 100);
    assert_int_equal(req.nbytes, 3);
    assert_false(req.noreply);
    EXPECT_OK("add k 0 0 0 noreply\r\n", PROTO_CMD_ADD);
    assert_true(req.noreply);
    EXPECT_OK("replace k 0 0 1\r\n", PROTO_CMD_REPLACE);
    EXPECT_OK("append k 0 0 1\r\n", PROTO_CMD_APPEND);
    EXPECT_OK("prepend k 0 0 1\r\n", PROTO_CMD_PREPEND);
    EXPECT_OK("cas k 0 0 1 77\r\n", PROTO_CMD_CAS);
    assert_int_equal(req.cas, 77);
    EXPECT_OK("cas k 0 0 1 18446744073709551615 noreply\r\n", PROTO_CMD_CAS);
    assert_true(req.cas == UINT64_MAX);
    assert_true(req.noreply);
}

static void test_storage_token_counts(void **state)
{
    (void)state;
    EXPECT_ERROR("set k 0 0\r\n", "ERROR");
    EXPECT_ERROR("set k 0 0 1 noreply extra\r\n", "ERROR");
    EXPECT_ERROR("cas k 0 0 1\r\n", "ERROR");
    /* 6 tokens: "noreply" is both the unique and the last token */
    EXPECT_ERROR_NOREPLY("cas k 0 0 1 noreply\r\n", FORMAT);
    EXPECT_ERROR("prepend k 0 0\r\n", "ERROR");
    /* a sixth token that is not "noreply" is ignored */
    EXPECT_OK("set k 1 0 1 2\r\n", PROTO_CMD_SET);
    assert_false(req.noreply);
}

static void test_storage_errors_do_not_swallow(void **state)
{
    (void)state;
    char line[300] = "set ";
    memset(line + 4, 'k', 251);
    strcpy(line + 255, " 0 0 1\r\n");
    expect_error_at(line, strlen(line), FORMAT, false, __FILE__, __LINE__);
    strcpy(line + 255, " 0 0 1 noreply\r\n");
    expect_error_at(line, strlen(line), FORMAT, true, __FILE__, __LINE__);
    memset(line + 4, 'k', 250);
    strcpy(line + 254, " 0 0 1\r\n");
    assert_int_equal(parse_n(line, strlen(line)), PROTO_OK);

    EXPECT_ERROR("set k 0 0 -1\r\n", FORMAT);
    EXPECT_ERROR("set k 0 0 2147483646\r\n", FORMAT);
    EXPECT_ERROR("set k 5x 0 1\r\n", FORMAT);
    EXPECT_ERROR("set k 0 1x 1\r\n", FORMAT);
    EXPECT_ERROR("cas k 1 0 1 abc\r\n", FORMAT);
    EXPECT_ERROR("cas k 1 0 1 -1\r\n", FORMAT);
    /* noreply silences errors in the classic protocol, even this one */
    EXPECT_ERROR_NOREPLY("set k 0 0 noreply\r\n", FORMAT);
    EXPECT_ERROR_NOREPLY("set k 0 abc 1 noreply\r\n", FORMAT);
}

static void test_storage_number_quirks(void **state)
{
    (void)state;
    EXPECT_OK("set k 4294967296 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 0);
    EXPECT_OK("set k 4294967295 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 4294967295u);
    EXPECT_OK("set k 18446744073709551615 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 4294967295u);
    EXPECT_OK("set k -18446744073709551615 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 1);
    EXPECT_ERROR("set k -1 0 1\r\n", FORMAT);
    EXPECT_OK("set k -0 0 1\r\n", PROTO_CMD_SET);
    EXPECT_OK("set k +5 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 5);
    EXPECT_OK("set k 5\tjunk 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 5);
    EXPECT_OK("set k \t5 0 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.flags, 5);
    EXPECT_OK("set k 0 4294967296 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.exptime, 0);
    EXPECT_OK("set k 0 -1 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.exptime, -1);
    EXPECT_OK("set k 0 2147483648 1\r\n", PROTO_CMD_SET);
    assert_int_equal(req.exptime, INT32_MIN);
    EXPECT_OK("set k 0 0 4294967297\r\n", PROTO_CMD_SET);
    assert_int_equal(req.nbytes, 1);
    EXPECT_OK("set k 0 0 2147483645\r\n", PROTO_CMD_SET);
    assert_int_equal(req.nbytes, 2147483645);
}

/* --- delete / incr / decr / touch ---------------------------------------- */

static void test_delete(void **state)
{
    (void)state;
    EXPECT_ERROR("delete\r\n", "ERROR");
    EXPECT_OK("delete k\r\n", PROTO_CMD_DELETE);
    assert_token(req.key, "k");
    assert_false(req.noreply);
    EXPECT_OK("delete k 0\r\n", PROTO_CMD_DELETE);
    EXPECT_OK("delete k noreply\r\n", PROTO_CMD_DELETE);
    assert_true(req.noreply);
    EXPECT_OK("delete k 0 noreply\r\n", PROTO_CMD_DELETE);
    assert_true(req.noreply);
    EXPECT_ERROR("delete k x\r\n", DELETE_USAGE);
    EXPECT_ERROR("delete k 0 x\r\n", DELETE_USAGE);
    EXPECT_ERROR("delete k 00\r\n", DELETE_USAGE);
    EXPECT_ERROR_NOREPLY("delete k x noreply\r\n", DELETE_USAGE);
    EXPECT_ERROR_NOREPLY("delete k noreply noreply\r\n", DELETE_USAGE);
    EXPECT_ERROR("delete k 0 noreply x\r\n", "ERROR");

    char line[300] = "delete ";
    memset(line + 7, 'k', 251);
    strcpy(line + 258, " 0\r\n");
    expect_error_at(line, strlen(line), FORMAT, false, __FILE__, __LINE__);
    strcpy(line + 258, " x\r\n"); /* the usage check comes first */
    expect_error_at(line, strlen(line), DELETE_USAGE, false, __FILE__, __LINE__);
}

static void test_incr_decr(void **state)
{
    (void)state;
    EXPECT_OK("incr k 5\r\n", PROTO_CMD_INCR);
    assert_int_equal(req.delta, 5);
    EXPECT_OK("decr k 18446744073709551615 noreply\r\n", PROTO_CMD_DECR);
    assert_true(req.delta == UINT64_MAX);
    assert_true(req.noreply);
    EXPECT_OK("incr k 1 x\r\n", PROTO_CMD_INCR);
    assert_false(req.noreply);
    EXPECT_ERROR("incr k\r\n", "ERROR");
    EXPECT_ERROR("decr k 1 noreply x\r\n", "ERROR");
    EXPECT_ERROR("incr k -1\r\n", DELTA);
    EXPECT_ERROR("incr k abc\r\n", DELTA);
    EXPECT_ERROR("incr k 18446744073709551616\r\n", DELTA);
    EXPECT_ERROR_NOREPLY("incr k abc noreply\r\n", DELTA);

    char line[300] = "incr ";
    memset(line + 5, 'k', 251);
    strcpy(line + 256, " x\r\n"); /* key length before delta */
    expect_error_at(line, strlen(line), FORMAT, false, __FILE__, __LINE__);
}

static void test_touch(void **state)
{
    (void)state;
    EXPECT_OK("touch k 10\r\n", PROTO_CMD_TOUCH);
    assert_int_equal(req.exptime, 10);
    EXPECT_OK("touch k -5 noreply\r\n", PROTO_CMD_TOUCH);
    assert_int_equal(req.exptime, -5);
    assert_true(req.noreply);
    EXPECT_ERROR("touch k\r\n", "ERROR");
    EXPECT_ERROR("touch k abc\r\n", EXPTIME);
    EXPECT_ERROR_NOREPLY("touch k abc noreply\r\n", EXPTIME);

    char line[300] = "touch ";
    memset(line + 6, 'k', 251);
    strcpy(line + 257, " abc\r\n");
    expect_error_at(line, strlen(line), FORMAT, false, __FILE__, __LINE__);
}

/* --- admin --------------------------------------------------------------- */

static void test_admin_classification(void **state)
{
    (void)state;
    EXPECT_OK("flush_all\r\n", PROTO_CMD_FLUSH_ALL);
    EXPECT_OK("version x y\r\n", PROTO_CMD_VERSION);
    EXPECT_OK("quit x\r\n", PROTO_CMD_QUIT);
    EXPECT_OK("shutdown graceful\r\n", PROTO_CMD_SHUTDOWN);
    EXPECT_OK("stats\r\n", PROTO_CMD_STATS);
    EXPECT_OK("lru_crawler crawl all\r\n", PROTO_CMD_LRU_CRAWLER);
    EXPECT_OK("slabs\r\n", PROTO_CMD_SLABS);
    EXPECT_OK("watch\r\n", PROTO_CMD_WATCH);
    EXPECT_OK("refresh_certs\r\n", PROTO_CMD_REFRESH_CERTS);
    EXPECT_OK("lru mode flat\r\n", PROTO_CMD_LRU);
    assert_int_equal(req.ntokens, 3);
    assert_token(req.tokens[0], "lru");
    assert_token(req.tokens[2], "flat");
    EXPECT_OK("extstore item_size 5\r\n", PROTO_CMD_EXTSTORE);
    EXPECT_OK("cache_memlimit 64\r\n", PROTO_CMD_CACHE_MEMLIMIT);
    EXPECT_OK("verbosity 1\r\n", PROTO_CMD_VERBOSITY);
}

static void test_admin_token_counts(void **state)
{
    (void)state;
    EXPECT_ERROR("flush_all 1 2 3\r\n", "ERROR");
    EXPECT_OK("flush_all 0 x\r\n", PROTO_CMD_FLUSH_ALL);
    EXPECT_ERROR("verbosity\r\n", "ERROR");
    EXPECT_ERROR("verbosity 1 2 3\r\n", "ERROR");
    EXPECT_OK("verbosity 1 2\r\n", PROTO_CMD_VERBOSITY);
    EXPECT_ERROR("cache_memlimit\r\n", "ERROR");
    EXPECT_ERROR("cache_memlimit 1 2 3\r\n", "ERROR");
    EXPECT_ERROR("lru\r\n", "ERROR");
    EXPECT_ERROR("extstore\r\n", "ERROR");
    /* no count rule of their own */
    EXPECT_OK("lru_crawler\r\n", PROTO_CMD_LRU_CRAWLER);
    EXPECT_OK("shutdown a b c\r\n", PROTO_CMD_SHUTDOWN);
}

static void test_admin_noreply(void **state)
{
    (void)state;
    EXPECT_OK("flush_all noreply\r\n", PROTO_CMD_FLUSH_ALL);
    assert_true(req.noreply);
    EXPECT_OK("verbosity noreply\r\n", PROTO_CMD_VERBOSITY); /* a silent bad number */
    assert_true(req.noreply);
    EXPECT_OK("cache_memlimit x noreply\r\n", PROTO_CMD_CACHE_MEMLIMIT);
    assert_true(req.noreply);
    EXPECT_OK("lru x noreply\r\n", PROTO_CMD_LRU);
    assert_true(req.noreply);
    EXPECT_OK("extstore x noreply\r\n", PROTO_CMD_EXTSTORE);
    assert_true(req.noreply);
    EXPECT_OK("watch noreply\r\n", PROTO_CMD_WATCH);
    assert_true(req.noreply);
    EXPECT_OK("refresh_certs noreply\r\n", PROTO_CMD_REFRESH_CERTS);
    assert_true(req.noreply);
    EXPECT_OK("slabs automove 5 noreply\r\n", PROTO_CMD_SLABS);
    assert_true(req.noreply);
    EXPECT_OK("slabs reassign 1 noreply\r\n", PROTO_CMD_SLABS);
    assert_false(req.noreply);
    EXPECT_OK("slabs noreply\r\n", PROTO_CMD_SLABS);
    assert_false(req.noreply);
    const char *never[] = {"version noreply\r\n", "stats noreply\r\n", "shutdown noreply\r\n",
                           "quit noreply\r\n", "lru_crawler enable noreply\r\n", "mn noreply\r\n"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        assert_int_equal(parse_n(never[i], strlen(never[i])), PROTO_OK);
        assert_false(req.noreply);
    }
}

/* --- numbers ------------------------------------------------------------- */

static bool u32(const char *s, uint32_t *v) { return proto_parse_u32(s, strlen(s), v); }
static bool i32(const char *s, int32_t *v) { return proto_parse_i32(s, strlen(s), v); }
static bool u64(const char *s, uint64_t *v) { return proto_parse_u64(s, strlen(s), v); }

static void test_number_rules(void **state)
{
    (void)state;
    uint32_t u;
    int32_t i;
    uint64_t w;
    assert_true(u32("0", &u) && u == 0);
    assert_true(u32("4294967296", &u) && u == 0);
    assert_true(u32("4294967297", &u) && u == 1);
    assert_true(u32("\v\f7", &u) && u == 7);
    assert_true(u32("7\r", &u) && u == 7);
    assert_true(u32("-9223372036854775809", &u) && u == UINT32_MAX);
    assert_false(u32("-9223372036854775808", &u));
    assert_false(u32("18446744073709551616", &u));
    assert_false(u32("18446744073709551615\t-", &u)); /* the '-' anywhere counts */
    assert_true(u32("1\t-", &u) && u == 1);
    assert_false(u32("", &u));
    assert_false(u32("+", &u));
    assert_false(u32("-", &u));
    assert_false(u32("\t", &u));
    assert_false(u32("0x10", &u));
    assert_false(u32("1.5", &u));
    assert_false(u32("1e3", &u));
    assert_false(u32("5-", &u));

    assert_true(i32("-2147483649", &i) && i == INT32_MAX);
    assert_true(i32("9223372036854775807", &i) && i == -1);
    assert_true(i32("-9223372036854775808", &i) && i == 0);
    assert_false(i32("9223372036854775808", &i));
    assert_false(i32("-9223372036854775809", &i));
    assert_true(i32("+12", &i) && i == 12);
    assert_true(i32("00012", &i) && i == 12);

    assert_true(u64("18446744073709551615", &w) && w == UINT64_MAX);
    assert_false(u64("18446744073709551616", &w));
    assert_false(u64("-1", &w));
    assert_true(u64("-0", &w) && w == 0);
    assert_true(u64("-9223372036854775809", &w) && w == 9223372036854775807ull);
    /* only the given bytes are read: "12" followed by a digit outside */
    assert_true(proto_parse_u64("123", 2, &w) && w == 12);
}

/* --- base64 -------------------------------------------------------------- */

static void test_base64_encode(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char buf[16];
    for (size_t i = 0; i < 7; i++) {
        size_t n = proto_base64_encode((const unsigned char *)in[i], strlen(in[i]), buf, sizeof(buf));
        assert_int_equal(n, strlen(out[i]));
        assert_memory_equal(buf, out[i], n);
    }
    assert_int_equal(proto_base64_encode((const unsigned char *)"foo", 3, buf, 3), 0);
}

static size_t b64(const char *s, unsigned char *out, size_t cap)
{
    return proto_base64_decode(s, strlen(s), out, cap);
}

static void test_base64_decode_memcached_rules(void **state)
{
    (void)state;
    unsigned char out[64];
    assert_int_equal(b64("Zm9vYmFy", out, sizeof(out)), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(b64("Zm9v!", out, sizeof(out)), 3); /* junk is skipped */
    assert_memory_equal(out, "foo", 3);
    assert_int_equal(b64("Zm\r\n9v", out, sizeof(out)), 3);
    assert_int_equal(b64("QQ==", out, sizeof(out)), 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(b64("QUI=", out, sizeof(out)), 2);
    assert_int_equal(b64("QQ==QUFB", out, sizeof(out)), 1); /* stops after padding */
    assert_int_equal(b64("=AAA", out, sizeof(out)), 2);
    assert_int_equal(b64("", out, sizeof(out)), 0);
    assert_int_equal(b64("!!!!", out, sizeof(out)), 0);
    assert_int_equal(b64("Zm9", out, sizeof(out)), 0);
    assert_int_equal(b64("Zm9vY", out, sizeof(out)), 0);
    assert_int_equal(b64("====", out, sizeof(out)), 0);
    assert_int_equal(b64("A===", out, sizeof(out)), 0);
    assert_int_equal(b64("AAAA====", out, sizeof(out)), 0);
    assert_int_equal(b64("Zm9vYmFy", out, 5), 0); /* output too small */
}

static void test_base64_round_trip(void **state)
{
    (void)state;
    unsigned char in[200], back[202]; /* decoding needs room for whole groups */
    char enc[300];
    srand(7);
    for (size_t n = 1; n < sizeof(in); n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rand();
        size_t e = proto_base64_encode(in, n, enc, sizeof(enc));
        assert_int_equal(e, (n + 2) / 3 * 4);
        assert_int_equal(proto_base64_decode(enc, e, back, sizeof(back)), n);
        assert_memory_equal(in, back, n);
    }
}

/* --- VALUE writer -------------------------------------------------------- */

static void test_value_writer(void **state)
{
    (void)state;
    struct buf b = {0};
    proto_text_value(&b, "foo", 3, 5, "bar", 3, false, 0);
    proto_text_value(&b, "k", 1, 4294967295u, "", 0, true, 18446744073709551615ull);
    const char want[] = "VALUE foo 5 3\r\nbar\r\nVALUE k 4294967295 0 18446744073709551615\r\n\r\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incomplete_line_needs_more),
        cmocka_unit_test(test_long_unterminated_get_waits),
        cmocka_unit_test(test_long_terminated_line_is_parsed),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_empty_short_and_unknown_lines),
        cmocka_unit_test(test_nul_ends_the_line),
        cmocka_unit_test(test_spaces_collapse_tabs_do_not_split),
        cmocka_unit_test(test_http_closes_only_outside_command_branches),
        cmocka_unit_test(test_token_cap),
        cmocka_unit_test(test_get_family),
        cmocka_unit_test(test_next_key_walks_keys),
        cmocka_unit_test(test_multiget_past_token_cap),
        cmocka_unit_test(test_long_key_is_left_to_the_server),
        cmocka_unit_test(test_gat),
        cmocka_unit_test(test_set_fields),
        cmocka_unit_test(test_storage_token_counts),
        cmocka_unit_test(test_storage_errors_do_not_swallow),
        cmocka_unit_test(test_storage_number_quirks),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_incr_decr),
        cmocka_unit_test(test_touch),
        cmocka_unit_test(test_admin_classification),
        cmocka_unit_test(test_admin_token_counts),
        cmocka_unit_test(test_admin_noreply),
        cmocka_unit_test(test_number_rules),
        cmocka_unit_test(test_base64_encode),
        cmocka_unit_test(test_base64_decode_memcached_rules),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_value_writer),
    };
    return cmocka_run_group_tests_name("proto_text", tests, NULL, NULL);
}
