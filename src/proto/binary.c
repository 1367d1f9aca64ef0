/*
 * proto/binary: decode memcached binary-protocol requests, encode responses.
 *
 * Every request starts with the same 24 bytes, all integers big-endian:
 *
 *     0        1        2        3
 *   +--------+--------+--------+--------+
 *   | magic  | opcode |     keylen      |   magic 0x80 (request)
 *   +--------+--------+--------+--------+
 *   | extlen |datatype|     vbucket     |   response: status here
 *   +--------+--------+--------+--------+
 *   |            total body             |   extlen + keylen + value
 *   +--------+--------+--------+--------+
 *   |              opaque               |   echoed untouched
 *   +--------+--------+--------+--------+
 *   |                cas                |
 *   |                                   |
 *   +--------+--------+--------+--------+
 *   | extras (extlen) | key (keylen) | value (the rest of the body) |
 *
 * The parser decides only from header + extras + key (the "prefix"), just as
 * memcached does; the server reads the value straight into the item. The
 * checks run in memcached 1.6.18's order, because the order is observable:
 *
 *   1. fewer than 24 bytes               -> NEED_MORE (even if magic is bad)
 *   2. magic != 0x80                      -> CLOSE, no reply
 *   3. prefix > 16384 (its read buffer)   -> CLOSE, no reply
 *   4. prefix not all buffered yet        -> NEED_MORE
 *   5. extlen + keylen > bodylen          -> "Unknown command", then close
 *   6. keylen > 250                       -> "Invalid arguments", then close
 *   7. unknown opcode                     -> "Unknown command", swallow bodylen
 *   8. the opcode's length rule broken    -> "Invalid arguments", then close
 *
 * Two quirks are copied on purpose, since clients that pipeline against
 * memcached see them. In step 7 memcached swallows `bodylen` bytes *after*
 * the extras and key it already consumed, i.e. extlen + keylen bytes of the
 * next request too (VERBOSITY, which 1.6.18 does not implement, hits this).
 * And stat/touch/gat do not check bodylen at all: any surplus body is left
 * in the buffer and parsed as the next request.
 *
 * Datatype and vbucket are accepted and ignored. Integers are assembled with
 * shifts from unsigned bytes, so there are no unaligned loads and the code
 * is independent of host byte order.
 */
#include "proto/binary.h"

#include <string.h>

/* How an opcode's body length is checked, and what follows the key. */
enum body_rule {
    BODY_ANY,   /* not checked; surplus is left unread (stat, touch, gat) */
    BODY_EXACT, /* bodylen == extlen + keylen */
    BODY_VALUE, /* the surplus is the value (set, append, sasl auth) */
};

enum key_rule {
    KEY_ANY,
    KEY_NONE, /* keylen == 0 */
    KEY_SOME, /* keylen > 0 */
};

#define EXT_0_OR_4 0xff /* flush: an optional exptime */

struct rule {
    bool known;
    bool quiet;
    uint8_t cmd;    /* the opcode with quiet folded */
    uint8_t extlen; /* required extlen, or EXT_0_OR_4 */
    uint8_t key;    /* enum key_rule */
    uint8_t body;   /* enum body_rule */
};

#define R(op, base, q, ext, k, b) [op] = {true, q, base, ext, k, b}

/* The opcodes memcached 1.6.18 dispatches, with its length rules. Anything
 * absent (VERBOSITY, 0x1f, 0x25 and up, the range ops) is unknown. */
