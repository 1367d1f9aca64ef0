/*
 * proxy/client: client connections: accept, read and parse, write replies.
 *
 * Reading parses as many whole requests as the input holds and hands each
 * to route.c; a storage command waits until its data block is complete, so
 * route.c always sees a request with all of its bytes. Replies go out in
 * request order: client_advance() moves every finished creq at the head of
 * the queue into `out`, and the flush pass sends it.
 *
 * Backpressure: with PX_CLIENT_PIPELINE requests in flight, or 4 MB of
 * replies unsent, the client stops being read until that drains, so one
 * client pipelining without reading cannot grow the proxy's memory.
 */
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/proxy.h"

#define READ_CHUNK 16384
#define BUF_KEEP (256 * 1024)
#define OUT_HIGH (4u * 1024 * 1024)

static void on_event(evutil_socket_t fd, short what, void *arg);

static void client_close(struct client *c)
{
    struct px *px = c->px;
    route_client_gone(c);
    if (c->dirty) {
        struct client **pp = &px->dirty_cli;
        while (*pp && *pp != c)
            pp = &(*pp)->dirty_next;
        if (*pp)
            *pp = c->dirty_next;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        px->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->ev);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    c->pool->nclients--;
    px->nclients--;
    free(c);
}

void client_close_all(struct px *px)
{
    while (px->clients)
        client_close(px->clients);
}

void px_client_dirty(struct client *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = c->px->dirty_cli;
    c->px->dirty_cli = c;
    px_schedule(c->px);
}

static void set_events(struct client *c)
{
    short what = 0;
    if (!c->paused && !c->closing)
        what |= EV_READ;
    if (c->want_write)
        what |= EV_WRITE;
    if (what == c->evmask)
        return;
    c->evmask = what;
    event_del(c->ev);
    if (what) {
        event_assign(c->ev, c->px->base, c->fd, what | EV_PERSIST, on_event, c);
        event_add(c->ev, NULL);
    }
}

void client_advance(struct client *c)
{
    while (route_pop_reply(c, &c->out))
        ;
    px_client_dirty(c);
}

/* Parse and route everything complete in `in`. */
static void parse_input(struct client *c)
{
    struct proto_req req;
    while (c->inpos < c->in.len && !c->closing && c->nreq < PX_CLIENT_PIPELINE &&
           c->out.len - c->outpos < OUT_HIGH) {
        const char *p = c->in.data + c->inpos;
        size_t len = c->in.len - c->inpos;
        if (c->swallow) {
            size_t n = c->swallow < len ? c->swallow : len;
            c->swallow -= n;
            c->inpos += n;
            continue;
        }
        enum proto_status st = proto_text_parse(p, len, &req);
        if (st == PROTO_NEED_MORE)
            break;
        if (st == PROTO_CLOSE) {
            c->closing = true;
            break;
        }
        if (st == PROTO_ERROR) {
            c->inpos += req.nread;
            c->swallow = req.swallow;
            if (!req.noreply) {
                char line[300];
                int n = snprintf(line, sizeof(line), "%s\r\n", req.error);
                route_local(c, line, (size_t)n);
            }
            c->pool->errors++;
            continue;
        }
        size_t ndata = 0;
        if ((req.cmd >= PROTO_CMD_SET && req.cmd <= PROTO_CMD_CAS) || req.cmd == PROTO_CMD_MS ||
            req.cmd == PROTO_CMD_APPLY) {
            ndata = (size_t)req.nbytes + 2;
            if (len < req.nread + ndata)
                break;
        }
        c->inpos += req.nread + ndata;
        route_request(c, &req, p, req.nread, p + req.nread, ndata);
    }
    c->paused = c->nreq >= PX_CLIENT_PIPELINE || c->out.len - c->outpos >= OUT_HIGH;
    if (c->inpos == c->in.len) {
        c->in.len = c->inpos = 0;
        if (c->in.cap > BUF_KEEP)
            buf_free(&c->in);
    }
}

