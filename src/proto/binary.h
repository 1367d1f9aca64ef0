/*
 * proto/binary: memcached's binary protocol (deprecated upstream, still used
 * by php-memcached's binary mode, libmemcached tools with -b, SASL clients).
 *
 * A request is a 24-byte header, then extras, key and value. The server
 * selects this protocol when the first byte of a connection is 0x80.
 * proto_bin_parse() decodes the header, extras and key once they are in the
 * buffer; the value (bodylen - extlen - keylen bytes) follows and the server
 * reads it straight into the item, as it does for text.
 *
 * Pure functions: no I/O and no cache access.
 *
 * Framing follows memcached 1.6.18 exactly, quirks included (see binary.c
 * for the rules and why): a bad magic closes silently; a length rule broken
 * by a known opcode is answered with EINVAL and then the connection closes;
 * an unknown opcode is answered with UNKNOWN_COMMAND and memcached then
 * swallows a further `bodylen` bytes, more than the rest of the packet.
 */
#ifndef TANDEM_PROTO_BINARY_H
#define TANDEM_PROTO_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define PROTO_BIN_REQ_MAGIC 0x80
#define PROTO_BIN_RES_MAGIC 0x81
#define PROTO_BIN_HEADER_LEN 24
#define PROTO_BIN_KEY_MAX 250        /* longer keys: EINVAL, then close */
/* memcached needs header + extras + key in its 16 KiB read buffer; a request
 * whose prefix is longer closes the connection. A read buffer of this size
 * therefore always holds enough for proto_bin_parse() to decide. */
#define PROTO_BIN_PREFIX_MAX 16384

enum proto_bin_op {
    PROTO_BIN_GET = 0x00,
    PROTO_BIN_SET = 0x01,
    PROTO_BIN_ADD = 0x02,
    PROTO_BIN_REPLACE = 0x03,
    PROTO_BIN_DELETE = 0x04,
    PROTO_BIN_INCREMENT = 0x05,
    PROTO_BIN_DECREMENT = 0x06,
    PROTO_BIN_QUIT = 0x07,
    PROTO_BIN_FLUSH = 0x08,
    PROTO_BIN_GETQ = 0x09,
    PROTO_BIN_NOOP = 0x0a,
    PROTO_BIN_VERSION = 0x0b,
    PROTO_BIN_GETK = 0x0c,
    PROTO_BIN_GETKQ = 0x0d,
    PROTO_BIN_APPEND = 0x0e,
    PROTO_BIN_PREPEND = 0x0f,
    PROTO_BIN_STAT = 0x10,
    PROTO_BIN_SETQ = 0x11,
    PROTO_BIN_ADDQ = 0x12,
    PROTO_BIN_REPLACEQ = 0x13,
    PROTO_BIN_DELETEQ = 0x14,
    PROTO_BIN_INCREMENTQ = 0x15,
    PROTO_BIN_DECREMENTQ = 0x16,
    PROTO_BIN_QUITQ = 0x17,
    PROTO_BIN_FLUSHQ = 0x18,
    PROTO_BIN_APPENDQ = 0x19,
    PROTO_BIN_PREPENDQ = 0x1a,
    PROTO_BIN_VERBOSITY = 0x1b,
    PROTO_BIN_TOUCH = 0x1c,
    PROTO_BIN_GAT = 0x1d,
    PROTO_BIN_GATQ = 0x1e,
    PROTO_BIN_SASL_LIST_MECHS = 0x20,
    PROTO_BIN_SASL_AUTH = 0x21,
    PROTO_BIN_SASL_STEP = 0x22,
    PROTO_BIN_GATK = 0x23,
    PROTO_BIN_GATKQ = 0x24,
};

