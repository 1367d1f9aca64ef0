/* Unit tests for repl/frame: every record type round-trips byte for byte,
 * every error is reported at its exact offset, truncated frames ask for
 * more, corrupted ones never decode, and the file digest matches XXH3-64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <xxhash.h>

#include "repl/crc32c.h"
#include "repl/frame.h"

static const uint8_t NONCE[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t MAC[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
                                0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* One frame of every type, with distinctive values in every field. */
static struct frame samples[] = {
    {.type = FRAME_HELLO,
     .hello = {.node = 513, .role = FRAME_ROLE_REPLICA, .flags = 0x80, .history = 0x1122334455667788ull,
               .resume_pos = 42, .resume_history = 0x8877665544332211ull, .cluster = "prod-eu",
               .ncluster = 7}},
    {.type = FRAME_CHALLENGE, .nonce = NONCE},
    {.type = FRAME_PROOF, .proof = {.user = "repl", .nuser = 4, .mac = MAC}},
    {.type = FRAME_AUTH_OK},
    {.type = FRAME_ERROR, .error = {.code = FRAME_ERR_AUTH, .text = "authentication failed", .ntext = 21}},
    {.type = FRAME_SET,
     .rec = {.origin = 7, .seq = 99, .version = 0xfedcba9876543210ull, .flags = 0xdeadbeef,
             .exptime = 1800000000u, .key = "user:1", .nkey = 6, .value = "hello\r\nworld",
             .nvalue = 12}},
    {.type = FRAME_SET, .fl = FRAME_FL_BINARY_KEY,
     .rec = {.origin = 1, .seq = 1, .version = 5, .key = "\0\xff", .nkey = 2, .value = "",
             .nvalue = 0, .binary_key = true}},
    {.type = FRAME_TOMB, .rec = {.origin = 3, .seq = 1000, .version = 77, .key = "gone", .nkey = 4}},
    {.type = FRAME_TOMB, .fl = FRAME_FL_BINARY_KEY,
     .rec = {.origin = 3, .seq = 1001, .version = 78, .key = "\x01", .nkey = 1, .binary_key = true}},
    {.type = FRAME_FLUSH, .flush = {.origin = 2, .seq = 5, .cutoff = 123456789, .when = 1700000000u}},
    {.type = FRAME_SYNC_BEGIN, .sync_begin = {.mode = FRAME_SYNC_FULL, .from_pos = 17, .history = 9}},
    {.type = FRAME_SYNC_END, .pos = 0xffffffffffffffffull},
    {.type = FRAME_ACK, .ack = {.pos = 12, .time_ms = 1700000000123ull}},
    {.type = FRAME_PING, .time_ms = 1},
    {.type = FRAME_PONG, .time_ms = 2},
    {.type = FRAME_FILE_HEADER,
     .file_header = {.node = 4, .created_ms = 1700000000000ull, .history = 77, .log_pos = 100}},
    {.type = FRAME_FILE_TRAILER,
     .file_trailer = {.records = 3, .digest = 0x0123456789abcdefull, .first_ms = 10, .last_ms = 20}},
    {.type = FRAME_FLUSH, .fl = FRAME_FL_ISSUED,
     .flush = {.origin = 2, .seq = 6, .cutoff = 1u << 30, .when = 1800000000u, .issued = 1234567}},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static void encode(struct buf *b, const struct frame *f)
{
    buf_reset(b);
    assert_int_equal(frame_encode(b, f), FRAME_OK);
    assert_false(b->oom);
}

static void same_bytes(const void *a, const void *b, size_t n)
{
    if (n)
        assert_memory_equal(a, b, n);
}

static void same_fields(const struct frame *a, const struct frame *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case FRAME_HELLO:
        assert_int_equal(a->hello.node, b->hello.node);
        assert_int_equal(a->hello.role, b->hello.role);
        assert_int_equal(a->hello.flags, b->hello.flags);
        assert_true(a->hello.history == b->hello.history);
        assert_true(a->hello.resume_pos == b->hello.resume_pos);
        assert_true(a->hello.resume_history == b->hello.resume_history);
        assert_int_equal(a->hello.ncluster, b->hello.ncluster);
        same_bytes(a->hello.cluster, b->hello.cluster, a->hello.ncluster);
        break;
    case FRAME_CHALLENGE: same_bytes(a->nonce, b->nonce, FRAME_NONCE_LEN); break;
    case FRAME_PROOF:
        assert_int_equal(a->proof.nuser, b->proof.nuser);
        same_bytes(a->proof.user, b->proof.user, a->proof.nuser);
        same_bytes(a->proof.mac, b->proof.mac, FRAME_MAC_LEN);
        break;
    case FRAME_AUTH_OK: break;
    case FRAME_ERROR:
        assert_int_equal(a->error.code, b->error.code);
        assert_int_equal(a->error.ntext, b->error.ntext);
        same_bytes(a->error.text, b->error.text, a->error.ntext);
        break;
    case FRAME_SET:
        assert_int_equal(a->rec.flags, b->rec.flags);
        assert_int_equal(a->rec.exptime, b->rec.exptime);
        assert_int_equal(a->rec.nvalue, b->rec.nvalue);
        same_bytes(a->rec.value, b->rec.value, a->rec.nvalue);
        /* fall through */
    case FRAME_TOMB:
        assert_int_equal(a->rec.origin, b->rec.origin);
        assert_true(a->rec.seq == b->rec.seq);
        assert_true(a->rec.version == b->rec.version);
        assert_int_equal(a->rec.nkey, b->rec.nkey);
        same_bytes(a->rec.key, b->rec.key, a->rec.nkey);
        assert_int_equal(a->rec.binary_key, b->rec.binary_key);
        break;
    case FRAME_FLUSH:
        assert_int_equal(a->flush.origin, b->flush.origin);
        assert_true(a->flush.seq == b->flush.seq);
        assert_true(a->flush.cutoff == b->flush.cutoff);
        assert_int_equal(a->flush.when, b->flush.when);
        assert_true(a->flush.issued == b->flush.issued);
        break;
    case FRAME_SYNC_BEGIN:
        assert_int_equal(a->sync_begin.mode, b->sync_begin.mode);
        assert_true(a->sync_begin.from_pos == b->sync_begin.from_pos);
        assert_true(a->sync_begin.history == b->sync_begin.history);
        break;
    case FRAME_SYNC_END:
    case FRAME_PING:
    case FRAME_PONG: assert_true(a->pos == b->pos); break;
    case FRAME_ACK: assert_memory_equal(&a->ack, &b->ack, sizeof(a->ack)); break;
    case FRAME_FILE_HEADER:
        assert_int_equal(a->file_header.node, b->file_header.node);
        assert_true(a->file_header.created_ms == b->file_header.created_ms);
        assert_true(a->file_header.history == b->file_header.history);
        assert_true(a->file_header.log_pos == b->file_header.log_pos);
        break;
    case FRAME_FILE_TRAILER:
        assert_memory_equal(&a->file_trailer, &b->file_trailer, sizeof(a->file_trailer));
        break;
    }
}

