/*
 * loadgen: a small memcached text-protocol load generator for bench/run.sh.
 *
 * Why it exists: memcaslap covers closed-loop get/set and multi-get load, but
 * not deep pipelining, a fixed (open-loop) request rate, or latency
 * percentiles measured the way a user would feel them. This program does
 * those, single-threaded on one epoll loop, so it can be pinned to one CPU
 * while the server under test is pinned to the other.
 *
 * Modes
 *   closed loop (default): every connection keeps -P requests outstanding;
 *     a reply lets the next request go. -P 1 is plain request/response.
 *   open loop (-R rate): requests are scheduled at fixed intervals of
 *     1/rate seconds for the whole process and handed round-robin to the
 *     connections, whatever the server is doing. A request is sent as soon
 *     as it is due, pipelined behind any still unanswered on its
 *     connection, and its latency runs from its *scheduled* time, not from
 *     when it was written. A stall in the server (or in this process)
 *     therefore shows up in every request that should have gone during it:
 *     no coordinated omission.
 *   load (-L): set keys 0..K-1 once, pipelined, then carry on (or exit when
 *     -d 0).
 *   sequential sets (-S): every request is a set of the next new key
 *     (0,1,2,... wrapping at K); used to grow a hash table or flood memory.
 *
 * Latency histogram: HDR-style log-linear buckets over nanoseconds, 64
 * sub-buckets per power of two, so every reported percentile is within
 * 1/64 (1.6%) of the true value. Values are reported as each bucket's upper
 * edge (never optimistic).
 *
 * Output: one "name=value" per line, for the harness to read with awk.
 * With -i SECS, also one "interval ..." line per interval.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- histogram ------------------------------------------------------------ */

#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS) * SUB + 2 * SUB)

struct hist {
    uint64_t n[NBUCKETS];
    uint64_t count, max;
    double sum;
};

static unsigned hist_index(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    unsigned e = 63 - (unsigned)__builtin_clzll(v) - SUB_BITS;
    return e * SUB + (unsigned)(v >> e);
}

/* Upper edge of bucket i: the largest value that lands in it. */
static uint64_t hist_upper(unsigned i)
{
    if (i < 2 * SUB)
        return i;
    unsigned e = i / SUB - 1;
    uint64_t m = i - e * SUB;
    return ((m + 1) << e) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
    unsigned i = hist_index(v);
    if (i >= NBUCKETS)
        i = NBUCKETS - 1;
    h->n[i]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want) {
            uint64_t u = hist_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

/* --- options ---------------------------------------------------------------- */

static struct {
    const char *host;
    int port;
    int conns;
    double duration;
    uint32_t keys;
    int vsize;
    double get_ratio;
    int depth;
    int multiget;
    double rate;
    bool load;
    bool seq;
    double interval;
    uint64_t seed;
    const char *prefix;
    bool stats;
    double wait;
    long max_queue;
    uint64_t spin_ns;
} opt = {
    .host = "127.0.0.1",
    .port = 11211,
    .conns = 50,
    .duration = 5,
    .keys = 100000,
    .vsize = 100,
    .get_ratio = 0.9,
    .depth = 1,
    .multiget = 1,
    .seed = 42,
    .prefix = "key:",
    .max_queue = 100000,
};

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen [options]\n"
            "  -s HOST     server address (127.0.0.1)\n"
            "  -p PORT     server port (11211)\n"
            "  -c N        connections (50)\n"
            "  -d SECS     measured run time; 0 = only load (-L) (5)\n"
            "  -k N        key count (100000)\n"
            "  -v BYTES    value size (100)\n"
            "  -g RATIO    fraction of requests that are gets (0.9)\n"
            "  -P N        closed loop: requests outstanding per connection (1)\n"
            "  -M N        keys per get request (1)\n"
            "  -R RATE     open loop: requests per second for the whole process\n"
            "  -L          first set every key once (pipelined), not measured\n"
            "  -S          sets only, of sequential new keys\n"
            "  -i SECS     also print per-interval latency lines\n"
            "  -x PREFIX   key prefix (key:)\n"
            "  -r SEED     random seed (42)\n"
            "  -Q          print the server's stats and exit\n"
            "  -W SECS     wait up to SECS for the server to accept, then exit\n"
            "  -Y USECS    open loop: poll, not sleep, when a send is due within USECS (0)\n");
    exit(2);
}

