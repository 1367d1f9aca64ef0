/*
 * conn: the read -> process -> write cycle of one connection.
 *
 * Invariants:
 *  - Only the owning worker thread touches a connection (except the atomic
 *    fields that `stats conns` reads under the worker's lock).
 *  - While output is pending we do not read: a client that pipelines without
 *    reading replies is throttled by its own socket buffer, and the server's
 *    memory per connection stays bounded.
 *  - One event callback does a bounded amount of work (CONN_BURST rounds), so
 *    one busy client cannot starve the others on its worker.
 */
#include "core/conn.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/netstat.h"
#include "core/worker.h"

#define READ_CHUNK 16384        /* free space wanted before each recv() */
#define BUF_KEEP (256 * 1024)   /* larger idle buffers are released */
#define CONN_BURST 4            /* read+process+write rounds per event */
#define UDP_MAX_PAYLOAD 1400    /* memcached's UDP datagram size */
#define UDP_HEADER 8

enum io { IO_DONE, IO_AGAIN, IO_ERROR };

static void on_event(evutil_socket_t fd, short what, void *arg);
static void on_udp(evutil_socket_t fd, short what, void *arg);

static void watch(struct conn *c, short what)
{
    event_del(c->ev);
    event_assign(c->ev, c->worker->base, c->fd, what | EV_PERSIST,
                 c->kind == CONN_UDP ? on_udp : on_event, c);
    event_add(c->ev, NULL);
}

static void link_conn(struct conn *c)
{
    struct worker *w = c->worker;
    pthread_mutex_lock(&w->lock);
    c->next = w->conns;
    c->prev = NULL;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    pthread_mutex_unlock(&w->lock);
}

static void unlink_conn(struct conn *c)
{
    struct worker *w = c->worker;
    pthread_mutex_lock(&w->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    pthread_mutex_unlock(&w->lock);
}

struct conn *conn_open(struct worker *w, int fd, enum conn_kind kind,
                       const struct conn_handler *h, const char *peer, const char *local)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c)
        c->ev = event_new(w->base, fd, EV_READ | EV_PERSIST,
                          kind == CONN_UDP ? on_udp : on_event, c);
    if (!c || !c->ev) {
        log_error("out of memory for a new connection; closing fd %d", fd);
        free(c);
        close(fd);
        if (kind != CONN_UDP)
            netstat_conn_closed();
        return NULL;
    }
    c->fd = fd;
    c->kind = kind;
    c->worker = w;
    c->handler = h;
    snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
    snprintf(c->local, sizeof(c->local), "%s", local ? local : "");
    atomic_store_explicit(&c->state, "conn_new_cmd", memory_order_relaxed);
    atomic_store_explicit(&c->last_cmd_time, clock_now(), memory_order_relaxed);
    link_conn(c); /* counted in netstat by the accepting thread */
    if (h->opened)
        h->opened(c);
    event_add(c->ev, NULL);
    log_trace("<%d new %s client connection", fd, kind == CONN_UNIX ? "unix" : "tcp");
    return c;
}

void conn_close(struct conn *c)
{
    log_trace("<%d connection closed.", c->fd);
    if (c->handler->closed)
        c->handler->closed(c);
    unlink_conn(c);
    event_free(c->ev);
    if (c->wake)
        event_free(c->wake);
    close(c->fd);
    if (c->kind != CONN_UDP)
        netstat_conn_closed();
    buf_free(&c->rbuf);
    buf_free(&c->wbuf);
    free(c);
}

void conn_close_after_write(struct conn *c) { c->closing = true; }

/* Make room for a recv(): drop consumed bytes, then ensure READ_CHUNK free. */
static bool make_room(struct conn *c)
{
    struct buf *b = &c->rbuf;
    if (c->rpos == b->len) {
        b->len = c->rpos = 0;
        if (b->cap > BUF_KEEP)
            buf_free(b);
    } else if (c->rpos > 0 && b->cap - b->len < READ_CHUNK) {
        buf_consume(b, c->rpos);
        c->rpos = 0;
    }
    return buf_reserve(b, READ_CHUNK);
}

/* One recv(), into the direct target if one is set. *n gets the byte count. */
static enum io read_some(struct conn *c, size_t *n)
{
    char *dst;
    size_t room;
    if (c->direct.left > 0) {
        dst = c->direct.ptr;
        room = c->direct.left;
    } else {
        if (!make_room(c))
            return IO_ERROR;
        dst = c->rbuf.data + c->rbuf.len;
        room = c->rbuf.cap - c->rbuf.len;
    }
    ssize_t r = recv(c->fd, dst, room, 0);
    if (r > 0) {
        *n = (size_t)r;
        if (c->direct.left > 0) {
            c->direct.ptr += r;
            c->direct.left -= (size_t)r;
        } else {
            c->rbuf.len += (size_t)r;
        }
        netstat_bytes_read((uint64_t)r);
        return IO_DONE;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return IO_AGAIN;
    return IO_ERROR; /* 0 = orderly close by the peer */
}

/* Send pending output. IO_AGAIN if the kernel did not take all of it. */
static enum io flush(struct conn *c)
{
    struct buf *b = &c->wbuf;
    while (c->wpos < b->len) {
        ssize_t r = send(c->fd, b->data + c->wpos, b->len - c->wpos, MSG_NOSIGNAL);
        if (r > 0) {
            c->wpos += (size_t)r;
            netstat_bytes_written((uint64_t)r);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IO_AGAIN;
        if (r < 0 && errno == EINTR)
            continue;
        return IO_ERROR;
    }
    b->len = c->wpos = 0;
    if (b->cap > BUF_KEEP)
        buf_free(b);
    return IO_DONE;
}

void conn_send(struct conn *c)
{
    if (c->kind == CONN_UDP || c->want_write)
        return; /* on_event flushes when the socket drains */
    enum io w = flush(c);
    if (w == IO_ERROR || c->wbuf.oom) {
        conn_close(c);
    } else if (w == IO_AGAIN) {
        c->want_write = true;
        watch(c, EV_WRITE);
    }
}

static void run_process(struct conn *c)
{
    enum conn_action a = c->handler->process(c);
    c->more = (a == CONN_MORE);
    if (a == CONN_CLOSE)
        c->closing = true;
    if (a == CONN_PARK) {
        c->parked = true;
        event_del(c->ev); /* neither reads nor writes until woken */
    }
}

/* A parked connection was woken: carry on as if it had asked for more. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (!c->parked)
        return;
    event_del(c->wake); /* a pending timeout, if the wake came first */
    c->parked = false;
    c->more = true;     /* parking happens only in process(), never mid-write */
    watch(c, EV_READ);
    event_active(c->ev, EV_READ, 0);
}

struct event *conn_wake_event(struct conn *c)
{
    if (!c->wake)
        c->wake = event_new(c->worker->base, -1, 0, on_wake, c);
    return c->wake;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct conn *c = arg;

