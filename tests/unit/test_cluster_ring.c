/* Unit tests for cluster/ring and cluster/hash.
 *
 * Ground truth: tests/testdata/ketama/ (produced with libmemcached 1.1.4,
 * see shared/reference/ketama.md): the whole 480-point continuum and 10,000
 * key placements for weighted ketama over 127.0.0.1:11211..11213, and 10,000
 * for modula + md5. The hash values below come from Debian's libhashkit
 * 1.1.4 on x86-64 (libhashkit_<name>(), called through ctypes), from
 * libmemcached's own test fixtures (hsieh, which Debian builds without), and
 * from the published check values of CRC-32 ("123456789" -> 0xcbf43926),
 * CRC-16/ARC (0xbb3d) and FNV.
 *
 * `make unit` runs from the repository root; TANDEM_KETAMA_TESTDATA names
 * another directory holding the three files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/ring.h"

/* --- hashes ------------------------------------------------------------------ */

#define NKEYS 15
static const char *const keys[NKEYS] = {
    "", "a", "up", "ick", "beat", "apple", "carrot", "eggplant", "mushrooms", "strawberry",
    "hello world!", "123456789", "The quick brown fox jumps over the lazy dog",
    "\xc3\xa9t\xc3\xa9\xff\x80", "\x80\xfe\x81",
};

static const struct {
    enum ring_hash h;
    uint32_t v[NKEYS];
} vectors[] = {
    {RING_HASH_ONE_AT_A_TIME,
     {0x00000000, 0xca2e9442, 0x6822cce5, 0x590a5d5c, 0xe89ae78c, 0x88f08ef3, 0x1c005ceb,
      0x0f9c8bb1, 0x16e57660, 0x197dee02, 0x9bd919d3, 0xc66b58c5, 0x519e91f5, 0x997821ec,
      0xee492578}},
    {RING_HASH_MD5,
     {0xd98c1dd4, 0xb975c10c, 0xec8bc446, 0x4a90a97b, 0x986669ed, 0xbe70381f, 0xde055d00,
      0x0ea5fb4a, 0x56805196, 0x84f95b49, 0x8ef93ffc, 0x94e7f925, 0x9d7d109e, 0xf48c3027,
      0x9a478344}},
    {RING_HASH_CRC32,
     {0x00000000, 0x000068b7, 0x00004394, 0x00002cf7, 0x000055f9, 0x0000292e, 0x000038be,
      0x00004be8, 0x00002c31, 0x00000a87, 0x000003b4, 0x00004bf4, 0x0000414f, 0x00001e15,
      0x00000ef4}},
    {RING_HASH_FNV1_64,
     {0x84222325, 0x8601b7be, 0xb4eb15ae, 0x6b989678, 0xf74c6ed1, 0x1c347217, 0xecbdfa14,
      0x66aaeda3, 0x8bc9e8a2, 0x0d692ae2, 0xb97b86bc, 0x2bf916d6, 0x7de37ace, 0x0833c81e,
      0x94a3d448}},
    {RING_HASH_FNV1A_64,
     {0x84222325, 0x8601ec8c, 0xb566d980, 0x2bcc500a, 0x95100805, 0x58befdbf, 0x5a024ab2,
      0xd96b543b, 0x2170b68c, 0xeabb13bc, 0xcd5a2672, 0x23c6cdfc, 0xe7e47110, 0xf251d068,
      0x8b007d96}},
    {RING_HASH_FNV1_32,
     {0x811c9dc5, 0x050c5d7e, 0x5c770dae, 0x14885d18, 0x46f0b251, 0x04010657, 0x79c8d334,
      0x990c0b83, 0x1e698e82, 0xd3d9bd62, 0x8a01b99c, 0x24148816, 0xe9c86c6e, 0xf87411fe,
      0xe8ab7948}},
    {RING_HASH_FNV1A_32,
     {0x811c9dc5, 0xe40c292c, 0x43430b20, 0x80e10e8a, 0x905255c5, 0x10bc2abf, 0xb720bb72,
      0x1b5fc45b, 0xd9d2d60c, 0x843a155c, 0xb034fff2, 0xbb86b11c, 0x048fff90, 0x5d5b00a8,
      0x0f51deb6}},
    {RING_HASH_MURMUR,
     {0x00000000, 0x4b41757c, 0x3736a22a, 0x5b0aea32, 0x2bc7a7fb, 0xf6e68f62, 0xe2aaa700,
      0x171d661a, 0x8a66bae8, 0x8f1bb12e, 0x7f8cfcad, 0xb7760690, 0x30c79125, 0x3d695bc4,
      0x3660599e}},
    {RING_HASH_JENKINS,
     {0xdeadbefc, 0xe0a38690, 0xb6b6ca01, 0x6c01a623, 0xfd8c2902, 0x55f9f550, 0x705bb4d0,
      0xc26db0c0, 0x9001106f, 0xb7269801, 0x1bc66602, 0x19777af6, 0x12b8163c, 0xad86e63d,
      0x75b5b771}},
    /* the standard CRC-32 (zlib.crc32) and CRC-16/ARC */
    {RING_HASH_CRC32A,
     {0x00000000, 0xe8b7be43, 0x4394ee70, 0x2cf7a909, 0xd5f9069c, 0xa92ed050, 0xb8be94ce,
      0xcbe8c650, 0x2c3147a3, 0x0a87653f, 0x03b4c26d, 0xcbf43926, 0x414fa339, 0x9e150514,
      0x0ef4bd17}},
    {RING_HASH_CRC16,
     {0x00000000, 0x0000e8c1, 0x00007427, 0x000003b9, 0x00001026, 0x0000f84b, 0x0000ef22,
      0x0000c4f9, 0x0000d105, 0x0000c7fb, 0x00008838, 0x0000bb3d, 0x0000fcdf, 0x00000af7,
      0x0000e881}},
};

