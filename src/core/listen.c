/*
 * listen: open listening sockets and accept clients on the main thread.
 *
 * When accept() runs out of descriptors (EMFILE) the listener is paused for
 * a few milliseconds instead of spinning, as memcached does
 * (listen_disabled_num counts those pauses).
 */
#include "core/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/log.h"
#include "core/netstat.h"

#define MAX_LISTENERS 32
#define ACCEPT_BURST 64
#define TOO_MANY "ERROR Too many open connections\r\n"

struct listener {
    int fd;
    enum conn_kind kind;
    struct event *ev;
    char local[64];
};

/* Owned by the main thread, which opens, accepts on and closes listeners. */
static struct {
    struct listener l[MAX_LISTENERS];
    int n;
    struct worker *ws;
    int nworkers;
    const struct conn_handler *h;
    unsigned maxconns;
    int tcp_port;
    struct event *resume;
    _Atomic bool paused; /* also read by workers (stats accepting_conns) */
} L;

static void format_addr(const struct sockaddr *sa, const char *proto, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%s:%d", proto, host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, n, "%s:[%s]:%d", proto, host, port);
    } else {
        snprintf(out, n, "unix:%.*s", (int)(n > 6 ? n - 6 : 0), ((const struct sockaddr_un *)sa)->sun_path);
    }
}

static void pause_accepting(void)
{
    if (L.paused)
        return;
    L.paused = true;
    netstat_listen_disabled();
    for (int i = 0; i < L.n; i++)
        if (L.l[i].ev)
            event_del(L.l[i].ev);
    struct timeval tv = {0, 10000};
    evtimer_add(L.resume, &tv);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    L.paused = false;
    for (int i = 0; i < L.n; i++)
        if (L.l[i].ev)
            event_add(L.l[i].ev, NULL);
}

static bool over_limit(void)
{
    return netstat_curr_connections() >= L.maxconns;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct listener *l = arg;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                log_info("Too many open connections");
                pause_accepting();
            }
            return; /* EAGAIN and transient errors: wait for the next event */
        }
        if (over_limit()) {
            if (write(c, TOO_MANY, sizeof(TOO_MANY) - 1) < 0) {
                /* the client is being turned away; nothing more to do */
            }
            close(c);
            netstat_conn_rejected();
            continue;
        }
        netstat_conn_opened(); /* counted now, so a burst cannot overshoot -c */
        char peer[64];
        if (l->kind == CONN_TCP) {
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            format_addr((struct sockaddr *)&ss, "tcp", peer, sizeof(peer));
        } else {
            snprintf(peer, sizeof(peer), "%s", l->local);
        }
        workers_dispatch(L.ws, L.nworkers, c, l->kind, L.h, peer, l->local);
    }
}

static bool add_listener(struct event_base *base, int fd, enum conn_kind kind,
                         const struct sockaddr *sa, char *err, size_t errlen)
{
    if (L.n == MAX_LISTENERS) {
        snprintf(err, errlen, "too many listening sockets (max %d)", MAX_LISTENERS);
        close(fd);
        return false;
    }
    struct listener *l = &L.l[L.n++];
    l->fd = fd;
    l->kind = kind;
    format_addr(sa, kind == CONN_UDP ? "udp" : "tcp", l->local, sizeof(l->local));
    if (kind == CONN_UDP)
        return true; /* UDP sockets are served by workers, see open_udp */
    l->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (!l->ev || event_add(l->ev, NULL) != 0) {
        snprintf(err, errlen, "cannot watch listening socket %s", l->local);
        return false;
    }
    return true;
}

/* Split "host", "host:port", "[v6]:port" into host and port strings. */
static void split_host(const char *item, int default_port, char *host, size_t hn, char *port,
                       size_t pn)
{
    if (strncmp(item, "notls:", 6) == 0)
        item += 6;
    snprintf(port, pn, "%d", default_port);
    const char *colon = strrchr(item, ':');
    if (item[0] == '[') {
        const char *close = strchr(item, ']');
        size_t len = close ? (size_t)(close - item - 1) : strlen(item + 1);
        snprintf(host, hn, "%.*s", (int)len, item + 1);
        if (close && close[1] == ':')
            snprintf(port, pn, "%s", close + 2);
    } else if (colon && strchr(item, ':') == colon) {
        snprintf(host, hn, "%.*s", (int)(colon - item), item);
        snprintf(port, pn, "%s", colon + 1);
    } else {
        snprintf(host, hn, "%s", item);
    }
}

