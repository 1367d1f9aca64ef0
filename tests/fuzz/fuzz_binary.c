/*
 * libFuzzer target for proto/binary: treat the input as a pipelined stream
 * of binary requests and walk it the way the server does, consuming
 * nread + value_len per request, until the parser asks for more bytes or
 * says to close. Every step checks the parser's promises:
 *
 *   - nread never exceeds the buffer and equals header + extras + key;
 *   - the key lies inside the buffer, right after the extras;
 *   - value_len is the value (bodylen - extlen - keylen) or 0 when ready,
 *     memcached's swallow (bodylen) for an unknown opcode, 0 before a close;
 *   - the prefix alone gives the same answer, one byte less gives NEED_MORE;
 *   - a response echoes the opcode and the opaque bytes unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/binary.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static size_t prefix_len(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return PROTO_BIN_HEADER_LEN + u[4] + ((size_t)u[2] << 8 | u[3]);
}

static void check_parsed(const char *p, size_t len, enum proto_bin_result r,
                         const struct proto_bin_req *req)
{
    CHECK(req->nread >= PROTO_BIN_HEADER_LEN && req->nread <= len);
    CHECK(req->nread == prefix_len(p));
    CHECK(req->key == p + PROTO_BIN_HEADER_LEN + req->extlen);
    CHECK(req->key + req->keylen <= p + len);
    CHECK(req->opcode == (unsigned char)p[1]);
    CHECK(!req->quiet || req->cmd != req->opcode);
    uint32_t fixed = (uint32_t)req->extlen + req->keylen;

    if (r == PROTO_BIN_READY) {
        CHECK(fixed <= req->bodylen);
        CHECK(req->keylen <= PROTO_BIN_KEY_MAX);
        CHECK(req->value_len == 0 || req->value_len == req->bodylen - fixed);
        return;
    }
    CHECK(req->status == PROTO_BIN_EINVAL || req->status == PROTO_BIN_UNKNOWN_COMMAND);
    if (req->close_after)
        CHECK(req->value_len == 0);
    else
        CHECK(req->status == PROTO_BIN_UNKNOWN_COMMAND && req->value_len == req->bodylen);
}

/* The answer depends on the prefix only, and needs all of it. */
static void check_prefix(const char *p, enum proto_bin_result r, const struct proto_bin_req *req)
{
    struct proto_bin_req again;
    CHECK(proto_bin_parse(p, req->nread, &again) == r);
    CHECK(again.nread == req->nread && again.value_len == req->value_len);
    CHECK(again.status == req->status && again.close_after == req->close_after);
    CHECK(proto_bin_parse(p, req->nread - 1, &again) == PROTO_BIN_NEED_MORE);
}

static void check_reply(const char *p, const struct proto_bin_req *req, struct buf *out)
{
    buf_reset(out);
    proto_bin_error(out, req, req->status ? req->status : PROTO_BIN_KEY_ENOENT);
    CHECK(!out->oom && out->len >= PROTO_BIN_HEADER_LEN);
    CHECK((unsigned char)out->data[0] == PROTO_BIN_RES_MAGIC);
    CHECK(out->data[1] == p[1]);
    CHECK(memcmp(out->data + 12, p + 12, 4) == 0);
    const unsigned char *u = (const unsigned char *)out->data;
    size_t body = (size_t)u[8] << 24 | (size_t)u[9] << 16 | (size_t)u[10] << 8 | u[11];
    CHECK(out->len == PROTO_BIN_HEADER_LEN + body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    struct buf out = {0};

    while (left > 0) {
        struct proto_bin_req req;
        enum proto_bin_result r = proto_bin_parse(p, left, &req);
        if (r == PROTO_BIN_NEED_MORE) {
            CHECK(left < PROTO_BIN_HEADER_LEN || left < prefix_len(p));
            break;
        }
        if (r == PROTO_BIN_CLOSE) {
            CHECK(left >= PROTO_BIN_HEADER_LEN);
            CHECK((unsigned char)p[0] != PROTO_BIN_REQ_MAGIC ||
                  prefix_len(p) > PROTO_BIN_PREFIX_MAX);
            break;
        }
        CHECK(r == PROTO_BIN_READY || r == PROTO_BIN_INVALID);
        check_parsed(p, left, r, &req);
        check_prefix(p, r, &req);
        check_reply(p, &req, &out);
        if (r == PROTO_BIN_INVALID && req.close_after)
            break;
        uint64_t skip = (uint64_t)req.nread + req.value_len;
        if (skip > left)
            break; /* the value (or swallow) would still be arriving */
        p += skip;
        left -= (size_t)skip;
    }
    buf_free(&out);
    return 0;
}
