/*
 * Unit tests for proto/meta: meta flag validation, error precedence and
 * swallowing, and the meta reply writer. Expected strings and byte-for-byte
 * replies were captured from memcached 1.6.18.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/text.h"

static const char FORMAT[] = "CLIENT_ERROR bad command line format";
static const char INVALID[] = "CLIENT_ERROR invalid flag";
static const char DUPLICATE[] = "CLIENT_ERROR duplicate flag";
static const char BAD_TOKEN[] = "CLIENT_ERROR bad token in command line format";
static const char INVALID_OR_DUP[] = "CLIENT_ERROR invalid or duplicate flag";
static const char OPAQUE[] = "CLIENT_ERROR opaque token too long";

static struct proto_req req;

static enum proto_status parse_n(const char *s, size_t n)
{
    memset(&req, 0x5a, sizeof(req));
    return proto_text_parse(s, n, &req);
}

static void expect_error_at(const char *s, size_t n, const char *msg, size_t swallow,
                            const char *file, int line)
{
    _assert_int_equal(parse_n(s, n), PROTO_ERROR, file, line);
    _assert_string_equal(req.error, msg, file, line);
    _assert_int_equal(req.noreply, false, file, line); /* meta errors are always sent */
    _assert_int_equal(req.swallow, swallow, file, line);
    _assert_int_equal(req.nread, n, file, line);
}

#define EXPECT_ERROR(lit, msg) expect_error_at(lit, sizeof(lit) - 1, msg, 0, __FILE__, __LINE__)
#define EXPECT_SWALLOW(lit, msg, n) expect_error_at(lit, sizeof(lit) - 1, msg, n, __FILE__, __LINE__)

static void expect_ok_at(const char *s, size_t n, enum proto_cmd cmd, const char *file, int line)
{
    _assert_int_equal(parse_n(s, n), PROTO_OK, file, line);
    _assert_int_equal(req.cmd, cmd, file, line);
}

#define EXPECT_OK(lit, cmd) expect_ok_at(lit, sizeof(lit) - 1, cmd, __FILE__, __LINE__)

static void assert_token(struct proto_token t, const char *s)
{
    assert_int_equal(t.n, strlen(s));
    assert_memory_equal(t.p, s, t.n);
}

/* "<cmd> <250 or 251 k's><tail>" */
static const char *with_key(const char *cmd, size_t nkey, const char *tail)
{
    static char line[512];
    size_t n = strlen(cmd);
    memcpy(line, cmd, n);
    line[n++] = ' ';
    memset(line + n, 'k', nkey);
    strcpy(line + n + nkey, tail);
    return line;
}

/* --- commands and token counts ------------------------------------------ */

static void test_meta_commands(void **state)
{
    (void)state;
    EXPECT_OK("mg k\r\n", PROTO_CMD_MG);
    assert_token(req.key, "k");
    EXPECT_OK("ms k 2\r\n", PROTO_CMD_MS);
    assert_int_equal(req.nbytes, 2);
    EXPECT_OK("md k\r\n", PROTO_CMD_MD);
    EXPECT_OK("ma k\r\n", PROTO_CMD_MA);
    assert_int_equal(req.meta.delta, 1);
    assert_int_equal(req.meta.initial, 0);
    EXPECT_OK("mn\r\n", PROTO_CMD_MN);
    EXPECT_OK("mn x y\r\n", PROTO_CMD_MN);
    EXPECT_OK("me k\r\n", PROTO_CMD_ME);
    EXPECT_OK("me key zz yy\r\n", PROTO_CMD_ME);
    EXPECT_ERROR("mx k\r\n", "ERROR");
    EXPECT_ERROR("mg\r\n", "ERROR");
    EXPECT_ERROR("ms\r\n", "ERROR");
    EXPECT_ERROR("md\r\n", "ERROR");
    EXPECT_ERROR("ma\r\n", "ERROR");
    EXPECT_ERROR("me\r\n", FORMAT);
    EXPECT_ERROR("ms k\r\n", FORMAT);
}

