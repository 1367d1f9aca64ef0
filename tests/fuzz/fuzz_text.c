/*
 * libFuzzer target for proto/text: feed the input to proto_text_parse() the
 * way the server does (consume the line, the data block, or the swallowed
 * bytes, then parse again) and check the invariants every caller relies on:
 *
 *   - a request that is complete consumes at least its "\n" and never more
 *     than the buffer; its last byte is that "\n", and no earlier byte is;
 *   - a shorter prefix of the same bytes is never a complete request;
 *   - every pointer in the request points into the line (or into keybuf for a
 *     base64 key), and every count stays inside memcached's limits;
 *   - errors carry a reply line, meta errors are never silenced;
 *   - the reply writers produce whole "\r\n"-terminated lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/text.h"

#include "fuzz_check.h"

static struct buf out;

static bool inside(const char *p, size_t n, const char *lo, const char *hi)
{
    return n == 0 || (p >= lo && p + n <= hi);
}

static bool is_meta(enum proto_cmd c)
{
    return c >= PROTO_CMD_MG && c <= PROTO_CMD_ME;
}

static bool is_storage(enum proto_cmd c)
{
    return c >= PROTO_CMD_SET && c <= PROTO_CMD_CAS;
}

static void check_tokens(const struct proto_req *req, const char *line, const char *end)
{
    CHECK(req->ntokens < PROTO_MAX_TOKENS);
    for (size_t i = 0; i < req->ntokens; i++) {
        const struct proto_token *t = &req->tokens[i];
        CHECK(t->n > 0 && inside(t->p, t->n, line, end));
        CHECK(memchr(t->p, ' ', t->n) == NULL && memchr(t->p, '\0', t->n) == NULL);
        if (i > 0)
            CHECK(t->p > req->tokens[i - 1].p + req->tokens[i - 1].n);
    }
}

static void check_keys(const struct proto_req *req, const char *line, const char *end)
{
    CHECK(inside(req->keys.p, req->keys.n, line, end));
    struct proto_token rest = req->keys, key;
    size_t n = 0;
    while (proto_text_next_key(&rest, &key)) {
        CHECK(key.n > 0 && inside(key.p, key.n, line, end));
        CHECK(memchr(key.p, ' ', key.n) == NULL);
        proto_text_value(&out, key.p, key.n, (uint32_t)n, key.p, key.n, n & 1, n);
        n++;
    }
    CHECK(rest.n == 0);
}

static void check_meta(const struct proto_req *req)
{
    const struct proto_meta *m = &req->meta;
    CHECK(m->norder <= PROTO_META_MAX_FLAGS);
    for (size_t i = 0; i < m->norder; i++)
        CHECK(proto_meta_has(m, m->order[i]));
    if (req->cmd != PROTO_CMD_MA)
        CHECK(m->opaque.n < PROTO_OPAQUE_MAX);
    if (req->key_binary)
        CHECK(req->key.p == req->keybuf && req->key.n <= PROTO_KEY_MAX);
}

/* Write every plausible reply for a parsed meta request. */
static void exercise_meta_reply(const struct proto_req *req, const uint8_t *data, size_t size)
{
    static const char *codes[] = {"HD", "VA", "EN", "NF", "NS", "EX", "MN"};
    uint8_t seed = size ? data[size - 1] : 0;
    struct proto_item item = {
        .key = req->key.p,
        .nkey = req->key.n,
        .key_binary = seed & 1,
        .value = (const char *)data,
        .nvalue = size < 64 ? size : 64,
        .flags = seed * 16777619u,
        .ttl = (seed & 2) ? -1 : (int64_t)seed - 100,
        .ttl_T = seed,
        .ttl_N = -(int64_t)(seed & 4),
        .last_access = seed,
        .cas = (uint64_t)seed << 40,
        .fetched = seed & 8,
        .won = seed & 16,
        .stale = seed & 32,
        .win_sent = seed & 64,
        .created = seed & 128,
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        for (int with_item = 0; with_item < 2; with_item++) {
            size_t before = out.len;
            proto_meta_reply(&out, req, codes[i], with_item ? &item : NULL);
            size_t n = out.len - before;
            CHECK(out.oom || n == 0 || (n >= 4 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0));
        }
    }
}