static uint32_t rd32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void wr32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (char)v;
}

/* After a deliberate edit, make the CRC right again so a later check fires. */
static void fix_crc(char *p)
{
    uint32_t len = rd32(p);
    wr32(p + len, crc32c_update(0, p + 4, len - 4));
}

static void expect_error(const char *p, size_t n, enum frame_status st, size_t at)
{
    struct frame f;
    assert_int_equal(frame_decode(p, n, &f), st);
    assert_int_equal(f.err_at, at);
    assert_int_equal(f.size, 0);
}

/* --- round trips ------------------------------------------------------------ */

static void test_round_trip_every_type(void **state)
{
    (void)state;
    struct buf b = {0}, again = {0};
    for (size_t i = 0; i < NSAMPLES; i++) {
        encode(&b, &samples[i]);
        struct frame f;
        assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
        assert_int_equal(f.size, b.len);
        assert_int_equal(f.fl, samples[i].fl);
        assert_int_equal(rd32(b.data), b.len - 4);
        same_fields(&samples[i], &f);
        encode(&again, &f);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.data, b.data, b.len);
    }
    buf_free(&b);
    buf_free(&again);
}

/* Pointers of a decoded frame point into the input; nothing is copied. */
static void test_decode_points_into_input(void **state)
{
    (void)state;
    struct buf b = {0};
    encode(&b, &samples[5]);
    struct frame f;
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_ptr_equal(f.rec.key, b.data + 37);
    assert_ptr_equal(f.rec.value, b.data + 37 + 6);
    buf_free(&b);
}

/* Bytes computed independently (layout by hand, CRC by a reference
 * implementation), so encoder and decoder cannot agree on a wrong format. */
