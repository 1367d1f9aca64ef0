/*
 * proxy/stats: counters and latency, as `stats` on any pool's port.
 *
 * memcached's "STAT <name> <value>" lines, then END. Names are
 *   pool:<pool>:<counter>              one per pool
 *   server:<pool>:<host:port>:<counter> one per backend
 * Latency is a log-linear histogram (4 buckets per power of two of µs), so
 * p99 is an upper bound within 19%; the average is exact. Pool latency runs
 * from the request's arrival to its reply being ready; server latency from
 * the frag's enqueue to its reply, connect time included.
 */
#include <stdio.h>
#include <unistd.h>

#include "proxy/proxy.h"

static size_t bucket(uint64_t us)
{
    if (us < 4)
        return (size_t)us;
    int e = 63 - __builtin_clzll(us);
    size_t i = 4 + (size_t)(e - 2) * 4 + (size_t)((us >> (e - 2)) & 3);
    return i < PX_HIST_BUCKETS ? i : PX_HIST_BUCKETS - 1;
}

static uint64_t bucket_high(size_t i)
{
    if (i < 4)
        return i;
    size_t e = (i - 4) / 4 + 2, m = (i - 4) % 4;
    return ((4 + m) << (e - 2)) + (1ull << (e - 2)) - 1;
}

void px_hist_add(struct px_hist *h, uint64_t us)
{
    h->n++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
    h->b[bucket(us)]++;
}

uint64_t px_hist_quantile(const struct px_hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    for (size_t i = 0; i < PX_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t hi = bucket_high(i);
            return hi < h->max_us ? hi : h->max_us;
        }
    }
    return h->max_us;
}

static void lat(struct buf *o, const char *pre, const struct px_hist *h)
{
    buf_printf(o, "STAT %slatency_avg_us %llu\r\n", pre,
               (unsigned long long)(h->n ? h->sum_us / h->n : 0));
    buf_printf(o, "STAT %slatency_p50_us %llu\r\n", pre,
               (unsigned long long)px_hist_quantile(h, 0.50));
    buf_printf(o, "STAT %slatency_p99_us %llu\r\n", pre,
               (unsigned long long)px_hist_quantile(h, 0.99));
    buf_printf(o, "STAT %slatency_max_us %llu\r\n", pre, (unsigned long long)h->max_us);
}

#define U(x) ((unsigned long long)(x))

void stats_write(struct px *px, struct pool *self, struct buf *o)
{
    (void)self;
    uint64_t now = px_now_ms();
    buf_printf(o, "STAT pid %d\r\n", (int)getpid());
    buf_printf(o, "STAT uptime %llu\r\n", U((now - px->started_ms) / 1000));
    buf_printf(o, "STAT version %s\r\n", PX_VERSION);
    buf_printf(o, "STAT curr_connections %u\r\n", px->nclients);
    buf_printf(o, "STAT total_connections %llu\r\n", U(px->total_clients));
    buf_printf(o, "STAT pools %zu\r\n", px->npools);
    for (size_t i = 0; i < px->npools; i++) {
        const struct pool *p = &px->pools[i];
        char pre[300];
        snprintf(pre, sizeof(pre), "pool:%s:", p->cf->name);
        buf_printf(o, "STAT %sclient_connections %u\r\n", pre, p->nclients);
        buf_printf(o, "STAT %stotal_client_connections %llu\r\n", pre, U(p->client_connections));
        buf_printf(o, "STAT %srejected_clients %llu\r\n", pre, U(p->rejected_clients));
        buf_printf(o, "STAT %sclient_eof %llu\r\n", pre, U(p->client_eof));
        buf_printf(o, "STAT %sclient_err %llu\r\n", pre, U(p->client_err));
        buf_printf(o, "STAT %srequests %llu\r\n", pre, U(p->requests));
        buf_printf(o, "STAT %serrors %llu\r\n", pre, U(p->errors));
        buf_printf(o, "STAT %sfragments %llu\r\n", pre, U(p->fragments));
        buf_printf(o, "STAT %sfailovers %llu\r\n", pre, U(p->failovers));
        buf_printf(o, "STAT %sservers %zu\r\n", pre, p->nservers);
        buf_printf(o, "STAT %slive_servers %zu\r\n", pre, p->nlive);
        buf_printf(o, "STAT %sreplicas %u\r\n", pre, p->cf->replicas);
        lat(o, pre, &p->lat);
        for (size_t j = 0; j < p->nservers; j++) {
            const struct server *s = &p->servers[j];
            snprintf(pre, sizeof(pre), "server:%s:%s:", p->cf->name, s->cf->label);
            buf_printf(o, "STAT %srequests %llu\r\n", pre, U(s->requests));
            buf_printf(o, "STAT %serrors %llu\r\n", pre, U(s->errors));
            buf_printf(o, "STAT %sserver_errors %llu\r\n", pre, U(s->server_errors));
            buf_printf(o, "STAT %stimeouts %llu\r\n", pre, U(s->timeouts));
            buf_printf(o, "STAT %sejections %llu\r\n", pre, U(s->ejections));
            buf_printf(o, "STAT %sejected %d\r\n", pre, s->ejected ? 1 : 0);
            buf_printf(o, "STAT %sconnected %d\r\n", pre, s->state == SRV_UP ? 1 : 0);
            buf_printf(o, "STAT %sconnects %llu\r\n", pre, U(s->connects));
            buf_printf(o, "STAT %sin_flight %u\r\n", pre, s->nout);
            buf_printf(o, "STAT %sbytes_out %llu\r\n", pre, U(s->bytes_out));
            buf_printf(o, "STAT %sbytes_in %llu\r\n", pre, U(s->bytes_in));
            lat(o, pre, &s->lat);
        }
    }
    buf_puts(o, "END\r\n");
}