static const struct rule rules[256] = {
    R(PROTO_BIN_GET, PROTO_BIN_GET, false, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_GETQ, PROTO_BIN_GET, true, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_GETK, PROTO_BIN_GETK, false, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_GETKQ, PROTO_BIN_GETK, true, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_SET, PROTO_BIN_SET, false, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_SETQ, PROTO_BIN_SET, true, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_ADD, PROTO_BIN_ADD, false, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_ADDQ, PROTO_BIN_ADD, true, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_REPLACE, PROTO_BIN_REPLACE, false, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_REPLACEQ, PROTO_BIN_REPLACE, true, 8, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_APPEND, PROTO_BIN_APPEND, false, 0, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_APPENDQ, PROTO_BIN_APPEND, true, 0, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_PREPEND, PROTO_BIN_PREPEND, false, 0, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_PREPENDQ, PROTO_BIN_PREPEND, true, 0, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_DELETE, PROTO_BIN_DELETE, false, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_DELETEQ, PROTO_BIN_DELETE, true, 0, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_INCREMENT, PROTO_BIN_INCREMENT, false, 20, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_INCREMENTQ, PROTO_BIN_INCREMENT, true, 20, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_DECREMENT, PROTO_BIN_DECREMENT, false, 20, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_DECREMENTQ, PROTO_BIN_DECREMENT, true, 20, KEY_SOME, BODY_EXACT),
    R(PROTO_BIN_QUIT, PROTO_BIN_QUIT, false, 0, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_QUITQ, PROTO_BIN_QUIT, true, 0, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_FLUSH, PROTO_BIN_FLUSH, false, EXT_0_OR_4, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_FLUSHQ, PROTO_BIN_FLUSH, true, EXT_0_OR_4, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_NOOP, PROTO_BIN_NOOP, false, 0, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_VERSION, PROTO_BIN_VERSION, false, 0, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_STAT, PROTO_BIN_STAT, false, 0, KEY_ANY, BODY_ANY),
    R(PROTO_BIN_TOUCH, PROTO_BIN_TOUCH, false, 4, KEY_SOME, BODY_ANY),
    R(PROTO_BIN_GAT, PROTO_BIN_GAT, false, 4, KEY_SOME, BODY_ANY),
    R(PROTO_BIN_GATQ, PROTO_BIN_GAT, true, 4, KEY_SOME, BODY_ANY),
    R(PROTO_BIN_GATK, PROTO_BIN_GATK, false, 4, KEY_SOME, BODY_ANY),
    R(PROTO_BIN_GATKQ, PROTO_BIN_GATK, true, 4, KEY_SOME, BODY_ANY),
    R(PROTO_BIN_SASL_LIST_MECHS, PROTO_BIN_SASL_LIST_MECHS, false, 0, KEY_NONE, BODY_EXACT),
    R(PROTO_BIN_SASL_AUTH, PROTO_BIN_SASL_AUTH, false, 0, KEY_SOME, BODY_VALUE),
    R(PROTO_BIN_SASL_STEP, PROTO_BIN_SASL_STEP, false, 0, KEY_SOME, BODY_VALUE),
};

#undef R

/* --- byte order ------------------------------------------------------------ */

static uint16_t rd16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint16_t)((unsigned)u[0] << 8 | u[1]);
}