static void test_key_too_long(void **state)
{
    (void)state;
    const char *cmds[] = {"mg", "md", "ma", "me"};
    for (size_t i = 0; i < 4; i++) {
        const char *l = with_key(cmds[i], 251, " zz\r\n");
        expect_error_at(l, strlen(l), FORMAT, 0, __FILE__, __LINE__);
        l = with_key(cmds[i], 250, "\r\n");
        assert_int_equal(parse_n(l, strlen(l)), PROTO_OK);
    }
    const char *l = with_key("ms", 251, " 1 zz\r\n"); /* no swallow: datalen not read yet */
    expect_error_at(l, strlen(l), FORMAT, 0, __FILE__, __LINE__);
}

static void test_flag_count_limits(void **state)
{
    (void)state;
    EXPECT_OK("mg k s t c f v h l k O1 P L u q I J0 D0 C0\r\n", PROTO_CMD_MG); /* 17 */
    assert_int_equal(req.meta.norder, 17);
    EXPECT_ERROR("mg k s t c f v h l k O1 P L u q I J0 D0 C0 T1\r\n",
                 "CLIENT_ERROR options flags are too long");
    EXPECT_ERROR("md k s t c f v h l k O1 P L u q I J0 D0 C0 T1\r\n",
                 "CLIENT_ERROR options flags too long");
    EXPECT_ERROR("ma k s t c f v h l k O1 P L u q I J0 D0 C0 T1\r\n",
                 "CLIENT_ERROR options flags too long");
    /* ms counts its datalen: 16 flags at most, and no swallow */
    EXPECT_OK("ms k 2 s t c f v h l k O1 P L u q I J0 D0\r\n", PROTO_CMD_MS);
    EXPECT_ERROR("ms k 2 s t c f v h l k O1 P L u q I J0 D0 C0\r\n",
                 "CLIENT_ERROR options flags too long");
    /* counted before the flags are looked at */
    EXPECT_ERROR("mg k a b c d e f g h i j k l m n o p q r\r\n",
                 "CLIENT_ERROR options flags are too long");
}

/* --- flag validation ----------------------------------------------------- */

static void test_every_command_accepts_the_same_flags(void **state)
{
    (void)state;
    EXPECT_OK("mg k F5 I MS J5 D5 C5 P L\r\n", PROTO_CMD_MG);
    EXPECT_OK("ms k 1 v h l t s f u\r\n", PROTO_CMD_MS);
    EXPECT_OK("md k v h l s\r\n", PROTO_CMD_MD);
    EXPECT_OK("ma k s f h l u\r\n", PROTO_CMD_MA);
    const char *invalid[] = {"mg k E5\r\n", "mg k x\r\n", "mg k S\r\n", "mg k W\r\n",
                             "mg k Z\r\n",  "mg k +\r\n", "mg k \t\r\n", "ms k 1 S1\r\n"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        size_t n = strlen(invalid[i]);
        size_t swallow = invalid[i][1] == 's' ? 3 : 0;
        expect_error_at(invalid[i], n, INVALID, swallow, __FILE__, __LINE__);
    }
}

static void test_duplicates(void **state)
{
    (void)state;
    EXPECT_ERROR("mg k v v\r\n", DUPLICATE);
    EXPECT_ERROR("mg k T1 T2\r\n", DUPLICATE);
    EXPECT_ERROR("mg k \x80\r\n", DUPLICATE); /* bytes >= 127 count as repeats */
    EXPECT_ERROR("mg k \x7f\r\n", DUPLICATE);
    EXPECT_ERROR("md k v v\r\n", INVALID_OR_DUP);
    EXPECT_ERROR("ma k \xff\r\n", INVALID_OR_DUP);
}

static void test_numeric_flag_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("mg k Tabc\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Nx\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Rx\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Cx\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k T\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k C-1\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Jx\r\n", "CLIENT_ERROR invalid numeric initial value");
    EXPECT_ERROR("mg k Dx\r\n", "CLIENT_ERROR invalid numeric delta value");
    EXPECT_ERROR("mg k MXY\r\n", "CLIENT_ERROR incorrect length for M token");
    EXPECT_ERROR("mg k M\r\n", "CLIENT_ERROR incorrect length for M token");
    /* F fails without a message of its own */
    EXPECT_ERROR("mg k Fabc\r\n", FORMAT);
    EXPECT_ERROR("mg k F-1\r\n", FORMAT);
}

