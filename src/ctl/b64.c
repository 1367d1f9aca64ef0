/*
 * ctl/b64: base64 encoding and strict decoding.
 */
#include "ctl/b64.h"

#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ctl_b64_encode(char *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    return o;
}

static int sextet(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long ctl_b64_decode(void *out, const char *in, size_t n)
{
    unsigned char *d = out;
    size_t o = 0;
    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int pad = in[i + 3] == '=' ? (in[i + 2] == '=' ? 2 : 1) : 0;
        if (pad && i + 4 != n)
            return -1;
        uint32_t v = 0;
        for (int j = 0; j < 4 - pad; j++) {
            int s = sextet(in[i + j]);
            if (s < 0)
                return -1;
            v |= (uint32_t)s << (18 - 6 * j);
        }
        /* canonical: the bits padding drops must be zero */
        if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
            return -1;
        d[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            d[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            d[o++] = (unsigned char)v;
    }
    return (long)o;
}

bool ctl_key_is_plain(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return false;
    }
    return n > 0;
}
