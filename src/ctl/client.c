/*
 * ctl/client: connect, send and read replies with a timeout on every wait.
 *
 * The read window rbuf holds unread bytes at [rpos, rlen). A line is handed
 * out in place; before reading more, the unread tail moves to the front, so
 * a line can be as long as the window and no longer. A reply that exceeds
 * that is not something a memcached server sends (the longest is a
 * metadump line with a 250-byte key, URL-encoded three times over).
 *
 * Name resolution (getaddrinfo) is the one wait the timeout does not bound;
 * addresses are usually literal IPs, and the resolver has its own timeouts.
 */
#include "ctl/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *ctl_status_name(enum ctl_status st)
{
    switch (st) {
    case CTL_OK: return "ok";
    case CTL_EADDR: return "bad address";
    case CTL_ECONNECT: return "connect failed";
    case CTL_ETIMEOUT: return "timeout";
    case CTL_ECLOSED: return "connection closed";
    case CTL_EIO: return "I/O error";
    case CTL_EPROTO: return "not a memcached protocol reply";
    case CTL_EREFUSED: return "error reply";
    case CTL_ENOMEM: return "out of memory";
    case CTL_EAUTH: return "login failed";
    }
    return "unknown";
}

void ctl_quote(char *out, size_t outlen, const char *p, size_t n, size_t max)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    for (size_t i = 0; i < n && i < max && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    if (n > max && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static double secs(int ms) { return ms / 1000.0; }

/* --- addresses and connect ------------------------------------------------- */

static bool copy_part(char *dst, size_t cap, const char *p, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return true;
}

static bool valid_port(const char *p)
{
    if (!*p)
        return false;
    unsigned long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return false;
    }
    return v > 0;
}

bool ctl_addr_split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *p_host = addr, *colon;
    size_t n_host;
    if (addr[0] == '[') { /* [v6]:port */
        const char *close = strchr(addr, ']');
        if (!close)
            return false;
        p_host = addr + 1;
        n_host = (size_t)(close - p_host);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0')
            return false;
    } else {
        colon = strrchr(addr, ':');
        if (colon && strchr(addr, ':') != colon)
            return false; /* bare IPv6 needs brackets */
        n_host = colon ? (size_t)(colon - addr) : strlen(addr);
    }
    if (!copy_part(host, hostlen, p_host, n_host))
        return false;
    const char *ps = colon ? colon + 1 : "11211";
    if (!copy_part(port, portlen, ps, strlen(ps)))
        return false;
    return valid_port(port);
}

static void set_err(struct ctl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct ctl_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

static enum ctl_status connect_error(struct ctl_conn *c, int e)
{
    if (e == ECONNREFUSED)
        set_err(c, "connection refused (is the node running, and is this its client port, -p?)");
    else if (e == ETIMEDOUT)
        set_err(c, "timed out after %g s connecting (is the host up and the port reachable? "
                   "a slow network needs a larger --timeout)", secs(c->timeout_ms));
    else
        set_err(c, "cannot connect: %s", strerror(e));
    return e == ETIMEDOUT ? CTL_ETIMEOUT : CTL_ECONNECT;
}

/* One non-blocking connect, waited for with poll; 0 or an errno. */
static int try_connect(const struct addrinfo *ai, int timeout_ms, int *fdp)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return errno;
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r;
            do
                r = poll(&pfd, 1, timeout_ms);
            while (r < 0 && errno == EINTR);
            socklen_t len = sizeof(e);
            if (r == 0)
                e = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                e = errno;
        }
    }
    if (e) {
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fdp = fd;
    return 0;
}

void ctl_conn_attach(struct ctl_conn *c, int fd, const char *name, int timeout_ms)
{
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    c->rpos = c->rlen = 0;
    c->err[0] = c->cmd[0] = '\0';
    c->unknown_cmd = false;
    snprintf(c->addr, sizeof(c->addr), "%s", name);
    int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- logging in (-Y) ------------------------------------------------------ */

#define AUTH_ENV "TANDEM_AUTH_FILE"
#define AUTH_HINT "set " AUTH_ENV " to a file whose first line is user:password"

/* The first line of the auth file as "user password" in out. The file's
 * contents never appear in a message. */
static enum ctl_status auth_read(struct ctl_conn *c, const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_err(c, "cannot read %s '%s': %s", AUTH_ENV, path, strerror(errno));
        return CTL_EAUTH;
    }
    char line[512];
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    line[n] = '\0';
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line || colon[1] == '\0' || strchr(line, ' ') != NULL ||
        n + 1 > outlen) {
        set_err(c, "%s '%s': the first line must be user:password, without spaces", AUTH_ENV,
                path);
        explicit_bzero(line, sizeof(line));
        return CTL_EAUTH;
    }
    *colon = ' ';
    memcpy(out, line, n + 1);
    explicit_bzero(line, sizeof(line));
    return CTL_OK;
}