static void test_hash_reference_values(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof(vectors) / sizeof(vectors[0]); t++)
        for (size_t k = 0; k < NKEYS; k++) {
            uint32_t got = ring_hash_key(vectors[t].h, keys[k], strlen(keys[k]));
            if (got != vectors[t].v[k])
                fail_msg("%s(key %zu, %zu bytes) = 0x%08x, want 0x%08x",
                         ring_hash_name(vectors[t].h), k, strlen(keys[k]), got,
                         vectors[t].v[k]);
        }
}

/* libmemcached's test fixture values (test/fixtures/hashes.hpp, HAVE_HSIEH_HASH). */
static void test_hash_hsieh(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint32_t v;
    } h[] = {
        {"apple", 3738850110u},     {"beat", 3636226060u},      {"carrot", 3821074029u},
        {"eggplant", 3485772682u},  {"ick", 409795758u},        {"mushrooms", 2265380744u},
        {"strawberry", 4220749037u}, {"up", 2777873870u},
        {"The quick brown fox jumps over the lazy dog", 471461527u},
    };
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
        assert_int_equal(ring_hash_key(RING_HASH_HSIEH, h[i].key, strlen(h[i].key)), h[i].v);
    assert_int_equal(ring_hash_key(RING_HASH_HSIEH, "", 0), 0);
}

static void test_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"one_at_a_time", "md5", "crc16", "crc32", "crc32a",
                                        "fnv1_64", "fnv1a_64", "fnv1_32", "fnv1a_32", "hsieh",
                                        "murmur", "jenkins"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        enum ring_hash h;
        assert_true(ring_hash_parse(names[i], &h));
        assert_string_equal(ring_hash_name(h), names[i]);
        assert_non_null(strstr(ring_hash_names(), names[i]));
    }
    enum ring_hash h;
    assert_false(ring_hash_parse("MD5", &h));
    assert_false(ring_hash_parse("sha1", &h));
    enum ring_dist d;
    assert_true(ring_dist_parse("ketama", &d) && d == RING_KETAMA);
    assert_true(ring_dist_parse("modula", &d) && d == RING_MODULA);
    assert_true(ring_dist_parse("random", &d) && d == RING_RANDOM);
    assert_false(ring_dist_parse("vnode", &d));
    assert_string_equal(ring_dist_name(RING_MODULA), "modula");
}

/* --- the ground-truth files -------------------------------------------------------- */

static FILE *open_testdata(const char *file)
{
    const char *dir = getenv("TANDEM_KETAMA_TESTDATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/testdata/ketama", file);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s: run from the repository root or set "
                 "TANDEM_KETAMA_TESTDATA to the directory holding it", path);
    return f;
}

static const struct ring_server three[] = {
    {"127.0.0.1", 11211, 1, NULL},
    {"127.0.0.1", 11212, 1, NULL},
    {"127.0.0.1", 11213, 1, NULL},
};
static const char *const three_addr[] = {"127.0.0.1:11211", "127.0.0.1:11212",
                                         "127.0.0.1:11213"};

