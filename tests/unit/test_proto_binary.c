/*
 * Unit tests for proto/binary. The expected outcomes were observed on
 * memcached 1.6.18 with raw sockets (EINVAL then close, the swallow after an
 * unknown opcode, the 16 KiB prefix limit, the error texts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/binary.h"

/* A request under construction; fields left 0 get sane defaults. */
struct pkt {
    uint8_t op;
    const char *key;
    size_t keylen;
    const void *ext;
    uint8_t extlen;
    const char *val;
    size_t vallen;
    uint64_t cas;
    uint32_t opaque;
    bool raw_body; /* use `bodylen` as given instead of computing it */
    uint32_t bodylen;
    uint16_t raw_keylen_set; /* non-zero: override keylen in the header only */
    uint8_t datatype;
    uint16_t vbucket;
};

static size_t put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
    return (size_t)n;
}

/* Encode `p` into out (which must be big enough); returns its length. */
static size_t build(unsigned char *out, const struct pkt *p)
{
    size_t keylen = p->key && !p->keylen ? strlen(p->key) : p->keylen;
    uint32_t body = p->raw_body ? p->bodylen : (uint32_t)(p->extlen + keylen + p->vallen);
    unsigned char *o = out;
    *o++ = PROTO_BIN_REQ_MAGIC;
    *o++ = p->op;
    o += put_be(o, p->raw_keylen_set ? p->raw_keylen_set : keylen, 2);
    *o++ = p->extlen;
    *o++ = p->datatype;
    o += put_be(o, p->vbucket, 2);
    o += put_be(o, body, 4);
    o += put_be(o, p->opaque, 4);
    o += put_be(o, p->cas, 8);
    if (p->extlen)
        memcpy(o, p->ext, p->extlen), o += p->extlen;
    if (keylen)
        memcpy(o, p->key, keylen), o += keylen;
    if (p->vallen)
        memcpy(o, p->val, p->vallen), o += p->vallen;
    return (size_t)(o - out);
}

static unsigned char wire[70000];

static enum proto_bin_result parse_pkt(const struct pkt *p, struct proto_bin_req *req, size_t *len)
{
    size_t n = build(wire, p);
    if (len)
        *len = n;
    return proto_bin_parse((const char *)wire, n, req);
}

static void expect_invalid(const struct pkt *p, enum proto_bin_status status, bool close_after)
{
    struct proto_bin_req req;
    assert_int_equal(parse_pkt(p, &req, NULL), PROTO_BIN_INVALID);
    assert_int_equal(req.status, status);
    assert_int_equal(req.close_after, close_after);
    if (close_after)
        assert_int_equal(req.value_len, 0);
}

static void expect_einval(const struct pkt *p) { expect_invalid(p, PROTO_BIN_EINVAL, true); }

static const unsigned char ext8[8] = {0, 0, 0xca, 0xfe, 0, 0, 0x0e, 0x10}; /* flags, 3600 */
static const unsigned char ext4[4] = {0x12, 0x34, 0x56, 0x78};
static const unsigned char ext20[20] = {0, 0, 0, 0, 0, 0, 0, 5,    0x80, 0, 0, 0, 0, 0, 0, 0x64,
                                        0xff, 0xff, 0xff, 0xff};

/* --- parsing every opcode ---------------------------------------------------- */

