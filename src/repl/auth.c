/*
 * Replication link authentication. See auth.h for the protocol and why
 * each field is in the MAC.
 *
 * Every buffer that ever holds secret bytes (the file read buffer, the
 * secret itself, a computed MAC being compared) is wiped with
 * OPENSSL_cleanse, which the compiler may not optimise away.
 */
#include "repl/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define LABEL_LEN (sizeof(REPL_AUTH_LABEL) - 1)
#define PROOF_MSG_MAX \
    (LABEL_LEN + 1 + 2 * REPL_AUTH_NONCE_LEN + REPL_AUTH_USER_MAX + 2)

struct repl_secret {
    size_t n;
    unsigned char key[];
};

/* --- secrets -------------------------------------------------------------------- */

struct repl_secret *repl_auth_secret_new(const void *p, size_t n)
{
    if (n == 0 || n > REPL_AUTH_SECRET_MAX)
        return NULL;
    struct repl_secret *s = OPENSSL_malloc(sizeof(*s) + n);
    if (!s)
        return NULL;
    s->n = n;
    memcpy(s->key, p, n);
    return s;
}

void repl_auth_secret_free(struct repl_secret *s)
{
    if (s)
        OPENSSL_clear_free(s, sizeof(*s) + s->n);
}

/* Read up to `cap` bytes of the file (all of it if shorter). */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The first line of buf[0..n): its length without "\n" or "\r\n". */
static size_t first_line(const char *buf, size_t n)
{
    const char *nl = memchr(buf, '\n', n);
    size_t len = nl ? (size_t)(nl - buf) : n;
    if (len && buf[len - 1] == '\r')
        len--;
    return len;
}

/* Open the file and check it is a regular file only its owner can access. */
static enum repl_auth_status open_private(const char *path, int *fd, char *msg, size_t msglen)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        snprintf(msg, msglen, "--repl-password-file %s: %s", path, strerror(errno));
        return REPL_AUTH_E_FILE;
    }
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "--repl-password-file %s: not a regular file", path);
        return REPL_AUTH_E_FILE;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(msg, msglen,
                 "--repl-password-file %s: permissions %04o let group or others access the "
                 "replication secret; refusing it (run: chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return REPL_AUTH_E_PERMS;
    }
    return REPL_AUTH_OK;
}

enum repl_auth_status repl_auth_secret_load(const char *path, struct repl_secret **out,
                                            char *msg, size_t msglen)
{
    char buf[REPL_AUTH_SECRET_MAX + 2]; /* the longest secret plus "\r\n" */
    int fd;
    *out = NULL;
    if (msglen)
        msg[0] = '\0';
    enum repl_auth_status st = open_private(path, &fd, msg, msglen);
    if (st != REPL_AUTH_OK) {
        if (fd >= 0)
            close(fd);
        return st;
    }
    ssize_t n = read_head(fd, buf, sizeof(buf));
    int err = errno;
    close(fd);
    if (n < 0) {
        snprintf(msg, msglen, "--repl-password-file %s: %s", path, strerror(err));
        return REPL_AUTH_E_FILE;
    }
    size_t len = first_line(buf, (size_t)n);
    if (len == 0) {
        st = REPL_AUTH_E_EMPTY;
        snprintf(msg, msglen, "--repl-password-file %s: the first line is empty; put the "
                 "shared secret on it", path);
    } else if (len > REPL_AUTH_SECRET_MAX) {
        st = REPL_AUTH_E_TOO_LONG;
        snprintf(msg, msglen, "--repl-password-file %s: the secret on the first line is longer "
                 "than %d bytes", path, REPL_AUTH_SECRET_MAX);
    } else if (!(*out = repl_auth_secret_new(buf, len))) {
        st = REPL_AUTH_E_NOMEM;
        snprintf(msg, msglen, "--repl-password-file %s: out of memory", path);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return st;
}

/* --- nonces and MACs -------------------------------------------------------------- */

enum repl_auth_status repl_auth_nonce(uint8_t nonce[REPL_AUTH_NONCE_LEN])
{
    return RAND_bytes(nonce, REPL_AUTH_NONCE_LEN) == 1 ? REPL_AUTH_OK : REPL_AUTH_E_CRYPTO;
}

enum repl_auth_status repl_auth_hmac(const struct repl_secret *s, const void *msg, size_t n,
                                     uint8_t mac[REPL_AUTH_MAC_LEN])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), s->key, (int)s->n, msg, n, mac, &len) || len != REPL_AUTH_MAC_LEN)
        return REPL_AUTH_E_CRYPTO;
    return REPL_AUTH_OK;
}

