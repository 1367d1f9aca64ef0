/*
 * auth: the HMAC-SHA256 challenge-response that opens every replication
 * link (docs/replication.md, "Link handshake").
 *
 * Both nodes hold the same secret. Each side that has one sends a CHALLENGE
 * with a fresh random nonce; the other answers with a PROOF:
 *
 *   mac = HMAC-SHA256(secret, "tandem-repl-v1" || side u8 ||
 *                     prover nonce[32] || verifier nonce[32] ||
 *                     user || prover node u16 LE)
 *
 * where side is 0 if the prover dialed the connection and 1 if it accepted
 * it. The verifier recomputes it and compares in constant time.
 *
 *   - the verifier's fresh nonce makes a recorded proof useless later;
 *   - the prover's own nonce is bound too, and a verifier refuses a peer
 *     nonce equal to its own, so a proof cannot be bounced back to its
 *     sender (reflection);
 *   - the side byte stops an attacker who dials two nodes from relaying one
 *     node's proof to the other: both nodes accepted, so both proofs say
 *     "acceptor", while the attacker needs a dialer's proof;
 *   - user and node bind who is proving, so a proof cannot be reused under
 *     another name.
 * The secret itself never crosses the wire, and this module never prints
 * or logs it: errors come back as statuses and messages that name the file,
 * never its contents. Secrets are wiped (OPENSSL_cleanse) when freed, as is
 * every buffer that held one.
 *
 * Thread safety: no global state; a secret is read-only after creation and
 * may be used by several threads at once.
 */
#ifndef TANDEM_REPL_AUTH_H
#define TANDEM_REPL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define REPL_AUTH_NONCE_LEN 32
#define REPL_AUTH_MAC_LEN 32
#define REPL_AUTH_USER_MAX 255
#define REPL_AUTH_SECRET_MAX 1024
#define REPL_AUTH_LABEL "tandem-repl-v1"

enum repl_auth_status {
    REPL_AUTH_OK,
    REPL_AUTH_E_MISMATCH,  /* the proof does not match: wrong secret, or tampered */
    REPL_AUTH_E_REFLECTED, /* the peer's nonce is ours: a reflected challenge */
    REPL_AUTH_E_USER,      /* user name over 255 bytes */
    REPL_AUTH_E_CRYPTO,    /* OpenSSL failed (random bytes or HMAC) */
    REPL_AUTH_E_FILE,      /* the password file cannot be opened or read */
    REPL_AUTH_E_PERMS,     /* the password file is accessible to group or others */
    REPL_AUTH_E_EMPTY,     /* the secret is empty */
    REPL_AUTH_E_TOO_LONG,  /* the secret is over REPL_AUTH_SECRET_MAX bytes */
    REPL_AUTH_E_NOMEM,
};

/* Which end of the TCP connection the prover is. */
enum repl_auth_side { REPL_AUTH_DIALER = 0, REPL_AUTH_ACCEPTOR = 1 };

/* Everything a proof binds, named from the prover's point of view. */
struct repl_auth_input {
    enum repl_auth_side side;      /* the prover's end of the connection */
    const uint8_t *prover_nonce;   /* the nonce the prover sent (its CHALLENGE) */
    const uint8_t *verifier_nonce; /* the nonce the verifier sent */
    const char *user;              /* the prover's user name, as in its PROOF */
    size_t nuser;
    uint16_t node;                 /* the prover's node id, from its HELLO */
};

/* A shared secret, wiped from memory when freed. */
struct repl_secret;

/* Read the secret from the first line of a --repl-password-file (trailing
 * "\n" or "\r\n" stripped). Refuses a file group or others can access, an
 * empty secret, or one over REPL_AUTH_SECRET_MAX bytes; on error msg gets a
 * sentence for the log that names the file and the fix, never the secret. */
enum repl_auth_status repl_auth_secret_load(const char *path, struct repl_secret **out,
                                            char *msg, size_t msglen);

/* A secret from bytes (--repl-password in a config file); NULL if empty, too long or OOM. */
struct repl_secret *repl_auth_secret_new(const void *p, size_t n);

/* Wipe and free a secret (NULL is fine). */
void repl_auth_secret_free(struct repl_secret *s);

/* Fill a fresh random nonce for a CHALLENGE (RAND_bytes). */
enum repl_auth_status repl_auth_nonce(uint8_t nonce[REPL_AUTH_NONCE_LEN]);

/* HMAC-SHA256 of msg under the secret: the primitive beneath the proof. */
enum repl_auth_status repl_auth_hmac(const struct repl_secret *s, const void *msg, size_t n,
                                     uint8_t mac[REPL_AUTH_MAC_LEN]);

/* Compute the PROOF mac for `in`. */
enum repl_auth_status repl_auth_proof(const struct repl_secret *s, const struct repl_auth_input *in,
                                      uint8_t mac[REPL_AUTH_MAC_LEN]);

/* Check a received PROOF mac in constant time: REPL_AUTH_OK, _E_MISMATCH or _E_REFLECTED. */
enum repl_auth_status repl_auth_verify(const struct repl_secret *s,
                                       const struct repl_auth_input *in,
                                       const uint8_t mac[REPL_AUTH_MAC_LEN]);

/* A human-readable description of a status (no file names, no secrets). */
const char *repl_auth_strerror(enum repl_auth_status st);

#endif
