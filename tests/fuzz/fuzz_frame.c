/*
 * libFuzzer target for repl/frame: treat the input as a stream of frames and
 * walk it the way a link or a file reader does, consuming out->size per
 * frame until the decoder asks for more bytes or reports an error. Every
 * step checks the codec's promises:
 *
 *   - a frame's size is len + 4, fits in what is left, and key, value,
 *     names and MACs point inside it;
 *   - the frame's own bytes alone give the same answer, and one byte less
 *     gives FRAME_NEED_MORE;
 *   - re-encoding the decoded fields gives exactly the input bytes, and
 *     those decode to the same fields;
 *   - an error names an offset inside the frame's header or claimed length.
 *
 * The first input byte is a mode: with bit 0 set, the harness rewrites each
 * frame's CRC before decoding it, so the fuzzer gets past the checksum and
 * explores the body decoders; without it the checksum is tested as is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl/crc32c.h"
#include "repl/frame.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crc(unsigned char *p, size_t left)
{
    if (left < 4)
        return;
    uint32_t len = le32(p);
    if (len < 6 || (uint64_t)len + 4 > left)
        return;
    uint32_t c = crc32c_update(0, p + 4, len - 4);
    for (int i = 0; i < 4; i++)
        p[len + i] = (unsigned char)(c >> (8 * i));
}

static void check_inside(const void *q, size_t n, const char *p, size_t size)
{
    if (n == 0)
        return;
    CHECK((const char *)q >= p && (const char *)q + n <= p + size);
}

static void check_pointers(const struct frame *f, const char *p)
{
    switch (f->type) {
    case FRAME_HELLO: check_inside(f->hello.cluster, f->hello.ncluster, p, f->size); break;
    case FRAME_CHALLENGE: check_inside(f->nonce, FRAME_NONCE_LEN, p, f->size); break;
    case FRAME_PROOF:
        check_inside(f->proof.user, f->proof.nuser, p, f->size);
        check_inside(f->proof.mac, FRAME_MAC_LEN, p, f->size);
        break;
    case FRAME_ERROR: check_inside(f->error.text, f->error.ntext, p, f->size); break;
    case FRAME_SET:
        check_inside(f->rec.value, f->rec.nvalue, p, f->size);
        /* fall through */
    case FRAME_TOMB:
        CHECK(f->rec.nkey >= 1 && f->rec.nkey <= FRAME_KEY_MAX);
        check_inside(f->rec.key, f->rec.nkey, p, f->size);
        CHECK(f->rec.binary_key == ((f->fl & FRAME_FL_BINARY_KEY) != 0));
        break;
    default: CHECK(f->fl == 0); break;
    }
}