static void test_known_answer(void **state)
{
    (void)state;
    static const unsigned char ping[] = {0x0e, 0, 0, 0, 23, 0, 0x08, 0x07, 0x06, 0x05,
                                         0x04, 0x03, 0x02, 0x01, 0x78, 0x19, 0xc2, 0xbf};
    static const unsigned char tomb[] = {0x1a, 0, 0, 0, 11, 1, 0x02, 0x01, 0x05, 0, 0, 0, 0, 0, 0, 0,
                                         0x09, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 'k', 0x8a, 0x4e, 0x04, 0x38};
    struct buf b = {0};
    frame_encode_ping(&b, 0x0102030405060708ull);
    assert_int_equal(b.len, sizeof(ping));
    assert_memory_equal(b.data, ping, sizeof(ping));
    buf_reset(&b);
    struct frame_rec r = {.origin = 0x102, .seq = 5, .version = 0x8000000000000009ull, .key = "k",
                          .nkey = 1, .binary_key = true};
    assert_int_equal(frame_encode_tomb(&b, &r), FRAME_OK);
    assert_int_equal(b.len, sizeof(tomb));
    assert_memory_equal(b.data, tomb, sizeof(tomb));
    buf_free(&b);
}

static void test_stream_of_frames(void **state)
{
    (void)state;
    struct buf b = {0};
    for (size_t i = 0; i < NSAMPLES; i++)
        assert_int_equal(frame_encode(&b, &samples[i]), FRAME_OK);
    size_t off = 0;
    for (size_t i = 0; i < NSAMPLES; i++) {
        struct frame f;
        assert_int_equal(frame_decode(b.data + off, b.len - off, &f), FRAME_OK);
        same_fields(&samples[i], &f);
        off += f.size;
    }
    assert_int_equal(off, b.len);
    struct frame f;
    assert_int_equal(frame_decode(b.data + off, 0, &f), FRAME_NEED_MORE);
    buf_free(&b);
}

static void test_store_record_conversion(void **state)
{
    (void)state;
    struct buf b = {0};
    struct store_record in = {.key = "k1", .nkey = 2, .value = "v", .nvalue = 1, .flags = 3,
                              .exptime = 4, .version = 5, .binary_key = true};
    assert_int_equal(frame_encode_record(&b, 9, 10, &in), FRAME_OK);
    struct frame f;
    struct store_record out;
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_int_equal(f.type, FRAME_SET);
    assert_int_equal(f.rec.origin, 9);
    assert_int_equal(f.rec.seq, 10);
    assert_true(frame_to_store_record(&f, &out));
    assert_int_equal(out.nkey, 2);
    assert_memory_equal(out.key, "k1", 2);
    assert_int_equal(out.nvalue, 1);
    assert_memory_equal(out.value, "v", 1);
    assert_int_equal(out.flags, 3);
    assert_int_equal(out.exptime, 4);
    assert_int_equal(out.version, 5);
    assert_true(out.binary_key);
    assert_false(out.tombstone);

    buf_reset(&b);
    struct store_record t = {.key = "k2", .nkey = 2, .version = 6, .tombstone = true};
    assert_int_equal(frame_encode_record(&b, 1, 2, &t), FRAME_OK);
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_int_equal(f.type, FRAME_TOMB);
    assert_true(frame_to_store_record(&f, &out));
    assert_true(out.tombstone);
    assert_int_equal(out.version, 6);
    assert_int_equal(out.nvalue, 0);
    assert_memory_equal(out.key, "k2", 2);

    buf_reset(&b);
    frame_encode_ping(&b, 1);
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_false(frame_to_store_record(&f, &out));
    buf_free(&b);
}

/* --- errors at their offsets -------------------------------------------------- */