enum proto_bin_status {
    PROTO_BIN_OK = 0x00,
    PROTO_BIN_KEY_ENOENT = 0x01,
    PROTO_BIN_KEY_EEXISTS = 0x02,
    PROTO_BIN_E2BIG = 0x03,
    PROTO_BIN_EINVAL = 0x04,
    PROTO_BIN_NOT_STORED = 0x05,
    PROTO_BIN_DELTA_BADVAL = 0x06,
    PROTO_BIN_AUTH_ERROR = 0x20,
    PROTO_BIN_AUTH_CONTINUE = 0x21,
    PROTO_BIN_UNKNOWN_COMMAND = 0x81,
    PROTO_BIN_ENOMEM = 0x82,
    PROTO_BIN_ETMPFAIL = 0x86, /* temporary failure: try again */
};

/* What the server should do with a parsed binary request. */
enum proto_bin_result {
    PROTO_BIN_READY,     /* header, extras and key decoded; value_len value bytes follow */
    PROTO_BIN_NEED_MORE, /* not enough bytes yet */
    PROTO_BIN_INVALID,   /* answer `status` with proto_bin_error(), consume nread, then
                          * close if req->close_after, else skip value_len more bytes, go on */
    PROTO_BIN_CLOSE,     /* bad magic or a prefix over PROTO_BIN_PREFIX_MAX: close, no reply */
};

struct proto_bin_req {
    uint8_t opcode;        /* as sent; echo it in the response header */
    uint8_t cmd;           /* opcode with the quiet variant folded (SETQ -> SET); dispatch on this */
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t vbucket;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
    const char *key;       /* keylen bytes, pointing into the caller's buffer */
    uint32_t value_len;    /* READY: bytes after nread that belong to the request: the value
                            * (bodylen - extlen - keylen) for set/add/replace/append/prepend/
                            * sasl, else 0 (memcached leaves any surplus body of stat/touch/gat
                            * unread, to be parsed as the next request).
                            * INVALID: bytes memcached swallows after nread (0 if close_after). */
    size_t nread;          /* header + extras + key: bytes to consume before the value */
    bool quiet;            /* a Q opcode: suppress the success reply (and get/gat misses) */
    enum proto_bin_status status; /* for PROTO_BIN_INVALID */
    bool close_after;      /* for PROTO_BIN_INVALID: close once the error reply is sent */

    /* decoded extras, by opcode */
    uint32_t flags;        /* set/add/replace */
    uint32_t exptime;      /* set/add/replace/touch/gat/incr/decr/flush (raw, memcached rules) */
    uint64_t delta;        /* incr/decr */
    uint64_t initial;      /* incr/decr */
    uint32_t verbosity;    /* never set: 1.6.18 answers VERBOSITY with UNKNOWN_COMMAND */
};

/* Parse one request header (plus extras and key) from buf[0..len). */
enum proto_bin_result proto_bin_parse(const char *buf, size_t len, struct proto_bin_req *req);

/* Append a response header for `req` with the given status and lengths.
 * The caller appends extras, key and value (`bodylen` bytes in all) after it. */
void proto_bin_header(struct buf *out, const struct proto_bin_req *req, uint16_t status,
                      uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas);

/* Append a complete error response whose body is proto_bin_status_text(status),
 * e.g. "Not found". cas 0, no extras, no key. */
void proto_bin_error(struct buf *out, const struct proto_bin_req *req, uint16_t status);

/* Append a complete error response whose body is `msg`; memcached uses this for
 * its ENOMEM texts, e.g. "Out of memory allocating item". */
void proto_bin_error_msg(struct buf *out, const struct proto_bin_req *req, uint16_t status,
                         const char *msg);

/* memcached's text for a binary status ("Not found", "Data exists for key." ...). */
const char *proto_bin_status_text(uint16_t status);

/* Append one STAT response packet (key and value, status OK, cas 0). With
 * nkey == 0 and nval == 0 it is the empty packet that ends a STAT reply. */
void proto_bin_stat(struct buf *out, const struct proto_bin_req *req, const char *key,
                    size_t nkey, const char *val, size_t nval);

/* Append v in network byte order: 4-byte flags extras, 8-byte incr/decr value. */
void proto_bin_put_u32(struct buf *out, uint32_t v);
void proto_bin_put_u64(struct buf *out, uint64_t v);

#endif
