/* Unit tests for the JSON lines backup format (ctl/jsonl) and base64
 * (ctl/b64): every byte value round-trips in keys and values, the text /
 * base64 rule, header and end lines, escapes a person may type, and the
 * errors a damaged line gives (with its column). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "ctl/b64.h"
#include "ctl/jsonl.h"
#include "ctl/xfer.h"

/* Encode it, check the line is one ASCII line, decode it back into *out.
 * *line is a copy of the encoded line; out points into *data (decoded in
 * place). The caller frees both. */
static void round_trip_(const struct xfer_item *it, struct ctl_jsonl_rec *out, char **line,
                        char **data)
{
    struct buf b = {0};
    char err[200];
    ctl_jsonl_encode_item(&b, it);
    assert_false(b.oom);
    assert_true(b.len > 0);
    assert_int_equal(b.data[b.len - 1], '\n');
    for (size_t i = 0; i + 1 < b.len; i++)
        assert_true(b.data[i] >= 0x20 && b.data[i] < 0x7f);
    *line = strndup(b.data, b.len);
    *data = b.data;
    bool ok = ctl_jsonl_decode(b.data, b.len - 1, out, err, sizeof(err));
    if (!ok)
        fail_msg("decode failed: %s", err);
    assert_int_equal(out->kind, CTL_JSONL_ITEM);
}

#define round_trip(it, out, line) round_trip_(it, out, line, &data)
#define done() (free(line), free(data))

static void assert_same(const struct xfer_item *a, const struct xfer_item *b)
{
    assert_int_equal(a->nkey, b->nkey);
    assert_memory_equal(a->key, b->key, a->nkey);
    assert_int_equal(a->nvalue, b->nvalue);
    if (a->nvalue)
        assert_memory_equal(a->value, b->value, a->nvalue);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->exptime, b->exptime);
    assert_true(a->version == b->version);
    assert_int_equal(a->binary_key, b->binary_key);
}

static void test_every_byte_round_trips(void **state)
{
    (void)state;
    char key[250], value[256 * 3];
    for (int i = 0; i < 250; i++)
        key[i] = (char)(i + 3);
    for (int i = 0; i < 256 * 3; i++)
        value[i] = (char)(i * 7);
    struct xfer_item it = {.kind = XFER_SET, .key = key, .nkey = 250, .value = value,
                           .nvalue = sizeof(value), .flags = UINT32_MAX,
                           .exptime = UINT32_MAX, .version = UINT64_MAX, .binary_key = true};
    struct ctl_jsonl_rec rec;
    char *line, *data;
    round_trip(&it, &rec, &line);
    assert_non_null(strstr(line, "\"key_b64\":"));
    assert_non_null(strstr(line, "\"value_b64\":"));
    assert_non_null(strstr(line, "\"version\":18446744073709551615"));
    assert_same(&it, &rec.item);
    done();

    /* every length 0..5 of awkward bytes (padding cases) */
    for (size_t n = 0; n <= 5; n++) {
        char v[5] = {'\0', '\xff', '"', '\\', '\x80'};
        struct xfer_item x = {.key = "k", .nkey = 1, .value = v, .nvalue = n, .version = 1};
        round_trip(&x, &rec, &line);
        assert_same(&x, &rec.item);
        done();
    }
}

static void test_text_stays_readable(void **state)
{
    (void)state;
    const char *v = "line one\n\ttab \"quoted\" back\\slash\r\n";
    struct xfer_item it = {.key = "user:1 name", .nkey = 11, .value = v, .nvalue = strlen(v),
                           .flags = 5, .exptime = 1767225600, .version = 42};
    struct ctl_jsonl_rec rec;
    char *line, *data;
    round_trip(&it, &rec, &line);
    assert_string_equal(line, "{\"key\":\"user:1 name\",\"value\":\"line one\\n\\ttab "
                              "\\\"quoted\\\" back\\\\slash\\r\\n\",\"flags\":5,"
                              "\"exptime\":1767225600,\"version\":42}\n");
    assert_same(&it, &rec.item);
    done();

    /* a tab in a key is not text: keys go base64 for anything but 0x20..0x7e */
    struct xfer_item k = {.key = "a\tb", .nkey = 3, .value = "", .nvalue = 0, .version = 1};
    round_trip(&k, &rec, &line);
    assert_non_null(strstr(line, "\"key_b64\":\"YQli\""));
    assert_non_null(strstr(line, "\"value\":\"\""));
    assert_same(&k, &rec.item);
    done();
}

