/* Unit tests for repl/auth: RFC 4231 HMAC-SHA256 vectors, the proof's exact
 * bytes, a mismatch for any changed field, reflection and relay refused,
 * and the password file rules (first line, permissions, empty, too long),
 * with messages that never contain the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/auth.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void check_hmac(const void *key, size_t nkey, const void *msg, size_t nmsg,
                       const char *hex, size_t ncheck)
{
    struct repl_secret *s = repl_auth_secret_new(key, nkey);
    assert_non_null(s);
    uint8_t mac[REPL_AUTH_MAC_LEN], want[REPL_AUTH_MAC_LEN];
    unhex(hex, want, ncheck);
    assert_int_equal(repl_auth_hmac(s, msg, nmsg, mac), REPL_AUTH_OK);
    assert_memory_equal(mac, want, ncheck);
    repl_auth_secret_free(s);
}

/* RFC 4231 section 4, HMAC-SHA-256 results of test cases 1 to 7. */
static void test_rfc4231_vectors(void **state)
{
    (void)state;
    uint8_t k[131], d[50];
    memset(k, 0x0b, 20);
    check_hmac(k, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
    check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
    memset(k, 0xaa, 20);
    memset(d, 0xdd, 50);
    check_hmac(k, 20, d, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
    for (int i = 0; i < 25; i++)
        k[i] = (uint8_t)(i + 1);
    memset(d, 0xcd, 50);
    check_hmac(k, 25, d, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
    memset(k, 0x0c, 20);
    check_hmac(k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b", 16);
    memset(k, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(k, 131, m6, strlen(m6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    check_hmac(k, 131, m7, strlen(m7),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
}

/* --- proofs ---------------------------------------------------------------------- */

static uint8_t pn[32], vn[32];

static struct repl_auth_input base_input(void)
{
    for (int i = 0; i < 32; i++) {
        pn[i] = (uint8_t)(i + 1);
        vn[i] = (uint8_t)(i + 0x21);
    }
    return (struct repl_auth_input){.side = REPL_AUTH_DIALER, .prover_nonce = pn,
                                    .verifier_nonce = vn, .user = "repl", .nuser = 4,
                                    .node = 0x0102};
}

/* The exact bytes of docs/replication.md, computed independently (Python's
 * hmac over "tandem-repl-v1" || side || nonces || user || node LE). */
static void test_proof_known_answer(void **state)
{
    (void)state;
    struct repl_secret *s = repl_auth_secret_new("s3cret", 6);
    struct repl_auth_input in = base_input();
    uint8_t mac[32], want[32];
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);
    unhex("c8e7a5b8646f60ea4f257d22938356c4d52ac3a76870fa3c4b75a69b4b121e80", want, 32);
    assert_memory_equal(mac, want, 32);
    in.side = REPL_AUTH_ACCEPTOR;
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);
    unhex("56c1012ec5b2065c95c01d0c65a1463c5131fec9fa25f7dde46e39fde0adf2df", want, 32);
    assert_memory_equal(mac, want, 32);
    repl_auth_secret_free(s);
}

static void test_proof_verifies(void **state)
{
    (void)state;
    struct repl_secret *a = repl_auth_secret_new("shared", 6);
    struct repl_secret *b = repl_auth_secret_new("shared", 6);
    struct repl_auth_input in = base_input();
    uint8_t mac[32];
    assert_int_equal(repl_auth_nonce(pn), REPL_AUTH_OK);
    assert_int_equal(repl_auth_nonce(vn), REPL_AUTH_OK);
    assert_int_equal(repl_auth_proof(a, &in, mac), REPL_AUTH_OK);
    assert_int_equal(repl_auth_verify(b, &in, mac), REPL_AUTH_OK);
    repl_auth_secret_free(a);
    repl_auth_secret_free(b);
}

/* Change any one thing the proof binds and it no longer verifies. */
static void test_any_changed_field_mismatches(void **state)
{
    (void)state;
    struct repl_secret *s = repl_auth_secret_new("shared", 6);
    struct repl_secret *other = repl_auth_secret_new("sharee", 6);
    struct repl_auth_input in = base_input();
    uint8_t mac[32];
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);

    for (int i = 0; i < 32; i++) {
        pn[i] ^= 0x01;
        assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_E_MISMATCH);
        pn[i] ^= 0x01;
        vn[i] ^= 0x80;
        assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_E_MISMATCH);
        vn[i] ^= 0x80;
    }
    struct repl_auth_input t = in;
    t.user = "repm";
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    t.user = "repl";
    t.nuser = 3;
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    t = in;
    t.node = 0x0103;
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    t.node = 0x0202;
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    t = in;
    t.side = REPL_AUTH_ACCEPTOR;
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    /* nonces swapped: the verifier's view if it mixed up whose is whose */
    t = in;
    t.prover_nonce = vn;
    t.verifier_nonce = pn;
    assert_int_equal(repl_auth_verify(s, &t, mac), REPL_AUTH_E_MISMATCH);
    assert_int_equal(repl_auth_verify(other, &in, mac), REPL_AUTH_E_MISMATCH);
    for (int bit = 0; bit < 256; bit++) {
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_E_MISMATCH);
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_OK);
    repl_auth_secret_free(s);
    repl_auth_secret_free(other);
}

/* An attacker who sends our own nonce back as its challenge gets refused
 * before any MAC is compared. */
static void test_reflection_refused(void **state)
{
    (void)state;
    struct repl_secret *s = repl_auth_secret_new("shared", 6);
    struct repl_auth_input in = base_input();
    in.prover_nonce = vn;
    uint8_t mac[32];
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);
    assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_E_REFLECTED);
    repl_auth_secret_free(s);
}

