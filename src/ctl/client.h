/*
 * ctl/client: a blocking text-protocol client for tandemctl.
 *
 * tandemctl talks to one node at a time and waits for each answer, so plain
 * blocking-style I/O is the simplest correct design: no event loop, no
 * libevent. The socket is non-blocking underneath only so that every wait
 * (connect, each read, each write) goes through poll() with the user's
 * --timeout: a node that stops making progress for that long is an error,
 * while a large reply that keeps flowing is never cut off.
 *
 * Replies are read through a fixed 64 KiB window (`ctl_conn_readline`,
 * `ctl_conn_consume`), so a metadump of millions of lines streams through
 * constant memory. Every failure is a `ctl_status` plus a sentence in
 * conn->err that names the cause and what to try; callers prefix the address.
 */
#ifndef TANDEM_CTL_CLIENT_H
#define TANDEM_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_RBUF_SIZE (64 * 1024) /* longest reply line accepted */
#define CTL_ADDR_MAX 300          /* "host:port" as typed */
#define CTL_ERR_MAX 400

enum ctl_status {
    CTL_OK = 0,
    CTL_EADDR,    /* the address does not parse or resolve */
    CTL_ECONNECT, /* connect failed (refused, unreachable, ...) */
    CTL_ETIMEOUT, /* no progress within the timeout */
    CTL_ECLOSED,  /* the server closed the connection mid-reply */
    CTL_EIO,      /* a socket error */
    CTL_EPROTO,   /* the bytes are not a memcached protocol reply */
    CTL_EREFUSED, /* the server answered ERROR / CLIENT_ERROR / SERVER_ERROR */
    CTL_ENOMEM,   /* out of memory on our side */
    CTL_EAUTH,    /* no usable login for a node started with -Y */
};

struct ctl_conn {
    int fd;
    int timeout_ms;          /* bound on every single wait */
    char addr[CTL_ADDR_MAX]; /* for messages */
    char err[CTL_ERR_MAX];   /* why the last call failed */
    char cmd[64];            /* the last command sent, for messages */
    bool unknown_cmd;        /* the last error reply was a bare ERROR */
    size_t rpos, rlen;       /* unread bytes are rbuf[rpos, rlen) */
    char rbuf[CTL_RBUF_SIZE];
};

/* Split "host:port", "[v6]:port" or "host" (port 11211) into its parts;
 * false if malformed or a part does not fit. */
bool ctl_addr_split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

/* Connect to addr within timeout_ms, and log in if TANDEM_AUTH_FILE names a
 * file of user:password and the node asks for a login (-Y). On failure the
 * fd is closed and c->err says why. c may be uninitialised memory. */
enum ctl_status ctl_conn_open(struct ctl_conn *c, const char *addr, int timeout_ms);

/* Wrap an already connected socket (tests use a socketpair). */
void ctl_conn_attach(struct ctl_conn *c, int fd, const char *name, int timeout_ms);

/* Close the socket (safe to call twice). */
void ctl_conn_close(struct ctl_conn *c);

/* Send all n bytes. Its first line is remembered as the command that
 * replies and errors refer to. */
enum ctl_status ctl_conn_send(struct ctl_conn *c, const void *p, size_t n);

/* Send a NUL-terminated command (the caller includes "\r\n"). */
enum ctl_status ctl_conn_send_str(struct ctl_conn *c, const char *s);

/* Next reply line, without its "\n" or "\r\n"; *line points into the read
 * window and stays valid until the next read call. The line is NUL-terminated
 * in place. */
enum ctl_status ctl_conn_readline(struct ctl_conn *c, char **line, size_t *len);

/* Read exactly n bytes, handing them to fn in pieces (n may exceed the window). */
enum ctl_status ctl_conn_consume(struct ctl_conn *c, size_t n,
                                 void (*fn)(void *arg, const char *p, size_t len), void *arg);

/* If line is an error reply (ERROR, CLIENT_ERROR ..., SERVER_ERROR ...), set
 * c->err to quote it with the command and return true. */
bool ctl_conn_error_reply(struct ctl_conn *c, const char *line, size_t len);

/* Set c->err to "not a memcached protocol reply to <cmd>: <line>" and return
 * CTL_EPROTO. */
enum ctl_status ctl_conn_bad_reply(struct ctl_conn *c, const char *line, size_t len);

/* Quote up to max bytes of p into out as printable text (\xNN for others). */
void ctl_quote(char *out, size_t outlen, const char *p, size_t n, size_t max);

/* A short name for a status ("timeout", ...). */
const char *ctl_status_name(enum ctl_status st);

#endif
