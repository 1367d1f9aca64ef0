/*
 * The frame codec. See frame.h for the format and the order of checks.
 *
 * Each type is a row in one table: the body lengths its header may claim,
 * the flag bits it defines, and its body decoder. frame_decode() does the
 * checks common to all types from the table, then hands the body to the
 * row's decoder through a bounds-checked reader, so no decoder can read past
 * the frame even if its own length arithmetic were wrong.
 *
 * This file needs only crc32c.c and core/buf.c (the fuzz target links just
 * those); xxhash is compiled in inline for the same reason.
 */
#include "repl/frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/hlc.h"
#include "repl/crc32c.h"

#define BODY_MAX (FRAME_MAX - FRAME_OVERHEAD)
#define HELLO_FIXED 35    /* HELLO body without the cluster name */
#define PROOF_FIXED 33    /* user length + MAC */
#define ERROR_FIXED 4     /* code + text length */
#define SET_FIXED 31      /* SET body without key and value */
#define TOMB_FIXED 19     /* TOMB body without key */
#define FILE_FIXED 36     /* FILE_HEADER body */
#define PEEK_MAX 4096     /* header-check ceiling for HELLO/FILE_HEADER, see decode */

static const char hello_magic[4] = {'T', 'N', 'D', 'M'};
static const char file_magic[8] = {'T', 'A', 'N', 'D', 'E', 'M', 'S', 'N'};

/* --- bytes ------------------------------------------------------------------ */

static uint64_t get_le(const unsigned char *p, unsigned k)
{
    uint64_t v = 0;
    while (k--)
        v = v << 8 | p[k];
    return v;
}

static char *put_le(char *p, uint64_t v, unsigned k)
{
    for (unsigned i = 0; i < k; i++, v >>= 8)
        p[i] = (char)(v & 0xff);
    return p + k;
}