/* The relay: M dials B and C, picks its nonces so that C's proof to M has
 * exactly the inputs B expects from "C". B and C both accepted, so C's
 * proof says "acceptor"; B expects a dialer's proof and refuses it. */
static void test_relay_between_two_acceptors_refused(void **state)
{
    (void)state;
    struct repl_secret *s = repl_auth_secret_new("shared", 6);
    uint8_t nb[32], nc[32];
    assert_int_equal(repl_auth_nonce(nb), REPL_AUTH_OK);
    assert_int_equal(repl_auth_nonce(nc), REPL_AUTH_OK);
    /* on M->C, C proves as acceptor: prover nonce nc, verifier nonce (M's) = nb */
    struct repl_auth_input c_proves = {.side = REPL_AUTH_ACCEPTOR, .prover_nonce = nc,
                                       .verifier_nonce = nb, .user = "c", .nuser = 1, .node = 3};
    uint8_t mac[32];
    assert_int_equal(repl_auth_proof(s, &c_proves, mac), REPL_AUTH_OK);
    /* on M->B, B checks "C" (really M) as the dialer: M's nonce nc, B's nonce nb */
    struct repl_auth_input b_checks = c_proves;
    b_checks.side = REPL_AUTH_DIALER;
    assert_int_equal(repl_auth_verify(s, &b_checks, mac), REPL_AUTH_E_MISMATCH);
    repl_auth_secret_free(s);
}

static void test_nonces_are_random(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(repl_auth_nonce(a), REPL_AUTH_OK);
    assert_int_equal(repl_auth_nonce(b), REPL_AUTH_OK);
    assert_memory_not_equal(a, b, 32);
}

static void test_input_limits(void **state)
{
    (void)state;
    struct repl_secret *s = repl_auth_secret_new("x", 1);
    struct repl_auth_input in = base_input();
    char user[256];
    memset(user, 'u', sizeof(user));
    in.user = user;
    in.nuser = 255;
    uint8_t mac[32];
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);
    assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_OK);
    in.nuser = 256;
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_E_USER);
    assert_int_equal(repl_auth_verify(s, &in, mac), REPL_AUTH_E_USER);
    in.nuser = 0;
    assert_int_equal(repl_auth_proof(s, &in, mac), REPL_AUTH_OK);
    repl_auth_secret_free(s);

    char big[REPL_AUTH_SECRET_MAX + 1];
    memset(big, 's', sizeof(big));
    assert_null(repl_auth_secret_new("", 0));
    assert_null(repl_auth_secret_new(big, sizeof(big)));
    s = repl_auth_secret_new(big, REPL_AUTH_SECRET_MAX);
    assert_non_null(s);
    repl_auth_secret_free(s);
    repl_auth_secret_free(NULL);
    for (int st = REPL_AUTH_OK; st <= REPL_AUTH_E_NOMEM; st++)
        assert_string_not_equal(repl_auth_strerror((enum repl_auth_status)st),
                                "unknown authentication status");
}