/* --- time, random ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double rng_unit(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

/* --- buffers ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap, pos;
};

static void buf_need(struct buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    if (b->pos > 0) {
        memmove(b->p, b->p + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
        if (b->len + n <= b->cap)
            return;
    }
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *s, size_t n)
{
    buf_need(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* --- requests ----------------------------------------------------------------- */

enum kind { REQ_GET, REQ_SET };

struct pending {
    uint64_t t0; /* scheduled (open loop) or sent (closed loop) time */
    uint8_t kind;
    bool measured;
};

struct conn {
    int fd;
    struct buf in, out;
    struct pending *q; /* ring of outstanding requests, oldest first */
    size_t qcap, qhead, qlen;
    bool want_out;
};

static char *value_block; /* vsize bytes of 'x' then "\r\n" */
static uint64_t seq_next;

static struct {
    uint64_t reqs, gets, sets, keys_asked, hits, misses, errors, stored;
} tot;

static struct hist hall, hint;
static struct hist hlag; /* open loop: how late each send left, against its schedule */
static uint64_t intv_reqs;
static bool measuring;

static size_t put_key(char *p, uint64_t k)
{
    size_t n = strlen(opt.prefix);
    memcpy(p, opt.prefix, n);
    char d[10];
    for (int i = 9; i >= 0; i--) {
        d[i] = (char)('0' + k % 10);
        k /= 10;
    }
    memcpy(p + n, d, 10);
    return n + 10;
}

