/*
 * cluster/hash: the key hashes a pool may name, as twemproxy and
 * libmemcached compute them.
 *
 * Compatibility is the whole point, so each function reproduces the quirks
 * of those two implementations rather than the textbook algorithm:
 *
 *  - Bytes are read as `char`, which is signed on x86, wherever the original
 *    code widened a `char` to an integer: one_at_a_time, the four FNV
 *    variants and hsieh's 3-byte tail. A key byte >= 0x80 therefore enters
 *    as 0xffffff80.. there. MD5, the CRCs, murmur and jenkins read bytes
 *    unsigned. Non-ASCII keys hash as they do in libmemcached on x86-64.
 *  - "crc32" is libmemcached's: the standard CRC-32, then bits 16..30 only
 *    ((~crc >> 16) & 0x7fff). "crc32a" is the plain CRC-32.
 *  - "fnv1_64" and "fnv1a_64" return the low 32 bits of the 64-bit hash;
 *    since multiplication mod 2^64 keeps the low 32 bits dependent only on
 *    the low 32 bits of its factors, fnv1a_64 runs in 32 bits.
 *  - hsieh starts from 0 rather than from the length (Paul Hsieh's
 *    SuperFastHash as libmemcached ships it); murmur is MurmurHash2 seeded
 *    with 0xdeadbeef * length; jenkins is lookup3's hashlittle with initval 13.
 *  - md5 is the first four digest bytes as a little-endian uint32.
 *
 * The CRC tables are computed from their polynomials one nibble at a time
 * (16-entry tables written out below), which keeps the code short and is
 * fast enough: CRC pools are rare and keys are short.
 */
/* MD5(): the one-shot low-level call is stateless and several times cheaper
 * per short key than an EVP context, which matters when the proxy hashes
 * every request. It is deprecated in OpenSSL 3 but not going away in 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <string.h>

#include "cluster/ring.h"

/* --- names ------------------------------------------------------------------ */

static const char *const hash_names[] = {
    [RING_HASH_ONE_AT_A_TIME] = "one_at_a_time",
    [RING_HASH_MD5] = "md5",
    [RING_HASH_CRC16] = "crc16",
    [RING_HASH_CRC32] = "crc32",
    [RING_HASH_CRC32A] = "crc32a",
    [RING_HASH_FNV1_64] = "fnv1_64",
    [RING_HASH_FNV1A_64] = "fnv1a_64",
    [RING_HASH_FNV1_32] = "fnv1_32",
    [RING_HASH_FNV1A_32] = "fnv1a_32",
    [RING_HASH_HSIEH] = "hsieh",
    [RING_HASH_MURMUR] = "murmur",
    [RING_HASH_JENKINS] = "jenkins",
};

#define NHASHES (sizeof(hash_names) / sizeof(hash_names[0]))

bool ring_hash_parse(const char *s, enum ring_hash *out)
{
    for (size_t i = 0; i < NHASHES; i++)
        if (strcmp(s, hash_names[i]) == 0) {
            *out = (enum ring_hash)i;
            return true;
        }
    return false;
}

const char *ring_hash_name(enum ring_hash h)
{
    return (size_t)h < NHASHES ? hash_names[h] : "unknown";
}

const char *ring_hash_names(void)
{
    return "one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, "
           "hsieh, murmur, jenkins";
}

/* --- the functions ----------------------------------------------------------- */

/* A key byte widened as a signed char, the way the reference code reads it. */
static inline uint32_t sbyte(const char *k, size_t i)
{
    return (uint32_t)(int32_t)(signed char)k[i];
}

static inline uint32_t ubyte(const char *k, size_t i)
{
    return (unsigned char)k[i];
}

static uint32_t one_at_a_time(const char *k, size_t n)
{
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++) {
        h += sbyte(k, i);
        h += h << 10;
        h ^= h >> 6;
    }
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
    return h;
}

static uint32_t md5_le32(const char *k, size_t n)
{
    unsigned char d[MD5_DIGEST_LENGTH];
    MD5((const unsigned char *)k, n, d);
    return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

/* Reflected CRC, four bits per step: t[i] is the CRC of nibble i. */
static const uint32_t crc32_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

/* CRC-16/ARC (polynomial 0x8005 reflected: 0xa001), init 0, no final xor. */
static const uint16_t crc16_nibble[16] = {
    0x0000, 0xcc01, 0xd801, 0x1400, 0xf001, 0x3c00, 0x2800, 0xe401,
    0xa001, 0x6c00, 0x7800, 0xb401, 0x5000, 0x9c01, 0x8801, 0x4400,
};

static uint32_t crc32_std(const char *k, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= ubyte(k, i);
        c = (c >> 4) ^ crc32_nibble[c & 15];
        c = (c >> 4) ^ crc32_nibble[c & 15];
    }
    return ~c;
}

static uint32_t crc16(const char *k, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c ^= ubyte(k, i);
        c = (c >> 4) ^ crc16_nibble[c & 15];
        c = (c >> 4) ^ crc16_nibble[c & 15];
    }
    return c;
}

#define FNV32_BASIS 0x811c9dc5u
#define FNV32_PRIME 0x01000193u
#define FNV64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