static void test_get_family(void **state)
{
    (void)state;
    const struct {
        uint8_t op, cmd;
        bool quiet;
    } cases[] = {
        {PROTO_BIN_GET, PROTO_BIN_GET, false},
        {PROTO_BIN_GETQ, PROTO_BIN_GET, true},
        {PROTO_BIN_GETK, PROTO_BIN_GETK, false},
        {PROTO_BIN_GETKQ, PROTO_BIN_GETK, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proto_bin_req req;
        size_t len;
        struct pkt p = {.op = cases[i].op, .key = "hello", .opaque = 0xdeadbeef, .cas = 42};
        assert_int_equal(parse_pkt(&p, &req, &len), PROTO_BIN_READY);
        assert_int_equal(req.opcode, cases[i].op);
        assert_int_equal(req.cmd, cases[i].cmd);
        assert_int_equal(req.quiet, cases[i].quiet);
        assert_int_equal(req.keylen, 5);
        assert_ptr_equal(req.key, (const char *)wire + 24);
        assert_memory_equal(req.key, "hello", 5);
        assert_int_equal(req.nread, 29);
        assert_int_equal(len, 29);
        assert_int_equal(req.value_len, 0);
        assert_int_equal(req.opaque, 0xdeadbeef);
        assert_int_equal(req.cas, 42);
    }
}

static void test_store_family(void **state)
{
    (void)state;
    const struct {
        uint8_t op, cmd;
        bool quiet;
    } cases[] = {
        {PROTO_BIN_SET, PROTO_BIN_SET, false},         {PROTO_BIN_SETQ, PROTO_BIN_SET, true},
        {PROTO_BIN_ADD, PROTO_BIN_ADD, false},         {PROTO_BIN_ADDQ, PROTO_BIN_ADD, true},
        {PROTO_BIN_REPLACE, PROTO_BIN_REPLACE, false}, {PROTO_BIN_REPLACEQ, PROTO_BIN_REPLACE, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proto_bin_req req;
        struct pkt p = {.op = cases[i].op, .key = "k", .ext = ext8, .extlen = 8,
                        .val = "world", .vallen = 5, .cas = 7};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.cmd, cases[i].cmd);
        assert_int_equal(req.quiet, cases[i].quiet);
        assert_int_equal(req.flags, 0xcafe);
        assert_int_equal(req.exptime, 3600);
        assert_int_equal(req.nread, 24 + 8 + 1);
        assert_int_equal(req.value_len, 5);
        assert_memory_equal((const char *)wire + req.nread, "world", 5);
        assert_int_equal(req.cas, 7);
    }
    /* an empty value is fine */
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_SET, .key = "e", .ext = ext8, .extlen = 8};
    assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
    assert_int_equal(req.value_len, 0);
}

static void test_append_prepend(void **state)
{
    (void)state;
    const uint8_t ops[] = {PROTO_BIN_APPEND, PROTO_BIN_APPENDQ, PROTO_BIN_PREPEND,
                           PROTO_BIN_PREPENDQ};
    for (size_t i = 0; i < sizeof(ops); i++) {
        struct proto_bin_req req;
        struct pkt p = {.op = ops[i], .key = "key", .val = "tail", .vallen = 4};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.cmd, ops[i] < 0x10 ? ops[i] : ops[i] - 0x0b);
        assert_int_equal(req.quiet, ops[i] >= 0x10);
        assert_int_equal(req.nread, 27);
        assert_int_equal(req.value_len, 4);
    }
}

static void test_delete_incr_decr(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt d = {.op = PROTO_BIN_DELETEQ, .key = "gone", .cas = 99};
    assert_int_equal(parse_pkt(&d, &req, NULL), PROTO_BIN_READY);
    assert_int_equal(req.cmd, PROTO_BIN_DELETE);
    assert_true(req.quiet);
    assert_int_equal(req.cas, 99);

    const uint8_t ops[] = {PROTO_BIN_INCREMENT, PROTO_BIN_INCREMENTQ, PROTO_BIN_DECREMENT,
                           PROTO_BIN_DECREMENTQ};
    const uint8_t cmds[] = {PROTO_BIN_INCREMENT, PROTO_BIN_INCREMENT, PROTO_BIN_DECREMENT,
                            PROTO_BIN_DECREMENT};
    for (size_t i = 0; i < sizeof(ops); i++) {
        struct pkt p = {.op = ops[i], .key = "ctr", .ext = ext20, .extlen = 20};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.cmd, cmds[i]);
        assert_int_equal(req.quiet, i % 2 == 1);
        assert_int_equal(req.delta, 5);
        assert_true(req.initial == 0x8000000000000064ULL);
        assert_int_equal(req.exptime, 0xffffffffu); /* "do not create" */
        assert_int_equal(req.nread, 24 + 20 + 3);
        assert_int_equal(req.value_len, 0);
    }
}