/* If TANDEM_AUTH_FILE is set and the node asks for it (memcached's -Y
 * answers "CLIENT_ERROR unauthenticated" to anything but the login), log
 * in with memcached's ASCII login: a set whose value is "user password".
 * Asking first keeps the login from storing a key on a node without -Y. */
static enum ctl_status auth_login(struct ctl_conn *c)
{
    const char *path = getenv(AUTH_ENV);
    if (path == NULL || *path == '\0')
        return CTL_OK;
    char *line;
    size_t len;
    enum ctl_status st = ctl_conn_send_str(c, "version\r\n");
    if (st == CTL_OK)
        st = ctl_conn_readline(c, &line, &len);
    if (st != CTL_OK || strcmp(line, "CLIENT_ERROR unauthenticated") != 0)
        return st; /* no login needed; any other oddity meets the caller's first command */
    char cred[512], cmd[600];
    if ((st = auth_read(c, path, cred, sizeof(cred))) != CTL_OK)
        return st;
    int n = snprintf(cmd, sizeof(cmd), "set tandemctl 0 0 %zu\r\n%s\r\n", strlen(cred), cred);
    explicit_bzero(cred, sizeof(cred));
    st = ctl_conn_send(c, cmd, (size_t)n);
    explicit_bzero(cmd, sizeof(cmd));
    snprintf(c->cmd, sizeof(c->cmd), "login"); /* not the set line: it is the password's */
    if (st == CTL_OK)
        st = ctl_conn_readline(c, &line, &len);
    if (st != CTL_OK)
        return st;
    if (strcmp(line, "STORED") != 0) {
        set_err(c, "login refused: the user or password in %s '%s' is not in the node's -Y "
                   "file",
                AUTH_ENV, path);
        return CTL_EAUTH;
    }
    return CTL_OK;
}

enum ctl_status ctl_conn_open(struct ctl_conn *c, const char *addr, int timeout_ms)
{
    char host[256], port[16];
    ctl_conn_attach(c, -1, addr, timeout_ms);
    if (!ctl_addr_split(addr, host, sizeof(host), port, sizeof(port))) {
        set_err(c, "bad address (expected HOST:PORT, e.g. 127.0.0.1:11211 or [::1]:11211)");
        return CTL_EADDR;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        set_err(c, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return CTL_EADDR;
    }
    int e = ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        e = try_connect(ai, timeout_ms, &c->fd);
        if (e == 0)
            break;
    }
    freeaddrinfo(res);
    if (e)
        return connect_error(c, e);
    enum ctl_status st = auth_login(c);
    if (st != CTL_OK)
        ctl_conn_close(c);
    return st;
}

void ctl_conn_close(struct ctl_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* --- I/O ---------------------------------------------------------------------- */

/* Wait until fd is ready for `events`; CTL_OK or a timeout/error status. */
static enum ctl_status wait_fd(struct ctl_conn *c, short events)
{
    struct pollfd pfd = {.fd = c->fd, .events = events};
    int r;
    do
        r = poll(&pfd, 1, c->timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        set_err(c, "no %s within %g s while %s '%s' (node stuck or overloaded? "
                   "raise --timeout to wait longer)",
                events == POLLIN ? "reply" : "progress", secs(c->timeout_ms),
                events == POLLIN ? "waiting for the reply to" : "sending", c->cmd);
        return CTL_ETIMEOUT;
    }
    if (r < 0) {
        set_err(c, "poll failed: %s", strerror(errno));
        return CTL_EIO;
    }
    return CTL_OK;
}

static void remember_cmd(struct ctl_conn *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i + 1 < sizeof(c->cmd) && p[i] != '\r' && p[i] != '\n')
        i++;
    memcpy(c->cmd, p, i);
    c->cmd[i] = '\0';
}