static void check_request(const struct proto_req *req, enum proto_status st, const char *buf,
                          size_t len)
{
    const char *end = buf + req->nread;
    CHECK(req->nread > 0 && req->nread <= len);
    CHECK(buf[req->nread - 1] == '\n');
    CHECK(memchr(buf, '\n', req->nread - 1) == NULL);
    check_tokens(req, buf, end);

    if (st == PROTO_ERROR) {
        CHECK(req->error != NULL && req->error[0] != '\0');
        CHECK(strchr(req->error, '\r') == NULL && strchr(req->error, '\n') == NULL);
        if (is_meta(req->cmd))
            CHECK(!req->noreply);
        if (req->swallow)
            CHECK(req->cmd == PROTO_CMD_MS && req->swallow == (size_t)req->nbytes + 2);
        return;
    }
    CHECK(req->cmd != PROTO_CMD_NONE);
    CHECK(req->swallow == 0 && req->error == NULL);
    if (req->cmd <= PROTO_CMD_GATS) {
        check_keys(req, buf, end);
        return;
    }
    if (req->cmd <= PROTO_CMD_TOUCH || (is_meta(req->cmd) && req->cmd != PROTO_CMD_MN)) {
        CHECK(req->key.n > 0 && req->key.n <= PROTO_KEY_MAX);
        if (!req->key_binary)
            CHECK(inside(req->key.p, req->key.n, buf, end));
    }
    if (is_storage(req->cmd) || req->cmd == PROTO_CMD_MS)
        CHECK(req->nbytes <= INT32_MAX - 2);
    if (is_meta(req->cmd))
        check_meta(req);
}

/* Parsing must depend only on the bytes of the request. */
static void check_prefixes(const char *buf, size_t nread, const struct proto_req *full)
{
    struct proto_req again;
    enum proto_status st = proto_text_parse(buf, nread - 1, &again);
    CHECK(st == PROTO_NEED_MORE || st == PROTO_CLOSE);
    st = proto_text_parse(buf, nread, &again);
    CHECK(st == PROTO_OK || st == PROTO_ERROR);
    CHECK(again.cmd == full->cmd && again.nread == full->nread && again.swallow == full->swallow);
    CHECK(again.error == full->error && again.noreply == full->noreply);
}

static void exercise_numbers(const struct proto_req *req)
{
    for (size_t i = 0; i < req->ntokens; i++) {
        const struct proto_token *t = &req->tokens[i];
        uint32_t u;
        int32_t s;
        uint64_t w;
        bool ok32 = proto_parse_u32(t->p, t->n, &u);
        bool ok64 = proto_parse_u64(t->p, t->n, &w);
        CHECK(ok32 == ok64);
        if (ok32)
            CHECK(u == (uint32_t)w);
        (void)proto_parse_i32(t->p, t->n, &s);

        char enc[PROTO_KEY_MAX * 2];
        unsigned char dec[PROTO_KEY_MAX * 2];
        size_t n = t->n < PROTO_KEY_MAX ? t->n : PROTO_KEY_MAX;
        size_t e = proto_base64_encode((const unsigned char *)t->p, n, enc, sizeof(enc));
        CHECK(e == (n + 2) / 3 * 4);
        CHECK(proto_base64_decode(enc, e, dec, sizeof(dec)) == n);
        CHECK(memcmp(dec, t->p, n) == 0);
        CHECK(proto_base64_decode(t->p, t->n, dec, sizeof(dec)) <= t->n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t len = size;
    buf_reset(&out);
    out.oom = false;
    while (len > 0) {
        struct proto_req req;
        enum proto_status st = proto_text_parse(buf, len, &req);
        if (st == PROTO_CLOSE)
            break;
        if (st == PROTO_NEED_MORE) {
            CHECK(memchr(buf, '\n', len) == NULL);
            break;
        }
        check_request(&req, st, buf, len);
        check_prefixes(buf, req.nread, &req);
        exercise_numbers(&req);
        if (st == PROTO_OK && is_meta(req.cmd))
            exercise_meta_reply(&req, data, size);

        size_t skip = req.nread;
        if (st == PROTO_ERROR)
            skip += req.swallow;
        else if (is_storage(req.cmd) || req.cmd == PROTO_CMD_MS)
            skip += (size_t)req.nbytes + 2;
        if (skip >= len)
            break;
        buf += skip;
        len -= skip;
        if (out.len > (1u << 20))
            buf_reset(&out);
    }
    return 0;
}
