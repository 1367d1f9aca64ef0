/*
 * proxy/server: one backend connection, pipelined, and its health.
 *
 * Requests are appended to `out` and their frags to the FIFO in the same
 * order, so the n-th reply read belongs to the n-th frag. Output is written
 * by the flush pass, once per loop iteration for everything queued in it:
 * a client's pipeline of 50 gets costs one send() per backend, not 50.
 *
 * Health. Any failure (refused connect, reset, EOF with requests in flight,
 * a timeout, a reply rsp_parse calls invalid) closes the connection and
 * fails every frag in flight with "SERVER_ERROR backend <host:port> ...",
 * which route.c may retry on another copy. `failures` counts consecutive
 * failures; a reply resets it. With auto_eject_hosts, reaching
 * server_failure_limit ejects the server: the pool stops using it, and
 * every server_retry_timeout ms a `version` probe goes out; a VERSION reply
 * brings the server back. Without auto_eject_hosts a dead server stays in
 * place and each request to it fails fast (connect refused) or times out.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/proxy.h"

#define READ_CHUNK 16384
#define BUF_KEEP (256 * 1024)

static void on_event(evutil_socket_t fd, short what, void *arg);

bool server_init(struct server *s, struct pool *p, size_t idx, const struct conf_server *cf,
                 char *err, size_t errlen)
{
    s->pool = p;
    s->idx = idx;
    s->cf = cf;
    s->fd = -1;
    if (cf->path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&s->sa;
        if (strlen(cf->path) >= sizeof(un->sun_path)) {
            snprintf(err, errlen, "line %d: server socket path too long: %s", cf->line, cf->path);
            return false;
        }
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, cf->path);
        s->salen = sizeof(*un);
        return true;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    char port[16];
    snprintf(port, sizeof(port), "%d", cf->port);
    int rc = getaddrinfo(cf->host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "line %d: server %s: cannot resolve '%s': %s", cf->line, cf->label,
                 cf->host, gai_strerror(rc));
        return false;
    }
    memcpy(&s->sa, ai->ai_addr, ai->ai_addrlen);
    s->salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static void drop_conn(struct server *s)
{
    if (s->ev)
        event_free(s->ev);
    s->ev = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->state = SRV_IDLE;
    s->want_write = false;
    s->out.len = s->outpos = 0;
    s->in.len = s->inpos = 0;
    memset(&s->rsp, 0, sizeof(s->rsp));
    if (s->out.cap > BUF_KEEP)
        buf_free(&s->out);
    if (s->in.cap > BUF_KEEP)
        buf_free(&s->in);
}

void server_free(struct server *s)
{
    struct px *px = s->pool->px;
    drop_conn(s);
    while (s->head) {
        struct frag *f = s->head;
        s->head = f->snext;
        f->in_flight = false;
        if (!f->rq)
            px_frag_put(px, f);
    }
    buf_free(&s->out);
    buf_free(&s->in);
}

static void watch(struct server *s, short what)
{
    event_del(s->ev);
    event_assign(s->ev, s->pool->px->base, s->fd, what | EV_PERSIST, on_event, s);
    event_add(s->ev, NULL);
}

/* Ask the flush pass to fail s (used where failing at once would re-enter). */
static void fail_later(struct server *s, const char *reason)
{
    snprintf(s->fail_reason, sizeof(s->fail_reason), "%s", reason);
    px_server_dirty(s);
}

