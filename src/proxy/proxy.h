/*
 * proxy: the router's runtime objects and how they point at each other.
 *
 *   px (one per event loop)
 *    `- pool[]  (one per YAML pool: a listener, a ring, servers)
 *         |- server[]  one backend: one non-blocking connection, an output
 *         |            buffer, and a FIFO of frags sent and not yet answered
 *         `- clients   each with a FIFO of creqs in arrival order
 *
 *   creq  one client request. It becomes frags, one per backend it needs: a
 *         multi-get splits by server, a write to a replicated pool fans out
 *         to the key's copies, a read may be re-sent to the next copy when
 *         one fails. When its last frag is answered the creq builds its
 *         reply; replies leave in creq order, whatever order backends answer.
 *   frag  one request on one backend connection. It sits in that server's
 *         FIFO until the matching reply arrives (backends answer in order),
 *         then holds the reply bytes for its creq.
 *
 * Ownership: a frag in a FIFO belongs to the server; if its client went away
 * meanwhile its creq pointer is NULL and the reply is dropped on arrival.
 * Everything else belongs to its creq, and a creq to its client. creqs and
 * frags are recycled through free lists (with their buffers), so a steady
 * load allocates nothing per request.
 *
 * Nothing happens re-entrantly: a completion or a failure marks clients and
 * servers dirty, and one deferred pass (px_flush) writes them out, so no
 * callback frees an object another callback up the stack still uses.
 */
#ifndef TANDEM_PROXY_PROXY_H
#define TANDEM_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "proto/text.h"
#include "proxy/conf.h"
#include "proxy/rsp.h"

#define PX_VERSION "1.6.18-tandem-proxy-0.1"
#define PX_REPLICAS_MAX 8          /* copies of a key a pool may keep */
#define PX_CLIENT_PIPELINE 1024    /* creqs in flight per client before it stops reading */
#define PX_HIST_BUCKETS 128

struct event;
struct event_base;
struct px;
struct pool;
struct creq;

/* Latency histogram: buckets of 2^(i/4) µs, good for p50/p99 within 19%. */
struct px_hist {
    uint64_t n;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t b[PX_HIST_BUCKETS];
};

void px_hist_add(struct px_hist *h, uint64_t us);
uint64_t px_hist_quantile(const struct px_hist *h, double q);

enum srv_state { SRV_IDLE, SRV_CONNECTING, SRV_UP };

struct frag {
    struct frag *snext;        /* the server's FIFO */
    struct frag *rnext;        /* the creq's list */
    struct frag *free_next;
    struct creq *rq;           /* NULL: orphaned (client gone) or a health probe */
    struct server *srv;
    enum rsp_kind kind;
    bool in_flight;
    bool failed;               /* no reply: rsp holds the SERVER_ERROR line */
    bool probe;
    enum rsp_class cls;
    struct buf rsp;            /* the reply, once answered */
    uint64_t t_sent;           /* µs, for latency and timeouts */
};

struct server {
    struct pool *pool;
    size_t idx;
    const struct conf_server *cf;
    struct sockaddr_storage sa;
    socklen_t salen;
    int fd;
    struct event *ev;
    enum srv_state state;
    bool want_write;
    bool dirty;
    struct server *dirty_next;
    char fail_reason[96];      /* set: fail at the next flush pass */
    struct buf out;
    size_t outpos;
    struct buf in;
    size_t inpos;
    struct rsp rsp;            /* parse state of the reply at inpos */
    struct frag *head, *tail;  /* sent, unanswered, in order */
    unsigned nout;
    unsigned failures;         /* consecutive */
    bool ejected;
    bool probing;
    uint64_t retry_at_ms;
    /* stats */
    uint64_t requests, errors, server_errors, ejections, timeouts, connects;
    uint64_t bytes_out, bytes_in;
    struct px_hist lat;
};

struct pool {
    struct px *px;
    const struct conf_pool *cf;
    struct server *servers;
    size_t nservers;
    struct ring *ring;         /* replicas == 1: live servers only; else all */
    size_t *ring_map;          /* ring index -> server index */
    size_t nlive;
    uint64_t rr;
    int lfd;
    struct event *lev;
    unsigned nclients;
    /* stats */
    uint64_t client_connections, client_eof, client_err;
    uint64_t requests, errors, fragments, failovers, rejected_clients;
    struct px_hist lat;
};