static void on_readable(struct client *c)
{
    for (int round = 0; round < 4 && !c->paused && !c->closing; round++) {
        if (c->inpos > 0 && c->in.cap - c->in.len < READ_CHUNK) {
            buf_consume(&c->in, c->inpos);
            c->inpos = 0;
        }
        if (!buf_reserve(&c->in, READ_CHUNK)) {
            client_close(c);
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t r = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (r <= 0) {
            if (r == 0)
                c->pool->client_eof++;
            else
                c->pool->client_err++;
            client_close(c);
            return;
        }
        c->in.len += (size_t)r;
        parse_input(c);
        if ((size_t)r < room)
            break;
    }
    client_advance(c);
}

/* Send `out`; decide what to wait for next. Closes c on error or when a
 * quit/close request's turn has come. */
void client_flush(struct client *c)
{
    while (c->outpos < c->out.len) {
        ssize_t r = send(c->fd, c->out.data + c->outpos, c->out.len - c->outpos, MSG_NOSIGNAL);
        if (r > 0) {
            c->outpos += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->pool->client_err++;
        client_close(c);
        return;
    }
    if (c->outpos == c->out.len) {
        c->out.len = c->outpos = 0;
        if (c->out.cap > BUF_KEEP)
            buf_free(&c->out);
        if (c->out.oom || (c->closing && route_quit_reached(c))) {
            client_close(c);
            return;
        }
    }
    bool was_paused = c->paused;
    c->paused = c->nreq >= PX_CLIENT_PIPELINE || c->out.len - c->outpos >= OUT_HIGH;
    c->want_write = c->outpos < c->out.len;
    /* input left over while paused: parse it now that there is room */
    if (was_paused && !c->paused && c->inpos < c->in.len) {
        parse_input(c);
        client_advance(c);
    }
    set_events(c);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct client *c = arg;
    if (what & EV_WRITE) {
        px_client_dirty(c);
    }
    if (what & EV_READ)
        on_readable(c);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    struct pool *p = arg;
    struct px *px = p->px;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_error("tandem-proxy: pool '%s': accept: %s", p->cf->name, strerror(errno));
            return;
        }
        if (p->cf->client_connections > 0 && p->nclients >= (unsigned)p->cf->client_connections) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            ssize_t ignored = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
            (void)ignored;
            close(fd);
            p->rejected_clients++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct client *c = calloc(1, sizeof(*c));
        if (c)
            c->ev = event_new(px->base, fd, EV_READ | EV_PERSIST, on_event, c);
        if (!c || !c->ev) {
            free(c);
            close(fd);
            continue;
        }
        c->px = px;
        c->pool = p;
        c->fd = fd;
        c->evmask = EV_READ;
        event_add(c->ev, NULL);
        c->next = px->clients;
        if (px->clients)
            px->clients->prev = c;
        px->clients = c;
        p->nclients++;
        p->client_connections++;
        px->nclients++;
        px->total_clients++;
    }
}

bool client_listen(struct pool *p, char *err, size_t errlen)
{
    const struct conf_pool *cf = p->cf;
    int fd = -1;
    if (cf->listen_path) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(cf->listen_path) >= sizeof(un.sun_path)) {
            snprintf(err, errlen, "pool '%s': listen path too long", cf->name);
            return false;
        }
        strcpy(un.sun_path, cf->listen_path);
        unlink(cf->listen_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
            listen(fd, cf->backlog) < 0) {
            snprintf(err, errlen, "pool '%s': cannot listen on %s: %s", cf->name, cf->listen_path,
                     strerror(errno));
            if (fd >= 0)
                close(fd);
            return false;
        }
        if (cf->listen_perm >= 0)
            chmod(cf->listen_path, (mode_t)cf->listen_perm);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE}, *ai;
        char port[16];
        snprintf(port, sizeof(port), "%d", cf->listen_port);
        int rc = getaddrinfo(cf->listen_host, port, &hints, &ai);
        if (rc != 0) {
            snprintf(err, errlen, "pool '%s': cannot resolve listen host '%s': %s", cf->name,
                     cf->listen_host, gai_strerror(rc));
            return false;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, cf->backlog) < 0) {
            snprintf(err, errlen, "pool '%s': cannot listen on %s:%d: %s", cf->name,
                     cf->listen_host, cf->listen_port, strerror(errno));
            if (fd >= 0)
                close(fd);
            freeaddrinfo(ai);
            return false;
        }
        freeaddrinfo(ai);
    }
    p->lfd = fd;
    p->lev = event_new(p->px->base, fd, EV_READ | EV_PERSIST, on_accept, p);
    if (!p->lev || event_add(p->lev, NULL) < 0) {
        snprintf(err, errlen, "pool '%s': out of memory", cf->name);
        return false;
    }
    return true;
}
