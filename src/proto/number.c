/*
 * proto/number: memcached's rules for numbers in a command line.
 *
 * memcached parses every numeric argument with safe_strtoul / safe_strtol /
 * safe_strtoull (util.c), thin wrappers over the 64-bit C library parsers.
 * Clients can see every odd corner of them, so we reproduce the rules rather
 * than the intent:
 *
 *   - leading isspace() bytes are skipped (a token never holds ' ', but it
 *     may hold \t \v \f \r), then an optional '+' or '-', then decimal digits;
 *   - at least one digit is required, and a value past the 64-bit range is
 *     rejected (ERANGE);
 *   - the digits must be followed by the end of the token or by an isspace()
 *     byte, and anything after that byte is ignored ("5\tjunk" is 5);
 *   - the unsigned parsers negate a leading '-' modulo 2^64, as strtoul does,
 *     and reject the result only if it looks negative as a signed 64-bit
 *     number AND the token holds a '-' somewhere. So "-1" fails but "-0" is 0
 *     and "-18446744073709551615" is 1;
 *   - the 32-bit variants parse 64 bits and then truncate: "4294967296" is 0
 *     as flags, "2147483648" is INT32_MIN as an exptime.
 *
 * Tokens are not NUL-terminated (they point into the read buffer), so each
 * function takes a length and never reads past it.
 */
#include <string.h>

#include "proto/text.h"

static bool is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* What strtoull/strtoll saw in a token. */
struct scanned {
    uint64_t magnitude; /* digits as an unsigned number */
    bool negative;      /* a '-' preceded the digits */
    bool overflow;      /* magnitude does not fit in 64 bits */
};

/* Scan the number at the front of p[0..n): true if the C parser would
 * consume at least one digit and stop at the end or at whitespace. */
static bool scan(const char *p, size_t n, struct scanned *s)
{
    size_t i = 0;
    *s = (struct scanned){0};
    while (i < n && is_c_space(p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        s->negative = p[i++] == '-';
    size_t digits = i;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (s->magnitude > (UINT64_MAX - d) / 10)
            s->overflow = true;
        s->magnitude = s->magnitude * 10 + d;
    }
    if (i == digits)
        return false;
    return i == n || is_c_space(p[i]);
}

/* strtoul/strtoull, then memcached's negative-number check. */
static bool parse_unsigned(const char *p, size_t n, uint64_t *out)
{
    struct scanned s;
    if (!scan(p, n, &s) || s.overflow)
        return false;
    uint64_t v = s.negative ? (uint64_t)0 - s.magnitude : s.magnitude;
    if ((int64_t)v < 0 && memchr(p, '-', n) != NULL)
        return false;
    *out = v;
    return true;
}

bool proto_parse_u64(const char *p, size_t n, uint64_t *out)
{
    return parse_unsigned(p, n, out);
}

bool proto_parse_u32(const char *p, size_t n, uint32_t *out)
{
    uint64_t v;
    if (!parse_unsigned(p, n, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool proto_parse_i32(const char *p, size_t n, int32_t *out)
{
    struct scanned s;
    if (!scan(p, n, &s) || s.overflow)
        return false;
    /* strtol's range is [INT64_MIN, INT64_MAX] */
    if (s.magnitude > (uint64_t)INT64_MAX + (s.negative ? 1u : 0u))
        return false;
    uint64_t v = s.negative ? (uint64_t)0 - s.magnitude : s.magnitude;
    *out = (int32_t)(uint32_t)v; /* memcached stores the long into an int32_t */
    return true;
}