static void test_touch_gat(void **state)
{
    (void)state;
    const struct {
        uint8_t op, cmd;
        bool quiet;
    } cases[] = {
        {PROTO_BIN_TOUCH, PROTO_BIN_TOUCH, false}, {PROTO_BIN_GAT, PROTO_BIN_GAT, false},
        {PROTO_BIN_GATQ, PROTO_BIN_GAT, true},     {PROTO_BIN_GATK, PROTO_BIN_GATK, false},
        {PROTO_BIN_GATKQ, PROTO_BIN_GATK, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proto_bin_req req;
        struct pkt p = {.op = cases[i].op, .key = "t", .ext = ext4, .extlen = 4};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.cmd, cases[i].cmd);
        assert_int_equal(req.quiet, cases[i].quiet);
        assert_int_equal(req.exptime, 0x12345678);
        assert_int_equal(req.nread, 29);
        /* memcached never checks bodylen here and leaves a surplus unread */
        p.val = "xx";
        p.vallen = 2;
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.nread, 29);
        assert_int_equal(req.value_len, 0);
    }
}

static void test_flush(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_FLUSH};
    assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
    assert_int_equal(req.exptime, 0);
    assert_false(req.quiet);
    struct pkt q = {.op = PROTO_BIN_FLUSHQ, .ext = ext4, .extlen = 4};
    assert_int_equal(parse_pkt(&q, &req, NULL), PROTO_BIN_READY);
    assert_int_equal(req.cmd, PROTO_BIN_FLUSH);
    assert_true(req.quiet);
    assert_int_equal(req.exptime, 0x12345678);
    assert_int_equal(req.nread, 28);
}

static void test_admin_ops(void **state)
{
    (void)state;
    const uint8_t ops[] = {PROTO_BIN_NOOP, PROTO_BIN_VERSION, PROTO_BIN_QUIT, PROTO_BIN_QUITQ,
                           PROTO_BIN_STAT, PROTO_BIN_SASL_LIST_MECHS};
    for (size_t i = 0; i < sizeof(ops); i++) {
        struct proto_bin_req req;
        struct pkt p = {.op = ops[i], .opaque = (uint32_t)i};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.nread, 24);
        assert_int_equal(req.opaque, i);
        assert_int_equal(req.quiet, ops[i] == PROTO_BIN_QUITQ);
    }
    struct proto_bin_req req;
    struct pkt st = {.op = PROTO_BIN_STAT, .key = "settings"};
    assert_int_equal(parse_pkt(&st, &req, NULL), PROTO_BIN_READY);
    assert_memory_equal(req.key, "settings", 8);
    /* a surplus body after the stat group is not consumed */
    st.val = "zz";
    st.vallen = 2;
    assert_int_equal(parse_pkt(&st, &req, NULL), PROTO_BIN_READY);
    assert_int_equal(req.nread, 32);
    assert_int_equal(req.value_len, 0);

    const uint8_t sasl[] = {PROTO_BIN_SASL_AUTH, PROTO_BIN_SASL_STEP};
    for (size_t i = 0; i < sizeof(sasl); i++) {
        struct pkt p = {.op = sasl[i], .key = "PLAIN", .val = "\0u\0p", .vallen = 4};
        assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY);
        assert_int_equal(req.nread, 29);
        assert_int_equal(req.value_len, 4); /* swallowed even when SASL is off */
    }
}

static void test_header_fields(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_NOOP, .datatype = 1, .vbucket = 0xabcd,
                    .opaque = 0x01020304, .cas = 0x0102030405060708ULL};
    assert_int_equal(parse_pkt(&p, &req, NULL), PROTO_BIN_READY); /* both ignored */
    assert_int_equal(req.datatype, 1);
    assert_int_equal(req.vbucket, 0xabcd);
    assert_int_equal(req.opaque, 0x01020304);
    assert_true(req.cas == 0x0102030405060708ULL);
    assert_int_equal(req.bodylen, 0);
}