enum ctl_status ctl_conn_send(struct ctl_conn *c, const void *p, size_t n)
{
    const char *s = p;
    remember_cmd(c, s, n);
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            enum ctl_status st = wait_fd(c, POLLOUT);
            if (st != CTL_OK)
                return st;
            continue;
        }
        set_err(c, "sending '%s' failed: %s", c->cmd, w < 0 ? strerror(errno) : "closed");
        return (w < 0 && errno != EPIPE && errno != ECONNRESET) ? CTL_EIO : CTL_ECLOSED;
    }
    return CTL_OK;
}

enum ctl_status ctl_conn_send_str(struct ctl_conn *c, const char *s)
{
    return ctl_conn_send(c, s, strlen(s));
}

/* Read more bytes into the window (after compacting it). */
static enum ctl_status fill(struct ctl_conn *c)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen, 0);
        if (r > 0) {
            c->rlen += (size_t)r;
            return CTL_OK;
        }
        if (r == 0) {
            set_err(c, "the server closed the connection before the reply to '%s' was complete "
                       "(is this the client port of tandemd or memcached?)", c->cmd);
            return CTL_ECLOSED;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            set_err(c, "reading the reply to '%s' failed: %s", c->cmd, strerror(errno));
            return CTL_EIO;
        }
        enum ctl_status st = wait_fd(c, POLLIN);
        if (st != CTL_OK)
            return st;
    }
}

enum ctl_status ctl_conn_readline(struct ctl_conn *c, char **line, size_t *len)
{
    size_t scanned = c->rpos;
    for (;;) {
        char *nl = memchr(c->rbuf + scanned, '\n', c->rlen - scanned);
        if (nl) {
            char *start = c->rbuf + c->rpos;
            size_t n = (size_t)(nl - start);
            c->rpos += n + 1;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            start[n] = '\0';
            *line = start;
            *len = n;
            return CTL_OK;
        }
        if (c->rlen - c->rpos >= sizeof(c->rbuf) - 1) {
            char q[80];
            ctl_quote(q, sizeof(q), c->rbuf + c->rpos, c->rlen - c->rpos, 40);
            set_err(c, "not a memcached protocol reply to '%s': a line longer than %d KiB "
                       "starting \"%s\" (is this a memcached client port?)",
                    c->cmd, CTL_RBUF_SIZE / 1024, q);
            return CTL_EPROTO;
        }
        size_t seen = c->rlen - c->rpos; /* no newline in these */
        enum ctl_status st = fill(c);     /* moves the unread bytes to rbuf[0] */
        if (st != CTL_OK)
            return st;
        scanned = seen;
    }
}

enum ctl_status ctl_conn_consume(struct ctl_conn *c, size_t n,
                                 void (*fn)(void *arg, const char *p, size_t len), void *arg)
{
    while (n > 0) {
        if (c->rpos == c->rlen) {
            c->rpos = c->rlen = 0;
            enum ctl_status st = fill(c);
            if (st != CTL_OK)
                return st;
        }
        size_t k = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
        fn(arg, c->rbuf + c->rpos, k);
        c->rpos += k;
        n -= k;
    }
    return CTL_OK;
}

/* --- reply classification ------------------------------------------------------- */

static bool starts(const char *p, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && memcmp(p, w, k) == 0 && (n == k || p[k] == ' ');
}

bool ctl_conn_error_reply(struct ctl_conn *c, const char *line, size_t len)
{
    if (!starts(line, len, "ERROR") && !starts(line, len, "CLIENT_ERROR") &&
        !starts(line, len, "SERVER_ERROR"))
        return false;
    c->unknown_cmd = len == 5;
    if (len == 28 && memcmp(line, "CLIENT_ERROR unauthenticated", 28) == 0) {
        set_err(c, "the node asks for a login (it was started with -Y): " AUTH_HINT);
        return true;
    }
    char q[200];
    ctl_quote(q, sizeof(q), line, len, 150);
    set_err(c, "the server answered '%s' with \"%s\"", c->cmd, q);
    return true;
}

enum ctl_status ctl_conn_bad_reply(struct ctl_conn *c, const char *line, size_t len)
{
    char q[120];
    ctl_quote(q, sizeof(q), line, len, 80);
    set_err(c, "not a memcached protocol reply to '%s': \"%s\" (is this the client port of "
               "tandemd or memcached, not its replication port or another service?)",
            c->cmd, q);
    return CTL_EPROTO;
}