void server_connect(struct server *s)
{
    if (s->state != SRV_IDLE || s->fail_reason[0])
        return;
    s->connects++;
    int fd = socket(s->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_later(s, strerror(errno));
        return;
    }
    if (s->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (s->pool->cf->tcpkeepalive)
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    s->fd = fd;
    s->ev = event_new(s->pool->px->base, fd, EV_WRITE | EV_PERSIST, on_event, s);
    if (!s->ev) {
        fail_later(s, "out of memory");
        return;
    }
    if (connect(fd, (struct sockaddr *)&s->sa, s->salen) == 0) {
        s->state = SRV_UP;
        watch(s, EV_READ);
        px_server_dirty(s);
        return;
    }
    if (errno != EINPROGRESS) {
        char why[80];
        snprintf(why, sizeof(why), "connect failed (%s)", strerror(errno));
        fail_later(s, why);
        return;
    }
    s->state = SRV_CONNECTING;
    event_add(s->ev, NULL);
    log_debug("proxy: connecting to %s", s->cf->label);
}

void server_enqueue(struct server *s, struct frag *f)
{
    f->srv = s;
    f->snext = NULL;
    f->in_flight = true;
    f->failed = false;
    f->t_sent = px_now_us();
    if (s->tail)
        s->tail->snext = f;
    else
        s->head = f;
    s->tail = f;
    s->nout++;
    s->requests++;
    if (s->state == SRV_IDLE)
        server_connect(s);
    px_server_dirty(s);
}

static void eject(struct server *s)
{
    struct pool *p = s->pool;
    s->ejected = true;
    s->ejections++;
    s->retry_at_ms = px_now_ms() + (uint64_t)p->cf->server_retry_timeout_ms;
    log_error("tandem-proxy: pool '%s': ejected %s after %u consecutive failures; probing it "
              "again in %d ms", p->cf->name, s->cf->label, s->failures,
              p->cf->server_retry_timeout_ms);
    if (!pool_rebuild(p))
        log_error("tandem-proxy: pool '%s': out of memory rebuilding the ring", p->cf->name);
}

static void restore(struct server *s)
{
    struct pool *p = s->pool;
    s->ejected = false;
    s->failures = 0;
    log_error("tandem-proxy: pool '%s': %s answers again; back in the pool", p->cf->name,
              s->cf->label);
    if (!pool_rebuild(p))
        log_error("tandem-proxy: pool '%s': out of memory rebuilding the ring", p->cf->name);
}

void server_fail(struct server *s, const char *reason)
{
    struct px *px = s->pool->px;
    struct frag *list = s->head;
    bool had_work = list != NULL || s->probing;
    s->head = s->tail = NULL;
    s->nout = 0;
    s->fail_reason[0] = 0;
    drop_conn(s);
    s->failures++;
    s->errors++;
    log_info("tandem-proxy: pool '%s': backend %s: %s", s->pool->cf->name, s->cf->label, reason);
    if (s->ejected)
        s->retry_at_ms = px_now_ms() + (uint64_t)s->pool->cf->server_retry_timeout_ms;
    else if (s->pool->cf->auto_eject_hosts &&
             s->failures >= (unsigned)s->pool->cf->server_failure_limit)
        eject(s);
    s->probing = false;
    (void)had_work;
    while (list) {
        struct frag *f = list;
        list = f->snext;
        f->snext = NULL;
        f->in_flight = false;
        if (!f->rq) {
            px_frag_put(px, f);
            continue;
        }
        f->failed = true;
        f->cls = RSP_SERVER_ERROR;
        f->rsp.len = 0;
        buf_printf(&f->rsp, "SERVER_ERROR backend %s: %s\r\n", s->cf->label, reason);
        route_frag_done(f);
    }
}

/* A whole reply for the head frag is at in[inpos..inpos+len). */
static void deliver(struct server *s, size_t len, enum rsp_class cls)
{
    struct frag *f = s->head;
    s->head = f->snext;
    if (!s->head)
        s->tail = NULL;
    s->nout--;
    f->snext = NULL;
    f->in_flight = false;
    uint64_t us = px_now_us() - f->t_sent;
    px_hist_add(&s->lat, us);
    s->failures = 0;
    if (cls == RSP_SERVER_ERROR)
        s->server_errors++;
    if (f->probe) {
        s->probing = false;
        if (s->ejected)
            restore(s);
        px_frag_put(s->pool->px, f);
        return;
    }
    if (!f->rq) {
        px_frag_put(s->pool->px, f);
        return;
    }
    f->cls = cls;
    f->rsp.len = 0;
    buf_append(&f->rsp, s->in.data + s->inpos, len);
    route_frag_done(f);
}

/* Parse every complete reply in `in`. False if s failed. */
static bool parse_replies(struct server *s)
{
    while (s->inpos < s->in.len) {
        if (!s->head) {
            server_fail(s, "sent bytes no request asked for (not a memcached server?)");
            return false;
        }
        struct rsp *r = &s->rsp;
        enum rsp_status st =
            rsp_parse(s->head->kind, s->in.data + s->inpos, s->in.len - s->inpos, r);
        if (st == RSP_NEED_MORE)
            break;
        if (st == RSP_INVALID) {
            server_fail(s, "sent an invalid reply (connection reset)");
            return false;
        }
        size_t len = r->len;
        enum rsp_class cls = r->cls;
        memset(r, 0, sizeof(*r));
        deliver(s, len, cls);
        s->inpos += len;
    }
    if (s->inpos == s->in.len) {
        s->in.len = s->inpos = 0;
        if (s->in.cap > BUF_KEEP)
            buf_free(&s->in);
    }
    return true;
}

static void on_readable(struct server *s)
{
    for (int round = 0; round < 8; round++) {
        if (s->inpos > 0 && s->in.cap - s->in.len < READ_CHUNK) {
            /* keep the reply being parsed at the front; its scan offset is relative */
            buf_consume(&s->in, s->inpos);
            s->inpos = 0;
        }
        if (!buf_reserve(&s->in, READ_CHUNK)) {
            server_fail(s, "out of memory");
            return;
        }
        size_t room = s->in.cap - s->in.len;
        ssize_t r = recv(s->fd, s->in.data + s->in.len, room, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (r <= 0) {
            if (r == 0 && !s->head) {
                log_debug("proxy: %s closed an idle connection", s->cf->label);
                drop_conn(s);
                return;
            }
            char why[96];
            snprintf(why, sizeof(why), "%s", r == 0 ? "closed the connection" : strerror(errno));
            server_fail(s, why);
            return;
        }
        s->in.len += (size_t)r;
        s->bytes_in += (uint64_t)r;
        if (!parse_replies(s))
            return;
        if ((size_t)r < room)
            return;
    }
}

void server_flush(struct server *s)
{
    if (s->fail_reason[0]) {
        char why[sizeof(s->fail_reason)];
        memcpy(why, s->fail_reason, sizeof(why));
        server_fail(s, why);
        return;
    }
    if (s->state == SRV_IDLE && s->outpos < s->out.len)
        server_connect(s);
    if (s->state != SRV_UP || s->want_write)
        return;
    while (s->outpos < s->out.len) {
        ssize_t r = send(s->fd, s->out.data + s->outpos, s->out.len - s->outpos, MSG_NOSIGNAL);
        if (r > 0) {
            s->outpos += (size_t)r;
            s->bytes_out += (uint64_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->want_write = true;
            watch(s, EV_READ | EV_WRITE);
            return;
        }
        char why[96];
        snprintf(why, sizeof(why), "write failed (%s)", strerror(errno));
        server_fail(s, why);
        return;
    }
    s->out.len = s->outpos = 0;
    if (s->out.cap > BUF_KEEP)
        buf_free(&s->out);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    if (s->state == SRV_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            char why[96];
            snprintf(why, sizeof(why), "connect failed (%s)", strerror(err));
            server_fail(s, why);
            px_schedule(s->pool->px);
            return;
        }
        s->state = SRV_UP;
        watch(s, EV_READ);
        log_debug("proxy: connected to %s", s->cf->label);
        server_flush(s);
        px_schedule(s->pool->px);
        return;
    }
    if (what & EV_WRITE) {
        s->want_write = false;
        watch(s, EV_READ);
        server_flush(s);
        if (s->state != SRV_UP)
            return;
    }
    if (what & EV_READ)
        on_readable(s);
    px_schedule(s->pool->px);
}

void server_tick(struct server *s, uint64_t now_us)
{
    const struct conf_pool *cf = s->pool->cf;
    if (s->head && cf->timeout_ms > 0 && now_us - s->head->t_sent > (uint64_t)cf->timeout_ms * 1000) {
        char why[64];
        snprintf(why, sizeof(why), "timed out after %d ms", cf->timeout_ms);
        s->timeouts++;
        server_fail(s, why);
        return;
    }
    if (s->ejected && !s->probing && now_us / 1000 >= s->retry_at_ms) {
        struct frag *f = px_frag_get(s->pool->px);
        if (!f)
            return;
        f->probe = true;
        f->kind = RSP_KIND_VERSION;
        s->probing = true;
        server_enqueue(s, f);
        buf_append(&s->out, "version\r\n", 9);
    }
}
