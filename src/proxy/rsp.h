/*
 * proxy/rsp: strict parsing of a backend's replies, as pure functions.
 *
 * The proxy pipelines requests to a backend and matches replies to them in
 * order, so it must know exactly where each reply ends. It also must not
 * trust the backend: a reply that is not one of the shapes the request can
 * produce means the stream is out of step (or the peer is not memcached), and
 * the only safe move is to drop the connection and fail what is in flight.
 * rsp_parse() therefore accepts only the replies memcached 1.6 sends for the
 * request's kind, plus the three error lines any request may get (ERROR,
 * CLIENT_ERROR <msg>, SERVER_ERROR <msg>), and says RSP_INVALID otherwise.
 *
 * Parsing is resumable: a retrieval reply of many VALUE blocks may arrive in
 * pieces, and struct rsp keeps how far the complete blocks reach, so each
 * byte is scanned once however the reply is split.
 */
#ifndef TANDEM_PROXY_RSP_H
#define TANDEM_PROXY_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RSP_VALUE_MAX (1024u * 1024u * 1024u) /* larger blocks are called garbage */

/* What a request expects back. */
enum rsp_kind {
    RSP_KIND_RETRIEVAL, /* get gets gat gats: VALUE blocks then END */
    RSP_KIND_STORE,     /* STORED NOT_STORED EXISTS NOT_FOUND */
    RSP_KIND_DELETE,    /* DELETED NOT_FOUND */
    RSP_KIND_ARITH,     /* <number> NOT_FOUND */
    RSP_KIND_TOUCH,     /* TOUCHED NOT_FOUND */
    RSP_KIND_META,      /* HD EN NF NS EX MN lines, VA <n> + block, ME <key> ... */
    RSP_KIND_VERSION,   /* VERSION <string> */
    RSP_KIND_OK,        /* OK (flush_all, verbosity) */
};

enum rsp_status {
    RSP_OK,        /* a whole reply of r->len bytes is at the front */
    RSP_NEED_MORE, /* not yet complete: call again with more bytes */
    RSP_INVALID,   /* not a reply this request can get: drop the connection */
};

/* How the reply went, for failover and stats. */
enum rsp_class {
    RSP_SUCCESS,      /* a hit, stored, deleted, ... */
    RSP_MISS,         /* END with no VALUE, EN, NOT_FOUND, NF */
    RSP_ERROR,        /* ERROR or CLIENT_ERROR: the request's fault, passed on */
    RSP_SERVER_ERROR, /* SERVER_ERROR: the backend's fault, worth another replica */
};

struct rsp {
    size_t len;           /* RSP_OK: bytes of the whole reply */
    enum rsp_class cls;   /* RSP_OK: how it went */
    unsigned nvalues;     /* retrieval: VALUE blocks seen so far */
    size_t scanned;       /* resumable progress; zero the struct before a new reply */
};

/* Parse the reply at the front of buf[0..len) for a request of `kind`. */
enum rsp_status rsp_parse(enum rsp_kind kind, const char *buf, size_t len, struct rsp *r);

/* Walk the VALUE blocks of a complete, valid retrieval reply: from *pos,
 * the next block's key and whole length (line + data + \r\n). False at END
 * (or an error line). */
bool rsp_next_value(const char *buf, size_t len, size_t *pos, const char **key, size_t *nkey,
                    size_t *blocklen);

/* The meta return code ("HD", "VA", ...) of a valid meta reply, as two bytes. */
static inline bool rsp_meta_code_is(const char *reply, const char *code)
{
    return reply[0] == code[0] && reply[1] == code[1];
}

#endif