static void push(struct conn *c, uint64_t t0, enum kind kind)
{
    if (c->qlen == c->qcap) {
        size_t ncap = c->qcap ? c->qcap * 2 : 64;
        struct pending *nq = malloc(ncap * sizeof(*nq));
        for (size_t i = 0; i < c->qlen; i++)
            nq[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = nq;
        c->qcap = ncap;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = (struct pending){t0, (uint8_t)kind, measuring};
    c->qlen++;
}

static void add_set(struct conn *c, uint64_t key, uint64_t t0)
{
    char line[128];
    size_t n = 4;
    memcpy(line, "set ", 4);
    n += put_key(line + n, key);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " 0 0 %d\r\n", opt.vsize);
    buf_add(&c->out, line, n);
    buf_add(&c->out, value_block, (size_t)opt.vsize + 2);
    push(c, t0, REQ_SET);
}

static void add_get(struct conn *c, uint64_t t0)
{
    char line[64];
    buf_need(&c->out, 4 + (size_t)opt.multiget * (strlen(opt.prefix) + 11) + 2);
    buf_add(&c->out, "get", 3);
    for (int i = 0; i < opt.multiget; i++) {
        line[0] = ' ';
        size_t n = 1 + put_key(line + 1, rng() % opt.keys);
        buf_add(&c->out, line, n);
    }
    buf_add(&c->out, "\r\n", 2);
    push(c, t0, REQ_GET);
}

static void add_request(struct conn *c, uint64_t t0)
{
    if (opt.seq) {
        add_set(c, seq_next++ % opt.keys, t0);
    } else if (rng_unit() < opt.get_ratio) {
        add_get(c, t0);
    } else {
        add_set(c, rng() % opt.keys, t0);
    }
}

/* --- sockets ------------------------------------------------------------------- */

static int connect_to(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad address %s\n", opt.host);
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int ep;

static void set_watch(struct conn *c, bool out)
{
    if (c->want_out == out)
        return;
    c->want_out = out;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static bool flush_out(struct conn *c)
{
    while (c->out.pos < c->out.len) {
        ssize_t r = send(c->fd, c->out.p + c->out.pos, c->out.len - c->out.pos, MSG_NOSIGNAL);
        if (r > 0) {
            c->out.pos += (size_t)r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            set_watch(c, true);
            return true;
        }
        return false;
    }
    c->out.pos = c->out.len = 0;
    set_watch(c, false);
    return true;
}

/* Complete one reply at the head of c->in, if all of it is there.
 * Returns 1 if a request completed, 0 if more input is needed, -1 on a
 * protocol error. Hits are counted per VALUE line. */
static int parse_one(struct conn *c, uint64_t *hits)
{
    struct pending *pd = &c->q[c->qhead];
    char *base = c->in.p + c->in.pos;
    size_t avail = c->in.len - c->in.pos;
    size_t off = 0;
    *hits = 0;
    for (;;) {
        char *nl = memchr(base + off, '\n', avail - off);
        if (!nl)
            return 0;
        size_t llen = (size_t)(nl - (base + off)) + 1;
        char *line = base + off;
        if (pd->kind == REQ_SET) {
            if (llen == 8 && memcmp(line, "STORED\r\n", 8) == 0)
                tot.stored++;
            else
                tot.errors++;
            c->in.pos += off + llen;
            return 1;
        }
        if (llen == 5 && memcmp(line, "END\r\n", 5) == 0) {
            c->in.pos += off + llen;
            return 1;
        }
        if (llen > 6 && memcmp(line, "VALUE ", 6) == 0) {
            /* VALUE <key> <flags> <bytes> [<cas>] */
            char *sp = memchr(line + 6, ' ', llen - 6);
            if (!sp)
                return -1;
            char *sp2 = memchr(sp + 1, ' ', (size_t)(nl - sp - 1));
            if (!sp2)
                return -1;
            size_t bytes = strtoul(sp2 + 1, NULL, 10);
            if (avail - off - llen < bytes + 2)
                return 0;
            off += llen + bytes + 2;
            (*hits)++;
            continue;
        }
        /* SERVER_ERROR etc. ends a get reply too */
        tot.errors++;
        c->in.pos += off + llen;
        return 1;
    }
}

static void complete(struct conn *c, uint64_t now, uint64_t hits)
{
    struct pending *pd = &c->q[c->qhead];
    if (pd->measured) {
        uint64_t lat = now > pd->t0 ? now - pd->t0 : 0;
        hist_add(&hall, lat);
        hist_add(&hint, lat);
        intv_reqs++;
        tot.reqs++;
        if (pd->kind == REQ_GET) {
            tot.gets++;
            tot.keys_asked += (uint64_t)opt.multiget;
            tot.hits += hits;
            tot.misses += (uint64_t)opt.multiget - hits;
        } else {
            tot.sets++;
        }
    }
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
}

/* Read what is there and complete replies. Returns false on a dead connection. */
static bool on_readable(struct conn *c, bool closed_loop)
{
    for (;;) {
        buf_need(&c->in, 65536);
        ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
        if (r == 0)
            return false;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return false;
        }
        c->in.len += (size_t)r;
        uint64_t now = now_ns();
        while (c->qlen > 0) {
            uint64_t hits;
            int p = parse_one(c, &hits);
            if (p < 0) {
                fprintf(stderr, "loadgen: unparsable reply\n");
                return false;
            }
            if (p == 0)
                break;
            complete(c, now, hits);
            if (closed_loop)
                add_request(c, now);
        }
        if (c->in.pos == c->in.len)
            c->in.pos = c->in.len = 0;
        if ((size_t)r < 65536)
            break;
    }
    return true;
}

/* --- stats and wait modes ------------------------------------------------------- */

static int print_stats(void)
{
    int fd = connect_to();
    if (fd < 0) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d\n", opt.host, opt.port);
        return 1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (send(fd, "stats\r\n", 7, MSG_NOSIGNAL) != 7)
        return 1;
    char buf[65536];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        if (len >= 5 && strcmp(buf + len - 5, "END\r\n") == 0)
            break;
    }
    buf[len] = 0;
    for (char *p = buf; *p; p++)
        if (*p != '\r')
            putchar(*p);
    close(fd);
    return 0;
}

static int wait_ready(void)
{
    uint64_t end = now_ns() + (uint64_t)(opt.wait * 1e9);
    while (now_ns() < end) {
        int fd = connect_to();
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "loadgen: %s:%d did not accept within %.1fs\n", opt.host, opt.port, opt.wait);
    return 1;
}

/* --- main loop ------------------------------------------------------------------ */

static void print_interval(double t)
{
    printf("interval t=%.3f reqs=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n", t,
           (unsigned long long)intv_reqs, hist_pct(&hint, 50) / 1e3, hist_pct(&hint, 99) / 1e3,
           hist_pct(&hint, 99.9) / 1e3, hint.max / 1e3);
    fflush(stdout);
    memset(&hint, 0, sizeof(hint));
    intv_reqs = 0;
}

/* Set every key once, 64 outstanding per connection. */
static bool load_keys(struct conn *cs, int n)
{
    uint64_t next = 0, done = 0;
    uint64_t deadline = now_ns() + 600ull * 1000000000ull;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 64 && next < opt.keys; j++)
            add_set(&cs[i], next++, 0);
        if (!flush_out(&cs[i]))
            return false;
    }
    struct epoll_event evs[256];
    while (done < opt.keys) {
        if (now_ns() > deadline) {
            fprintf(stderr, "loadgen: load did not finish in 600 s\n");
            return false;
        }
        int ne = epoll_wait(ep, evs, 256, 1000);
        for (int e = 0; e < ne; e++) {
            struct conn *c = evs[e].data.ptr;
            if (evs[e].events & EPOLLOUT && !flush_out(c))
                return false;
            if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            size_t before = c->qlen;
            if (!on_readable(c, false))
                return false;
            size_t got = before - c->qlen;
            done += got;
            for (size_t j = 0; j < got && next < opt.keys; j++)
                add_set(c, next++, 0);
            if (!flush_out(c))
                return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    int ch;
    bool stats_only = false;
    while ((ch = getopt(argc, argv, "s:p:c:d:k:v:g:P:M:R:LSi:x:r:QW:Y:h")) != -1) {
        switch (ch) {
        case 's': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'k': opt.keys = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'v': opt.vsize = atoi(optarg); break;
        case 'g': opt.get_ratio = atof(optarg); break;
        case 'P': opt.depth = atoi(optarg); break;
        case 'M': opt.multiget = atoi(optarg); break;
        case 'R': opt.rate = atof(optarg); break;
        case 'L': opt.load = true; break;
        case 'S': opt.seq = true; break;
        case 'i': opt.interval = atof(optarg); break;
        case 'x': opt.prefix = optarg; break;
        case 'r': opt.seed = strtoull(optarg, NULL, 10); break;
        case 'Q': stats_only = true; break;
        case 'W': opt.wait = atof(optarg); break;
        case 'Y': opt.spin_ns = (uint64_t)(atof(optarg) * 1000); break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.conns <= 0 || opt.keys == 0 || opt.vsize < 0 || opt.depth <= 0 ||
        opt.multiget <= 0 || opt.duration < 0 || opt.duration > 3600 || strlen(opt.prefix) > 40)
        usage();
    if (stats_only)
        return print_stats();
    if (opt.wait > 0)
        return wait_ready();

    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    rng_state = opt.seed * 0x9E3779B97F4A7C15ull + 1;
    value_block = malloc((size_t)opt.vsize + 2);
    memset(value_block, 'x', (size_t)opt.vsize);
    memcpy(value_block + opt.vsize, "\r\n", 2);

    ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)opt.conns, sizeof(*cs));
    for (int i = 0; i < opt.conns; i++) {
        cs[i].fd = connect_to();
        if (cs[i].fd < 0) {
            fprintf(stderr, "loadgen: connect to %s:%d: %s\n", opt.host, opt.port,
                    strerror(errno));
            return 1;
        }
        fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }

    if (opt.load) {
        uint64_t t = now_ns();
        if (!load_keys(cs, opt.conns))
            return 1;
        printf("load_keys=%u\nload_secs=%.3f\nload_errors=%llu\n", opt.keys,
               (now_ns() - t) / 1e9, (unsigned long long)tot.errors);
        if (opt.duration == 0)
            return 0;
        memset(&tot, 0, sizeof(tot));
    }

    bool open_loop = opt.rate > 0;
    measuring = true;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t start = now_ns();
    uint64_t end = start + (uint64_t)(opt.duration * 1e9);
    uint64_t step = open_loop ? (uint64_t)(1e9 / opt.rate) : 0;
    uint64_t next_send = start, sent = 0;
    uint64_t next_intv = opt.interval > 0 ? start + (uint64_t)(opt.interval * 1e9) : UINT64_MAX;
    int rr = 0;
    bool overload = false;

    if (!open_loop) {
        for (int i = 0; i < opt.conns; i++) {
            for (int j = 0; j < opt.depth; j++)
                add_request(&cs[i], start);
            if (!flush_out(&cs[i]))
                return 1;
        }
    }

    struct epoll_event evs[256];
    uint64_t drain_end = end + 2000000000ull; /* answers still due after the end */
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end) {
            if (measuring) {
                measuring = false;
                getrusage(RUSAGE_SELF, &ru1);
            }
            if (!open_loop || now >= drain_end)
                break;
            bool idle = true;
            for (int i = 0; i < opt.conns; i++)
                if (cs[i].qlen > 0)
                    idle = false;
            if (idle)
                break;
        }
        if (now >= next_intv) {
            print_interval((now - start) / 1e9);
            next_intv += (uint64_t)(opt.interval * 1e9);
        }
        if (open_loop && now < end) {
            while (next_send <= now && next_send < end) {
                struct conn *c = &cs[rr];
                rr = (rr + 1) % opt.conns;
                if ((long)c->qlen >= opt.max_queue) {
                    overload = true;
                    break;
                }
                add_request(c, next_send);
                hist_add(&hlag, now - next_send);
                sent++;
                next_send = start + sent * step;
                if (!c->want_out && !flush_out(c))
                    return 1;
            }
        }
        if (overload)
            break;
        /* -Y: poll instead of sleeping when a send is due that soon. Polling
         * makes send times exact on an idle machine, but a process that never
         * sleeps is the first the scheduler preempts when anything else wants
         * its CPU, for milliseconds; so by default the loop sleeps until the
         * next send. send_lag_* in the output says how late sends really left. */
        struct timespec to = {0, 0};
        uint64_t wake = end;
        if (open_loop && next_send < wake)
            wake = next_send > opt.spin_ns ? next_send - opt.spin_ns : 0;
        if (next_intv < wake)
            wake = next_intv;
        now = now_ns();
        if (wake > now) {
            uint64_t d = wake - now;
            if (d > 100000000ull)
                d = 100000000ull;
            to.tv_sec = (time_t)(d / 1000000000ull);
            to.tv_nsec = (long)(d % 1000000000ull);
        }
        int ne = epoll_pwait2(ep, evs, 256, &to, NULL);
        if (ne < 0 && errno != EINTR) {
            perror("epoll_pwait2");
            return 1;
        }
        for (int e = 0; e < ne; e++) {
            struct conn *c = evs[e].data.ptr;
            if (evs[e].events & EPOLLOUT && !flush_out(c))
                goto dead;
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (!on_readable(c, !open_loop && measuring))
                    goto dead;
                if (c->out.len > c->out.pos && !c->want_out && !flush_out(c))
                    goto dead;
            }
        }
    }
    if (measuring)
        getrusage(RUSAGE_SELF, &ru1);

    double secs = opt.duration;
    double cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    uint64_t unanswered = 0;
    for (int i = 0; i < opt.conns; i++)
        unanswered += cs[i].qlen;
    printf("secs=%.3f\nreqs=%llu\ngets=%llu\nsets=%llu\nkeys=%llu\nhits=%llu\nmisses=%llu\n"
           "errors=%llu\nrps=%.0f\nkps=%.0f\n",
           secs, (unsigned long long)tot.reqs, (unsigned long long)tot.gets,
           (unsigned long long)tot.sets, (unsigned long long)(tot.keys_asked + tot.sets),
           (unsigned long long)tot.hits, (unsigned long long)tot.misses,
           (unsigned long long)tot.errors, tot.reqs / secs, (tot.keys_asked + tot.sets) / secs);
    printf("p50_us=%.1f\np90_us=%.1f\np99_us=%.1f\np999_us=%.1f\nmax_us=%.1f\nmean_us=%.1f\n",
           hist_pct(&hall, 50) / 1e3, hist_pct(&hall, 90) / 1e3, hist_pct(&hall, 99) / 1e3,
           hist_pct(&hall, 99.9) / 1e3, hall.max / 1e3,
           hall.count ? hall.sum / hall.count / 1e3 : 0.0);
    printf("client_cpu=%.3f\nunanswered=%llu\noverload=%d\n", cpu / secs,
           (unsigned long long)unanswered, overload ? 1 : 0);
    if (open_loop)
        printf("offered_rps=%.0f\nsent=%llu\nsend_lag_p99_us=%.1f\nsend_lag_max_us=%.1f\n",
               opt.rate, (unsigned long long)sent, hist_pct(&hlag, 99) / 1e3, hlag.max / 1e3);
    return 0;
dead:
    fprintf(stderr, "loadgen: the server closed a connection\n");
    return 1;
}