static void test_header_errors(void **state)
{
    (void)state;
    char p[64] = {0};
    wr32(p, 0xffffffffu);
    expect_error(p, 4, FRAME_E_TOO_LARGE, 0);
    wr32(p, FRAME_MAX - 3);
    expect_error(p, 4, FRAME_E_TOO_LARGE, 0);
    wr32(p, 5);
    expect_error(p, 4, FRAME_E_LENGTH, 0);
    wr32(p, 0);
    expect_error(p, 4, FRAME_E_LENGTH, 0);

    wr32(p, 14);
    for (unsigned t = 0; t < 256; t++) {
        p[4] = (char)t;
        struct frame f;
        enum frame_status st = frame_decode(p, 5, &f);
        if (strcmp(frame_type_name(t), "unknown") == 0) {
            assert_int_equal(st, FRAME_E_TYPE);
            assert_int_equal(f.err_at, 4);
        } else {
            assert_int_not_equal(st, FRAME_E_TYPE);
        }
    }
    p[4] = FRAME_PING;
    wr32(p, 15); /* PING's body is 8 bytes, never 9 */
    expect_error(p, 5, FRAME_E_LENGTH, 0);
    wr32(p, 14);
    p[5] = 1; /* no flag bits for PING */
    expect_error(p, 6, FRAME_E_FLAGS, 5);
    p[4] = FRAME_SET;
    p[5] = 4; /* only bits 0 (binary key) and 1 (stale) for SET */
    wr32(p, 6 + 32);
    expect_error(p, 6, FRAME_E_FLAGS, 5);
}

static void test_largest_length_waits_not_fails(void **state)
{
    (void)state;
    char p[6] = {0};
    wr32(p, FRAME_MAX - 4);
    p[4] = FRAME_SET;
    struct frame f;
    assert_int_equal(frame_decode(p, sizeof(p), &f), FRAME_NEED_MORE);
    p[4] = FRAME_TOMB; /* a TOMB is never that long */
    expect_error(p, sizeof(p), FRAME_E_LENGTH, 0);
}

static void test_crc_error_at_crc(void **state)
{
    (void)state;
    struct buf b = {0};
    encode(&b, &samples[5]);
    b.data[b.len - 1] ^= 0x40;
    expect_error(b.data, b.len, FRAME_E_CRC, b.len - 4);
    buf_free(&b);
}

static void test_hello_body_errors(void **state)
{
    (void)state;
    struct buf b = {0};
    encode(&b, &samples[0]);
    b.data[6] = 'X'; /* magic */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_MAGIC, 6);

    encode(&b, &samples[0]);
    b.data[10] = 2; /* proto */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_VERSION, 10);

    encode(&b, &samples[0]);
    b.data[14] = 3; /* role */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_FIELD, 14);

    encode(&b, &samples[0]);
    b.data[40] = 6; /* cluster name length, one short */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 40);
    b.data[40] = 8; /* one too long */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 40);
    buf_free(&b);
}

/* A later protocol's HELLO may be longer: it is a version error, not a
 * length error, so the link can say what is wrong. A proto-1 HELLO that is
 * too short for its fixed fields is a length error. */
static void test_hello_from_the_future(void **state)
{
    (void)state;
    char p[200] = {0};
    wr32(p, 6 + 150);
    p[4] = FRAME_HELLO;
    memcpy(p + 6, "TNDM", 4);
    p[10] = 2;
    fix_crc(p);
    expect_error(p, 160, FRAME_E_VERSION, 10);

    wr32(p, 6 + 20);
    p[10] = 1;
    fix_crc(p);
    expect_error(p, 30, FRAME_E_LENGTH, 0);

    char q[8200] = {0};
    wr32(q, 6 + 4097); /* past the ceiling a HELLO may claim */
    q[4] = FRAME_HELLO;
    expect_error(q, 6, FRAME_E_LENGTH, 0);
}

static void test_file_header_errors(void **state)
{
    (void)state;
    struct buf b = {0};
    encode(&b, &samples[15]);
    b.data[13] = 'X';
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_MAGIC, 6);
    encode(&b, &samples[15]);
    b.data[14] = 9;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_VERSION, 14);
    buf_free(&b);
}

static void test_record_errors(void **state)
{
    (void)state;
    struct buf b = {0};
    /* SET: klen at 32, vlen at 33 */
    encode(&b, &samples[5]);
    b.data[32] = 0;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_KEY, 32);
    b.data[32] = (char)251;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_KEY, 32);
    b.data[32] = 7; /* key one longer: value short by one */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 33);

    encode(&b, &samples[5]);
    wr32(b.data + 33, 0xffffffffu); /* a huge value claim inside a small frame */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 33);
    wr32(b.data + 33, 11);
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 33);

    /* trailing byte after the value: the value length disagrees */
    encode(&b, &samples[5]);
    size_t n = b.len;
    buf_append(&b, "XXXX", 4);
    memmove(b.data + n - 3, b.data + n - 4, 4);
    wr32(b.data, rd32(b.data) + 1);
    fix_crc(b.data);
    expect_error(b.data, n + 1, FRAME_E_LENGTH, 33);

    /* TOMB: klen at 24 */
    encode(&b, &samples[7]);
    b.data[24] = 0;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_KEY, 24);
    b.data[24] = 3;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 24);
    buf_free(&b);
}