/* Same fields: scalars equal, pointed-to bytes equal. */
static void check_same(const struct frame *a, const struct frame *b)
{
    CHECK(a->type == b->type && a->fl == b->fl && a->size == b->size);
    struct store_record ra, rb;
    bool isrec = frame_to_store_record(a, &ra);
    CHECK(isrec == frame_to_store_record(b, &rb));
    if (isrec) {
        CHECK(a->rec.origin == b->rec.origin && a->rec.seq == b->rec.seq);
        CHECK(ra.version == rb.version && ra.flags == rb.flags && ra.exptime == rb.exptime);
        CHECK(ra.tombstone == rb.tombstone && ra.binary_key == rb.binary_key);
        CHECK(ra.nkey == rb.nkey && memcmp(ra.key, rb.key, ra.nkey) == 0);
        CHECK(ra.nvalue == rb.nvalue && (!ra.nvalue || memcmp(ra.value, rb.value, ra.nvalue) == 0));
        return;
    }
    switch (a->type) {
    case FRAME_HELLO:
        CHECK(a->hello.node == b->hello.node && a->hello.role == b->hello.role);
        CHECK(a->hello.flags == b->hello.flags && a->hello.history == b->hello.history);
        CHECK(a->hello.resume_pos == b->hello.resume_pos);
        CHECK(a->hello.resume_history == b->hello.resume_history);
        CHECK(a->hello.ncluster == b->hello.ncluster);
        CHECK(!a->hello.ncluster || !memcmp(a->hello.cluster, b->hello.cluster, a->hello.ncluster));
        break;
    case FRAME_CHALLENGE: CHECK(!memcmp(a->nonce, b->nonce, FRAME_NONCE_LEN)); break;
    case FRAME_PROOF:
        CHECK(a->proof.nuser == b->proof.nuser);
        CHECK(!a->proof.nuser || !memcmp(a->proof.user, b->proof.user, a->proof.nuser));
        CHECK(!memcmp(a->proof.mac, b->proof.mac, FRAME_MAC_LEN));
        break;
    case FRAME_ERROR:
        CHECK(a->error.code == b->error.code && a->error.ntext == b->error.ntext);
        CHECK(!a->error.ntext || !memcmp(a->error.text, b->error.text, a->error.ntext));
        break;
    case FRAME_FLUSH:
        CHECK(a->flush.origin == b->flush.origin && a->flush.seq == b->flush.seq);
        CHECK(a->flush.cutoff == b->flush.cutoff && a->flush.when == b->flush.when);
        break;
    case FRAME_SYNC_BEGIN:
        CHECK(a->sync_begin.mode == b->sync_begin.mode);
        CHECK(a->sync_begin.from_pos == b->sync_begin.from_pos);
        CHECK(a->sync_begin.history == b->sync_begin.history);
        break;
    case FRAME_ACK: CHECK(a->ack.pos == b->ack.pos && a->ack.time_ms == b->ack.time_ms); break;
    case FRAME_FILE_HEADER:
        CHECK(a->file_header.node == b->file_header.node);
        CHECK(a->file_header.created_ms == b->file_header.created_ms);
        CHECK(a->file_header.history == b->file_header.history);
        CHECK(a->file_header.log_pos == b->file_header.log_pos);
        break;
    case FRAME_FILE_TRAILER:
        CHECK(!memcmp(&a->file_trailer, &b->file_trailer, sizeof(a->file_trailer)));
        break;
    case FRAME_AUTH_OK: break;
    default: CHECK(a->pos == b->pos); break; /* SYNC_END, PING, PONG */
    }
}

static void check_frame(const char *p, size_t left, const struct frame *f)
{
    CHECK(f->size >= FRAME_OVERHEAD && f->size <= left && f->size <= FRAME_MAX);
    CHECK(f->size == (size_t)le32((const unsigned char *)p) + 4);
    CHECK((unsigned char)p[4] == f->type && (unsigned char)p[5] == f->fl);
    check_pointers(f, p);

    struct frame g;
    CHECK(frame_decode(p, f->size, &g) == FRAME_OK && g.size == f->size);
    CHECK(frame_decode(p, f->size - 1, &g) == FRAME_NEED_MORE);

    struct buf b = {0};
    CHECK(frame_encode(&b, f) == FRAME_OK);
    CHECK(!b.oom && b.len == f->size && memcmp(b.data, p, b.len) == 0);
    CHECK(frame_decode(b.data, b.len, &g) == FRAME_OK);
    check_same(f, &g);
    buf_free(&b);
}

static void check_error(const char *p, size_t left, enum frame_status st, const struct frame *f)
{
    CHECK(f->size == 0);
    CHECK(*frame_strerror(st) != '\0');
    if (f->err_at <= 5) /* header errors: decided by the first bytes alone */
        return;
    uint32_t len = le32((const unsigned char *)p);
    CHECK(f->err_at <= len && (size_t)len + 4 <= left);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool fix = data[0] & 1;
    size_t n = size - 1;
    unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
    if (!copy)
        return 0;
    memcpy(copy, data + 1, n);

    size_t off = 0;
    for (;;) {
        if (fix)
            fix_crc(copy + off, n - off);
        const char *p = (const char *)copy + off;
        struct frame f;
        enum frame_status st = frame_decode(p, n - off, &f);
        if (st == FRAME_NEED_MORE)
            break;
        if (st != FRAME_OK) {
            check_error(p, n - off, st, &f);
            break;
        }
        check_frame(p, n - off, &f);
        off += f.size;
    }
    free(copy);
    return 0;
}