/* Every opcode with an empty body, as memcached 1.6.18 answered it live. */
static void test_all_opcodes_empty_body(void **state)
{
    (void)state;
    static const uint8_t ready[] = {0x07, 0x08, 0x0a, 0x0b, 0x10, 0x17, 0x18, 0x20};
    static const uint8_t einval[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0c,
                                     0x0d, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                                     0x19, 0x1a, 0x1c, 0x1d, 0x1e, 0x21, 0x22, 0x23, 0x24};
    for (int op = 0; op < 256; op++) {
        struct proto_bin_req req;
        struct pkt p = {.op = (uint8_t)op};
        enum proto_bin_result r = parse_pkt(&p, &req, NULL);
        if (memchr(ready, op, sizeof(ready))) {
            assert_int_equal(r, PROTO_BIN_READY);
        } else if (memchr(einval, op, sizeof(einval))) {
            assert_int_equal(r, PROTO_BIN_INVALID);
            assert_int_equal(req.status, PROTO_BIN_EINVAL);
            assert_true(req.close_after);
        } else {
            assert_int_equal(r, PROTO_BIN_INVALID);
            assert_int_equal(req.status, PROTO_BIN_UNKNOWN_COMMAND);
            assert_false(req.close_after);
            assert_int_equal(req.value_len, 0);
        }
    }
}

/* --- malformed input --------------------------------------------------------- */

static void test_bad_magic(void **state)
{
    (void)state;
    struct proto_bin_req req;
    const uint8_t magics[] = {0x00, 0x81, 0x7f, 0xff, 'g'};
    for (size_t i = 0; i < sizeof(magics); i++) {
        struct pkt p = {.op = PROTO_BIN_NOOP};
        size_t len = build(wire, &p);
        wire[0] = magics[i];
        assert_int_equal(proto_bin_parse((const char *)wire, len, &req), PROTO_BIN_CLOSE);
        /* memcached waits for a whole header before it looks at the magic */
        assert_int_equal(proto_bin_parse((const char *)wire, len - 1, &req), PROTO_BIN_NEED_MORE);
    }
}

static void test_unknown_opcode_swallows_bodylen(void **state)
{
    (void)state;
    struct pkt p = {.op = 0x50, .key = "abc"};
    expect_invalid(&p, PROTO_BIN_UNKNOWN_COMMAND, false);
    struct proto_bin_req req;
    parse_pkt(&p, &req, NULL);
    assert_int_equal(req.nread, 27);
    assert_int_equal(req.value_len, 3); /* bodylen again, past the packet's end */

    struct pkt v = {.op = PROTO_BIN_VERBOSITY, .ext = ext4, .extlen = 4};
    assert_int_equal(parse_pkt(&v, &req, NULL), PROTO_BIN_INVALID);
    assert_int_equal(req.status, PROTO_BIN_UNKNOWN_COMMAND);
    assert_int_equal(req.nread, 28);
    assert_int_equal(req.value_len, 4);
    assert_int_equal(req.verbosity, 0);

    struct pkt big = {.op = 0x1f, .ext = ext8, .extlen = 8, .val = "vvvv", .vallen = 4};
    assert_int_equal(parse_pkt(&big, &req, NULL), PROTO_BIN_INVALID);
    assert_int_equal(req.value_len, 12);
}

static void test_lengths_beyond_body(void **state)
{
    (void)state;
    /* keylen > bodylen and extlen + keylen > bodylen: Unknown command, close */
    struct pkt a = {.op = PROTO_BIN_GET, .key = "abc", .raw_body = true, .bodylen = 2};
    expect_invalid(&a, PROTO_BIN_UNKNOWN_COMMAND, true);
    struct pkt b = {.op = PROTO_BIN_SET, .key = "abc", .ext = ext8, .extlen = 8,
                    .raw_body = true, .bodylen = 10};
    expect_invalid(&b, PROTO_BIN_UNKNOWN_COMMAND, true);
    /* the bodylen check comes before the key length and the opcode */
    char key[300];
    memset(key, 'k', sizeof(key));
    struct pkt c = {.op = 0x50, .key = key, .keylen = 300, .raw_body = true, .bodylen = 5};
    expect_invalid(&c, PROTO_BIN_UNKNOWN_COMMAND, true);
}

