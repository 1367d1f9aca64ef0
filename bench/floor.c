/*
 * bench/floor.c: the least a memcached server can do, as a yardstick.
 *
 * It speaks just enough of the text protocol for the benchmark loads (get,
 * gets, set, stats, version) and stores nothing: every get hits and returns
 * a value of -V bytes, every set is read and answered STORED. It makes the
 * system calls an epoll server cannot avoid and no others: epoll_wait, one
 * recv per readable socket, one send per batch of replies. Its CPU time per
 * operation is therefore the floor any epoll server reaches on this kernel
 * and machine; bench/run.sh's `floor` workload reports it as a ratio against
 * memcached, next to tandemd's.
 *
 * Built with -DFLOOR_URING (and -luring) the same server runs on io_uring
 * instead: one recv or send in flight per connection, and every submission
 * of one turn of the loop goes to the kernel in the single io_uring_enter
 * that also waits for the next completions. That is the floor of the I/O
 * model BENCHMARKS.md names as the only route to target (a).
 *
 * Not a server for anything else: one thread, no limits beyond the buffers,
 * no eviction, no error recovery. Build: gcc -O2 -o floor bench/floor.c
 *
 * Usage: floor -p PORT [-l ADDR] [-V VALUE_BYTES]; memcached's other
 * options (-m -t -c -u ...) are accepted and ignored, so bench/run.sh can
 * start it with the same command line as the real servers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef FLOOR_URING
#include <liburing.h>
#endif

#define RBUF (256 * 1024)

struct conn {
    int fd;
    char *r;         /* RBUF bytes */
    size_t rlen;
    char *w;         /* replies not yet sent */
    size_t wlen, wcap, wpos;
    size_t skip;     /* bytes of a set's data block still to discard */
    bool recving, sending, dead; /* io_uring: operations in flight */
};

/* Counters for `stats`; only the event loop's thread touches them. */
static uint64_t cmd_get, cmd_set;
static char *value; /* -V bytes of 'x' */
static size_t nvalue = 100;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void out(struct conn *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 64 * 1024;
        while (cap < c->wlen + n)
            cap *= 2;
        c->w = realloc(c->w, cap);
        if (c->w == NULL)
            die("realloc");
        c->wcap = cap;
    }
    memcpy(c->w + c->wlen, p, n);
    c->wlen += n;
}

static void outs(struct conn *c, const char *s) { out(c, s, strlen(s)); }

/* Answer one get line (after the command word): a hit for every key. */
static void do_get(struct conn *c, char *p, char *end)
{
    char hdr[300];
    for (;;) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        char *k = p;
        while (p < end && *p != ' ')
            p++;
        int n = snprintf(hdr, sizeof hdr, "VALUE %.*s 0 %zu\r\n", (int)(p - k), k, nvalue);
        out(c, hdr, (size_t)n);
        out(c, value, nvalue);
        out(c, "\r\n", 2);
        cmd_get++;
    }
    outs(c, "END\r\n");
}

/* Handle every complete request in the read buffer. */
static void process(struct conn *c)
{
    size_t pos = 0;
    while (pos < c->rlen) {
        if (c->skip > 0) {
            size_t n = c->rlen - pos < c->skip ? c->rlen - pos : c->skip;
            pos += n;
            c->skip -= n;
            continue;
        }
        char *line = c->r + pos;
        char *nl = memchr(line, '\n', c->rlen - pos);
        if (nl == NULL)
            break;
        char *end = nl > line && nl[-1] == '\r' ? nl - 1 : nl;
        pos = (size_t)(nl - c->r) + 1;
        if (end - line > 4 && memcmp(line, "get ", 4) == 0)
            do_get(c, line + 4, end);
        else if (end - line > 5 && memcmp(line, "gets ", 5) == 0)
            do_get(c, line + 5, end);
        else if (end - line > 4 && memcmp(line, "set ", 4) == 0) {
            /* set <key> <flags> <exptime> <bytes> [noreply] */
            char tmp[512];
            size_t n = (size_t)(end - line) < sizeof tmp - 1 ? (size_t)(end - line) : sizeof tmp - 1;
            memcpy(tmp, line, n);
            tmp[n] = '\0';
            unsigned long bytes = 0;
            char noreply[16] = "";
            if (sscanf(tmp, "set %*s %*u %*d %lu %15s", &bytes, noreply) < 1) {
                outs(c, "CLIENT_ERROR bad command line format\r\n");
                continue;
            }
            c->skip = bytes + 2;
            cmd_set++;
            if (strcmp(noreply, "noreply") != 0)
                outs(c, "STORED\r\n");
        } else if (end - line == 5 && memcmp(line, "stats", 5) == 0) {
            char s[200];
            snprintf(s, sizeof s, "STAT cmd_get %llu\r\nSTAT cmd_set %llu\r\nSTAT evictions 0\r\nEND\r\n",
                     (unsigned long long)cmd_get, (unsigned long long)cmd_set);
            outs(c, s);
        } else if (end - line == 7 && memcmp(line, "version", 7) == 0)
            outs(c, "VERSION floor\r\n");
        else
            outs(c, "ERROR\r\n");
    }
    memmove(c->r, c->r + pos, c->rlen - pos);
    c->rlen -= pos;
}

#ifndef FLOOR_URING
/* Send what is queued; false when the connection is gone. On a full socket
 * it asks for EPOLLOUT and returns; the event loop calls again. */
