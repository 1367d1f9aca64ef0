/*
 * proxy/px: the event loop's shared machinery.
 *
 * The flush pass is one libevent event, activated (not timed) whenever
 * something is marked dirty. It runs after the callbacks of the current
 * loop iteration, so everything they queued goes out in one send() per
 * socket; and since it is the only place that writes to clients, it is the
 * only place a client can be closed by a write error, with nothing above it
 * on the stack.
 *
 * The tick (every few ms, from the shortest pool timeout) checks timeouts
 * and sends health probes to ejected servers.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/proxy.h"

uint64_t px_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t px_now_ms(void) { return px_now_us() / 1000u; }

void px_schedule(struct px *px)
{
    if (px->flush_armed)
        return;
    px->flush_armed = true;
    event_active(px->flush_ev, EV_TIMEOUT, 0);
}

void px_server_dirty(struct server *s)
{
    if (s->dirty)
        return;
    s->dirty = true;
    s->dirty_next = s->pool->px->dirty_srv;
    s->pool->px->dirty_srv = s;
    px_schedule(s->pool->px);
}

struct frag *px_frag_get(struct px *px)
{
    struct frag *f = px->free_frag;
    if (f) {
        px->free_frag = f->free_next;
    } else if (!(f = calloc(1, sizeof(*f)))) {
        return NULL;
    }
    struct buf keep = f->rsp;
    memset(f, 0, sizeof(*f));
    f->rsp = keep;
    f->rsp.len = 0;
    f->rsp.oom = false;
    return f;
}

void px_frag_put(struct px *px, struct frag *f)
{
    if (f->rsp.cap > 65536)
        buf_free(&f->rsp);
    f->rq = NULL;
    f->free_next = px->free_frag;
    px->free_frag = f;
}

/* Servers first (their failures complete creqs and dirty clients), then
 * clients; repeat while either list refills. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct px *px = arg;
    px->flush_armed = false;
    for (int round = 0; round < 64 && (px->dirty_srv || px->dirty_cli); round++) {
        while (px->dirty_srv) {
            struct server *s = px->dirty_srv;
            px->dirty_srv = s->dirty_next;
            s->dirty = false;
            server_flush(s);
        }
        while (px->dirty_cli && !px->dirty_srv) {
            struct client *c = px->dirty_cli;
            px->dirty_cli = c->dirty_next;
            c->dirty = false;
            client_flush(c);
        }
    }
    if (px->dirty_srv || px->dirty_cli)
        px_schedule(px);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct px *px = arg;
    uint64_t now = px_now_us();
    for (size_t i = 0; i < px->npools; i++)
        for (size_t j = 0; j < px->pools[i].nservers; j++)
            server_tick(&px->pools[i].servers[j], now);
    if (px->dirty_srv || px->dirty_cli)
        px_schedule(px);
}

bool px_start(struct px *px, char *err, size_t errlen)
{
    px->started_ms = px_now_ms();
    px->flush_ev = event_new(px->base, -1, 0, on_flush, px);
    px->tick_ev = event_new(px->base, -1, EV_PERSIST, on_tick, px);
    px->pools = calloc(px->conf.npools, sizeof(*px->pools));
    if (!px->flush_ev || !px->tick_ev || !px->pools)
        return false;
    int tick_ms = 100;
    for (size_t i = 0; i < px->conf.npools; i++) {
        const struct conf_pool *cf = &px->conf.pools[i];
        px->npools = i + 1;
        if (!pool_init(px, &px->pools[i], cf, err, errlen) || !client_listen(&px->pools[i], err, errlen))
            return false;
        if (cf->timeout_ms > 0 && cf->timeout_ms / 4 < tick_ms)
            tick_ms = cf->timeout_ms / 4 < 5 ? 5 : cf->timeout_ms / 4;
        if (cf->server_retry_timeout_ms / 4 < tick_ms)
            tick_ms = cf->server_retry_timeout_ms / 4 < 5 ? 5 : cf->server_retry_timeout_ms / 4;
        if (cf->preconnect)
            for (size_t j = 0; j < px->pools[i].nservers; j++)
                server_connect(&px->pools[i].servers[j]);
    }
    struct timeval tv = {.tv_sec = tick_ms / 1000, .tv_usec = (tick_ms % 1000) * 1000};
    event_add(px->tick_ev, &tv);
    return true;
}

void px_stop(struct px *px)
{
    client_close_all(px);
    for (size_t i = 0; i < px->npools; i++) {
        struct pool *p = &px->pools[i];
        if (p->lev)
            event_free(p->lev);
        pool_free(p);
    }
    free(px->pools);
    if (px->flush_ev)
        event_free(px->flush_ev);
    if (px->tick_ev)
        event_free(px->tick_ev);
    while (px->free_creq)
        route_creq_free(px);
    while (px->free_frag) {
        struct frag *f = px->free_frag;
        px->free_frag = f->free_next;
        buf_free(&f->rsp);
        free(f);
    }
}