static void test_key_length_limits(void **state)
{
    (void)state;
    static char key[PROTO_BIN_PREFIX_MAX];
    memset(key, 'k', sizeof(key));
    struct proto_bin_req req;
    struct pkt ok = {.op = PROTO_BIN_GET, .key = key, .keylen = 250};
    assert_int_equal(parse_pkt(&ok, &req, NULL), PROTO_BIN_READY);
    struct pkt k251 = {.op = PROTO_BIN_GET, .key = key, .keylen = 251};
    expect_einval(&k251);
    struct pkt unk = {.op = 0x50, .key = key, .keylen = 251};
    expect_einval(&unk); /* the key limit wins over the unknown opcode */

    /* the largest prefix memcached's read buffer holds is still answered */
    struct pkt edge = {.op = 0x50, .key = key, .keylen = PROTO_BIN_PREFIX_MAX - 24 - 255,
                       .ext = key, .extlen = 255};
    expect_einval(&edge);
    size_t len;
    parse_pkt(&edge, &req, &len);
    assert_int_equal(len, PROTO_BIN_PREFIX_MAX);
    assert_int_equal(proto_bin_parse((const char *)wire, len - 1, &req), PROTO_BIN_NEED_MORE);

    /* one byte more and memcached closes; we need not wait for the bytes */
    struct pkt over = {.op = PROTO_BIN_GET, .key = key, .keylen = PROTO_BIN_PREFIX_MAX - 23};
    parse_pkt(&over, &req, &len);
    assert_int_equal(proto_bin_parse((const char *)wire, 24, &req), PROTO_BIN_CLOSE);
    assert_int_equal(proto_bin_parse((const char *)wire, len, &req), PROTO_BIN_CLOSE);
    struct pkt max = {.op = PROTO_BIN_GET, .raw_keylen_set = 0xffff, .raw_body = true,
                      .bodylen = 0xffffffff};
    assert_int_equal(parse_pkt(&max, &req, NULL), PROTO_BIN_CLOSE);
}

/* Each opcode's own length rule, broken: Invalid arguments, then close. */
static void test_opcode_rules(void **state)
{
    (void)state;
    const struct pkt bad[] = {
        {.op = PROTO_BIN_GET, .key = "abc", .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_GETQ, .key = "abc", .val = "zz", .vallen = 2},
        {.op = PROTO_BIN_GETK},
        {.op = PROTO_BIN_SET, .key = "a", .ext = ext4, .extlen = 4, .val = "v", .vallen = 1},
        {.op = PROTO_BIN_ADD, .ext = ext8, .extlen = 8, .val = "v", .vallen = 1},
        {.op = PROTO_BIN_REPLACEQ, .key = "a", .val = "v", .vallen = 1},
        {.op = PROTO_BIN_APPEND, .key = "a", .ext = ext8, .extlen = 8, .val = "v", .vallen = 1},
        {.op = PROTO_BIN_PREPENDQ, .val = "v", .vallen = 1},
        {.op = PROTO_BIN_DELETE, .key = "a", .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_DELETEQ, .key = "a", .val = "x", .vallen = 1},
        {.op = PROTO_BIN_INCREMENT, .key = "c", .ext = ext8, .extlen = 8},
        {.op = PROTO_BIN_DECREMENT, .key = "c", .ext = ext20, .extlen = 20, .val = "z", .vallen = 1},
        {.op = PROTO_BIN_INCREMENTQ, .ext = ext20, .extlen = 20},
        {.op = PROTO_BIN_QUIT, .key = "a"},
        {.op = PROTO_BIN_QUITQ, .val = "a", .vallen = 1},
        {.op = PROTO_BIN_FLUSH, .ext = ext8, .extlen = 8},
        {.op = PROTO_BIN_FLUSH, .key = "k"},
        {.op = PROTO_BIN_FLUSHQ, .ext = ext4, .extlen = 4, .val = "x", .vallen = 1},
        {.op = PROTO_BIN_NOOP, .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_VERSION, .key = "a"},
        {.op = PROTO_BIN_STAT, .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_TOUCH, .key = "a"},
        {.op = PROTO_BIN_GAT, .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_GATKQ, .key = "a", .ext = ext8, .extlen = 8},
        {.op = PROTO_BIN_SASL_LIST_MECHS, .key = "x"},
        {.op = PROTO_BIN_SASL_AUTH, .val = "\0u\0p", .vallen = 4},
        {.op = PROTO_BIN_SASL_STEP, .key = "PLAIN", .ext = ext4, .extlen = 4},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_einval(&bad[i]);
}

static void test_huge_value_len(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_SET, .key = "abc", .ext = ext8, .extlen = 8,
                    .raw_body = true, .bodylen = 0xffffffff};
    size_t len;
    assert_int_equal(parse_pkt(&p, &req, &len), PROTO_BIN_READY);
    assert_int_equal(req.value_len, 0xffffffffu - 11);
    assert_int_equal(req.nread, len);
}