static bool open_inet(struct event_base *base, const char *item, int port, int socktype,
                      int backlog, char *err, size_t errlen)
{
    char host[256], portstr[16];
    split_host(item ? item : "", port, host, sizeof(host), portstr, sizeof(portstr));
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = socktype};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "getaddrinfo(%s): %s", host[0] ? host : "*", gai_strerror(rc));
        return false;
    }
    int opened = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int copies = socktype == SOCK_DGRAM ? L.nworkers : 1;
        for (int k = 0; k < copies; k++) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0)
                continue;
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (socktype == SOCK_DGRAM)
                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
                (socktype == SOCK_STREAM && listen(fd, backlog) != 0)) {
                snprintf(err, errlen, "failed to listen on %s port %s: %s", host[0] ? host : "*",
                         portstr, strerror(errno));
                close(fd);
                freeaddrinfo(res);
                return false;
            }
            struct sockaddr_storage bound;
            socklen_t bl = sizeof(bound);
            getsockname(fd, (struct sockaddr *)&bound, &bl);
            if (socktype == SOCK_STREAM && L.tcp_port == 0)
                L.tcp_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
            if (!add_listener(base, fd, socktype == SOCK_DGRAM ? CONN_UDP : CONN_TCP,
                              (struct sockaddr *)&bound, err, errlen)) {
                freeaddrinfo(res);
                return false;
            }
            if (socktype == SOCK_DGRAM)
                workers_dispatch(L.ws, L.nworkers, fd, CONN_UDP, L.h, "", L.l[L.n - 1].local);
            opened++;
        }
    }
    freeaddrinfo(res);
    if (!opened) {
        snprintf(err, errlen, "failed to listen on %s port %s", host[0] ? host : "*", portstr);
        return false;
    }
    return true;
}

static bool open_unix(struct event_base *base, const char *path, int mask, int backlog, char *err,
                      size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long: %s", path);
        return false;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* a stale socket from a previous run, as memcached does */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket(): %s", strerror(errno));
        return false;
    }
    mode_t old = umask((mode_t)(~mask & 0777));
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, backlog) != 0) {
        snprintf(err, errlen, "failed to listen on unix socket %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    return add_listener(base, fd, CONN_UNIX, (struct sockaddr *)&sa, err, errlen);
}

bool listen_start(struct event_base *base, const struct listen_config *cfg, struct worker *ws,
                  int nworkers, const struct conn_handler *h, char *err, size_t errlen)
{
    L.ws = ws;
    L.nworkers = nworkers;
    L.h = h;
    L.maxconns = cfg->maxconns;
    L.resume = evtimer_new(base, on_resume, NULL);
    if (cfg->unix_path && cfg->unix_path[0])
        return open_unix(base, cfg->unix_path, cfg->unix_mask, cfg->backlog, err, errlen);

    char *list = strdup(cfg->addrs && cfg->addrs[0] ? cfg->addrs : "");
    if (!list) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    bool ok = true;
    char *save = NULL;
    char *item = strtok_r(list, ",", &save);
    do {
        if (cfg->port > 0)
            ok = open_inet(base, item, cfg->port, SOCK_STREAM, cfg->backlog, err, errlen);
        if (ok && cfg->udp_port > 0)
            ok = open_inet(base, item, cfg->udp_port, SOCK_DGRAM, 0, err, errlen);
    } while (ok && item && (item = strtok_r(NULL, ",", &save)) != NULL);
    free(list);
    return ok;
}

void listen_each(void (*fn)(int fd, const char *local, bool udp, void *arg), void *arg)
{
    for (int i = 0; i < L.n; i++)
        fn(L.l[i].fd, L.l[i].local, L.l[i].kind == CONN_UDP, arg);
}

int listen_count(void)
{
    int n = 0;
    for (int i = 0; i < L.n; i++)
        n += L.l[i].kind != CONN_UDP;
    return n;
}

int listen_tcp_port(void) { return L.tcp_port; }

bool listen_accepting(void) { return !L.paused; }

void listen_stop(void)
{
    for (int i = 0; i < L.n; i++) {
        if (L.l[i].kind == CONN_UDP)
            continue;
        if (L.l[i].ev)
            event_free(L.l[i].ev);
        close(L.l[i].fd);
    }
    if (L.resume)
        event_free(L.resume);
    L.n = 0;
    L.resume = NULL;
}
