/*
 * CRC32C, software slice-by-8 and SSE4.2. See crc32c.h for the story.
 *
 * The only mutable globals are the tables and the hardware flag. They are
 * written once inside pthread_once (which orders those writes before any
 * caller's reads) and never again.
 */
#include "repl/crc32c.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t table[8][256];
static bool hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Eight bytes as a little-endian number, whatever the host order or
 * alignment (compilers turn this into one load on x86). */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w = load_le64(p) ^ crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    }
    while (n--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t crc32c_update_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init);
    return ~sw(~crc, p, n);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t hwcrc(uint32_t crc, const unsigned char *p,
                                                          size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        n--;
    }
    uint64_t c = crc;
    for (; n >= 8; p += 8, n -= 8)
        c = _mm_crc32_u64(c, load_le64(p));
    crc = (uint32_t)c;
    while (n--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

bool crc32c_have_hw(void)
{
    pthread_once(&once, init);
    return hw;
}

uint32_t crc32c_update(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init);
#if defined(__x86_64__)
    if (hw)
        return ~hwcrc(~crc, p, n);
#endif
    return ~sw(~crc, p, n);
}