static void test_continuum_matches_libmemcached(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, three, 3);
    assert_non_null(r);
    FILE *f = open_testdata("continuum_ketama_weighted.txt");
    char addr[64];
    unsigned long value;
    size_t i = 0;
    while (fscanf(f, "%lu %63s", &value, addr) == 2) {
        assert_true(i < ring_points(r));
        uint32_t v;
        size_t s;
        ring_point(r, i, &v, &s);
        if (v != value || strcmp(three_addr[s], addr) != 0)
            fail_msg("point %zu: got %u %s, libmemcached has %lu %s", i, v, three_addr[s], value,
                     addr);
        i++;
    }
    assert_true(feof(f));
    fclose(f);
    assert_int_equal(i, 480);
    assert_int_equal(ring_points(r), 480);
    ring_free(r);
}

/* Every line "key host:port" of file must name the key's owner under r,
 * whose server i prints as addr[i]. */
static void check_vectors(const struct ring *r, const char *const *addr, const char *file)
{
    FILE *f = open_testdata(file);
    char key[256], want[64];
    size_t lines = 0;
    while (fscanf(f, "%255s %63s", key, want) == 2) {
        size_t got = ring_lookup(r, key, strlen(key));
        if (strcmp(addr[got], want) != 0)
            fail_msg("%s line %zu: %s goes to %s, libmemcached says %s", file, lines + 1, key,
                     addr[got], want);
        lines++;
    }
    assert_true(feof(f));
    fclose(f);
    assert_int_equal(lines, 10000);
}

static void test_ketama_vectors(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, three, 3);
    assert_non_null(r);
    check_vectors(r, three_addr, "vectors_ketama_weighted.txt");
    /* the worked examples of ketama.md */
    assert_int_equal(ring_lookup(r, "key0", 4), 2);
    assert_int_equal(ring_lookup(r, "key2470", 7), 1);
    ring_free(r);
}

static void test_modula_vectors(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_MODULA, RING_HASH_MD5, three, 3);
    assert_non_null(r);
    assert_int_equal(ring_points(r), 0);
    check_vectors(r, three_addr, "vectors_modula_md5.txt");
    ring_free(r);
}

/* The order of the server list changes indexes, not placement. */
static void test_server_order_does_not_matter(void **state)
{
    (void)state;
    const struct ring_server rev[] = {three[2], three[0], three[1]};
    const char *const rev_addr[] = {three_addr[2], three_addr[0], three_addr[1]};
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, rev, 3);
    assert_non_null(r);
    check_vectors(r, rev_addr, "vectors_ketama_weighted.txt");
    ring_free(r);
}

/* --- labels and weights -------------------------------------------------------------- */

static void test_label_rule(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, three, 3);
    assert_non_null(r);
    assert_string_equal(ring_label(r, 0), "127.0.0.1");
    assert_string_equal(ring_label(r, 1), "127.0.0.1:11212");
    /* MD5("127.0.0.1-0") = 7fa4ffbd...: its four points, all server 0 */
    static const uint32_t first[] = {3187647615u, 2893990766u, 813702075u, 4292932786u};
    for (size_t k = 0; k < 4; k++) {
        bool found = false;
        for (size_t i = 0; i < ring_points(r); i++) {
            uint32_t v;
            size_t s;
            ring_point(r, i, &v, &s);
            if (v == first[k]) {
                assert_int_equal(s, 0);
                found = true;
            }
        }
        assert_true(found);
    }
    ring_free(r);

    /* Port 11212 keeps its port in the label, so "host:11211" and "host"
     * mean the same server but "host:11212" does not. */
    const struct ring_server a[] = {{"10.0.0.7", 11211, 1, NULL}, {"10.0.0.8", 11212, 1, NULL}};
    r = ring_new(RING_KETAMA, RING_HASH_MD5, a, 2);
    assert_non_null(r);
    assert_string_equal(ring_label(r, 0), "10.0.0.7");
    assert_string_equal(ring_label(r, 1), "10.0.0.8:11212");
    ring_free(r);
}

/* twemproxy's "host:port:weight name": the name is hashed instead, so servers
 * renamed after the reference servers land exactly where those did. */
static void test_name_replaces_label(void **state)
{
    (void)state;
    const struct ring_server named[] = {
        {"192.168.1.10", 22122, 1, "127.0.0.1"},
        {"192.168.1.11", 22122, 1, "127.0.0.1:11212"},
        {"192.168.1.12", 11211, 1, "127.0.0.1:11213"},
    };
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, named, 3);
    assert_non_null(r);
    assert_string_equal(ring_label(r, 0), "127.0.0.1");
    check_vectors(r, three_addr, "vectors_ketama_weighted.txt");
    ring_free(r);
}

