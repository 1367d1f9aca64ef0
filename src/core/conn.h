/*
 * conn: one client connection and its buffered I/O.
 *
 * The core owns sockets, buffers and events; a protocol handler (the server)
 * owns the meaning of the bytes. The cycle per readable event is:
 *
 *     recv() into rbuf  ->  handler->process(c)  ->  one send() of wbuf
 *
 * process() consumes whole requests from rbuf (conn_consume) and appends
 * replies to wbuf, so a pipeline of N requests costs one read and one write,
 * not N. It returns what it needs next:
 *
 *     CONN_WAIT   all complete requests handled; wait for more input
 *     CONN_MORE   stopped early (output is large, or -R requests ran): flush,
 *                 then call again without waiting for input
 *     CONN_CLOSE  flush what is in wbuf, then close
 *     CONN_PARK   hold everything (no flush, no reads) until the handler
 *                 wakes the connection with conn_wake(): a write that must
 *                 be acknowledged by replicas before it is answered
 *
 * Large values skip rbuf: the handler may point c->direct at an item's memory
 * and the core then reads straight into it, calling process() again when
 * direct.left reaches zero.
 *
 * Writes never block a worker: what the kernel does not take waits in wbuf,
 * and the connection stops reading until it drains (backpressure).
 */
#ifndef TANDEM_CORE_CONN_H
#define TANDEM_CORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"

struct event;
struct worker;
struct conn;

enum conn_action { CONN_WAIT, CONN_MORE, CONN_CLOSE, CONN_PARK };

enum conn_kind { CONN_TCP, CONN_UNIX, CONN_UDP };

struct conn_handler {
    /* A connection was accepted (may set c->ctx). */
    void (*opened)(struct conn *c);
    /* Input is available in rbuf[rpos..len) or a direct read completed. */
    enum conn_action (*process)(struct conn *c);
    /* The connection is going away: release c->ctx. */
    void (*closed)(struct conn *c);
    /* UDP: a new datagram starts; forget everything about the last one
     * (it came from another client, perhaps). Optional. */
    void (*reset)(struct conn *c);
};

struct conn {
    int fd;
    enum conn_kind kind;
    struct worker *worker;
    const struct conn_handler *handler;
    void *ctx;                 /* the handler's per-connection state */

    struct buf rbuf;           /* input; bytes before rpos are consumed */
    size_t rpos;
    struct buf wbuf;           /* output not yet sent; bytes before wpos are sent */
    size_t wpos;

    struct {                   /* read straight into caller memory */
        char *ptr;
        size_t left;
    } direct;

    /* Read by `stats conns` from another thread, hence atomic. */
    const char *_Atomic state; /* conn_parse_cmd, conn_nread, conn_swallow, ... */
    _Atomic uint32_t last_cmd_time; /* clock_now() of the last request */
    char peer[64];             /* "tcp:127.0.0.1:54321" / "unix:/path" */
    char local[64];            /* listener address, for stats conns */

    /* UDP: the request's 8-byte frame header and where replies go */
    uint16_t udp_reqid;
    struct sockaddr_storage udp_peer;
    socklen_t udp_peerlen;

    struct event *ev;
    bool want_write;           /* waiting for EPOLLOUT */
    bool closing;              /* flush then close */
    bool more;                 /* process() asked to be called again */
    bool parked;               /* CONN_PARK: waiting for conn_wake() */
    struct event *wake;        /* wakes a parked connection; made on first park */
    struct conn *next;         /* the worker's list of live connections */
    struct conn *prev;
};

/* Unconsumed input. */
static inline const char *conn_rdata(const struct conn *c) { return c->rbuf.data + c->rpos; }
static inline size_t conn_rlen(const struct conn *c) { return c->rbuf.len - c->rpos; }

/* Mark `n` bytes of input consumed. */
static inline void conn_consume(struct conn *c, size_t n) { c->rpos += n; }

/* Start serving an accepted socket on worker `w` (called on w's thread). */
struct conn *conn_open(struct worker *w, int fd, enum conn_kind kind,
                       const struct conn_handler *h, const char *peer, const char *local);

/* Send what is in wbuf now (for output produced outside process(), e.g. a
 * log stream); waits for writability if the socket is full. May close (and
 * free) the connection on a write error. */
void conn_send(struct conn *c);

/* The event that wakes `c` from CONN_PARK (NULL if out of memory). Another
 * thread may event_active() it; the owner may event_add() it with a timeout.
 * Either way process() runs again on c's worker, and the handler must
 * cancel anything that could still activate it before c is closed. */
struct event *conn_wake_event(struct conn *c);

/* Close now, without flushing (used at shutdown). */
void conn_close(struct conn *c);

/* Ask the core to close `c` once its output is flushed. */
void conn_close_after_write(struct conn *c);

#endif