static void test_other_length_fields(void **state)
{
    (void)state;
    struct buf b = {0};
    encode(&b, &samples[2]); /* PROOF: user length at 6 */
    b.data[6] = 5;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 6);

    encode(&b, &samples[4]); /* ERROR: text length at 8 */
    b.data[8] = 20;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 8);

    encode(&b, &samples[10]); /* SYNC_BEGIN: mode at 6 */
    b.data[6] = 2;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_FIELD, 6);

    /* FLUSH: issued is present exactly when its flag says so, and never 0 */
    encode(&b, &samples[NSAMPLES - 1]);
    assert_int_equal(b.len, 40);
    memset(b.data + 28, 0, 8);
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_FIELD, 28);
    b.data[5] = 0; /* no flag, yet 8 more bytes */
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 0);
    encode(&b, &samples[9]); /* the flag on a frame without the field */
    assert_int_equal(b.len, 32);
    b.data[5] = FRAME_FL_ISSUED;
    fix_crc(b.data);
    expect_error(b.data, b.len, FRAME_E_LENGTH, 0);
    buf_free(&b);
}

/* --- truncation and corruption ------------------------------------------------- */

static void test_truncation_at_every_byte(void **state)
{
    (void)state;
    struct buf b = {0};
    for (size_t i = 0; i < NSAMPLES; i++) {
        encode(&b, &samples[i]);
        for (size_t k = 0; k < b.len; k++) {
            /* a copy of exactly k bytes, so ASan catches any read past it */
            char *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, b.data, k);
            struct frame f;
            assert_int_equal(frame_decode(p, k, &f), FRAME_NEED_MORE);
            free(p);
        }
    }
    buf_free(&b);
}

static void test_bit_flip_anywhere(void **state)
{
    (void)state;
    struct buf b = {0};
    for (size_t i = 0; i < NSAMPLES; i++) {
        encode(&b, &samples[i]);
        char *p = malloc(b.len);
        assert_non_null(p);
        for (size_t bit = 0; bit < b.len * 8; bit++) {
            memcpy(p, b.data, b.len);
            p[bit / 8] ^= (char)(1u << (bit % 8));
            struct frame f;
            enum frame_status st = frame_decode(p, b.len, &f);
            assert_int_not_equal(st, FRAME_OK);
            if (bit / 8 >= FRAME_HEADER_LEN)
                assert_int_equal(st, FRAME_E_CRC);
        }
        free(p);
    }
    buf_free(&b);
}

/* --- encoder limits ------------------------------------------------------------- */

static void test_encoder_refuses_what_decoder_refuses(void **state)
{
    (void)state;
    struct buf b = {0};
    char key[256];
    memset(key, 'k', sizeof(key));
    struct frame_rec r = {.key = key, .nkey = 0};
    assert_int_equal(frame_encode_set(&b, &r), FRAME_E_KEY);
    assert_int_equal(frame_encode_tomb(&b, &r), FRAME_E_KEY);
    r.nkey = 251;
    assert_int_equal(frame_encode_set(&b, &r), FRAME_E_KEY);
    assert_int_equal(frame_encode_tomb(&b, &r), FRAME_E_KEY);
    r.nkey = 250;
    assert_int_equal(frame_encode_tomb(&b, &r), FRAME_OK);
    size_t len = b.len;
    assert_int_equal(frame_encode_proof(&b, key, 256, MAC), FRAME_E_LENGTH);
    assert_int_equal(b.len, len);
    assert_int_equal(frame_encode_proof(&b, key, 255, MAC), FRAME_OK);
    buf_free(&b);
}

static void test_error_text_is_truncated(void **state)
{
    (void)state;
    struct buf b = {0};
    char *text = malloc(70000);
    assert_non_null(text);
    memset(text, 'e', 70000);
    frame_encode_error(&b, 1, text, 70000);
    struct frame f;
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_int_equal(f.error.ntext, 65535);
    free(text);
    buf_free(&b);
}