static void test_header_and_end(void **state)
{
    (void)state;
    struct buf b = {0};
    char err[200];
    struct ctl_jsonl_rec rec;
    struct xfer_meta m = {.node = 7, .created_ms = 1767225600123ull, .history = 99,
                          .log_pos = 12, .source = "127.0.0.1:11211", .server = "tandemd"};
    ctl_jsonl_encode_header(&b, &m);
    assert_true(ctl_jsonl_decode(b.data, b.len - 1, &rec, err, sizeof(err)));
    assert_int_equal(rec.kind, CTL_JSONL_HEADER);
    assert_int_equal(rec.meta.node, 7);
    assert_true(rec.meta.created_ms == 1767225600123ull);
    assert_int_equal(rec.meta.history, 99);
    assert_int_equal(rec.meta.log_pos, 12);
    assert_string_equal(rec.meta.source, "127.0.0.1:11211");
    assert_string_equal(rec.meta.server, "tandemd");
    char bare[] = "{\"format\":\"tandem-jsonl\",\"format_version\":1}";
    assert_true(ctl_jsonl_decode(bare, strlen(bare), &rec, err, sizeof(err)));
    assert_int_equal(rec.kind, CTL_JSONL_HEADER);
    assert_null(rec.meta.source);
    assert_null(rec.meta.server);
    /* a source that is not printable ASCII is written base64 and read back */
    buf_reset(&b);
    m.source = "h\xc3\xb4te:11211";
    ctl_jsonl_encode_header(&b, &m);
    assert_non_null(strstr(b.data, "\"source_b64\":"));
    if (!ctl_jsonl_decode(b.data, b.len - 1, &rec, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(rec.meta.source, "h\xc3\xb4te:11211");
    assert_string_equal(rec.meta.server, "tandemd");
    char both[] = "{\"format\":\"tandem-jsonl\",\"format_version\":1,\"source\":\"a\","
                  "\"source_b64\":\"YQ==\"}";
    assert_false(ctl_jsonl_decode(both, strlen(both), &rec, err, sizeof(err)));
    assert_non_null(strstr(err, "at most one of \"source\" and \"source_b64\""));
    buf_reset(&b);
    ctl_jsonl_encode_end(&b, 12345);
    const char *want = "{\"end\":true,\"records\":12345}\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    assert_true(ctl_jsonl_decode(b.data, b.len - 1, &rec, err, sizeof(err)));
    assert_int_equal(rec.kind, CTL_JSONL_END);
    assert_int_equal(rec.records, 12345);
    buf_free(&b);
}

static void test_typed_by_a_person(void **state)
{
    (void)state;
    char err[200];
    struct ctl_jsonl_rec rec;
    /* spaces, reordered and unknown members, \u escapes (UTF-8 out), \/ */
    char line[] = " { \"version\" : 3 , \"note\": [1], \"flags\":0,\"exptime\":0,"
                  "\"key\":\"caf\\u00e9\\/\\ud83d\\ude00\",\"value\":\"\\u0000x\"} ";
    assert_false(ctl_jsonl_decode(line, strlen(line), &rec, err, sizeof(err)));
    assert_non_null(strstr(err, "nested objects and arrays"));
    char line2[] = " { \"version\" : 3 , \"note\": null, \"extra\": \"x\", \"flags\":0,"
                   "\"exptime\":0,\"key\":\"caf\\u00e9\\/\\ud83d\\ude00\","
                   "\"value\":\"\\u0000x\"} ";
    if (!ctl_jsonl_decode(line2, strlen(line2), &rec, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(rec.item.nkey, 3 + 2 + 1 + 4);
    assert_memory_equal(rec.item.key, "caf\xc3\xa9/\xf0\x9f\x98\x80", 10);
    assert_int_equal(rec.item.nvalue, 2);
    assert_memory_equal(rec.item.value, "\0x", 2);
}

static void expect_error(const char *text, const char *want)
{
    char line[512], err[200];
    struct ctl_jsonl_rec rec;
    snprintf(line, sizeof(line), "%s", text);
    if (ctl_jsonl_decode(line, strlen(line), &rec, err, sizeof(err)))
        fail_msg("'%s' decoded", text);
    if (!strstr(err, want))
        fail_msg("'%s': error '%s' does not say '%s'", text, err, want);
}

static void test_damaged_lines(void **state)
{
    (void)state;
    expect_error("", "column 1: expected '{'");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":0,\"exptime\":0,\"version\":1",
                 "expected ',' or '}'");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":0,\"exptime\":0}", "\"version\"");
    expect_error("{\"key\":\"a\",\"key_b64\":\"YQ==\",\"value\":\"b\",\"flags\":0,"
                 "\"exptime\":0,\"version\":1}", "exactly one of \"key\" and \"key_b64\"");
    expect_error("{\"key_b64\":\"YQ=\",\"value\":\"b\",\"flags\":0,\"exptime\":0,\"version\":1}",
                 "not valid base64");
    expect_error("{\"key_b64\":\"YR==\",\"value\":\"b\",\"flags\":0,\"exptime\":0,\"version\":1}",
                 "not valid base64"); /* non-canonical padding bits */
    expect_error("{\"key\":\"\",\"value\":\"b\",\"flags\":0,\"exptime\":0,\"version\":1}",
                 "key of 0 bytes");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":4294967296,\"exptime\":0,\"version\":1}",
                 "column 32: \"flags\" is 4294967296, above its maximum");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":-1,\"exptime\":0,\"version\":1}",
                 "expected a value");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":1.5,\"exptime\":0,\"version\":1}",
                 "only unsigned integers");
    expect_error("{\"key\":\"a\",\"value\":\"b\",\"flags\":0,\"exptime\":0,\"version\":"
                 "18446744073709551616}", "number too large");
    expect_error("{\"key\":\"a\x01\",\"value\":\"b\"}", "column 10: control byte 0x01");
    expect_error("{\"key\":\"a\\q\"}", "unknown escape \\q");
    expect_error("{\"key\":\"\\ud800x\"}", "unpaired UTF-16 surrogate");
    expect_error("{\"key\":\"abc", "unterminated string");
    expect_error("{\"end\":true,\"records\":1} x", "unexpected bytes after the object");
    expect_error("{\"format\":\"other\",\"format_version\":1}", "not a Tandem JSON lines backup");
    expect_error("{\"format\":\"tandem-jsonl\",\"format_version\":2}",
                 "format_version 2 is not supported");
}