/* --- the password file -------------------------------------------------------------- */

static char dir[64];

static int mkdir_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tandem-auth-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int rmdir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const void *data, size_t n, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* Load a file and check the secret equals `want` by comparing MACs. */
static void expect_secret(const char *path, const char *want)
{
    struct repl_secret *got;
    char msg[512];
    assert_int_equal(repl_auth_secret_load(path, &got, msg, sizeof(msg)), REPL_AUTH_OK);
    assert_string_equal(msg, "");
    struct repl_secret *ref = repl_auth_secret_new(want, strlen(want));
    uint8_t a[32], b[32];
    assert_int_equal(repl_auth_hmac(got, "m", 1, a), REPL_AUTH_OK);
    assert_int_equal(repl_auth_hmac(ref, "m", 1, b), REPL_AUTH_OK);
    assert_memory_equal(a, b, 32);
    repl_auth_secret_free(got);
    repl_auth_secret_free(ref);
}

static void expect_refused(const char *path, enum repl_auth_status st, const char *needle,
                           const char *secret)
{
    struct repl_secret *got = (struct repl_secret *)&got;
    char msg[512];
    assert_int_equal(repl_auth_secret_load(path, &got, msg, sizeof(msg)), st);
    assert_null(got);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, needle));
    if (secret)
        assert_null(strstr(msg, secret));
}

static void test_file_first_line(void **state)
{
    (void)state;
    expect_secret(write_file("a", "hunter2\n", 8, 0600), "hunter2");
    expect_secret(write_file("b", "hunter2", 7, 0400), "hunter2");
    expect_secret(write_file("c", "hunter2\r\n", 9, 0600), "hunter2");
    expect_secret(write_file("d", "line one\nline two\n", 18, 0600), "line one");
    expect_secret(write_file("e", " spaced \n", 9, 0600), " spaced ");
    char max[REPL_AUTH_SECRET_MAX + 2];
    memset(max, 'm', REPL_AUTH_SECRET_MAX);
    max[REPL_AUTH_SECRET_MAX] = '\r';
    max[REPL_AUTH_SECRET_MAX + 1] = '\n';
    const char *p = write_file("f", max, sizeof(max), 0600);
    max[REPL_AUTH_SECRET_MAX] = '\0';
    expect_secret(p, max);
}

static void test_file_permissions(void **state)
{
    (void)state;
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0620, 0602, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused(write_file("p", "topsecret\n", 10, bad[i]), REPL_AUTH_E_PERMS,
                       "chmod 600", "topsecret");
    expect_secret(write_file("p", "topsecret\n", 10, 0600), "topsecret");
    expect_secret(write_file("p", "topsecret\n", 10, 0700), "topsecret");
}

static void test_file_refusals(void **state)
{
    (void)state;
    expect_refused(write_file("empty", "", 0, 0600), REPL_AUTH_E_EMPTY, "empty", NULL);
    expect_refused(write_file("nl", "\nsecond\n", 8, 0600), REPL_AUTH_E_EMPTY, "empty", "second");
    expect_refused(write_file("crlf", "\r\n", 2, 0600), REPL_AUTH_E_EMPTY, "empty", NULL);
    char big[REPL_AUTH_SECRET_MAX + 10];
    memset(big, 'z', sizeof(big));
    expect_refused(write_file("long", big, sizeof(big), 0600), REPL_AUTH_E_TOO_LONG, "longer",
                   "zzzzzzzz");
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    expect_refused(missing, REPL_AUTH_E_FILE, "No such file", NULL);
    expect_refused(dir, REPL_AUTH_E_FILE, "not a regular file", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231_vectors),
        cmocka_unit_test(test_proof_known_answer),
        cmocka_unit_test(test_proof_verifies),
        cmocka_unit_test(test_any_changed_field_mismatches),
        cmocka_unit_test(test_reflection_refused),
        cmocka_unit_test(test_relay_between_two_acceptors_refused),
        cmocka_unit_test(test_nonces_are_random),
        cmocka_unit_test(test_input_limits),
        cmocka_unit_test(test_file_first_line),
        cmocka_unit_test(test_file_permissions),
        cmocka_unit_test(test_file_refusals),
    };
    return cmocka_run_group_tests_name("repl_auth", tests, mkdir_setup, rmdir_teardown);
}