/* --- partial input ----------------------------------------------------------- */

static void check_every_split(const struct pkt *p)
{
    struct proto_bin_req full, part;
    size_t len;
    enum proto_bin_result r = parse_pkt(p, &full, &len);
    assert_true(r == PROTO_BIN_READY || r == PROTO_BIN_INVALID);
    size_t need = full.nread;
    for (size_t n = 0; n < need; n++)
        assert_int_equal(proto_bin_parse((const char *)wire, n, &part), PROTO_BIN_NEED_MORE);
    /* the value is not needed: the prefix alone gives the same answer */
    assert_int_equal(proto_bin_parse((const char *)wire, need, &part), r);
    assert_int_equal(part.nread, full.nread);
    assert_int_equal(part.value_len, full.value_len);
    assert_int_equal(part.status, full.status);
}

static void test_need_more_at_every_split(void **state)
{
    (void)state;
    const struct pkt pkts[] = {
        {.op = PROTO_BIN_GETK, .key = "some-key"},
        {.op = PROTO_BIN_SET, .key = "k", .ext = ext8, .extlen = 8, .val = "value", .vallen = 5},
        {.op = PROTO_BIN_INCREMENT, .key = "ctr", .ext = ext20, .extlen = 20},
        {.op = PROTO_BIN_GATKQ, .key = "g", .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_FLUSH, .ext = ext4, .extlen = 4},
        {.op = PROTO_BIN_NOOP},
        {.op = PROTO_BIN_APPEND, .key = "a", .val = "b", .vallen = 1},
        {.op = 0x50, .key = "abc", .ext = ext4, .extlen = 4},           /* unknown */
        {.op = PROTO_BIN_GET, .key = "abc", .ext = ext4, .extlen = 4},  /* EINVAL */
        {.op = PROTO_BIN_GET, .key = "abc", .raw_body = true, .bodylen = 1},
    };
    for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++)
        check_every_split(&pkts[i]);
}

static void test_pipelined(void **state)
{
    (void)state;
    unsigned char two[128];
    struct pkt a = {.op = PROTO_BIN_SETQ, .key = "a", .ext = ext8, .extlen = 8,
                    .val = "xyz", .vallen = 3};
    struct pkt b = {.op = PROTO_BIN_GETQ, .key = "a", .opaque = 2};
    size_t la = build(two, &a);
    size_t lb = build(two + la, &b);
    struct proto_bin_req req;
    assert_int_equal(proto_bin_parse((const char *)two, la + lb, &req), PROTO_BIN_READY);
    assert_int_equal(req.cmd, PROTO_BIN_SET);
    size_t used = req.nread + req.value_len;
    assert_int_equal(used, la);
    assert_int_equal(proto_bin_parse((const char *)two + used, lb, &req), PROTO_BIN_READY);
    assert_int_equal(req.cmd, PROTO_BIN_GET);
    assert_int_equal(req.opaque, 2);
}

/* --- writers ----------------------------------------------------------------- */

static void assert_res_header(const unsigned char *h, uint8_t op, uint16_t status, uint8_t extlen,
                              uint16_t keylen, uint32_t bodylen, uint32_t opaque, uint64_t cas)
{
    unsigned char want[24];
    want[0] = 0x81;
    want[1] = op;
    put_be(want + 2, keylen, 2);
    want[4] = extlen;
    want[5] = 0;
    put_be(want + 6, status, 2);
    put_be(want + 8, bodylen, 4);
    put_be(want + 12, opaque, 4);
    put_be(want + 16, cas, 8);
    assert_memory_equal(h, want, 24);
}

static void test_write_header(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_GETK, .key = "k", .opaque = 0xdeadbeef, .datatype = 3};
    parse_pkt(&p, &req, NULL);
    struct buf out = {0};
    proto_bin_header(&out, &req, PROTO_BIN_OK, 4, 1, 4 + 1 + 5, 0x1122334455667788ULL);
    proto_bin_put_u32(&out, 0xcafe);
    buf_append(&out, "k", 1);
    buf_append(&out, "hello", 5);
    assert_int_equal(out.len, 24 + 10);
    assert_res_header((unsigned char *)out.data, PROTO_BIN_GETK, 0, 4, 1, 10, 0xdeadbeef,
                      0x1122334455667788ULL);
    assert_memory_equal(out.data + 24, "\0\0\xca\xfe" "khello", 10);
    buf_free(&out);
}

