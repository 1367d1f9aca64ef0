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
};

/* What the server should do with a parsed binary request. */
enum proto_bin_result {
    PROTO_BIN_READY,     /* header, extras and key decoded; value_len value bytes follow */
    PROTO_BIN_NEED_MORE, /* not enough bytes yet */
    PROTO_BIN_INVALID,   /* answer `status` (EINVAL / UNKNOWN_COMMAND), skip the body, go on */
    PROTO_BIN_CLOSE,     /* bad magic or absurd lengths: close the connection */
};

struct proto_bin_req {
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t vbucket;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
    const char *key;       /* keylen bytes, pointing into the caller's buffer */
    uint32_t value_len;    /* bodylen - extlen - keylen */
    size_t nread;          /* header + extras + key: bytes to consume before the value */
    bool quiet;            /* a Q opcode: suppress the success reply */
    enum proto_bin_status status; /* for PROTO_BIN_INVALID */

    /* decoded extras, by opcode */
    uint32_t flags;        /* set/add/replace */
    uint32_t exptime;      /* set/add/replace/touch/gat/incr/decr/flush (raw, memcached rules) */
    uint64_t delta;        /* incr/decr */
    uint64_t initial;      /* incr/decr */
    uint32_t verbosity;    /* verbosity */
};

/* Parse one request header (plus extras and key) from buf[0..len). */
enum proto_bin_result proto_bin_parse(const char *buf, size_t len, struct proto_bin_req *req);

/* Append a response header for `req` with the given status and lengths.
 * The caller appends extras, key and value (`bodylen` bytes in all) after it. */
void proto_bin_header(struct buf *out, const struct proto_bin_req *req, uint16_t status,
                      uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas);

/* Append a complete error response whose body is `msg` (memcached sends the
 * status text, e.g. "Not found"). */
void proto_bin_error(struct buf *out, const struct proto_bin_req *req, uint16_t status);

/* memcached's text for a binary status ("Not found", "Data exists for key." ...). */
const char *proto_bin_status_text(uint16_t status);

#endif
