/*
 * proxy/rsp: the backend reply grammar (see rsp.h for why it is strict).
 *
 * Every reply is one or more "\r\n"-terminated lines, and VALUE / VA lines
 * announce a data block of exactly <bytes> + 2 bytes ending in "\r\n". A bare
 * "\n", a line longer than RSP_LINE_MAX, a number with a sign or an overflow,
 * a data block whose last two bytes are not "\r\n": all RSP_INVALID.
 */
#include "proxy/rsp.h"

#include <string.h>

#define RSP_LINE_MAX 4096 /* a VALUE line is < 400 bytes, a meta line < 1100 */

/* The line at buf[pos..): its length without "\r\n" in *n. */
static enum rsp_status line_at(const char *buf, size_t len, size_t pos, size_t *n)
{
    size_t avail = len - pos;
    size_t scan = avail < RSP_LINE_MAX ? avail : RSP_LINE_MAX;
    const char *nl = memchr(buf + pos, '\n', scan);
    if (!nl)
        return avail < RSP_LINE_MAX ? RSP_NEED_MORE : RSP_INVALID;
    size_t l = (size_t)(nl - (buf + pos));
    if (l == 0 || buf[pos + l - 1] != '\r')
        return RSP_INVALID;
    *n = l - 1;
    return RSP_OK;
}

static bool is(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n == w && memcmp(p, word, w) == 0;
}

static bool prefix(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && memcmp(p, word, w) == 0;
}

/* Printable ASCII without control bytes (the text of an error or flags). */
static bool printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

/* ERROR, ERROR <text>, CLIENT_ERROR <text>, SERVER_ERROR <text>. */
static bool error_line(const char *p, size_t n, enum rsp_class *cls)
{
    if (!printable(p, n))
        return false;
    if (is(p, n, "ERROR") || prefix(p, n, "ERROR ") || prefix(p, n, "CLIENT_ERROR ")) {
        *cls = RSP_ERROR;
        return true;
    }
    if (prefix(p, n, "SERVER_ERROR ")) {
        *cls = RSP_SERVER_ERROR;
        return true;
    }
    return false;
}

/* A decimal token without sign; *end gets the byte after it. */
static bool number(const char *p, size_t n, size_t *i, uint64_t max, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        unsigned d = (unsigned)(p[*i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        (*i)++;
    }
    *out = v;
    return *i > start && *i - start <= 20;
}

/* "VALUE <key> <flags> <bytes>[ <cas>]": the key span and the byte count. */
static bool value_line(const char *p, size_t n, size_t *koff, size_t *klen, uint64_t *bytes)
{
    if (!prefix(p, n, "VALUE "))
        return false;
    size_t i = 6, k = i;
    while (i < n && p[i] != ' ') {
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7f)
            return false;
        i++;
    }
    if (i == k || i - k > 250 || i >= n)
        return false;
    *koff = k;
    *klen = i - k;
    uint64_t flags, cas;
    i++;
    if (!number(p, n, &i, UINT32_MAX, &flags) || i >= n || p[i] != ' ')
        return false;
    i++;
    if (!number(p, n, &i, RSP_VALUE_MAX, bytes))
        return false;
    if (i == n)
        return true;
    if (p[i] != ' ')
        return false;
    i++;
    return number(p, n, &i, UINT64_MAX, &cas) && i == n;
}

/* A data block of `bytes` + "\r\n" at buf[pos..). */
static enum rsp_status block_at(const char *buf, size_t len, size_t pos, uint64_t bytes)
{
    if (len - pos < bytes + 2)
        return RSP_NEED_MORE;
    return buf[pos + bytes] == '\r' && buf[pos + bytes + 1] == '\n' ? RSP_OK : RSP_INVALID;
}

static enum rsp_status retrieval(const char *buf, size_t len, struct rsp *r)
{
    for (;;) {
        size_t pos = r->scanned, n;
        enum rsp_status st = line_at(buf, len, pos, &n);
        if (st != RSP_OK)
            return st;
        const char *p = buf + pos;
        if (is(p, n, "END")) {
            r->len = pos + n + 2;
            r->cls = r->nvalues ? RSP_SUCCESS : RSP_MISS;
            return RSP_OK;
        }
        if (error_line(p, n, &r->cls)) {
            r->len = pos + n + 2;
            return RSP_OK;
        }
        size_t koff, klen;
        uint64_t bytes;
        if (!value_line(p, n, &koff, &klen, &bytes))
            return RSP_INVALID;
        st = block_at(buf, len, pos + n + 2, bytes);
        if (st != RSP_OK)
            return st;
        r->scanned = pos + n + 2 + bytes + 2;
        r->nvalues++;
    }
}

