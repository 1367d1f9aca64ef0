/*
 * proto/base64: the base64 that meta commands use for binary keys (flag b).
 *
 * Encoding is plain RFC 4648 with padding. Decoding follows memcached's
 * decoder, which is more forgiving than the RFC and which clients can
 * observe, so we keep its rules:
 *
 *   - bytes outside the alphabet (and outside '=') are skipped, not errors:
 *     "Zm9v!" decodes to "foo";
 *   - the number of alphabet bytes plus '=' must be a non-zero multiple of 4;
 *   - decoding stops after the first 4-byte group that holds padding; one
 *     '=' drops one output byte, two drop two, more is an error. Whatever
 *     follows that group is ignored.
 */
#include "proto/text.h"

static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 byte, PAD for '=', SKIP for anything else. */
enum { PAD = 64, SKIP = 255 };

static unsigned char sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (unsigned char)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (unsigned char)(c - '0' + 52);
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    if (c == '=')
        return PAD;
    return SKIP;
}

size_t proto_base64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t need = (n + 2) / 3 * 4;
    if (need > cap || need < n)
        return 0;
    char *p = out;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 63];
        *p++ = alphabet[(v >> 6) & 63];
        *p++ = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 63];
        *p++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    return (size_t)(p - out);
}

size_t proto_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += sextet((unsigned char)in[i]) != SKIP;
    if (count == 0 || count % 4 != 0 || count / 4 * 3 > cap)
        return 0;

    unsigned char group[4];
    size_t filled = 0, pads = 0, len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char v = sextet((unsigned char)in[i]);
        if (v == SKIP)
            continue;
        if (v == PAD) {
            pads++;
            v = 0;
        }
        group[filled++] = v;
        if (filled < 4)
            continue;
        out[len++] = (unsigned char)(group[0] << 2 | group[1] >> 4);
        out[len++] = (unsigned char)(group[1] << 4 | group[2] >> 2);
        out[len++] = (unsigned char)(group[2] << 6 | group[3]);
        filled = 0;
        if (pads > 2)
            return 0;
        if (pads > 0)
            return len - pads;
    }
    return len;
}