static uint32_t rd32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t rd64(const char *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void wr32(unsigned char *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* --- parsing ---------------------------------------------------------------- */

static void decode_header(const char *buf, struct proto_bin_req *req)
{
    req->opcode = (uint8_t)buf[1];
    req->keylen = rd16(buf + 2);
    req->extlen = (uint8_t)buf[4];
    req->datatype = (uint8_t)buf[5];
    req->vbucket = rd16(buf + 6);
    req->bodylen = rd32(buf + 8);
    req->opaque = rd32(buf + 12);
    req->cas = rd64(buf + 16);
}

/* Only called once the opcode's extlen rule has passed, so the sizes hold. */
static void decode_extras(const char *ext, struct proto_bin_req *req)
{
    switch (req->cmd) {
    case PROTO_BIN_SET:
    case PROTO_BIN_ADD:
    case PROTO_BIN_REPLACE:
        req->flags = rd32(ext);
        req->exptime = rd32(ext + 4);
        break;
    case PROTO_BIN_INCREMENT:
    case PROTO_BIN_DECREMENT:
        req->delta = rd64(ext);
        req->initial = rd64(ext + 8);
        req->exptime = rd32(ext + 16);
        break;
    case PROTO_BIN_TOUCH:
    case PROTO_BIN_GAT:
    case PROTO_BIN_GATK:
        req->exptime = rd32(ext);
        break;
    case PROTO_BIN_FLUSH:
        if (req->extlen == 4)
            req->exptime = rd32(ext);
        break;
    default:
        break;
    }
}

static bool lengths_ok(const struct rule *r, const struct proto_bin_req *req)
{
    if (r->extlen == EXT_0_OR_4 ? (req->extlen != 0 && req->extlen != 4)
                                : req->extlen != r->extlen)
        return false;
    if (r->key == KEY_NONE && req->keylen != 0)
        return false;
    if (r->key == KEY_SOME && req->keylen == 0)
        return false;
    if (r->body == BODY_EXACT && req->bodylen != (uint32_t)req->extlen + req->keylen)
        return false;
    return true;
}

/* An error reply; memcached closes after it unless told to swallow instead. */
static enum proto_bin_result reject(struct proto_bin_req *req, enum proto_bin_status status,
                                    bool close_after, uint32_t swallow)
{
    req->status = status;
    req->close_after = close_after;
    req->value_len = swallow;
    return PROTO_BIN_INVALID;
}

enum proto_bin_result proto_bin_parse(const char *buf, size_t len, struct proto_bin_req *req)
{
    memset(req, 0, sizeof(*req));
    if (len < PROTO_BIN_HEADER_LEN)
        return PROTO_BIN_NEED_MORE;
    if ((unsigned char)buf[0] != PROTO_BIN_REQ_MAGIC)
        return PROTO_BIN_CLOSE;
    decode_header(buf, req);

    size_t prefix = PROTO_BIN_HEADER_LEN + (size_t)req->extlen + req->keylen;
    if (prefix > PROTO_BIN_PREFIX_MAX)
        return PROTO_BIN_CLOSE;
    if (len < prefix)
        return PROTO_BIN_NEED_MORE;
    req->nread = prefix;
    req->key = buf + PROTO_BIN_HEADER_LEN + req->extlen;

    const struct rule *r = &rules[req->opcode];
    req->cmd = r->known ? r->cmd : req->opcode;
    req->quiet = r->quiet;

    uint32_t fixed = (uint32_t)req->extlen + req->keylen;
    if (fixed > req->bodylen)
        return reject(req, PROTO_BIN_UNKNOWN_COMMAND, true, 0);
    if (req->keylen > PROTO_BIN_KEY_MAX)
        return reject(req, PROTO_BIN_EINVAL, true, 0);
    if (!r->known)
        return reject(req, PROTO_BIN_UNKNOWN_COMMAND, false, req->bodylen);
    if (!lengths_ok(r, req))
        return reject(req, PROTO_BIN_EINVAL, true, 0);

    decode_extras(buf + PROTO_BIN_HEADER_LEN, req);
    if (r->body == BODY_VALUE)
        req->value_len = req->bodylen - fixed;
    return PROTO_BIN_READY;
}

/* --- writing ---------------------------------------------------------------- */

void proto_bin_header(struct buf *out, const struct proto_bin_req *req, uint16_t status,
                      uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
    unsigned char h[PROTO_BIN_HEADER_LEN];
    h[0] = PROTO_BIN_RES_MAGIC;
    h[1] = req->opcode;
    wr16(h + 2, keylen);
    h[4] = extlen;
    h[5] = 0; /* datatype: raw bytes, whatever the request said */
    wr16(h + 6, status);
    wr32(h + 8, bodylen);
    wr32(h + 12, req->opaque);
    wr64(h + 16, cas);
    buf_append(out, h, sizeof(h));
}

void proto_bin_error_msg(struct buf *out, const struct proto_bin_req *req, uint16_t status,
                         const char *msg)
{
    size_t n = strlen(msg);
    proto_bin_header(out, req, status, 0, 0, (uint32_t)n, 0);
    buf_append(out, msg, n);
}

void proto_bin_error(struct buf *out, const struct proto_bin_req *req, uint16_t status)
{
    proto_bin_error_msg(out, req, status, proto_bin_status_text(status));
}

const char *proto_bin_status_text(uint16_t status)
{
    switch (status) {
    case PROTO_BIN_KEY_ENOENT:
        return "Not found";
    case PROTO_BIN_KEY_EEXISTS:
        return "Data exists for key.";
    case PROTO_BIN_E2BIG:
        return "Too large.";
    case PROTO_BIN_EINVAL:
        return "Invalid arguments";
    case PROTO_BIN_NOT_STORED:
        return "Not stored.";
    case PROTO_BIN_DELTA_BADVAL:
        return "Non-numeric server-side value for incr or decr";
    case PROTO_BIN_AUTH_ERROR:
        return "Auth failure.";
    case PROTO_BIN_UNKNOWN_COMMAND:
        return "Unknown command";
    case PROTO_BIN_ENOMEM:
        return "Out of memory";
    default:
        /* memcached asserts here; its release build sends this text */
        return "UNHANDLED ERROR";
    }
}

void proto_bin_stat(struct buf *out, const struct proto_bin_req *req, const char *key,
                    size_t nkey, const char *val, size_t nval)
{
    proto_bin_header(out, req, PROTO_BIN_OK, 0, (uint16_t)nkey, (uint32_t)(nkey + nval), 0);
    buf_append(out, key, nkey);
    buf_append(out, val, nval);
}

void proto_bin_put_u32(struct buf *out, uint32_t v)
{
    unsigned char b[4];
    wr32(b, v);
    buf_append(out, b, sizeof(b));
}

void proto_bin_put_u64(struct buf *out, uint64_t v)
{
    unsigned char b[8];
    wr64(b, v);
    buf_append(out, b, sizeof(b));
}