struct client {
    struct px *px;
    struct pool *pool;
    int fd;
    struct event *ev;
    struct buf in;
    size_t inpos;
    size_t swallow;            /* data bytes of a refused storage command still to skip */
    struct buf out;
    size_t outpos;
    struct creq *head, *tail;  /* requests in arrival order */
    unsigned nreq;
    bool want_write;
    short evmask;              /* events registered now */
    bool paused;               /* not reading: too many requests in flight */
    bool closing;              /* close once out is flushed (quit, protocol close) */
    bool dirty;
    struct client *dirty_next;
    struct client *prev, *next; /* px->clients */
};

struct px {
    struct event_base *base;
    struct conf conf;
    struct pool *pools;
    size_t npools;
    struct event *flush_ev;
    bool flush_armed;
    struct event *tick_ev;
    struct server *dirty_srv;
    struct client *dirty_cli;
    struct client *clients;
    struct creq *free_creq;
    struct frag *free_frag;
    uint64_t started_ms;
    uint64_t total_clients;
    unsigned nclients;
};

/* --- px.c: the loop, time, deferred flush -------------------------------- */
/* Open the pools' listeners and start the tick; false with a message. */
bool px_start(struct px *px, char *err, size_t errlen);
/* Close everything (clients too) and free it. */
void px_stop(struct px *px);
uint64_t px_now_us(void);
uint64_t px_now_ms(void);
void px_schedule(struct px *px);
void px_server_dirty(struct server *s);
struct frag *px_frag_get(struct px *px);
void px_frag_put(struct px *px, struct frag *f);

/* --- pool.c: rings, liveness, choosing copies --------------------------- */
bool pool_init(struct px *px, struct pool *p, const struct conf_pool *cf, char *err, size_t errlen);
void pool_free(struct pool *p);
bool pool_rebuild(struct pool *p);
/* The live copies of key, in ring order (owner first); 0 if none is live.
 * *owner gets the key's owner on the full ring (for error messages). */
size_t pool_copies(struct pool *p, const char *key, size_t nkey, struct server **out,
                   struct server **owner);
/* Reorder copies for a read: the one `balance` picks first, then the rest
 * in ring order. */
void pool_read_order(struct pool *p, const char *key, size_t nkey, struct server **c, size_t n);

/* --- server.c: backend connections -------------------------------------- */
bool server_init(struct server *s, struct pool *p, size_t idx, const struct conf_server *cf,
                 char *err, size_t errlen);
void server_free(struct server *s);
/* Put f at the tail of s's FIFO; the caller appends the request bytes to
 * s->out right after. Connects if needed. */
void server_enqueue(struct server *s, struct frag *f);
void server_connect(struct server *s);
/* Write pending output (flush pass). */
void server_flush(struct server *s);
/* Fail now: close, fail every frag in flight with a SERVER_ERROR naming s. */
void server_fail(struct server *s, const char *reason);
/* Once per tick: timeouts, retries, probes of ejected servers. */
void server_tick(struct server *s, uint64_t now_us);

/* --- client.c ------------------------------------------------------------ */
bool client_listen(struct pool *p, char *err, size_t errlen);
void client_close_all(struct px *px);
void client_flush(struct client *c);
void client_advance(struct client *c);
void px_client_dirty(struct client *c);

/* --- route.c: requests into frags, replies out of them ------------------- */
/* Handle one parsed request whose bytes (line, then data block if any) are
 * complete at line[0..nline) + data[0..ndata). */
void route_request(struct client *c, const struct proto_req *req, const char *line, size_t nline,
                   const char *data, size_t ndata);
/* A local reply (error, version, stats) as a creq of its own. */
void route_local(struct client *c, const char *text, size_t n);
/* A frag was answered or failed (called by server.c). */
void route_frag_done(struct frag *f);
/* The client is closing: drop its creqs, orphan frags in flight. */
void route_client_gone(struct client *c);
/* Is the creq at the head of c complete? If so append its reply to out
 * and release it. */
bool route_pop_reply(struct client *c, struct buf *out);
/* true once quit was seen and every earlier reply left */
bool route_quit_reached(const struct client *c);
/* Free one creq from px's free list (shutdown). */
void route_creq_free(struct px *px);

/* --- stats.c ------------------------------------------------------------- */
void stats_write(struct px *px, struct pool *p, struct buf *out);

#endif