    if (c->want_write) {
        if (!(what & EV_WRITE))
            return;
        enum io w = flush(c);
        if (w == IO_AGAIN)
            return;
        c->want_write = false;
        if (w == IO_ERROR || c->closing || c->rbuf.oom || c->wbuf.oom) {
            conn_close(c);
            return;
        }
        watch(c, EV_READ);
    }

    for (int round = 0; round < CONN_BURST; round++) {
        bool drained = false;
        if (c->more) {
            run_process(c);
        } else {
            size_t n = 0;
            bool was_direct = c->direct.left > 0;
            size_t room = was_direct ? c->direct.left : 0;
            enum io r = read_some(c, &n);
            if (r == IO_AGAIN)
                break;
            if (r == IO_ERROR) {
                conn_close(c);
                return;
            }
            if (!was_direct)
                room = c->rbuf.cap - (c->rbuf.len - n);
            drained = n < room;
            if (c->direct.left == 0)
                run_process(c);
        }
        if (c->parked)
            return; /* its output waits for conn_wake_event */
        enum io w = flush(c);
        if (w == IO_ERROR || c->rbuf.oom || c->wbuf.oom) {
            conn_close(c);
            return;
        }
        if (w == IO_AGAIN) {
            c->want_write = true;
            watch(c, EV_WRITE);
            return;
        }
        if (c->closing) {
            conn_close(c);
            return;
        }
        if (drained && !c->more)
            break;
    }
    if (c->more) {
        netstat_conn_yield();
        event_active(c->ev, EV_READ, 0); /* come back after the other clients */
    }
}

/* --- UDP ---------------------------------------------------------------------
 * Each datagram carries one request behind an 8-byte frame header
 * (request id, sequence number, datagram count, reserved). The reply is cut
 * into datagrams of at most UDP_MAX_PAYLOAD bytes, each with its own header. */

static void udp_send_reply(struct conn *c)
{
    const size_t chunk = UDP_MAX_PAYLOAD - UDP_HEADER;
    size_t len = c->wbuf.len;
    size_t total = len ? (len + chunk - 1) / chunk : 0;
    if (total > 0xffff) {
        log_info("UDP reply of %zu bytes is too large; dropped", len);
        return;
    }
    for (size_t i = 0; i < total; i++) {
        unsigned char pkt[UDP_MAX_PAYLOAD];
        size_t n = len - i * chunk < chunk ? len - i * chunk : chunk;
        pkt[0] = (unsigned char)(c->udp_reqid >> 8);
        pkt[1] = (unsigned char)c->udp_reqid;
        pkt[2] = (unsigned char)(i >> 8);
        pkt[3] = (unsigned char)i;
        pkt[4] = (unsigned char)(total >> 8);
        pkt[5] = (unsigned char)total;
        pkt[6] = pkt[7] = 0;
        memcpy(pkt + UDP_HEADER, c->wbuf.data + i * chunk, n);
        ssize_t r = sendto(c->fd, pkt, n + UDP_HEADER, 0, (struct sockaddr *)&c->udp_peer,
                           c->udp_peerlen);
        if (r > 0)
            netstat_bytes_written((uint64_t)r);
    }
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct conn *c = arg;
    for (int i = 0; i < 64; i++) { /* bounded: let other events run */
        c->rbuf.len = c->rpos = 0;
        c->wbuf.len = c->wpos = 0;
        if (!buf_reserve(&c->rbuf, 65536))
            return;
        c->udp_peerlen = sizeof(c->udp_peer);
        ssize_t r = recvfrom(fd, c->rbuf.data, c->rbuf.cap, 0, (struct sockaddr *)&c->udp_peer,
                             &c->udp_peerlen);
        if (r < 0)
            return;
        netstat_bytes_read((uint64_t)r);
        if (r <= UDP_HEADER)
            continue;
        const unsigned char *h = (const unsigned char *)c->rbuf.data;
        c->udp_reqid = (uint16_t)(h[0] << 8 | h[1]);
        if ((h[4] << 8 | h[5]) > 1)
            continue; /* multi-datagram requests are not supported, as in memcached */
        c->rbuf.len = (size_t)r;
        c->rpos = UDP_HEADER;
        c->closing = false;
        if (c->handler->reset)
            c->handler->reset(c);
        enum conn_action a;
        int guard = 0;
        do {
            a = c->handler->process(c);
        } while (a == CONN_MORE && ++guard < 1024);
        c->direct.left = 0; /* a value that did not fit the datagram is dropped */
        if (c->wbuf.oom) {
            buf_free(&c->wbuf);
            continue;
        }
        udp_send_reply(c);
    }
}
