/*
 * frame: the records of docs/replication.md, encoded and decoded.
 *
 * One format serves replication links, snapshot files and backups, so one
 * codec does too. Every record is a frame:
 *
 *      0        4      5      6                     len      len+4
 *      +--------+------+------+----- body ---------+--------+
 *      | len u32| type | fl   |  fields (LE)        | crc u32|
 *      +--------+------+------+---------------------+--------+
 *                \_____________ CRC32C _____________/
 *
 * Encoding appends a whole frame to a struct buf. Decoding is a pure
 * function over bytes: frame_decode() looks at the front of a buffer and
 * says "here is a frame of out->size bytes", "need more bytes", or names
 * what is wrong and where (out->err_at, an offset inside the frame). It
 * never copies: key, value, names and nonces point into the input, so they
 * live as long as the caller's buffer does.
 *
 * Strictness is the point. A stream that ever decodes wrongly would apply
 * garbage to the cache, so anything the spec does not allow is an error:
 * unknown types, flag bits, lengths that disagree with the type or with the
 * length fields inside, keys outside 1..250 bytes, trailing bytes, bad CRC.
 * A decoded frame re-encodes to exactly the same bytes.
 *
 * Order of the checks (so a caller can stop buffering early):
 *   1. the 6-byte header alone: len within [6, FRAME_MAX - 4]
 *      (FRAME_E_TOO_LARGE / FRAME_E_LENGTH at 0), a known type (FRAME_E_TYPE
 *      at 4), a len the type allows (FRAME_E_LENGTH at 0), no flag bit the
 *      type does not define (FRAME_E_FLAGS at 5);
 *   2. the whole frame: the CRC (FRAME_E_CRC at len, where it is stored);
 *   3. the body, field by field in order, each error at its field.
 * So a flipped bit in the body or CRC is FRAME_E_CRC; one in the header is
 * one of the header errors or, in len, possibly FRAME_NEED_MORE.
 *
 * Thread safety: no state; everything may run on any thread.
 */
#ifndef TANDEM_REPL_FRAME_H
#define TANDEM_REPL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

#define FRAME_HEADER_LEN 6                    /* len u32, type u8, fl u8 */
#define FRAME_OVERHEAD 10                     /* header + crc u32 */
#define FRAME_MAX ((64u << 20) + 1024)        /* largest frame, len + 4 */
#define FRAME_KEY_MAX 250
#define FRAME_NONCE_LEN 32
#define FRAME_MAC_LEN 32
#define FRAME_PROTO 1                         /* HELLO proto */
#define FRAME_FILE_FORMAT 1                   /* FILE_HEADER format */
#define FRAME_FL_BINARY_KEY 0x01              /* SET/TOMB: key came base64 (meta b) */
#define FRAME_FL_STALE 0x02                   /* SET: the item was invalidated (meta I) */
#define FRAME_FL_ISSUED 0x04               /* FLUSH: the body ends in issued u64 */
#define FRAME_HELLO_AUTH 0x01                 /* HELLO flags: this side authenticates */
#define FRAME_VALUE_MAX (FRAME_MAX - FRAME_OVERHEAD - 31 - 1) /* SET with a 1-byte key */

enum frame_type {
    FRAME_HELLO = 1,
    FRAME_CHALLENGE = 2,
    FRAME_PROOF = 3,
    FRAME_AUTH_OK = 4,
    FRAME_ERROR = 5,
    FRAME_SET = 10,
    FRAME_TOMB = 11,
    FRAME_FLUSH = 12,
    FRAME_SYNC_BEGIN = 20,
    FRAME_SYNC_END = 21,
    FRAME_ACK = 22,
    FRAME_PING = 23,
    FRAME_PONG = 24,
    FRAME_FILE_HEADER = 30,
    FRAME_FILE_TRAILER = 31,
};

enum frame_role { FRAME_ROLE_PEER = 0, FRAME_ROLE_MASTER = 1, FRAME_ROLE_REPLICA = 2 };
enum frame_sync_mode { FRAME_SYNC_PARTIAL = 0, FRAME_SYNC_FULL = 1 };

/* ERROR codes (docs/replication.md); the text carries the detail. */
enum frame_error_code {
    FRAME_ERR_PROTOCOL = 1, /* a malformed or unexpected frame */
    FRAME_ERR_VERSION = 2,  /* magic or proto not ours */
    FRAME_ERR_CLUSTER = 3,  /* cluster name differs */
    FRAME_ERR_AUTH = 4,     /* authentication failed or required */
    FRAME_ERR_REFUSED = 5,  /* link refused: role, node id clash, shutting down */
};