/* A line-only reply: one of the words, for kinds other than meta. */
static enum rsp_status simple(enum rsp_kind kind, const char *p, size_t n, struct rsp *r)
{
    r->len = n + 2;
    r->cls = RSP_SUCCESS;
    if (is(p, n, "NOT_FOUND") && kind != RSP_KIND_VERSION && kind != RSP_KIND_OK) {
        r->cls = RSP_MISS;
        return RSP_OK;
    }
    switch (kind) {
    case RSP_KIND_STORE:
        return is(p, n, "STORED") || is(p, n, "NOT_STORED") || is(p, n, "EXISTS") ? RSP_OK
                                                                                    : RSP_INVALID;
    case RSP_KIND_DELETE: return is(p, n, "DELETED") ? RSP_OK : RSP_INVALID;
    case RSP_KIND_TOUCH: return is(p, n, "TOUCHED") ? RSP_OK : RSP_INVALID;
    case RSP_KIND_OK: return is(p, n, "OK") ? RSP_OK : RSP_INVALID;
    case RSP_KIND_VERSION:
        return prefix(p, n, "VERSION ") && n > 8 && printable(p, n) ? RSP_OK : RSP_INVALID;
    case RSP_KIND_ARITH: {
        size_t i = 0;
        uint64_t v;
        return number(p, n, &i, UINT64_MAX, &v) && i == n ? RSP_OK : RSP_INVALID;
    }
    default: return RSP_INVALID;
    }
}

static enum rsp_status meta(const char *buf, size_t len, const char *p, size_t n, struct rsp *r)
{
    if (n < 2 || (n > 2 && p[2] != ' ') || !printable(p, n))
        return RSP_INVALID;
    r->len = n + 2;
    r->cls = RSP_SUCCESS;
    if (rsp_meta_code_is(p, "EN") || rsp_meta_code_is(p, "NF")) {
        r->cls = RSP_MISS;
        return RSP_OK;
    }
    if (rsp_meta_code_is(p, "HD") || rsp_meta_code_is(p, "NS") || rsp_meta_code_is(p, "EX") ||
        rsp_meta_code_is(p, "MN"))
        return RSP_OK;
    if (rsp_meta_code_is(p, "ME"))
        return n > 3 ? RSP_OK : RSP_INVALID;
    if (!rsp_meta_code_is(p, "VA") || n < 4)
        return RSP_INVALID;
    size_t i = 3;
    uint64_t bytes;
    if (!number(p, n, &i, RSP_VALUE_MAX, &bytes) || (i < n && p[i] != ' '))
        return RSP_INVALID;
    enum rsp_status st = block_at(buf, len, n + 2, bytes);
    if (st == RSP_OK)
        r->len = n + 2 + bytes + 2;
    return st;
}

enum rsp_status rsp_parse(enum rsp_kind kind, const char *buf, size_t len, struct rsp *r)
{
    if (kind == RSP_KIND_RETRIEVAL)
        return retrieval(buf, len, r);
    size_t n;
    enum rsp_status st = line_at(buf, len, 0, &n);
    if (st != RSP_OK)
        return st;
    if (error_line(buf, n, &r->cls)) {
        r->len = n + 2;
        return RSP_OK;
    }
    if (kind == RSP_KIND_META)
        return meta(buf, len, buf, n, r);
    return simple(kind, buf, n, r);
}

bool rsp_next_value(const char *buf, size_t len, size_t *pos, const char **key, size_t *nkey,
                    size_t *blocklen)
{
    size_t n;
    if (*pos >= len || line_at(buf, len, *pos, &n) != RSP_OK)
        return false;
    size_t koff, klen;
    uint64_t bytes;
    if (!value_line(buf + *pos, n, &koff, &klen, &bytes))
        return false;
    *key = buf + *pos + koff;
    *nkey = klen;
    *blocklen = n + 2 + (size_t)bytes + 2;
    *pos += *blocklen;
    return true;
}