static void test_b64(void **state)
{
    (void)state;
    char out[16];
    unsigned char back[16];
    assert_int_equal(ctl_b64_encode(out, "", 0), 0);
    assert_int_equal(ctl_b64_encode(out, "f", 1), 4);
    assert_memory_equal(out, "Zg==", 4);
    assert_int_equal(ctl_b64_encode(out, "foob", 4), 8);
    assert_memory_equal(out, "Zm9vYg==", 8);
    assert_int_equal(ctl_b64_decode(back, "Zm9vYmFy", 8), 6);
    assert_memory_equal(back, "foobar", 6);
    assert_int_equal(ctl_b64_decode(back, "Zm9vYg", 6), -1);
    assert_int_equal(ctl_b64_decode(back, "Zg==Zg==", 8), -1);
    assert_int_equal(ctl_b64_decode(back, "Z!==", 4), -1);
    assert_true(ctl_key_is_plain("abc:1", 5));
    assert_false(ctl_key_is_plain("a b", 3));
    assert_false(ctl_key_is_plain("", 0));
    assert_false(ctl_key_is_plain("\x80", 1));
}

static void test_redact(void **state)
{
    (void)state;
    char out[200];
    xfer_redact(out, sizeof(out), "postgresql://bob:s3cret@db:5432/x?sslmode=require");
    assert_string_equal(out, "postgresql://bob:***@db:5432/x?sslmode=require");
    xfer_redact(out, sizeof(out), "postgresql://db/x?user=bob&password=s3cret&port=5");
    assert_string_equal(out, "postgresql://db/x?user=bob&password=***&port=5");
    /* libpq takes an unencoded '?' as part of the password */
    xfer_redact(out, sizeof(out), "postgresql://bob:s3?cret@db/x");
    assert_string_equal(out, "postgresql://bob:***@db/x");
    xfer_redact(out, sizeof(out), "postgresql://db:5432?sslmode=require");
    assert_string_equal(out, "postgresql://db:5432?sslmode=require");
    xfer_redact(out, sizeof(out), "postgresql://bob@db/x");
    assert_string_equal(out, "postgresql://bob@db/x");
    xfer_redact(out, sizeof(out), "/tmp/a:b@c.jsonl");
    assert_string_equal(out, "/tmp/a:b@c.jsonl");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_round_trips),
        cmocka_unit_test(test_text_stays_readable),
        cmocka_unit_test(test_header_and_end),
        cmocka_unit_test(test_typed_by_a_person),
        cmocka_unit_test(test_damaged_lines),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests_name("ctl_jsonl", tests, NULL, NULL);
}