enum frame_status {
    FRAME_OK,
    FRAME_NEED_MORE,   /* a prefix of a frame that may still be valid */
    FRAME_E_TOO_LARGE, /* len over FRAME_MAX - 4 (or an encoder input too big) */
    FRAME_E_LENGTH,    /* len wrong for the type, or a length field disagrees with it */
    FRAME_E_TYPE,      /* unknown type */
    FRAME_E_FLAGS,     /* a flag bit the type does not define */
    FRAME_E_CRC,       /* checksum mismatch */
    FRAME_E_MAGIC,     /* HELLO or FILE_HEADER magic is not ours */
    FRAME_E_VERSION,   /* HELLO proto or FILE_HEADER format is not ours */
    FRAME_E_KEY,       /* key length outside 1..250 */
    FRAME_E_FIELD,     /* an enumerated field out of range (role, sync mode) */
    FRAME_E_DIGEST,    /* frame_digest_check: records or digest differ from the trailer */
};

struct frame_hello {
    uint16_t node;
    uint8_t role;            /* enum frame_role */
    uint8_t flags;           /* none defined in proto 1: sent 0, ignored */
    uint64_t history;
    uint64_t resume_pos;     /* last position received from the other side, 0 = none */
    uint64_t resume_history;
    const char *cluster;
    uint8_t ncluster;
};

struct frame_proof {
    const char *user;
    uint8_t nuser;
    const uint8_t *mac;      /* FRAME_MAC_LEN bytes */
};

struct frame_error {
    uint16_t code;           /* enum frame_error_code, others allowed */
    const char *text;
    uint16_t ntext;
};

/* SET and TOMB. */
struct frame_rec {
    uint16_t origin;
    uint64_t seq;
    uint64_t version;
    uint32_t flags;          /* SET only */
    uint32_t exptime;        /* SET only: absolute Unix seconds, 0 = never */
    const char *key;
    uint8_t nkey;
    const char *value;       /* SET only */
    uint32_t nvalue;
    bool binary_key;         /* fl bit 0 */
    bool stale;              /* fl bit 1 (SET) */
};

struct frame_flush {
    uint16_t origin;
    uint64_t seq;
    uint64_t cutoff;
    uint32_t when;           /* absolute Unix seconds, 0 = now */
    uint64_t issued;         /* version at which it was issued; 0 = unknown (an
                                immediate flush was issued at its cutoff). Sent
                                (fl bit 2) only when not 0 */
};

struct frame_sync_begin {
    uint8_t mode;            /* enum frame_sync_mode */
    uint64_t from_pos;
    uint64_t history;
};

struct frame_ack {
    uint64_t pos;
    uint64_t time_ms;
};

struct frame_file_header {
    uint16_t node;
    uint64_t created_ms;
    uint64_t history;
    uint64_t log_pos;
};

struct frame_file_trailer {
    uint64_t records;
    uint64_t digest;
    uint64_t first_ms;
    uint64_t last_ms;
};

/* One decoded frame. Only the member named by `type` is meaningful. */
struct frame {
    enum frame_type type;
    uint8_t fl;
    size_t size;             /* FRAME_OK: bytes the frame took (len + 4) */
    size_t err_at;           /* an error: offset in the frame of the bad field */
    union {
        struct frame_hello hello;
        const uint8_t *nonce;        /* CHALLENGE: FRAME_NONCE_LEN bytes */
        struct frame_proof proof;
        struct frame_error error;
        struct frame_rec rec;        /* SET, TOMB */
        struct frame_flush flush;
        struct frame_sync_begin sync_begin;
        uint64_t pos;                /* SYNC_END */
        struct frame_ack ack;
        uint64_t time_ms;            /* PING, PONG */
        struct frame_file_header file_header;
        struct frame_file_trailer file_trailer;
    };
};

/* --- decoding ---------------------------------------------------------- */

/* Decode the frame at the front of p[0..n): FRAME_OK, FRAME_NEED_MORE or an error. */
enum frame_status frame_decode(const char *p, size_t n, struct frame *out);

/* A human-readable description of a status, for logs and ERROR texts. */
const char *frame_strerror(enum frame_status st);

/* The name of a record type ("SET"), or "unknown". */
const char *frame_type_name(unsigned type);