static bool flush(int ep, struct conn *c)
{
    while (c->wpos < c->wlen) {
        ssize_t n = send(c->fd, c->w + c->wpos, c->wlen - c->wpos, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return true;
        }
        if (n < 0)
            return false;
        c->wpos += (size_t)n;
    }
    c->wpos = c->wlen = 0;
    return true;
}

#endif

static void drop(struct conn *c)
{
    close(c->fd);
    free(c->r);
    free(c->w);
    free(c);
}

/* The listening socket, from -l and -p. */
static int listener(const char *addr, int port)
{
#ifdef FLOOR_URING
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
#else
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1; /* accept until EAGAIN */
#endif
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "floor: bad address %s\n", addr);
        exit(2);
    }
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("bind");
    if (listen(ls, 1024) != 0)
        die("listen");
    return ls;
}

static struct conn *conn_new(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL || (c->r = malloc(RBUF)) == NULL)
        die("malloc");
    c->fd = fd;
    return c;
}

#ifndef FLOOR_URING
static void serve(int ls)
{
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = conn_new(fd);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (!flush(ep, c)) {
                    drop(c);
                    continue;
                }
                if (c->wlen == 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = recv(c->fd, c->r + c->rlen, RBUF - c->rlen, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(c);
                continue;
            }
            if (r < 0)
                continue;
            c->rlen += (size_t)r;
            process(c);
            if (c->rlen == RBUF) { /* a line longer than the buffer: not ours to serve */
                drop(c);
                continue;
            }
            if (!flush(ep, c))
                drop(c);
        }
    }
}
#else
/* user_data: the connection, with the operation in the low bits */
enum { OP_ACCEPT, OP_RECV, OP_SEND };

/* One thread submits and reaps, so the kernel may run completion work only
 * when it waits in io_uring_enter (DEFER_TASKRUN) instead of interrupting
 * it: 5.4 against 9.4 us of CPU per op without these flags (memcaslap, 50
 * connections, 100 B, one run each). */
#ifndef FLOOR_RING_FLAGS
#define FLOOR_RING_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)
#endif

static struct io_uring ring; /* the event loop's thread only */

static struct io_uring_sqe *sqe_for(struct conn *c, unsigned op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) { /* full: hand what is queued to the kernel */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
    return sqe;
}

static void arm_recv(struct conn *c)
{
    if (c->recving || c->dead || c->rlen == RBUF)
        return;
    io_uring_prep_recv(sqe_for(c, OP_RECV), c->fd, c->r + c->rlen, RBUF - c->rlen, 0);
    c->recving = true;
}

/* Answer what has arrived, unless a send still reads the output buffer. */
static void answer(struct conn *c)
{
    if (c->sending || c->dead)
        return;
    process(c);
    if (c->wlen > c->wpos) {
        io_uring_prep_send(sqe_for(c, OP_SEND), c->fd, c->w + c->wpos, c->wlen - c->wpos,
                           MSG_NOSIGNAL);
        c->sending = true;
    }
}

static void done(struct conn *c, unsigned op, int res)
{
    if (op == OP_RECV) {
        c->recving = false;
        if (res <= 0)
            c->dead = true;
        else
            c->rlen += (size_t)res;
    } else {
        c->sending = false;
        if (res < 0)
            c->dead = true;
        else if ((c->wpos += (size_t)res) == c->wlen)
            c->wpos = c->wlen = 0;
    }
    if (c->dead) {
        if (!c->recving && !c->sending)
            drop(c);
        return;
    }
    answer(c);
    if (c->rlen == RBUF && !c->sending) { /* a line longer than the buffer: not ours to serve */
        c->dead = true;
        if (!c->recving)
            drop(c);
        return;
    }
    arm_recv(c);
}

static void serve(int ls)
{
    if (io_uring_queue_init(4096, &ring, FLOOR_RING_FLAGS) != 0)
        die("io_uring_queue_init");
    io_uring_prep_multishot_accept(sqe_for(NULL, OP_ACCEPT), ls, NULL, NULL, 0);
    for (;;) {
        if (io_uring_submit_and_wait(&ring, 1) < 0 && errno != EINTR)
            die("io_uring_submit_and_wait");
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            uint64_t d = io_uring_cqe_get_data64(cqe);
            unsigned op = (unsigned)(d & 3);
            struct conn *c = (struct conn *)(uintptr_t)(d & ~(uint64_t)3);
            seen++;
            if (op != OP_ACCEPT) {
                done(c, op, cqe->res);
                continue;
            }
            if (cqe->res >= 0)
                arm_recv(conn_new(cqe->res));
            if (!(cqe->flags & IORING_CQE_F_MORE)) /* the kernel ended the multishot */
                io_uring_prep_multishot_accept(sqe_for(NULL, OP_ACCEPT), ls, NULL, NULL, 0);
        }
        io_uring_cq_advance(&ring, seen);
    }
}
#endif

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 11211, opt;
    while ((opt = getopt(argc, argv, "p:l:V:m:t:c:u:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'l': addr = optarg; break;
        case 'V': nvalue = strtoul(optarg, NULL, 10); break;
        default: break; /* memcached's options: accepted, ignored */
        }
    }
    value = malloc(nvalue + 1);
    if (value == NULL)
        die("malloc");
    memset(value, 'x', nvalue);

    serve(listener(addr, port));
}
