/*
 * repl_probe: replication lag, set on a master -> visible on its replica,
 * for bench/repl.sh.
 *
 * Method
 *   Probes are scheduled at fixed intervals (open loop, -R per second), so a
 *   slow replica never slows the probe rate down. Probe i is
 *   "set PREFIX<i> 0 0 8" on its own connection to the master; its time t0
 *   is when the set left this process (the schedule only decides when).
 *   A second connection polls the replica with one text "get" naming every
 *   probe not yet seen (the oldest 100), back to back while any is
 *   outstanding, and idle otherwise. A probe is seen when a reply carries it.
 *
 *   For each probe the key became visible after the replica handled the
 *   last poll that missed it and before it handled the first poll that hit
 *   it, so:
 *     lag    = receipt of the first hitting reply - t0    (upper bound)
 *     lag_lo = send of the last missing poll - t0, or 0   (lower bound)
 *   Polls go back to back on one connection, so the two bounds are about
 *   two poll round trips apart (poll_rtt is reported). No polling bias
 *   beyond that: a poll is always in flight while a probe is outstanding.
 *
 *   With -w REPL_PORT (the better method, and what bench/repl.sh uses), no
 *   polling at all: this process subscribes to the replica's own
 *   replication port as a chained replica (HELLO, role replica, no secret)
 *   and a probe is seen when its SET record arrives there. The replica
 *   forwards a record only after it applied it to its table, so
 *   lag = arrival at the watcher - t0 is an upper bound of set -> visible
 *   that includes one more loopback hop from the replica's replication
 *   thread; nothing polls the replica, so the measurement adds no load
 *   there beyond one more subscriber. The watcher answers PINGs and ACKs
 *   SYNC_END marks like a real replica, and waits for the replica's initial
 *   walk (its SYNC_END) before the first probe (PINGing it along).
 *
 *   lag from the master's reply (STORED received -> visible) is reported
 *   too: what a client that wrote and then read from the replica would see.
 *
 *   With -S, a third connection samples the master's "stats replication"
 *   every 100 ms and reports the distribution of downstream_0:lag_ms and
 *   downstream_0:lag_records (the server's own view).
 *
 * Output: one "name=value" per line. Times in microseconds.
 *
 * repl_probe -q PORT [COMMAND...] sends one command ("stats replication" by
 * default), prints the reply up to END without \r, and exits: the harness's
 * way to read stats sections (loadgen -Q only sends "stats").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "repl/frame.h"

#define POLL_KEYS 100
#define PROBE_TIMEOUT_NS 5000000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "repl_probe: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 100);
        } else {
            die("send");
        }
    }
}

/* An input buffer per connection; lines are parsed out of it. */
struct rbuf {
    char p[1 << 16];
    size_t len;
};

/* Read what is there; false if the peer closed. */
static bool fill(int fd, struct rbuf *b)
{
    for (;;) {
        if (b->len == sizeof(b->p))
            return true;
        ssize_t r = recv(fd, b->p + b->len, sizeof(b->p) - b->len, 0);
        if (r > 0) {
            b->len += (size_t)r;
            continue;
        }
        if (r == 0)
            return false;
        if (errno == EAGAIN || errno == EINTR)
            return true;
        die("recv");
    }
}