static void test_error_precedence(void **state)
{
    (void)state;
    /* invalid and duplicate stop the scan; other errors are overwritten */
    EXPECT_ERROR("mg k Tabc zz\r\n", INVALID);
    EXPECT_ERROR("mg k Tabc T1\r\n", DUPLICATE);
    EXPECT_ERROR("mg k Tabc Jx\r\n", "CLIENT_ERROR invalid numeric initial value");
    EXPECT_ERROR("mg k Fx Tabc\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Tabc Fx\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k b Tx\r\n", BAD_TOKEN);
    EXPECT_ERROR("mg k Tx b\r\n", "CLIENT_ERROR error decoding key");
    /* scanner errors come before the opaque length */
    EXPECT_ERROR("mg k O123456789012345678901234567890123 Tx\r\n", BAD_TOKEN);
    /* md and ma have one message for all of them */
    EXPECT_ERROR("md k zz\r\n", INVALID_OR_DUP);
    EXPECT_ERROR("md k Tx\r\n", INVALID_OR_DUP);
    EXPECT_ERROR("md k b\r\n", INVALID_OR_DUP);
    EXPECT_ERROR("ma k Jx\r\n", INVALID_OR_DUP);
    EXPECT_ERROR("ma k MXY\r\n", INVALID_OR_DUP);
}

static void test_opaque_length(void **state)
{
    (void)state;
    EXPECT_OK("mg k O1234567890123456789012345678901\r\n", PROTO_CMD_MG); /* 32 with the O */
    assert_token(req.meta.opaque, "1234567890123456789012345678901");
    EXPECT_ERROR("mg k O12345678901234567890123456789012\r\n", OPAQUE);
    EXPECT_ERROR("md k O12345678901234567890123456789012\r\n", OPAQUE);
    EXPECT_SWALLOW("ms k 1 O12345678901234567890123456789012\r\n", OPAQUE, 3);
    /* ma learns it after the arithmetic: the reply writer answers (below) */
    EXPECT_OK("ma k O12345678901234567890123456789012\r\n", PROTO_CMD_MA);
    EXPECT_OK("mg k O\r\n", PROTO_CMD_MG);
    assert_int_equal(req.meta.opaque.n, 0);
}