static uint32_t fnv1_64(const char *k, size_t n)
{
    uint64_t h = FNV64_BASIS;
    for (size_t i = 0; i < n; i++) {
        h *= FNV64_PRIME;
        h ^= (uint64_t)(int64_t)(signed char)k[i];
    }
    return (uint32_t)h;
}

static uint32_t fnv1a_64(const char *k, size_t n)
{
    uint32_t h = (uint32_t)FNV64_BASIS;
    for (size_t i = 0; i < n; i++) {
        h ^= sbyte(k, i);
        h *= (uint32_t)FNV64_PRIME;
    }
    return h;
}

static uint32_t fnv1_32(const char *k, size_t n)
{
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < n; i++) {
        h *= FNV32_PRIME;
        h ^= sbyte(k, i);
    }
    return h;
}

static uint32_t fnv1a_32(const char *k, size_t n)
{
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < n; i++) {
        h ^= sbyte(k, i);
        h *= FNV32_PRIME;
    }
    return h;
}

static inline uint32_t le16(const char *k)
{
    return ubyte(k, 0) | ubyte(k, 1) << 8;
}

static inline uint32_t le32(const char *k)
{
    return le16(k) | le16(k + 2) << 16;
}

static uint32_t hsieh(const char *k, size_t n)
{
    uint32_t h = 0;
    if (n == 0)
        return 0;
    for (size_t blocks = n / 4; blocks; blocks--, k += 4) {
        h += le16(k);
        h = (h << 16) ^ ((le16(k + 2) << 11) ^ h);
        h += h >> 11;
    }
    switch (n & 3) {
    case 3:
        h += le16(k);
        h ^= h << 16;
        h ^= sbyte(k, 2) << 18;
        h += h >> 11;
        break;
    case 2:
        h += le16(k);
        h ^= h << 11;
        h += h >> 17;
        break;
    case 1:
        h += ubyte(k, 0);
        h ^= h << 10;
        h += h >> 1;
        break;
    }
    h ^= h << 3;
    h += h >> 5;
    h ^= h << 4;
    h += h >> 17;
    h ^= h << 25;
    h += h >> 6;
    return h;
}

static uint32_t murmur2(const char *k, size_t n)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = (0xdeadbeefu * (uint32_t)n) ^ (uint32_t)n;
    for (; n >= 4; n -= 4, k += 4) {
        uint32_t w = le32(k) * m;
        w ^= w >> 24;
        h = (h * m) ^ (w * m);
    }
    switch (n) {
    case 3:
        h ^= ubyte(k, 2) << 16;
        /* fall through */
    case 2:
        h ^= ubyte(k, 1) << 8;
        /* fall through */
    case 1:
        h ^= ubyte(k, 0);
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

static inline uint32_t rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* lookup3 hashlittle, initval 13, reading bytes little-endian. */
static uint32_t jenkins(const char *k, size_t n)
{
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)n + 13;
    for (; n > 12; n -= 12, k += 12) {
        a += le32(k);
        b += le32(k + 4);
        c += le32(k + 8);
        a -= c; a ^= rotl(c, 4);  c += b;
        b -= a; b ^= rotl(a, 6);  a += c;
        c -= b; c ^= rotl(b, 8);  b += a;
        a -= c; a ^= rotl(c, 16); c += b;
        b -= a; b ^= rotl(a, 19); a += c;
        c -= b; c ^= rotl(b, 4);  b += a;
    }
    if (n == 0)
        return c;
    /* the last 1..12 bytes, zero-padded, as three little-endian words */
    unsigned char tail[12] = {0};
    memcpy(tail, k, n);
    a += le32((const char *)tail);
    b += le32((const char *)tail + 4);
    c += le32((const char *)tail + 8);
    c ^= b; c -= rotl(b, 14);
    a ^= c; a -= rotl(c, 11);
    b ^= a; b -= rotl(a, 25);
    c ^= b; c -= rotl(b, 16);
    a ^= c; a -= rotl(c, 4);
    b ^= a; b -= rotl(a, 14);
    c ^= b; c -= rotl(b, 24);
    return c;
}

uint32_t ring_hash_key(enum ring_hash h, const char *key, size_t nkey)
{
    switch (h) {
    case RING_HASH_ONE_AT_A_TIME: return one_at_a_time(key, nkey);
    case RING_HASH_MD5: return md5_le32(key, nkey);
    case RING_HASH_CRC16: return crc16(key, nkey);
    case RING_HASH_CRC32: return (crc32_std(key, nkey) >> 16) & 0x7fff;
    case RING_HASH_CRC32A: return crc32_std(key, nkey);
    case RING_HASH_FNV1_64: return fnv1_64(key, nkey);
    case RING_HASH_FNV1A_64: return fnv1a_64(key, nkey);
    case RING_HASH_FNV1_32: return fnv1_32(key, nkey);
    case RING_HASH_FNV1A_32: return fnv1a_32(key, nkey);
    case RING_HASH_HSIEH: return hsieh(key, nkey);
    case RING_HASH_MURMUR: return murmur2(key, nkey);
    case RING_HASH_JENKINS: return jenkins(key, nkey);
    }
    return 0;
}