/* The store record a SET or TOMB carries (pointing into the frame); false for other types. */
bool frame_to_store_record(const struct frame *f, struct store_record *r);

/* --- encoding: each appends one whole frame to b ------------------------- *
 * A full buffer shows as b->oom, as everywhere else buf is used. Encoders
 * with variable-length input refuse what the decoder would refuse
 * (returning the status the decoder would give) and then append nothing. */

/* Any decoded (or filled-in) frame; fl comes from the fields. */
enum frame_status frame_encode(struct buf *b, const struct frame *f);

/* HELLO with magic "TNDM" and proto FRAME_PROTO. */
void frame_encode_hello(struct buf *b, const struct frame_hello *h);

/* CHALLENGE carrying a FRAME_NONCE_LEN-byte nonce. */
void frame_encode_challenge(struct buf *b, const uint8_t *nonce);

/* PROOF: user name (at most 255 bytes) and a FRAME_MAC_LEN-byte MAC. */
enum frame_status frame_encode_proof(struct buf *b, const char *user, size_t nuser,
                                     const uint8_t *mac);

/* AUTH_OK. */
void frame_encode_auth_ok(struct buf *b);

/* ERROR with a code and text; text beyond 65535 bytes is cut off. */
void frame_encode_error(struct buf *b, uint16_t code, const char *text, size_t ntext);

/* SET from r (r->binary_key sets fl bit 0). */
enum frame_status frame_encode_set(struct buf *b, const struct frame_rec *r);

/* TOMB from r (value, flags and exptime unused). */
enum frame_status frame_encode_tomb(struct buf *b, const struct frame_rec *r);

/* SET or TOMB (r->tombstone) carrying a store record, stamped with origin and seq. */
enum frame_status frame_encode_record(struct buf *b, uint16_t origin, uint64_t seq,
                                      const struct store_record *r);

/* FLUSH. */
void frame_encode_flush(struct buf *b, const struct frame_flush *fl);

/* The FLUSH records that carry a store's flush state (store_flush_state):
 * the applied cutoff and the pending delayed flush, whichever exist. Fills
 * out[0..2) and returns how many. */
size_t frame_flush_state(const struct store_flush_info *fi, struct frame_flush out[2]);

/* Append those records to b. */
void frame_encode_flush_state(struct buf *b, const struct store_flush_info *fi);

/* SYNC_BEGIN (mode: enum frame_sync_mode). */
void frame_encode_sync_begin(struct buf *b, uint8_t mode, uint64_t from_pos, uint64_t history);

/* SYNC_END at log position pos. */
void frame_encode_sync_end(struct buf *b, uint64_t pos);

/* ACK of log position pos, applied at the sender's time_ms. */
void frame_encode_ack(struct buf *b, uint64_t pos, uint64_t time_ms);

/* PING with the sender's clock. */
void frame_encode_ping(struct buf *b, uint64_t time_ms);

/* PONG echoing a PING's time. */
void frame_encode_pong(struct buf *b, uint64_t time_ms);

/* FILE_HEADER with magic "TANDEMSN" and format FRAME_FILE_FORMAT. */
void frame_encode_file_header(struct buf *b, const struct frame_file_header *h);

/* FILE_TRAILER. */
void frame_encode_file_trailer(struct buf *b, const struct frame_file_trailer *t);

/* --- file digest ---------------------------------------------------------- *
 * The trailer's digest is XXH3-64 (seed 0) over the bytes of every frame
 * between header and trailer, as if concatenated; records counts them. A
 * writer feeds each frame as it writes it, a reader each frame as it reads
 * it, and both compare at the trailer. */

struct frame_digest;

/* A new, empty digest; NULL if out of memory. */
struct frame_digest *frame_digest_new(void);

/* Free a digest (NULL is fine). */
void frame_digest_free(struct frame_digest *d);

/* Add one whole frame (n bytes at p). */
void frame_digest_add(struct frame_digest *d, const char *p, size_t n);

/* Frames added so far. */
uint64_t frame_digest_records(const struct frame_digest *d);

/* XXH3-64 of the frames added so far. */
uint64_t frame_digest_value(const struct frame_digest *d);

/* FRAME_OK if the trailer's records and digest match, else FRAME_E_DIGEST. */
enum frame_status frame_digest_check(const struct frame_digest *d,
                                     const struct frame_file_trailer *t);

#endif
