/* Unit tests for repl/crc32c: standard vectors (RFC 3720 B.4, the "check"
 * value), incremental updates, and hardware == software at every length and
 * alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    unsigned char b[48];
    assert_int_equal(f(0, "", 0), 0);
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(f(0, "a", 1), 0xC1D04330u);

    memset(b, 0, 32);
    assert_int_equal(f(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, 32);
    assert_int_equal(f(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)i;
    assert_int_equal(f(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)(31 - i);
    assert_int_equal(f(0, b, 32), 0x113FDB5Cu);

    /* RFC 3720 B.4: an iSCSI read command PDU */
    static const unsigned char pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    assert_int_equal(f(0, pdu, sizeof(pdu)), 0xD9963A56u);
}

static void test_vectors_default(void **state)
{
    (void)state;
    check_vectors(crc32c_update);
}

static void test_vectors_software(void **state)
{
    (void)state;
    check_vectors(crc32c_update_sw);
}

static void test_incremental_equals_one_shot(void **state)
{
    (void)state;
    unsigned char b[1000];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (unsigned char)(i * 131 + 7);
    uint32_t whole = crc32c_update(0, b, sizeof(b));
    for (size_t cut = 0; cut <= sizeof(b); cut += 37) {
        uint32_t c = crc32c_update(0, b, cut);
        assert_int_equal(crc32c_update(c, b + cut, sizeof(b) - cut), whole);
        c = crc32c_update_sw(0, b, cut);
        assert_int_equal(crc32c_update_sw(c, b + cut, sizeof(b) - cut), whole);
    }
}

/* Both paths handle the unaligned head, the 8-byte body and the tail; try
 * every split of those on random data. */
static void test_paths_agree_every_length_and_alignment(void **state)
{
    (void)state;
    unsigned char *b = malloc(4096 + 16);
    assert_non_null(b);
    srand(42);
    for (size_t i = 0; i < 4096 + 16; i++)
        b[i] = (unsigned char)rand();
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n < 300; n++)
            assert_int_equal(crc32c_update(0, b + off, n), crc32c_update_sw(0, b + off, n));
    assert_int_equal(crc32c_update(0x12345678u, b + 3, 4096),
                     crc32c_update_sw(0x12345678u, b + 3, 4096));
    free(b);
}

/* One flipped bit anywhere changes the checksum (CRCs catch every 1-bit error). */
static void test_single_bit_flip_detected(void **state)
{
    (void)state;
    unsigned char b[256];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (unsigned char)i;
    uint32_t good = crc32c_update(0, b, sizeof(b));
    for (size_t bit = 0; bit < sizeof(b) * 8; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_not_equal(crc32c_update(0, b, sizeof(b)), good);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

static void test_hw_flag_matches_cpu(void **state)
{
    (void)state;
#if defined(__x86_64__)
    __builtin_cpu_init();
    assert_int_equal(crc32c_have_hw(), __builtin_cpu_supports("sse4.2") != 0);
#else
    assert_false(crc32c_have_hw());
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_default),
        cmocka_unit_test(test_vectors_software),
        cmocka_unit_test(test_incremental_equals_one_shot),
        cmocka_unit_test(test_paths_agree_every_length_and_alignment),
        cmocka_unit_test(test_single_bit_flip_detected),
        cmocka_unit_test(test_hw_flag_matches_cpu),
    };
    return cmocka_run_group_tests_name("repl_crc32c", tests, NULL, NULL);
}