static void test_write_errors(void **state)
{
    (void)state;
    const struct {
        uint16_t status;
        const char *text;
    } texts[] = {
        {PROTO_BIN_KEY_ENOENT, "Not found"},
        {PROTO_BIN_KEY_EEXISTS, "Data exists for key."},
        {PROTO_BIN_E2BIG, "Too large."},
        {PROTO_BIN_EINVAL, "Invalid arguments"},
        {PROTO_BIN_NOT_STORED, "Not stored."},
        {PROTO_BIN_DELTA_BADVAL, "Non-numeric server-side value for incr or decr"},
        {PROTO_BIN_AUTH_ERROR, "Auth failure."},
        {PROTO_BIN_UNKNOWN_COMMAND, "Unknown command"},
        {PROTO_BIN_ENOMEM, "Out of memory"},
    };
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_INCREMENTQ, .key = "c", .ext = ext20, .extlen = 20,
                    .opaque = 77, .cas = 5};
    parse_pkt(&p, &req, NULL);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_string_equal(proto_bin_status_text(texts[i].status), texts[i].text);
        struct buf out = {0};
        proto_bin_error(&out, &req, texts[i].status);
        size_t n = strlen(texts[i].text);
        assert_int_equal(out.len, 24 + n);
        /* errors echo the quiet opcode and carry cas 0 */
        assert_res_header((unsigned char *)out.data, PROTO_BIN_INCREMENTQ, texts[i].status, 0, 0,
                          (uint32_t)n, 77, 0);
        assert_memory_equal(out.data + 24, texts[i].text, n);
        buf_free(&out);
    }
    assert_string_equal(proto_bin_status_text(0x99), "UNHANDLED ERROR");

    struct buf out = {0};
    proto_bin_error_msg(&out, &req, PROTO_BIN_ENOMEM, "Out of memory allocating item");
    assert_res_header((unsigned char *)out.data, PROTO_BIN_INCREMENTQ, PROTO_BIN_ENOMEM, 0, 0, 29,
                      77, 0);
    assert_memory_equal(out.data + 24, "Out of memory allocating item", 29);
    buf_free(&out);
}

static void test_write_stat_and_ints(void **state)
{
    (void)state;
    struct proto_bin_req req;
    struct pkt p = {.op = PROTO_BIN_STAT, .opaque = 9};
    parse_pkt(&p, &req, NULL);
    struct buf out = {0};
    proto_bin_stat(&out, &req, "pid", 3, "1234", 4);
    proto_bin_stat(&out, &req, NULL, 0, NULL, 0);
    assert_int_equal(out.len, 24 + 7 + 24);
    assert_res_header((unsigned char *)out.data, PROTO_BIN_STAT, 0, 0, 3, 7, 9, 0);
    assert_memory_equal(out.data + 24, "pid1234", 7);
    assert_res_header((unsigned char *)out.data + 31, PROTO_BIN_STAT, 0, 0, 0, 0, 9, 0);
    buf_reset(&out);
    proto_bin_put_u64(&out, 0x0102030405060708ULL);
    proto_bin_put_u32(&out, 0xa0b0c0d0);
    assert_memory_equal(out.data, "\1\2\3\4\5\6\7\x08\xa0\xb0\xc0\xd0", 12);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_family),
        cmocka_unit_test(test_store_family),
        cmocka_unit_test(test_append_prepend),
        cmocka_unit_test(test_delete_incr_decr),
        cmocka_unit_test(test_touch_gat),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_admin_ops),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_all_opcodes_empty_body),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_unknown_opcode_swallows_bodylen),
        cmocka_unit_test(test_lengths_beyond_body),
        cmocka_unit_test(test_key_length_limits),
        cmocka_unit_test(test_opcode_rules),
        cmocka_unit_test(test_huge_value_len),
        cmocka_unit_test(test_need_more_at_every_split),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_write_header),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_write_stat_and_ints),
    };
    return cmocka_run_group_tests_name("proto_binary", tests, NULL, NULL);
}