/* The largest value fits exactly; one byte more is refused by the encoder. */
static void test_largest_set(void **state)
{
    (void)state;
    char *v = calloc(1, FRAME_VALUE_MAX + 1);
    assert_non_null(v);
    struct buf b = {0};
    struct frame_rec r = {.key = "k", .nkey = 1, .value = v, .nvalue = FRAME_VALUE_MAX};
    assert_int_equal(frame_encode_set(&b, &r), FRAME_OK);
    assert_int_equal(b.len, FRAME_MAX);
    struct frame f;
    assert_int_equal(frame_decode(b.data, b.len, &f), FRAME_OK);
    assert_int_equal(f.rec.nvalue, FRAME_VALUE_MAX);
    buf_reset(&b);
    r.nvalue++;
    assert_int_equal(frame_encode_set(&b, &r), FRAME_E_TOO_LARGE);
    assert_int_equal(b.len, 0);
    r.nvalue--;
    r.nkey = 2;
    r.key = "kk";
    assert_int_equal(frame_encode_set(&b, &r), FRAME_E_TOO_LARGE);
    free(v);
    buf_free(&b);
}

static void test_strerror_and_names(void **state)
{
    (void)state;
    for (int st = FRAME_OK; st <= FRAME_E_DIGEST; st++) {
        const char *m = frame_strerror((enum frame_status)st);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown frame status");
    }
    assert_string_equal(frame_type_name(FRAME_SET), "SET");
    assert_string_equal(frame_type_name(FRAME_FILE_TRAILER), "FILE_TRAILER");
    assert_string_equal(frame_type_name(6), "unknown");
    assert_string_equal(frame_type_name(1000), "unknown");
}

/* --- file digest ---------------------------------------------------------------- */

static void test_file_digest(void **state)
{
    (void)state;
    struct buf file = {0};
    struct frame_digest *w = frame_digest_new();
    assert_non_null(w);
    struct frame_file_header h = {.node = 1, .created_ms = 2, .history = 3, .log_pos = 4};
    frame_encode_file_header(&file, &h);
    size_t body_start = file.len;
    for (size_t i = 5; i < 10; i++) {
        size_t at = file.len;
        assert_int_equal(frame_encode(&file, &samples[i]), FRAME_OK);
        frame_digest_add(w, file.data + at, file.len - at);
    }
    size_t body_end = file.len;
    struct frame_file_trailer t = {.records = frame_digest_records(w),
                                   .digest = frame_digest_value(w), .first_ms = 1, .last_ms = 2};
    frame_encode_file_trailer(&file, &t);
    assert_int_equal(t.records, 5);
    assert_true(t.digest == XXH3_64bits(file.data + body_start, body_end - body_start));

    /* read it back */
    struct frame_digest *r = frame_digest_new();
    size_t off = 0;
    struct frame f;
    assert_int_equal(frame_decode(file.data, file.len, &f), FRAME_OK);
    assert_int_equal(f.type, FRAME_FILE_HEADER);
    off += f.size;
    for (;;) {
        assert_int_equal(frame_decode(file.data + off, file.len - off, &f), FRAME_OK);
        if (f.type == FRAME_FILE_TRAILER)
            break;
        frame_digest_add(r, file.data + off, f.size);
        off += f.size;
    }
    assert_int_equal(frame_digest_check(r, &f.file_trailer), FRAME_OK);
    struct frame_file_trailer bad = f.file_trailer;
    bad.records++;
    assert_int_equal(frame_digest_check(r, &bad), FRAME_E_DIGEST);
    bad = f.file_trailer;
    bad.digest ^= 1;
    assert_int_equal(frame_digest_check(r, &bad), FRAME_E_DIGEST);
    frame_digest_free(r);
    frame_digest_free(w);
    frame_digest_free(NULL);
    buf_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_decode_points_into_input),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_stream_of_frames),
        cmocka_unit_test(test_store_record_conversion),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_largest_length_waits_not_fails),
        cmocka_unit_test(test_crc_error_at_crc),
        cmocka_unit_test(test_hello_body_errors),
        cmocka_unit_test(test_hello_from_the_future),
        cmocka_unit_test(test_file_header_errors),
        cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_other_length_fields),
        cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_bit_flip_anywhere),
        cmocka_unit_test(test_encoder_refuses_what_decoder_refuses),
        cmocka_unit_test(test_error_text_is_truncated),
        cmocka_unit_test(test_largest_set),
        cmocka_unit_test(test_strerror_and_names),
        cmocka_unit_test(test_file_digest),
    };
    return cmocka_run_group_tests_name("repl_frame", tests, NULL, NULL);
}