static void count_points(const struct ring *r, size_t *per, size_t n)
{
    memset(per, 0, n * sizeof(*per));
    for (size_t i = 0; i < ring_points(r); i++) {
        uint32_t v, prev = 0;
        size_t s;
        ring_point(r, i, &v, &s);
        if (i > 0) {
            size_t ps;
            ring_point(r, i - 1, &prev, &ps);
            assert_true(prev <= v);
        }
        assert_true(s < n);
        per[s]++;
    }
}

static void test_weights_1_2_3(void **state)
{
    (void)state;
    const struct ring_server w[] = {
        {"127.0.0.1", 11211, 1, NULL},
        {"127.0.0.1", 11212, 2, NULL},
        {"127.0.0.1", 11213, 3, NULL},
    };
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, w, 3);
    assert_non_null(r);
    size_t per[3];
    count_points(r, per, 3);
    assert_int_equal(per[0], 80);
    assert_int_equal(per[1], 160);
    assert_int_equal(per[2], 240);
    assert_int_equal(ring_points(r), 480);
    /* the heavier server owns proportionally more keys */
    size_t owned[3] = {0};
    char key[32];
    for (int i = 0; i < 6000; i++)
        owned[ring_lookup(r, key, (size_t)snprintf(key, sizeof(key), "key%d", i))]++;
    assert_in_range(owned[0], 600, 1400);
    assert_in_range(owned[2], 2400, 3600);
    ring_free(r);
}

/* The float32 formula: at equal weights 160 points, except where float
 * rounding leaves 39.999996 digests (25, 47, 50 servers: 156 points, as in
 * libmemcached; computed independently with Python's struct 'f' rounding);
 * weight 0 counts as 1. */
static void test_points_formula(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 24; n++)
        assert_int_equal(ring_ketama_points(1, n, n), 160);
    assert_int_equal(ring_ketama_points(1, 25, 25), 156);
    assert_int_equal(ring_ketama_points(1, 26, 26), 160);
    assert_int_equal(ring_ketama_points(1, 47, 47), 156);
    assert_int_equal(ring_ketama_points(1, 50, 50), 156);
    assert_int_equal(ring_ketama_points(1, 6, 3), 80);
    assert_int_equal(ring_ketama_points(3, 6, 3), 240);
    assert_int_equal(ring_ketama_points(1, 1001, 2), 0); /* 0.08 digests: no point */
    const struct ring_server z[] = {{"a", 1, 0, NULL}, {"b", 1, 1, NULL}};
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, z, 2);
    assert_non_null(r);
    size_t per[2];
    count_points(r, per, 2);
    assert_int_equal(per[0], 160);
    assert_int_equal(per[1], 160);
    ring_free(r);
}

/* --- lookups ----------------------------------------------------------------------------- */

static void test_single_server_and_empty_key(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, three, 1);
    assert_non_null(r);
    assert_int_equal(ring_lookup(r, "anything", 8), 0);
    size_t out[3];
    assert_int_equal(ring_successors(r, "anything", 8, out, 3), 1);
    assert_int_equal(out[0], 0);
    ring_free(r);

    /* an empty key hashes to 0: the first point's server */
    r = ring_new(RING_KETAMA, RING_HASH_MD5, three, 3);
    assert_non_null(r);
    uint32_t v;
    size_t s;
    ring_point(r, 0, &v, &s);
    assert_int_equal(ring_lookup(r, "", 0), s);
    ring_free(r);
    r = ring_new(RING_MODULA, RING_HASH_MD5, three, 3);
    assert_int_equal(ring_lookup(r, "", 0), 0);
    ring_free(r);
    assert_null(ring_new(RING_KETAMA, RING_HASH_MD5, three, 0));
}

static void check_successors(enum ring_dist dist, const struct ring_server *s, size_t n)
{
    struct ring *r = ring_new(dist, RING_HASH_MD5, s, n);
    assert_non_null(r);
    char key[32];
    size_t all[16], two[16];
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)snprintf(key, sizeof(key), "succ:%d", i);
        size_t got = ring_successors(r, key, len, all, n + 3);
        assert_int_equal(got, n);
        for (size_t a = 0; a < got; a++)
            for (size_t b = a + 1; b < got; b++)
                assert_int_not_equal(all[a], all[b]);
        if (dist != RING_RANDOM) {
            assert_int_equal(all[0], ring_lookup(r, key, len));
            /* asking for fewer gives a prefix of the same walk */
            assert_int_equal(ring_successors(r, key, len, two, 2), 2);
            assert_memory_equal(two, all, 2 * sizeof(size_t));
        }
    }
    assert_int_equal(ring_successors(r, "k", 1, all, 0), 0);
    ring_free(r);
}