static char *put_bytes(char *p, const void *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* A reader over one frame's body: offsets count from the frame's start, so
 * they are the err_at values as they are. Reading past `end` yields zeros
 * and sets `bad` instead of touching memory. */
struct rd {
    const unsigned char *p;
    size_t off, end;
    bool bad;
};

static uint64_t rd_num(struct rd *r, unsigned k)
{
    if (r->bad || r->end - r->off < k) {
        r->bad = true;
        return 0;
    }
    uint64_t v = get_le(r->p + r->off, k);
    r->off += k;
    return v;
}

static const char *rd_ptr(struct rd *r, size_t k)
{
    if (r->bad || r->end - r->off < k) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += k;
    return s;
}

static size_t rd_left(const struct rd *r) { return r->bad ? 0 : r->end - r->off; }

static enum frame_status fail(struct frame *f, enum frame_status st, size_t at)
{
    f->err_at = at;
    return st;
}

/* --- body decoders ------------------------------------------------------------ */

static bool magic_ok(struct rd *r, const char *magic, size_t n)
{
    const char *m = rd_ptr(r, n);
    return m && memcmp(m, magic, n) == 0;
}

static enum frame_status dec_hello(struct rd *r, struct frame *f)
{
    struct frame_hello *h = &f->hello;
    size_t at = r->off;
    if (!magic_ok(r, hello_magic, sizeof(hello_magic)))
        return fail(f, FRAME_E_MAGIC, at);
    at = r->off;
    if (rd_num(r, 2) != FRAME_PROTO)
        return fail(f, FRAME_E_VERSION, at);
    if (rd_left(r) < HELLO_FIXED - 6)
        return fail(f, FRAME_E_LENGTH, 0);
    h->node = (uint16_t)rd_num(r, 2);
    at = r->off;
    h->role = (uint8_t)rd_num(r, 1);
    if (h->role > FRAME_ROLE_REPLICA)
        return fail(f, FRAME_E_FIELD, at);
    h->flags = (uint8_t)rd_num(r, 1);
    h->history = rd_num(r, 8);
    h->resume_pos = rd_num(r, 8);
    h->resume_history = rd_num(r, 8);
    at = r->off;
    h->ncluster = (uint8_t)rd_num(r, 1);
    if (rd_left(r) != h->ncluster)
        return fail(f, FRAME_E_LENGTH, at);
    h->cluster = rd_ptr(r, h->ncluster);
    return FRAME_OK;
}

static enum frame_status dec_challenge(struct rd *r, struct frame *f)
{
    f->nonce = (const uint8_t *)rd_ptr(r, FRAME_NONCE_LEN);
    return FRAME_OK;
}

static enum frame_status dec_proof(struct rd *r, struct frame *f)
{
    size_t at = r->off;
    f->proof.nuser = (uint8_t)rd_num(r, 1);
    if (rd_left(r) != (size_t)f->proof.nuser + FRAME_MAC_LEN)
        return fail(f, FRAME_E_LENGTH, at);
    f->proof.user = rd_ptr(r, f->proof.nuser);
    f->proof.mac = (const uint8_t *)rd_ptr(r, FRAME_MAC_LEN);
    return FRAME_OK;
}

static enum frame_status dec_empty(struct rd *r, struct frame *f)
{
    (void)r;
    (void)f;
    return FRAME_OK;
}

static enum frame_status dec_error(struct rd *r, struct frame *f)
{
    f->error.code = (uint16_t)rd_num(r, 2);
    size_t at = r->off;
    f->error.ntext = (uint16_t)rd_num(r, 2);
    if (rd_left(r) != f->error.ntext)
        return fail(f, FRAME_E_LENGTH, at);
    f->error.text = rd_ptr(r, f->error.ntext);
    return FRAME_OK;
}

/* origin, seq, version: the head SET and TOMB share. */
static void rec_head(struct rd *r, struct frame_rec *rec)
{
    rec->origin = (uint16_t)rd_num(r, 2);
    rec->seq = rd_num(r, 8);
    rec->version = rd_num(r, 8);
}

static bool key_ok(uint8_t nkey) { return nkey >= 1 && nkey <= FRAME_KEY_MAX; }

static enum frame_status dec_set(struct rd *r, struct frame *f)
{
    struct frame_rec *rec = &f->rec;
    rec_head(r, rec);
    rec->flags = (uint32_t)rd_num(r, 4);
    rec->exptime = (uint32_t)rd_num(r, 4);
    size_t at = r->off;
    rec->nkey = (uint8_t)rd_num(r, 1);
    if (!key_ok(rec->nkey))
        return fail(f, FRAME_E_KEY, at);
    at = r->off;
    rec->nvalue = (uint32_t)rd_num(r, 4);
    if ((uint64_t)rd_left(r) != (uint64_t)rec->nkey + rec->nvalue)
        return fail(f, FRAME_E_LENGTH, at);
    rec->key = rd_ptr(r, rec->nkey);
    rec->value = rd_ptr(r, rec->nvalue);
    rec->binary_key = f->fl & FRAME_FL_BINARY_KEY;
    rec->stale = f->fl & FRAME_FL_STALE;
    return FRAME_OK;
}

static enum frame_status dec_tomb(struct rd *r, struct frame *f)
{
    struct frame_rec *rec = &f->rec;
    *rec = (struct frame_rec){0};
    rec_head(r, rec);
    size_t at = r->off;
    rec->nkey = (uint8_t)rd_num(r, 1);
    if (!key_ok(rec->nkey))
        return fail(f, FRAME_E_KEY, at);
    if (rd_left(r) != rec->nkey)
        return fail(f, FRAME_E_LENGTH, at);
    rec->key = rd_ptr(r, rec->nkey);
    rec->binary_key = f->fl & FRAME_FL_BINARY_KEY;
    return FRAME_OK;
}

static enum frame_status dec_flush(struct rd *r, struct frame *f)
{
    /* the length the flag implies, checked as the header's length is */
    if (r->end - r->off != ((f->fl & FRAME_FL_ISSUED) ? 30u : 22u))
        return fail(f, FRAME_E_LENGTH, 0);
    f->flush.origin = (uint16_t)rd_num(r, 2);
    f->flush.seq = rd_num(r, 8);
    f->flush.cutoff = rd_num(r, 8);
    f->flush.when = (uint32_t)rd_num(r, 4);
    size_t at = r->off;
    f->flush.issued = (f->fl & FRAME_FL_ISSUED) ? rd_num(r, 8) : 0;
    if ((f->fl & FRAME_FL_ISSUED) && f->flush.issued == 0 && !r->bad)
        return fail(f, FRAME_E_FIELD, at); /* 0 is sent as no field: one encoding */
    return FRAME_OK;
}

static enum frame_status dec_sync_begin(struct rd *r, struct frame *f)
{
    size_t at = r->off;
    f->sync_begin.mode = (uint8_t)rd_num(r, 1);
    if (f->sync_begin.mode > FRAME_SYNC_FULL)
        return fail(f, FRAME_E_FIELD, at);
    f->sync_begin.from_pos = rd_num(r, 8);
    f->sync_begin.history = rd_num(r, 8);
    return FRAME_OK;
}

/* SYNC_END, PING, PONG: one u64 (pos and time_ms share the union slot). */
static enum frame_status dec_u64(struct rd *r, struct frame *f)
{
    f->pos = rd_num(r, 8);
    return FRAME_OK;
}

static enum frame_status dec_ack(struct rd *r, struct frame *f)
{
    f->ack.pos = rd_num(r, 8);
    f->ack.time_ms = rd_num(r, 8);
    return FRAME_OK;
}

static enum frame_status dec_file_header(struct rd *r, struct frame *f)
{
    struct frame_file_header *h = &f->file_header;
    size_t at = r->off;
    if (!magic_ok(r, file_magic, sizeof(file_magic)))
        return fail(f, FRAME_E_MAGIC, at);
    at = r->off;
    if (rd_num(r, 2) != FRAME_FILE_FORMAT)
        return fail(f, FRAME_E_VERSION, at);
    if (rd_left(r) != FILE_FIXED - 10)
        return fail(f, FRAME_E_LENGTH, 0);
    h->node = (uint16_t)rd_num(r, 2);
    h->created_ms = rd_num(r, 8);
    h->history = rd_num(r, 8);
    h->log_pos = rd_num(r, 8);
    return FRAME_OK;
}

static enum frame_status dec_file_trailer(struct rd *r, struct frame *f)
{
    f->file_trailer.records = rd_num(r, 8);
    f->file_trailer.digest = rd_num(r, 8);
    f->file_trailer.first_ms = rd_num(r, 8);
    f->file_trailer.last_ms = rd_num(r, 8);
    return FRAME_OK;
}

/* --- the type table -------------------------------------------------------------- */

struct desc {
    const char *name;
    uint32_t min, max; /* body bytes the header may claim */
    uint8_t fl;        /* flag bits the type defines */
    enum frame_status (*decode)(struct rd *r, struct frame *f);
};

/* HELLO and FILE_HEADER may claim more than proto 1 needs: their magic and
 * version are checked before their exact length, so a peer or file from a
 * later version is reported as FRAME_E_VERSION, not as a bad length. */
static const struct desc descs[32] = {
    [FRAME_HELLO] = {"HELLO", 6, PEEK_MAX, 0, dec_hello},
    [FRAME_CHALLENGE] = {"CHALLENGE", FRAME_NONCE_LEN, FRAME_NONCE_LEN, 0, dec_challenge},
    [FRAME_PROOF] = {"PROOF", PROOF_FIXED, PROOF_FIXED + 255, 0, dec_proof},
    [FRAME_AUTH_OK] = {"AUTH_OK", 0, 0, 0, dec_empty},
    [FRAME_ERROR] = {"ERROR", ERROR_FIXED, ERROR_FIXED + 65535, 0, dec_error},
    [FRAME_SET] = {"SET", SET_FIXED + 1, BODY_MAX, FRAME_FL_BINARY_KEY | FRAME_FL_STALE, dec_set},
    [FRAME_TOMB] = {"TOMB", TOMB_FIXED + 1, TOMB_FIXED + FRAME_KEY_MAX, FRAME_FL_BINARY_KEY,
                    dec_tomb},
    [FRAME_FLUSH] = {"FLUSH", 22, 30, FRAME_FL_ISSUED, dec_flush},
    [FRAME_SYNC_BEGIN] = {"SYNC_BEGIN", 17, 17, 0, dec_sync_begin},
    [FRAME_SYNC_END] = {"SYNC_END", 8, 8, 0, dec_u64},
    [FRAME_ACK] = {"ACK", 16, 16, 0, dec_ack},
    [FRAME_PING] = {"PING", 8, 8, 0, dec_u64},
    [FRAME_PONG] = {"PONG", 8, 8, 0, dec_u64},
    [FRAME_FILE_HEADER] = {"FILE_HEADER", 10, PEEK_MAX, 0, dec_file_header},
    [FRAME_FILE_TRAILER] = {"FILE_TRAILER", 32, 32, 0, dec_file_trailer},
};

static const struct desc *desc_of(unsigned type)
{
    return type < sizeof(descs) / sizeof(descs[0]) && descs[type].name ? &descs[type] : NULL;
}

const char *frame_type_name(unsigned type)
{
    const struct desc *d = desc_of(type);
    return d ? d->name : "unknown";
}

/* --- decoding ---------------------------------------------------------------------- */

/* Step 1 of frame.h: what the 6-byte header alone can tell. */
static enum frame_status check_header(const unsigned char *u, size_t n, struct frame *out,
                                      const struct desc **dp)
{
    if (n < 4)
        return FRAME_NEED_MORE;
    uint32_t len = (uint32_t)get_le(u, 4);
    if (len > FRAME_MAX - 4)
        return fail(out, FRAME_E_TOO_LARGE, 0);
    if (len < FRAME_OVERHEAD - 4)
        return fail(out, FRAME_E_LENGTH, 0);
    if (n < 5)
        return FRAME_NEED_MORE;
    const struct desc *d = desc_of(u[4]);
    if (!d)
        return fail(out, FRAME_E_TYPE, 4);
    uint32_t body = len - (FRAME_OVERHEAD - 4);
    if (body < d->min || body > d->max)
        return fail(out, FRAME_E_LENGTH, 0);
    if (n < 6)
        return FRAME_NEED_MORE;
    if (u[5] & ~d->fl)
        return fail(out, FRAME_E_FLAGS, 5);
    *dp = d;
    return FRAME_OK;
}

enum frame_status frame_decode(const char *p, size_t n, struct frame *out)
{
    const unsigned char *u = (const unsigned char *)p;
    const struct desc *d = NULL;
    out->size = 0;
    out->err_at = 0;
    enum frame_status st = check_header(u, n, out, &d);
    if (st != FRAME_OK)
        return st;
    size_t len = (size_t)get_le(u, 4);
    if (n < len + 4)
        return FRAME_NEED_MORE;
    if (crc32c_update(0, u + 4, len - 4) != (uint32_t)get_le(u + len, 4))
        return fail(out, FRAME_E_CRC, len);

    out->type = (enum frame_type)u[4];
    out->fl = u[5];
    struct rd r = {.p = u, .off = FRAME_HEADER_LEN, .end = len};
    st = d->decode(&r, out);
    if (st != FRAME_OK)
        return st;
    if (r.bad || r.off != r.end) /* the table and the decoders disagree: still an error */
        return fail(out, FRAME_E_LENGTH, r.bad ? 0 : r.off);
    out->size = len + 4;
    return FRAME_OK;
}

const char *frame_strerror(enum frame_status st)
{
    switch (st) {
    case FRAME_OK: return "ok";
    case FRAME_NEED_MORE: return "incomplete frame: more bytes needed (truncated stream or file)";
    case FRAME_E_TOO_LARGE: return "frame larger than 64 MiB + 1 KiB: corrupt length, or not a Tandem stream";
    case FRAME_E_LENGTH: return "frame length does not match its type or its length fields";
    case FRAME_E_TYPE: return "unknown record type";
    case FRAME_E_FLAGS: return "undefined flag bits set";
    case FRAME_E_CRC: return "CRC32C mismatch: the frame is corrupt";
    case FRAME_E_MAGIC: return "bad magic: not a Tandem replication stream or snapshot file";
    case FRAME_E_VERSION: return "unsupported protocol or file format version";
    case FRAME_E_KEY: return "key length outside 1..250 bytes";
    case FRAME_E_FIELD: return "undefined value in an enumerated field (role or sync mode)";
    case FRAME_E_DIGEST: return "record count or digest does not match the file trailer: the file is corrupt";
    }
    return "unknown frame status";
}

bool frame_to_store_record(const struct frame *f, struct store_record *r)
{
    if (f->type != FRAME_SET && f->type != FRAME_TOMB)
        return false;
    const struct frame_rec *rec = &f->rec;
    *r = (struct store_record){
        .key = rec->key,
        .nkey = rec->nkey,
        .version = rec->version,
        .tombstone = f->type == FRAME_TOMB,
        .binary_key = rec->binary_key,
        .stale = rec->stale,
    };
    if (f->type == FRAME_SET) {
        r->value = rec->value;
        r->nvalue = rec->nvalue;
        r->flags = rec->flags;
        r->exptime = rec->exptime;
    }
    return true;
}

/* --- encoding ---------------------------------------------------------------------- */

/* Reserve a frame with `body` bytes of body and write its type and flags;
 * returns where the body goes, or NULL (b->oom) if memory ran out. */
static char *begin(struct buf *b, enum frame_type type, uint8_t fl, size_t body)
{
    if (!buf_reserve(b, FRAME_OVERHEAD + body))
        return NULL;
    char *p = b->data + b->len;
    p[4] = (char)type;
    p[5] = (char)fl;
    return p + FRAME_HEADER_LEN;
}

/* Close the frame whose body ends at w: length, CRC, and commit to b. */
static void end(struct buf *b, char *w, size_t body)
{
    char *p = b->data + b->len;
    assert((size_t)(w - p) == FRAME_HEADER_LEN + body);
    size_t len = (size_t)(w - p);
    put_le(p, len, 4);
    put_le(w, crc32c_update(0, p + 4, len - 4), 4);
    b->len += len + 4;
}

void frame_encode_hello(struct buf *b, const struct frame_hello *h)
{
    size_t body = HELLO_FIXED + h->ncluster;
    char *w = begin(b, FRAME_HELLO, 0, body);
    if (!w)
        return;
    w = put_bytes(w, hello_magic, sizeof(hello_magic));
    w = put_le(w, FRAME_PROTO, 2);
    w = put_le(w, h->node, 2);
    w = put_le(w, h->role, 1);
    w = put_le(w, h->flags, 1);
    w = put_le(w, h->history, 8);
    w = put_le(w, h->resume_pos, 8);
    w = put_le(w, h->resume_history, 8);
    w = put_le(w, h->ncluster, 1);
    w = put_bytes(w, h->cluster, h->ncluster);
    end(b, w, body);
}

void frame_encode_challenge(struct buf *b, const uint8_t *nonce)
{
    char *w = begin(b, FRAME_CHALLENGE, 0, FRAME_NONCE_LEN);
    if (w)
        end(b, put_bytes(w, nonce, FRAME_NONCE_LEN), FRAME_NONCE_LEN);
}

enum frame_status frame_encode_proof(struct buf *b, const char *user, size_t nuser,
                                     const uint8_t *mac)
{
    if (nuser > 255)
        return FRAME_E_LENGTH;
    size_t body = PROOF_FIXED + nuser;
    char *w = begin(b, FRAME_PROOF, 0, body);
    if (!w)
        return FRAME_OK;
    w = put_le(w, nuser, 1);
    w = put_bytes(w, user, nuser);
    w = put_bytes(w, mac, FRAME_MAC_LEN);
    end(b, w, body);
    return FRAME_OK;
}

void frame_encode_auth_ok(struct buf *b)
{
    char *w = begin(b, FRAME_AUTH_OK, 0, 0);
    if (w)
        end(b, w, 0);
}

void frame_encode_error(struct buf *b, uint16_t code, const char *text, size_t ntext)
{
    if (ntext > 65535)
        ntext = 65535;
    size_t body = ERROR_FIXED + ntext;
    char *w = begin(b, FRAME_ERROR, 0, body);
    if (!w)
        return;
    w = put_le(w, code, 2);
    w = put_le(w, ntext, 2);
    w = put_bytes(w, text, ntext);
    end(b, w, body);
}

static char *put_rec_head(char *w, const struct frame_rec *r)
{
    w = put_le(w, r->origin, 2);
    w = put_le(w, r->seq, 8);
    return put_le(w, r->version, 8);
}

static uint8_t rec_fl(const struct frame_rec *r)
{
    return (r->binary_key ? FRAME_FL_BINARY_KEY : 0) | (r->stale ? FRAME_FL_STALE : 0);
}

enum frame_status frame_encode_set(struct buf *b, const struct frame_rec *r)
{
    if (!key_ok(r->nkey))
        return FRAME_E_KEY;
    if ((uint64_t)FRAME_OVERHEAD + SET_FIXED + r->nkey + r->nvalue > FRAME_MAX)
        return FRAME_E_TOO_LARGE;
    size_t body = SET_FIXED + r->nkey + (size_t)r->nvalue;
    char *w = begin(b, FRAME_SET, rec_fl(r), body);
    if (!w)
        return FRAME_OK;
    w = put_rec_head(w, r);
    w = put_le(w, r->flags, 4);
    w = put_le(w, r->exptime, 4);
    w = put_le(w, r->nkey, 1);
    w = put_le(w, r->nvalue, 4);
    w = put_bytes(w, r->key, r->nkey);
    w = put_bytes(w, r->value, r->nvalue);
    end(b, w, body);
    return FRAME_OK;
}

enum frame_status frame_encode_tomb(struct buf *b, const struct frame_rec *r)
{
    if (!key_ok(r->nkey))
        return FRAME_E_KEY;
    size_t body = TOMB_FIXED + r->nkey;
    char *w = begin(b, FRAME_TOMB, rec_fl(r), body);
    if (!w)
        return FRAME_OK;
    w = put_rec_head(w, r);
    w = put_le(w, r->nkey, 1);
    w = put_bytes(w, r->key, r->nkey);
    end(b, w, body);
    return FRAME_OK;
}

enum frame_status frame_encode_record(struct buf *b, uint16_t origin, uint64_t seq,
                                      const struct store_record *r)
{
    struct frame_rec rec = {
        .origin = origin,
        .seq = seq,
        .version = r->version,
        .flags = r->flags,
        .exptime = r->exptime,
        .key = r->key,
        .nkey = r->nkey,
        .value = r->value,
        .nvalue = r->nvalue,
        .binary_key = r->binary_key,
    };
    return r->tombstone ? frame_encode_tomb(b, &rec) : frame_encode_set(b, &rec);
}

void frame_encode_flush(struct buf *b, const struct frame_flush *fl)
{
    size_t n = fl->issued ? 30 : 22;
    char *w = begin(b, FRAME_FLUSH, fl->issued ? FRAME_FL_ISSUED : 0, n);
    if (!w)
        return;
    w = put_le(w, fl->origin, 2);
    w = put_le(w, fl->seq, 8);
    w = put_le(w, fl->cutoff, 8);
    w = put_le(w, fl->when, 4);
    if (fl->issued)
        w = put_le(w, fl->issued, 8);
    end(b, w, n);
}

size_t frame_flush_state(const struct store_flush_info *fi, struct frame_flush out[2])
{
    size_t n = 0;
    if (fi->applied)
        out[n++] = (struct frame_flush){.origin = (uint16_t)(fi->applied & HLC_MAX_NODE),
                                        .cutoff = fi->applied};
    if (fi->pend_when)
        out[n++] = (struct frame_flush){.origin = (uint16_t)(fi->pend_cutoff & HLC_MAX_NODE),
                                        .cutoff = fi->pend_cutoff, .when = fi->pend_when,
                                        .issued = fi->pend_issued};
    return n;
}

void frame_encode_flush_state(struct buf *b, const struct store_flush_info *fi)
{
    struct frame_flush fl[2];
    for (size_t i = 0, n = frame_flush_state(fi, fl); i < n; i++)
        frame_encode_flush(b, &fl[i]);
}

void frame_encode_sync_begin(struct buf *b, uint8_t mode, uint64_t from_pos, uint64_t history)
{
    char *w = begin(b, FRAME_SYNC_BEGIN, 0, 17);
    if (!w)
        return;
    w = put_le(w, mode, 1);
    w = put_le(w, from_pos, 8);
    w = put_le(w, history, 8);
    end(b, w, 17);
}

static void encode_u64s(struct buf *b, enum frame_type type, const uint64_t *v, size_t n)
{
    char *w = begin(b, type, 0, 8 * n);
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        w = put_le(w, v[i], 8);
    end(b, w, 8 * n);
}

void frame_encode_sync_end(struct buf *b, uint64_t pos) { encode_u64s(b, FRAME_SYNC_END, &pos, 1); }

void frame_encode_ack(struct buf *b, uint64_t pos, uint64_t time_ms)
{
    uint64_t v[2] = {pos, time_ms};
    encode_u64s(b, FRAME_ACK, v, 2);
}

void frame_encode_ping(struct buf *b, uint64_t time_ms) { encode_u64s(b, FRAME_PING, &time_ms, 1); }

void frame_encode_pong(struct buf *b, uint64_t time_ms) { encode_u64s(b, FRAME_PONG, &time_ms, 1); }

void frame_encode_file_header(struct buf *b, const struct frame_file_header *h)
{
    char *w = begin(b, FRAME_FILE_HEADER, 0, FILE_FIXED);
    if (!w)
        return;
    w = put_bytes(w, file_magic, sizeof(file_magic));
    w = put_le(w, FRAME_FILE_FORMAT, 2);
    w = put_le(w, h->node, 2);
    w = put_le(w, h->created_ms, 8);
    w = put_le(w, h->history, 8);
    w = put_le(w, h->log_pos, 8);
    end(b, w, FILE_FIXED);
}

void frame_encode_file_trailer(struct buf *b, const struct frame_file_trailer *t)
{
    uint64_t v[4] = {t->records, t->digest, t->first_ms, t->last_ms};
    encode_u64s(b, FRAME_FILE_TRAILER, v, 4);
}

enum frame_status frame_encode(struct buf *b, const struct frame *f)
{
    switch (f->type) {
    case FRAME_HELLO: frame_encode_hello(b, &f->hello); return FRAME_OK;
    case FRAME_CHALLENGE: frame_encode_challenge(b, f->nonce); return FRAME_OK;
    case FRAME_PROOF: return frame_encode_proof(b, f->proof.user, f->proof.nuser, f->proof.mac);
    case FRAME_AUTH_OK: frame_encode_auth_ok(b); return FRAME_OK;
    case FRAME_ERROR:
        frame_encode_error(b, f->error.code, f->error.text, f->error.ntext);
        return FRAME_OK;
    case FRAME_SET: return frame_encode_set(b, &f->rec);
    case FRAME_TOMB: return frame_encode_tomb(b, &f->rec);
    case FRAME_FLUSH: frame_encode_flush(b, &f->flush); return FRAME_OK;
    case FRAME_SYNC_BEGIN:
        frame_encode_sync_begin(b, f->sync_begin.mode, f->sync_begin.from_pos,
                                f->sync_begin.history);
        return FRAME_OK;
    case FRAME_SYNC_END: frame_encode_sync_end(b, f->pos); return FRAME_OK;
    case FRAME_ACK: frame_encode_ack(b, f->ack.pos, f->ack.time_ms); return FRAME_OK;
    case FRAME_PING: frame_encode_ping(b, f->time_ms); return FRAME_OK;
    case FRAME_PONG: frame_encode_pong(b, f->time_ms); return FRAME_OK;
    case FRAME_FILE_HEADER: frame_encode_file_header(b, &f->file_header); return FRAME_OK;
    case FRAME_FILE_TRAILER: frame_encode_file_trailer(b, &f->file_trailer); return FRAME_OK;
    }
    return FRAME_E_TYPE;
}

/* --- file digest ------------------------------------------------------------------- */

struct frame_digest {
    XXH3_state_t *xxh;
    uint64_t records;
};

struct frame_digest *frame_digest_new(void)
{
    struct frame_digest *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->xxh = XXH3_createState();
    if (!d->xxh || XXH3_64bits_reset(d->xxh) != XXH_OK) {
        frame_digest_free(d);
        return NULL;
    }
    return d;
}

void frame_digest_free(struct frame_digest *d)
{
    if (!d)
        return;
    XXH3_freeState(d->xxh);
    free(d);
}

void frame_digest_add(struct frame_digest *d, const char *p, size_t n)
{
    XXH3_64bits_update(d->xxh, p, n);
    d->records++;
}

uint64_t frame_digest_records(const struct frame_digest *d) { return d->records; }

uint64_t frame_digest_value(const struct frame_digest *d) { return XXH3_64bits_digest(d->xxh); }

enum frame_status frame_digest_check(const struct frame_digest *d,
                                     const struct frame_file_trailer *t)
{
    if (t->records != d->records || t->digest != frame_digest_value(d))
        return FRAME_E_DIGEST;
    return FRAME_OK;
}