/* The bytes the MAC covers; returns their length, 0 if the user is too long. */
static size_t proof_msg(const struct repl_auth_input *in, unsigned char *m)
{
    if (in->nuser > REPL_AUTH_USER_MAX)
        return 0;
    unsigned char *p = m;
    memcpy(p, REPL_AUTH_LABEL, LABEL_LEN);
    p += LABEL_LEN;
    *p++ = (unsigned char)in->side;
    memcpy(p, in->prover_nonce, REPL_AUTH_NONCE_LEN);
    p += REPL_AUTH_NONCE_LEN;
    memcpy(p, in->verifier_nonce, REPL_AUTH_NONCE_LEN);
    p += REPL_AUTH_NONCE_LEN;
    if (in->nuser)
        memcpy(p, in->user, in->nuser);
    p += in->nuser;
    *p++ = (unsigned char)(in->node & 0xff);
    *p++ = (unsigned char)(in->node >> 8);
    return (size_t)(p - m);
}

enum repl_auth_status repl_auth_proof(const struct repl_secret *s, const struct repl_auth_input *in,
                                      uint8_t mac[REPL_AUTH_MAC_LEN])
{
    unsigned char m[PROOF_MSG_MAX];
    size_t n = proof_msg(in, m);
    if (!n)
        return REPL_AUTH_E_USER;
    return repl_auth_hmac(s, m, n, mac);
}

enum repl_auth_status repl_auth_verify(const struct repl_secret *s,
                                       const struct repl_auth_input *in,
                                       const uint8_t mac[REPL_AUTH_MAC_LEN])
{
    if (CRYPTO_memcmp(in->prover_nonce, in->verifier_nonce, REPL_AUTH_NONCE_LEN) == 0)
        return REPL_AUTH_E_REFLECTED;
    uint8_t want[REPL_AUTH_MAC_LEN];
    enum repl_auth_status st = repl_auth_proof(s, in, want);
    if (st == REPL_AUTH_OK && CRYPTO_memcmp(want, mac, REPL_AUTH_MAC_LEN) != 0)
        st = REPL_AUTH_E_MISMATCH;
    OPENSSL_cleanse(want, sizeof(want));
    return st;
}

const char *repl_auth_strerror(enum repl_auth_status st)
{
    switch (st) {
    case REPL_AUTH_OK: return "ok";
    case REPL_AUTH_E_MISMATCH: return "authentication failed";
    case REPL_AUTH_E_REFLECTED: return "authentication failed (the peer echoed our own challenge)";
    case REPL_AUTH_E_USER: return "replication user name longer than 255 bytes";
    case REPL_AUTH_E_CRYPTO: return "OpenSSL failed to compute random bytes or an HMAC";
    case REPL_AUTH_E_FILE: return "cannot read the replication password file";
    case REPL_AUTH_E_PERMS: return "the replication password file is accessible to group or others (chmod 600 it)";
    case REPL_AUTH_E_EMPTY: return "the replication secret is empty";
    case REPL_AUTH_E_TOO_LONG: return "the replication secret is longer than 1024 bytes";
    case REPL_AUTH_E_NOMEM: return "out of memory";
    }
    return "unknown authentication status";
}