static const struct ring_server five[] = {
    {"10.1.0.1", 11211, 1, NULL}, {"10.1.0.2", 11211, 2, NULL}, {"10.1.0.3", 11211, 1, NULL},
    {"10.1.0.4", 11211, 1, NULL}, {"10.1.0.5", 11211, 3, NULL},
};

static void test_successors_distinct(void **state)
{
    (void)state;
    check_successors(RING_KETAMA, five, 5);
    check_successors(RING_MODULA, five, 5);
    check_successors(RING_RANDOM, five, 5);
    check_successors(RING_KETAMA, three, 3);
}

/* A server too light for any point owns nothing but is still a successor. */
static void test_off_ring_server(void **state)
{
    (void)state;
    const struct ring_server w[] = {{"big", 11211, 1000, NULL}, {"tiny", 11211, 1, NULL}};
    struct ring *r = ring_new(RING_KETAMA, RING_HASH_MD5, w, 2);
    assert_non_null(r);
    assert_int_equal(ring_points(r), 316); /* floorf(1000/1001 * 40 * 2) * 4 */
    size_t out[2];
    for (int i = 0; i < 100; i++) {
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(ring_lookup(r, key, len), 0);
        assert_int_equal(ring_successors(r, key, len, out, 2), 2);
        assert_int_equal(out[1], 1);
    }
    ring_free(r);
}

/* Adding a 4th server to 3 moves about a quarter of the keys under ketama,
 * all of them to the new server; modula moves about three quarters. */
static void test_adding_a_server_moves_its_share(void **state)
{
    (void)state;
    const struct ring_server four[] = {three[0], three[1], three[2],
                                       {"127.0.0.1", 11214, 1, NULL}};
    enum ring_dist dists[] = {RING_KETAMA, RING_MODULA};
    for (size_t d = 0; d < 2; d++) {
        struct ring *before = ring_new(dists[d], RING_HASH_MD5, three, 3);
        struct ring *after = ring_new(dists[d], RING_HASH_MD5, four, 4);
        assert_non_null(before);
        assert_non_null(after);
        size_t moved = 0, to_new = 0;
        char key[32];
        for (int i = 0; i < 10000; i++) {
            size_t len = (size_t)snprintf(key, sizeof(key), "user:%d", i);
            size_t a = ring_lookup(before, key, len), b = ring_lookup(after, key, len);
            moved += a != b;
            to_new += a != b && b == 3;
        }
        if (dists[d] == RING_KETAMA) {
            assert_in_range(moved, 1800, 3200);
            assert_int_equal(to_new, moved);
        } else {
            assert_in_range(moved, 6500, 8500);
        }
        ring_free(before);
        ring_free(after);
    }
}

static void test_modula_weights(void **state)
{
    (void)state;
    const struct ring_server w[] = {{"a", 11211, 1, NULL}, {"b", 11211, 2, NULL}};
    struct ring *r = ring_new(RING_MODULA, RING_HASH_CRC32A, w, 2);
    assert_non_null(r);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        size_t len = (size_t)snprintf(key, sizeof(key), "m%d", i);
        uint32_t h = ring_hash_key(RING_HASH_CRC32A, key, len);
        assert_int_equal(ring_lookup(r, key, len), h % 3 == 0 ? 0 : 1);
    }
    ring_free(r);
}

static void test_random_reaches_every_server(void **state)
{
    (void)state;
    struct ring *r = ring_new(RING_RANDOM, RING_HASH_MD5, five, 5);
    assert_non_null(r);
    size_t seen[5] = {0};
    for (int i = 0; i < 5000; i++)
        seen[ring_lookup(r, "same", 4)]++;
    for (size_t i = 0; i < 5; i++)
        assert_in_range(seen[i], 700, 1300); /* uniform: weights do not apply */
    ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_reference_values),
        cmocka_unit_test(test_hash_hsieh),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_continuum_matches_libmemcached),
        cmocka_unit_test(test_ketama_vectors),
        cmocka_unit_test(test_modula_vectors),
        cmocka_unit_test(test_server_order_does_not_matter),
        cmocka_unit_test(test_label_rule),
        cmocka_unit_test(test_name_replaces_label),
        cmocka_unit_test(test_weights_1_2_3),
        cmocka_unit_test(test_points_formula),
        cmocka_unit_test(test_single_server_and_empty_key),
        cmocka_unit_test(test_successors_distinct),
        cmocka_unit_test(test_off_ring_server),
        cmocka_unit_test(test_adding_a_server_moves_its_share),
        cmocka_unit_test(test_modula_weights),
        cmocka_unit_test(test_random_reaches_every_server),
    };
    return cmocka_run_group_tests_name("cluster_ring", tests, NULL, NULL);
}