static void test_modes(void **state)
{
    (void)state;
    const char *ms_ok[] = {"ms k 1 ME\r\n", "ms k 1 MA\r\n", "ms k 1 MP\r\n", "ms k 1 MR\r\n",
                           "ms k 1 MS\r\n"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(parse_n(ms_ok[i], strlen(ms_ok[i])), PROTO_OK);
        assert_int_equal(req.meta.mode, ms_ok[i][8]);
    }
    EXPECT_SWALLOW("ms k 2 MX\r\n", "CLIENT_ERROR invalid mode for ms M token", 4);
    EXPECT_SWALLOW("ms k 2 MI\r\n", "CLIENT_ERROR invalid mode for ms M token", 4);
    const char *ma_ok[] = {"ma k MI\r\n", "ma k M+\r\n", "ma k MD\r\n", "ma k M-\r\n"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(parse_n(ma_ok[i], strlen(ma_ok[i])), PROTO_OK);
    EXPECT_ERROR("ma k MX\r\n", "CLIENT_ERROR invalid mode for ma M token");
    EXPECT_ERROR("ma k ME\r\n", "CLIENT_ERROR invalid mode for ma M token");
    /* mg and md accept any mode and ignore it */
    EXPECT_OK("mg k MX\r\n", PROTO_CMD_MG);
    EXPECT_OK("md k MX\r\n", PROTO_CMD_MD);
}

/* --- ms data block ------------------------------------------------------- */

static void test_ms_swallow_rules(void **state)
{
    (void)state;
    /* before the datalen is known: no swallow, the data line is a command */
    EXPECT_ERROR("ms k abc\r\n", FORMAT);
    EXPECT_ERROR("ms k -1\r\n", FORMAT);
    EXPECT_ERROR("ms k 2147483646\r\n", FORMAT);
    /* after: datalen + 2 bytes are skipped */
    EXPECT_SWALLOW("ms k 2 zz\r\n", INVALID, 4);
    EXPECT_SWALLOW("ms k 2 T1 T2\r\n", DUPLICATE, 4);
    EXPECT_SWALLOW("ms k 2 Tx\r\n", BAD_TOKEN, 4);
    EXPECT_SWALLOW("ms k 2 MS Cx\r\n", BAD_TOKEN, 4);
    EXPECT_SWALLOW("ms k 2 Mxx\r\n", "CLIENT_ERROR incorrect length for M token", 4);
    EXPECT_SWALLOW("ms k 2 Jx\r\n", "CLIENT_ERROR invalid numeric initial value", 4);
    EXPECT_SWALLOW("ms k 2 Dx\r\n", "CLIENT_ERROR invalid numeric delta value", 4);
    EXPECT_SWALLOW("ms k 2 Fabc\r\n", FORMAT, 4);
    EXPECT_SWALLOW("ms k 2 b\r\n", "CLIENT_ERROR error decoding key", 4);
    EXPECT_SWALLOW("ms k 0 q zz\r\n", INVALID, 2);
    /* the mode beats the opaque, the scanner beats both */
    EXPECT_SWALLOW("ms k 1 O12345678901234567890123456789012 MX\r\n",
                   "CLIENT_ERROR invalid mode for ms M token", 3);
    EXPECT_SWALLOW("ms k 1 MX zz\r\n", INVALID, 3);
}

static void test_ms_fields(void **state)
{
    (void)state;
    EXPECT_OK("ms k 4294967298 T-1 F4294967296 C9 I q\r\n", PROTO_CMD_MS);
    assert_int_equal(req.nbytes, 2); /* datalen is truncated to 32 bits */
    assert_int_equal(req.meta.ttl_T, -1);
    assert_int_equal(req.meta.client_flags, 0);
    assert_int_equal(req.meta.cas, 9);
    assert_true(proto_meta_has(&req.meta, 'I'));
    assert_true(req.noreply);
    assert_int_equal(req.swallow, 0);
}

/* --- values, order, base64 ----------------------------------------------- */

static void test_flag_values_and_order(void **state)
{
    (void)state;
    EXPECT_OK("mg k T4294967296 N-1 R30 v Oab k\r\n", PROTO_CMD_MG);
    assert_int_equal(req.meta.ttl_T, 0);
    assert_int_equal(req.meta.ttl_N, -1);
    assert_int_equal(req.meta.ttl_R, 30);
    assert_memory_equal(req.meta.order, "TNRvOk", 6);
    assert_int_equal(req.meta.norder, 6);
    assert_true(proto_meta_has(&req.meta, 'v'));
    assert_false(proto_meta_has(&req.meta, 'q'));
    assert_false(req.noreply);
    EXPECT_OK("ma k J18446744073709551615 D7 MD N0 q\r\n", PROTO_CMD_MA);
    assert_true(req.meta.initial == UINT64_MAX);
    assert_int_equal(req.meta.delta, 7);
    assert_int_equal(req.meta.mode, 'D');
    assert_true(req.noreply);
}

static void test_base64_keys(void **state)
{
    (void)state;
    EXPECT_OK("mg Zm9v b k\r\n", PROTO_CMD_MG);
    assert_token(req.key, "foo");
    assert_true(req.key_binary);
    EXPECT_OK("mg Zm9v! k b\r\n", PROTO_CMD_MG);
    assert_token(req.key, "foo");
    EXPECT_ERROR("mg wk b\r\n", "CLIENT_ERROR error decoding key");
    EXPECT_OK("me a2V5 b\r\n", PROTO_CMD_ME);
    assert_token(req.key, "key");
    assert_true(req.key_binary);
    EXPECT_ERROR("me k b\r\n", FORMAT);
    EXPECT_OK("me k x b\r\n", PROTO_CMD_ME); /* only a "b" right after the key */
    assert_false(req.key_binary);
}

/* --- replies ------------------------------------------------------------- */

static struct buf out;

static void reply(const char *line, const char *code, const struct proto_item *item)
{
    assert_int_equal(parse_n(line, strlen(line)), PROTO_OK);
    out.len = 0;
    proto_meta_reply(&out, &req, code, item);
}

static void assert_out_at(const char *want, const char *file, int line)
{
    _assert_int_equal(out.len, strlen(want), file, line);
    _assert_memory_equal(out.data, want, out.len, file, line);
}

#define assert_out(want) assert_out_at(want, __FILE__, __LINE__)

static void test_mg_hit_reflects_in_request_order(void **state)
{
    (void)state;
    struct proto_item it = {.value = "abcxyz", .nvalue = 6, .ttl = -1, .last_access = 1, .cas = 3};
    reply("mg d2s v s t c f l h k O9 q\r\n", "VA", &it);
    assert_out("VA 6 s6 t-1 c3 f0 l1 h0 kd2s O9\r\nabcxyz\r\n");
    reply("mg d2s q\r\n", "HD", &it); /* q never hides a hit */
    assert_out("HD\r\n");
    reply("mg d2s u P L I\r\n", "HD", &it);
    assert_out("HD\r\n");
    it.flags = 4294967295u;
    it.fetched = true;
    reply("mg d2s h f\r\n", "HD", &it);
    assert_out("HD h1 f4294967295\r\n");
}

static void test_mg_ttl_follows_t_and_n(void **state)
{
    (void)state;
    struct proto_item it = {.ttl = -1, .ttl_T = 30};
    reply("mg tt t T30\r\n", "HD", &it);
    assert_out("HD t-1\r\n");
    reply("mg tt T30 t\r\n", "HD", &it);
    assert_out("HD t30\r\n");
    it.ttl_T = 1 - 100; /* T-1 lands in the past: memcached prints it unsigned */
    reply("mg tt T-1 t\r\n", "HD", &it);
    assert_out("HD t4294967197\r\n");

    struct proto_item viv = {.ttl = -1, .ttl_N = 30, .created = true, .won = true, .cas = 4};
    reply("mg viv N30 t v c s\r\n", "VA", &viv);
    assert_out("VA 0 t30 c4 s0 W\r\n\r\n");
    reply("mg viv2 t N30 v\r\n", "VA", &viv);
    assert_out("VA 0 t-1 W\r\n\r\n");
    viv.created = false; /* N on an existing item changes nothing */
    viv.won = false;
    viv.win_sent = true;
    viv.ttl = 25;
    reply("mg viv N30 t\r\n", "HD", &viv);
    assert_out("HD t25 Z\r\n");
}

static void test_mg_win_flags_order(void **state)
{
    (void)state;
    struct proto_item it = {.value = "a", .nvalue = 1, .ttl = 30, .cas = 7, .stale = true, .won = true};
    reply("mg stale v c t\r\n", "VA", &it);
    assert_out("VA 1 c7 t30 X W\r\na\r\n");
    it.won = false;
    it.win_sent = true;
    reply("mg stale v c t\r\n", "VA", &it);
    assert_out("VA 1 c7 t30 Z X\r\na\r\n");
}

static void test_mg_miss(void **state)
{
    (void)state;
    reply("mg nokey s t v k O5 c\r\n", "EN", NULL);
    assert_out("EN knokey O5\r\n");
    reply("mg bm9rZXk= k O5 b\r\n", "EN", NULL);
    assert_out("EN kbm9rZXk= b O5\r\n");
    reply("mg nokey q k O5\r\n", "EN", NULL);
    assert_out("");
}

static void test_mg_hit_uses_the_items_binary_bit(void **state)
{
    (void)state;
    /* stored with "ms a2V5 2 b", fetched by its plain name */
    struct proto_item it = {.key = "key", .nkey = 3, .key_binary = true, .value = "ab", .nvalue = 2};
    reply("mg key k v\r\n", "VA", &it);
    assert_out("VA 2 ka2V5 b\r\nab\r\n");
    /* an item vivified by mg N never has the bit, whatever the request said */
    struct proto_item viv = {.key = "vivify", .nkey = 6, .ttl = -1, .ttl_N = 30,
                             .created = true, .won = true};
    reply("mg dml2aWZ5 b N30 k v\r\n", "VA", &viv);
    assert_out("VA 0 kvivify W\r\n\r\n");
    /* ma reflects k from its request */
    struct proto_item cnt = {.key = "cntv", .nkey = 4, .value = "0", .nvalue = 1, .created = true};
    reply("ma Y250dg== b N0 k\r\n", "HD", &cnt);
    assert_out("HD kY250dg== b\r\n");
}

static void test_ms_replies(void **state)
{
    (void)state;
    struct proto_item stored = {.cas = 33};
    reply("ms a2V5 2 b k c\r\n", "HD", &stored);
    assert_out("HD ka2V5 b c33\r\n");
    reply("ms d2s 3 ME c O1 k\r\n", "NS", NULL);
    assert_out("NS c0 O1 kd2s\r\n");
    reply("ms d2s 3 C1 c O1 k\r\n", "EX", NULL);
    assert_out("EX c0 O1 kd2s\r\n");
    reply("ms d2s 3 c k O1 q\r\n", "HD", &stored);
    assert_out("");
    reply("ms d2s 3 q\r\n", "NS", NULL);
    assert_out("NS\r\n");
    reply("ms k 1 T5 F3 s t f v\r\n", "HD", &stored); /* nothing else is reflected */
    assert_out("HD\r\n");
}

static void test_md_replies(void **state)
{
    (void)state;
    reply("md nope q O1 k\r\n", "NF", NULL);
    assert_out("NF O1 knope\r\n");
    reply("md k s t c f v h l k O1 P L u q I J0 D0 C0\r\n", "EX", NULL);
    assert_out("EX kk O1\r\n");
    reply("md k q\r\n", "HD", NULL);
    assert_out("");
    reply("md k O2\r\n", "HD", NULL);
    assert_out("HD O2\r\n");
}

static void test_ma_replies(void **state)
{
    (void)state;
    struct proto_item created = {.value = "10", .nvalue = 2, .ttl = -1, .ttl_N = -1, /* N0: never */
                                 .cas = 14, .created = true};
    reply("ma cnt2 N0 J10 q v t c\r\n", "VA", &created);
    assert_out("VA 2 t-1 c14\r\n10\r\n");
    reply("ma cnt N0 J10 q\r\n", "HD", &created); /* a vivify is always reported */
    assert_out("HD\r\n");

    struct proto_item hit = {.value = "12", .nvalue = 2, .ttl = -1, .ttl_T = 50, .cas = 15};
    reply("ma cnt q\r\n", "HD", &hit);
    assert_out("");
    reply("ma cnt v q\r\n", "VA", &hit);
    assert_out("");
    reply("ma cnt t T50 v c O1 k s f\r\n", "VA", &hit);
    assert_out("VA 2 t-1 c15 O1 kcnt\r\n12\r\n");
    reply("ma cnt T50 t\r\n", "HD", &hit);
    assert_out("HD t50\r\n");
    reply("ma cnt2 C1 O1 k\r\n", "EX", NULL);
    assert_out("EX O1 kcnt2\r\n");
    reply("ma nocnt O1 k q\r\n", "NF", NULL);
    assert_out("NF O1 knocnt\r\n");
}

static void test_ma_long_opaque_replaces_the_reply(void **state)
{
    (void)state;
    struct proto_item hit = {.value = "7", .nvalue = 1, .ttl = -1};
    const char *want = "CLIENT_ERROR opaque token too long\r\n";
    reply("ma cq q O123456789012345678901234567890123\r\n", "HD", &hit);
    assert_out(want);
    reply("ma cq v O123456789012345678901234567890123\r\n", "VA", &hit);
    assert_out(want);
    reply("ma cqmiss q O123456789012345678901234567890123\r\n", "NF", NULL);
    assert_out(want);
}

static void test_mn_reply(void **state)
{
    (void)state;
    reply("mn\r\n", "MN", NULL);
    assert_out("MN\r\n");
}

static int teardown(void **state)
{
    (void)state;
    buf_free(&out);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_commands),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_flag_count_limits),
        cmocka_unit_test(test_every_command_accepts_the_same_flags),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_numeric_flag_errors),
        cmocka_unit_test(test_error_precedence),
        cmocka_unit_test(test_opaque_length),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_ms_swallow_rules),
        cmocka_unit_test(test_ms_fields),
        cmocka_unit_test(test_flag_values_and_order),
        cmocka_unit_test(test_base64_keys),
        cmocka_unit_test(test_mg_hit_reflects_in_request_order),
        cmocka_unit_test(test_mg_ttl_follows_t_and_n),
        cmocka_unit_test(test_mg_win_flags_order),
        cmocka_unit_test(test_mg_miss),
        cmocka_unit_test(test_mg_hit_uses_the_items_binary_bit),
        cmocka_unit_test(test_ms_replies),
        cmocka_unit_test(test_md_replies),
        cmocka_unit_test(test_ma_replies),
        cmocka_unit_test(test_ma_long_opaque_replaces_the_reply),
        cmocka_unit_test(test_mn_reply),
    };
    return cmocka_run_group_tests_name("proto_meta", tests, NULL, teardown);
}
