/*
 * ctl/values: pipelined `mg` batches, value bytes hashed as they stream.
 */
#include "ctl/values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static bool plain_key(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return false;
    }
    return n > 0;
}

static size_t base64(char *out, const unsigned char *in, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    return o;
}

size_t ctl_values_format_mg(char *out, const char *key, size_t nkey)
{
    size_t o = 3;
    memcpy(out, "mg ", 3);
    if (nkey > 250)
        nkey = 250; /* metadump keys are at most 250 bytes; never overflow out */
    bool plain = plain_key(key, nkey);
    if (plain) {
        memcpy(out + o, key, nkey);
        o += nkey;
    } else {
        o += base64(out + o, (const unsigned char *)key, nkey);
    }
    const char *tail = plain ? " v c\r\n" : " b v c\r\n";
    memcpy(out + o, tail, strlen(tail));
    return o + strlen(tail);
}

static bool parse_num(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

bool ctl_values_parse_va(const char *line, size_t len, struct ctl_value *v)
{
    if (len < 4 || memcmp(line, "VA ", 3) != 0)
        return false;
    memset(v, 0, sizeof(*v));
    size_t i = 3, start = i;
    while (i < len && line[i] != ' ')
        i++;
    if (!parse_num(line + start, i - start, &v->len))
        return false;
    while (i < len) { /* flags: only c<cas> matters */
        while (i < len && line[i] == ' ')
            i++;
        start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i > start && line[start] == 'c' && !parse_num(line + start + 1, i - start - 1, &v->cas))
            return false;
    }
    v->found = true;
    return true;
}

static void hash_piece(void *arg, const char *p, size_t n) { XXH3_128bits_update(arg, p, n); }

/* Read one reply (VA + data, or EN) into v. */
static enum ctl_status read_one(struct ctl_conn *c, XXH3_state_t *h, struct ctl_value *v)
{
    char *line;
    size_t len;
    enum ctl_status rc = ctl_conn_readline(c, &line, &len);
    if (rc != CTL_OK)
        return rc;
    if (len == 2 && memcmp(line, "EN", 2) == 0) {
        memset(v, 0, sizeof(*v));
        return CTL_OK;
    }
    if (!ctl_values_parse_va(line, len, v))
        return ctl_conn_error_reply(c, line, len) ? CTL_EREFUSED : ctl_conn_bad_reply(c, line, len);
    XXH3_128bits_reset(h);
    if ((rc = ctl_conn_consume(c, v->len, hash_piece, h)) != CTL_OK)
        return rc;
    XXH128_hash_t d = XXH3_128bits_digest(h);
    v->hash[0] = d.high64;
    v->hash[1] = d.low64;
    char *crlf;
    if ((rc = ctl_conn_readline(c, &crlf, &len)) != CTL_OK)
        return rc;
    return len == 0 ? CTL_OK : ctl_conn_bad_reply(c, crlf, len);
}

enum ctl_status ctl_values_fetch(struct ctl_conn *c, const struct ctl_keyref *keys, size_t n,
                                 struct ctl_value *out)
{
    char *req = malloc(n * CTL_MG_MAX + 1);
    XXH3_state_t *h = XXH3_createState();
    if (!req || !h) {
        free(req);
        XXH3_freeState(h);
        snprintf(c->err, sizeof(c->err), "out of memory fetching values");
        return CTL_ENOMEM;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += ctl_values_format_mg(req + used, keys[i].p, keys[i].len);
    enum ctl_status rc = ctl_conn_send(c, req, used);
    for (size_t i = 0; rc == CTL_OK && i < n; i++)
        rc = read_one(c, h, &out[i]);
    free(req);
    XXH3_freeState(h);
    return rc;
}

bool ctl_value_equal(const struct ctl_value *a, const struct ctl_value *b)
{
    if (a->found != b->found)
        return false;
    return !a->found || (a->cas == b->cas && a->len == b->len && a->hash[0] == b->hash[0] &&
                         a->hash[1] == b->hash[1]);
}