static void consume(struct rbuf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

struct probe {
    uint64_t t0, stored, missed, seen_hi; /* missed: send time of the last poll that missed it */
    bool seen;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void pct_out(const char *name, uint64_t *v, size_t n, double scale)
{
    if (n == 0) {
        printf("%s_n=0\n", name);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    static const struct { const char *s; double p; } ps[] = {
        {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}};
    printf("%s_n=%zu\n", name, n);
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        size_t k = (size_t)(ps[i].p / 100.0 * (double)n + 0.999999);
        if (k == 0)
            k = 1;
        printf("%s_%s=%.1f\n", name, ps[i].s, (double)v[k - 1] / scale);
    }
    printf("%s_max=%.1f\n", name, (double)v[n - 1] / scale);
}

/* --- watcher: a chained subscriber on the replica's replication port --------- */

static struct buf wout;        /* frames to send to the replica */
static char *win;              /* frames received, not yet decoded */
static size_t win_len, win_cap;
static bool wsynced;           /* the replica's initial walk is over */

static void wflush(int fd)
{
    send_all(fd, wout.data, wout.len);
    buf_reset(&wout);
}

static void wread(int fd)
{
    for (;;) {
        if (win_cap - win_len < 65536) {
            win_cap = win_cap ? win_cap * 2 : 1 << 20;
            win = realloc(win, win_cap);
            if (!win)
                die("realloc");
        }
        ssize_t r = recv(fd, win + win_len, win_cap - win_len, 0);
        if (r > 0) {
            win_len += (size_t)r;
            continue;
        }
        if (r == 0) {
            errno = ECONNRESET;
            die("the replica closed the watcher's link");
        }
        if (errno == EAGAIN || errno == EINTR)
            return;
        die("recv (watcher)");
    }
}

/* Decode what arrived; call seen(index, arg) for every probe SET. */
static void wdecode(int fd, const char *prefix, uint64_t t,
                    void (*seen)(size_t, uint64_t, void *), void *arg)
{
    size_t off = 0, pl = strlen(prefix);
    while (off < win_len) {
        struct frame f;
        enum frame_status st = frame_decode(win + off, win_len - off, &f);
        if (st == FRAME_NEED_MORE)
            break;
        if (st != FRAME_OK) {
            fprintf(stderr, "repl_probe: bad frame from the replica: %s\n", frame_strerror(st));
            exit(1);
        }
        switch (f.type) {
        case FRAME_SET:
            if (seen && f.rec.nkey > pl && memcmp(f.rec.key, prefix, pl) == 0) {
                char num[32];
                size_t n = f.rec.nkey - pl < sizeof(num) - 1 ? f.rec.nkey - pl : sizeof(num) - 1;
                memcpy(num, f.rec.key + pl, n);
                num[n] = 0;
                seen(strtoull(num, NULL, 10), t, arg);
            }
            break;
        case FRAME_PING: frame_encode_pong(&wout, f.time_ms); break;
        case FRAME_SYNC_END:
            wsynced = true;
            frame_encode_ack(&wout, f.pos, 0);
            break;
        case FRAME_ERROR:
            fprintf(stderr, "repl_probe: the replica refused the watcher: %.*s\n",
                    (int)f.error.ntext, f.error.text);
            exit(1);
        default: break;
        }
        off += f.size;
    }
    memmove(win, win + off, win_len - off);
    win_len -= off;
    if (wout.len)
        wflush(fd);
}

/* Subscribe to the replica and wait (at most 120 s) for its walk to end. */
static int watch_open(int port)
{
    int fd = connect_port(port);
    struct frame_hello h = {.node = (uint16_t)(40000 + getpid() % 20000),
                            .role = FRAME_ROLE_REPLICA, .cluster = "tandem", .ncluster = 6};
    frame_encode_hello(&wout, &h);
    wflush(fd);
    uint64_t deadline = now_ns() + 120000000000ull;
    while (!wsynced) {
        if (now_ns() > deadline) {
            fprintf(stderr, "repl_probe: the replica did not finish its walk in 120 s\n");
            exit(1);
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, 100);
        wread(fd);
        /* A PING per read: before 6af374b a walk sent 256 KiB per frame
         * received from its subscriber (docs/BENCHMARKS.md, Replication), so
         * an idle replica took ~1 s per 256 KiB of its table; harmless since. */
        frame_encode_ping(&wout, 0);
        wdecode(fd, "", 0, NULL, NULL);
    }
    return fd;
}

static void probe_seen(size_t i, uint64_t t, void *arg);
static size_t probe_count;

static int query(int port, int argc, char **argv)
{
    char cmd[512] = "";
    for (int i = 0; i < argc; i++)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "", argv[i]);
    if (!cmd[0])
        snprintf(cmd, sizeof(cmd), "stats replication");
    snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "\r\n");
    int fd = connect_port(port);
    send_all(fd, cmd, strlen(cmd));
    static struct rbuf b;
    uint64_t deadline = now_ns() + 5000000000ull;
    while (b.len < 5 || memcmp(b.p + b.len - 5, "END\r\n", 5) != 0) {
        if (now_ns() > deadline || b.len == sizeof(b.p)) {
            fprintf(stderr, "repl_probe: no complete reply from port %d\n", port);
            return 1;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, 100);
        if (!fill(fd, &b))
            break;
    }
    for (size_t i = 0; i < b.len; i++)
        if (b.p[i] != '\r')
            putchar(b.p[i]);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "-q") == 0)
        return query(atoi(argv[2]), argc - 3, argv + 3);
    int mport = 0, rport = 0, wport = 0, ch;
    double rate = 1000, secs = 5;
    const char *prefix = "probe:";
    bool sample_stats = false;
    while ((ch = getopt(argc, argv, "m:r:w:R:d:x:S")) != -1) {
        switch (ch) {
        case 'm': mport = atoi(optarg); break;
        case 'r': rport = atoi(optarg); break;
        case 'w': wport = atoi(optarg); break;
        case 'R': rate = atof(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'x': prefix = optarg; break;
        case 'S': sample_stats = true; break;
        default:
            fprintf(stderr, "usage: repl_probe -m MASTER_PORT (-r REPLICA_PORT | -w REPLICA_REPL_PORT)\n"
                            "       [-R probes/s] [-d secs] [-x prefix] [-S]\n");
            return 2;
        }
    }
    if (mport <= 0 || (rport <= 0) == (wport <= 0) || rate <= 0 || secs <= 0 || secs > 3600 || strlen(prefix) > 200)
        return 2;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    size_t nprobe = (size_t)(rate * secs);
    struct probe *pr = calloc(nprobe, sizeof(*pr));
    probe_count = nprobe;
    uint64_t *rtt = calloc(nprobe * 64 + 1024, sizeof(uint64_t));
    uint64_t *slag = calloc((size_t)(secs * 10) + 64, sizeof(uint64_t));
    uint64_t *srec = calloc((size_t)(secs * 10) + 64, sizeof(uint64_t));
    size_t nrtt = 0, rtt_cap = nprobe * 64 + 1024, nsamp = 0, samp_cap = (size_t)(secs * 10) + 64;
    if (!pr || !rtt || !slag || !srec)
        die("calloc");

    int mfd = connect_port(mport);
    int rfd = wport > 0 ? watch_open(wport) : connect_port(rport);
    int sfd = sample_stats ? connect_port(mport) : -1;
    static struct rbuf mb, rb, sb;

    uint64_t step = (uint64_t)(1e9 / rate);
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    size_t sent = 0, stored_next = 0, oldest = 0; /* oldest unseen probe */
    bool poll_out = false, stats_out = false;
    uint64_t poll_sent = 0, next_stats = start;
    size_t poll_from = 0, poll_to = 0; /* probes the poll in flight asks for */
    uint64_t errors = 0;

    for (;;) {
        uint64_t now = now_ns();
        /* done when every probe is sent and seen (or hopeless) */
        if (now >= end && oldest >= sent && !poll_out)
            break;
        if (now >= end + PROBE_TIMEOUT_NS + 1000000000ull)
            break;
        /* due probes */
        while (sent < nprobe && start + sent * step <= now) {
            char line[300];
            int n = snprintf(line, sizeof(line), "set %s%zu 0 0 8\r\n%08zu\r\n", prefix, sent,
                             sent % 100000000);
            pr[sent].t0 = now_ns();
            send_all(mfd, line, (size_t)n);
            sent++;
        }
        /* a poll for every probe outstanding, if none is in flight */
        while (oldest < sent && pr[oldest].seen)
            oldest++;
        now = now_ns();
        if (!poll_out && oldest < sent) {
            /* give up on a probe after PROBE_TIMEOUT_NS: it is lost */
            while (oldest < sent && !pr[oldest].seen && now - pr[oldest].t0 > PROBE_TIMEOUT_NS)
                oldest++;
        }
        if (!poll_out && oldest < sent && wport <= 0) {
            char req[POLL_KEYS * 220 + 16];
            size_t n = 3;
            memcpy(req, "get", 3);
            poll_from = oldest;
            size_t k = 0, i;
            for (i = oldest; i < sent && k < POLL_KEYS; i++) {
                if (pr[i].seen)
                    continue;
                n += (size_t)snprintf(req + n, sizeof(req) - n, " %s%zu", prefix, i);
                k++;
            }
            poll_to = i;
            memcpy(req + n, "\r\n", 2);
            n += 2;
            poll_sent = now_ns();
            send_all(rfd, req, n);
            poll_out = true;
        }
        if (sfd >= 0 && !stats_out && now >= next_stats && now < end) {
            send_all(sfd, "stats replication\r\n", 19);
            stats_out = true;
            next_stats += 100000000ull;
        }

        /* wait: until the next probe is due, or input */
        struct pollfd pf[3] = {{.fd = mfd, .events = POLLIN},
                               {.fd = rfd, .events = POLLIN},
                               {.fd = sfd, .events = POLLIN}};
        uint64_t wake = sent < nprobe ? start + sent * step : end;
        if (sfd >= 0 && !stats_out && next_stats < wake)
            wake = next_stats;
        now = now_ns();
        struct timespec to = {0, 0};
        if (wake > now) {
            uint64_t d = wake - now;
            if (d > 100000000ull)
                d = 100000000ull;
            to.tv_sec = (time_t)(d / 1000000000ull);
            to.tv_nsec = (long)(d % 1000000000ull);
        }
        int nfd = ppoll(pf, sfd >= 0 ? 3 : 2, &to, NULL);
        if (nfd < 0 && errno != EINTR)
            die("ppoll");
        if (nfd <= 0)
            continue;
        uint64_t t = now_ns();

        if (pf[0].revents) { /* the master's replies to the probe sets */
            if (!fill(mfd, &mb))
                die("master closed");
            char *nl;
            while ((nl = memchr(mb.p, '\n', mb.len)) != NULL) {
                size_t l = (size_t)(nl - mb.p) + 1;
                if (l != 8 || memcmp(mb.p, "STORED\r\n", 8) != 0)
                    errors++;
                if (stored_next < sent)
                    pr[stored_next++].stored = t;
                consume(&mb, l);
            }
        }
        if (pf[1].revents && wport > 0) { /* records the replica forwarded */
            wread(rfd);
            wdecode(rfd, prefix, t, probe_seen, pr);
        } else if (pf[1].revents) { /* the replica's answer to a poll */
            if (!fill(rfd, &rb))
                die("replica closed");
            for (;;) {
                char *nl = memchr(rb.p, '\n', rb.len);
                if (!nl)
                    break;
                size_t l = (size_t)(nl - rb.p) + 1;
                if (l == 5 && memcmp(rb.p, "END\r\n", 5) == 0) {
                    consume(&rb, l);
                    if (nrtt < rtt_cap)
                        rtt[nrtt++] = t - poll_sent;
                    for (size_t i = poll_from; i < poll_to; i++)
                        if (!pr[i].seen)
                            pr[i].missed = poll_sent;
                    poll_out = false;
                    break;
                }
                if (l > 6 && memcmp(rb.p, "VALUE ", 6) == 0) {
                    /* VALUE <prefix><i> <flags> <bytes>: the value is 8 bytes */
                    if (rb.len < l + 10)
                        break; /* the value is not all here yet */
                    size_t pl = strlen(prefix);
                    size_t i = strtoull(rb.p + 6 + pl, NULL, 10);
                    if (i >= poll_from && i < poll_to && !pr[i].seen) {
                        pr[i].seen = true;
                        pr[i].seen_hi = t;
                    }
                    consume(&rb, l + 10);
                    continue;
                }
                errors++;
                consume(&rb, l);
            }
        }
        if (sfd >= 0 && pf[2].revents) { /* stats replication sample */
            if (!fill(sfd, &sb))
                die("stats connection closed");
            char *nl;
            while ((nl = memchr(sb.p, '\n', sb.len)) != NULL) {
                size_t l = (size_t)(nl - sb.p) + 1;
                unsigned long long v;
                if (sscanf(sb.p, "STAT downstream_0:lag_ms %llu", &v) == 1 && nsamp < samp_cap)
                    slag[nsamp] = v;
                else if (sscanf(sb.p, "STAT downstream_0:lag_records %llu", &v) == 1 &&
                         nsamp < samp_cap)
                    srec[nsamp] = v;
                else if (l == 5 && memcmp(sb.p, "END\r\n", 5) == 0) {
                    if (nsamp < samp_cap)
                        nsamp++;
                    stats_out = false;
                }
                consume(&sb, l);
            }
        }
    }

    uint64_t *hi = calloc(sent + 1, sizeof(uint64_t)), *lo = calloc(sent + 1, sizeof(uint64_t));
    uint64_t *st = calloc(sent + 1, sizeof(uint64_t));
    size_t nseen = 0, nst = 0;
    for (size_t i = 0; i < sent; i++) {
        if (!pr[i].seen)
            continue;
        hi[nseen] = pr[i].seen_hi - pr[i].t0;
        lo[nseen] = wport > 0 ? hi[nseen] : pr[i].missed > pr[i].t0 ? pr[i].missed - pr[i].t0 : 0;
        nseen++;
        if (pr[i].stored)
            st[nst++] = pr[i].seen_hi > pr[i].stored ? pr[i].seen_hi - pr[i].stored : 0;
    }
    printf("probes=%zu\nseen=%zu\nlost=%zu\nerrors=%llu\nrate=%.0f\n", sent, nseen, sent - nseen,
           (unsigned long long)errors, rate);
    pct_out("lag_us", hi, nseen, 1e3);
    if (wport <= 0)
        pct_out("lag_lo_us", lo, nseen, 1e3);
    pct_out("stored_lag_us", st, nst, 1e3);
    if (wport <= 0)
        pct_out("poll_rtt_us", rtt, nrtt, 1e3);
    printf("method=%s\n", wport > 0 ? "watcher" : "poll");
    if (sfd >= 0) {
        pct_out("stat_lag_ms", slag, nsamp, 1);
        pct_out("stat_lag_records", srec, nsamp, 1);
    }
    return 0;
}

/* The watcher saw probe i's record at time t. */
static void probe_seen(size_t i, uint64_t t, void *arg)
{
    struct probe *pr = arg;
    if (i < probe_count && pr[i].t0 && !pr[i].seen) {
        pr[i].seen = true;
        pr[i].seen_hi = t;
    }
}
