/*
 * cluster/ring: ketama, modula and random distributions over a server list.
 *
 * Ketama (libmemcached 1.1.4 MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, which is
 * also twemproxy's `distribution: ketama`) places each server on a 32-bit
 * circle many times; a key belongs to the first point at or after its hash,
 * wrapping past the top to the first point. Adding a server takes over only
 * the arcs just before its own points, about 1/N of the keys, which is why
 * clients and proxies use it.
 *
 * Bit compatibility rests on four details (shared/reference/ketama.md):
 *
 *  1. The label hashed for a server is its twemproxy name when it has one,
 *     else "host" when the port is 11211, else "host:port". Hosts are taken
 *     as given: no DNS, no normalisation.
 *  2. Server i gets floorf(w_i/W * 40 * n + 1e-10) * 4 points, computed in
 *     IEEE single precision exactly as the C reference does (equal weights
 *     give 160 each; 1:2:3 gives 80/160/240). Changing any of those float
 *     steps to double moves points at weight edge cases.
 *  3. Point strings are "label-0", "label-1", ...; each MD5 digest of one
 *     gives four points, its bytes 0-3, 4-7, 8-11, 12-15 as little-endian
 *     uint32s.
 *  4. Points sort by (value, server index); a lookup is lower_bound with
 *     wrap. A one-server ring needs no hash; an empty key hashes to 0, as in
 *     twemproxy.
 *
 * Modula is twemproxy's weighted modula: server i fills w_i consecutive
 * slots and a key goes to slot hash % slots (libmemcached's modula when all
 * weights are 1). Random picks a server uniformly for every lookup.
 *
 * A ring is immutable after ring_new, so concurrent lookups need no lock.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* MD5(): see hash.c */
#include <openssl/md5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/ring.h"

#define KETAMA_POINTS 160 /* per server at equal weights */
#define KETAMA_PER_DIGEST 4

struct point {
    uint32_t value;
    uint32_t server;
};

struct ring {
    enum ring_dist dist;
    enum ring_hash hash;
    size_t n;
    char **labels;        /* the string hashed for each server (ketama), or host:port */
    struct point *points; /* ketama, sorted */
    size_t npoints;
    uint32_t *slots; /* modula: server index of each weight slot */
    size_t nslots;
    bool *off_ring; /* ketama: servers whose weight earned no point */
};

static const char *const dist_names[] = {
    [RING_KETAMA] = "ketama",
    [RING_MODULA] = "modula",
    [RING_RANDOM] = "random",
};

bool ring_dist_parse(const char *s, enum ring_dist *out)
{
    for (size_t i = 0; i < sizeof(dist_names) / sizeof(dist_names[0]); i++)
        if (strcmp(s, dist_names[i]) == 0) {
            *out = (enum ring_dist)i;
            return true;
        }
    return false;
}

const char *ring_dist_name(enum ring_dist d)
{
    return (size_t)d < sizeof(dist_names) / sizeof(dist_names[0]) ? dist_names[d] : "unknown";
}

/* --- building ------------------------------------------------------------------ */

static char *make_label(const struct ring_server *s)
{
    if (s->name && s->name[0])
        return strdup(s->name);
    char *out = NULL;
    int rc = s->port == RING_LABEL_DEFAULT_PORT ? asprintf(&out, "%s", s->host)
                                                : asprintf(&out, "%s:%d", s->host, s->port);
    return rc < 0 ? NULL : out;
}

static unsigned weight_of(const struct ring_server *s)
{
    return s->weight ? s->weight : 1; /* libmemcached stores 0 as 1 */
}

unsigned ring_ketama_points(unsigned weight, unsigned long total_weight, size_t nservers)
{
    /* Each step in float, as libmemcached and twemproxy compute it; the
     * 1e-10 (a double there) is absorbed when the sum is cast back. */
    float pct = (float)weight / (float)total_weight;
    float x = pct * (float)KETAMA_POINTS / (float)KETAMA_PER_DIGEST * (float)nservers;
    return (unsigned)floorf((float)((double)x + 0.0000000001)) * KETAMA_PER_DIGEST;
}

static int point_cmp(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return (x->server > y->server) - (x->server < y->server);
}

static bool build_ketama(struct ring *r, const struct ring_server *s)
{
    unsigned long total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += weight_of(&s[i]);
    size_t cap = 0;
    for (size_t i = 0; i < r->n; i++)
        cap += ring_ketama_points(weight_of(&s[i]), total, r->n);
    r->points = malloc(cap * sizeof(*r->points));
    r->off_ring = calloc(r->n, sizeof(*r->off_ring));
    if (!r->points || !r->off_ring)
        return false;
    for (size_t i = 0; i < r->n; i++) {
        unsigned digests = ring_ketama_points(weight_of(&s[i]), total, r->n) / KETAMA_PER_DIGEST;
        r->off_ring[i] = digests == 0;
        size_t llen = strlen(r->labels[i]);
        char *buf = malloc(llen + 24);
        if (!buf)
            return false;
        for (unsigned d = 0; d < digests; d++) {
            int len = snprintf(buf, llen + 24, "%s-%u", r->labels[i], d);
            unsigned char md[MD5_DIGEST_LENGTH];
            MD5((const unsigned char *)buf, (size_t)len, md);
            for (int a = 0; a < KETAMA_PER_DIGEST; a++) {
                const unsigned char *p = md + 4 * a;
                r->points[r->npoints++] = (struct point){
                    .value = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24,
                    .server = (uint32_t)i,
                };
            }
        }
        free(buf);
    }
    qsort(r->points, r->npoints, sizeof(*r->points), point_cmp);
    return true;
}

static bool build_modula(struct ring *r, const struct ring_server *s)
{
    for (size_t i = 0; i < r->n; i++)
        r->nslots += r->dist == RING_MODULA ? weight_of(&s[i]) : 1;
    r->slots = malloc(r->nslots * sizeof(*r->slots));
    if (!r->slots)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        for (unsigned w = r->dist == RING_MODULA ? weight_of(&s[i]) : 1; w; w--)
            r->slots[k++] = (uint32_t)i;
    return true;
}

struct ring *ring_new(enum ring_dist dist, enum ring_hash hash, const struct ring_server *s,
                      size_t n)
{
    if (n == 0 || n > UINT32_MAX / KETAMA_POINTS)
        return NULL;
    struct ring *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    *r = (struct ring){.dist = dist, .hash = hash, .n = n};
    r->labels = calloc(n, sizeof(*r->labels));
    bool ok = r->labels != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (r->labels[i] = make_label(&s[i])) != NULL;
    if (ok)
        ok = dist == RING_KETAMA ? build_ketama(r, s) : build_modula(r, s);
    if (!ok) {
        ring_free(r);
        return NULL;
    }
    return r;
}

void ring_free(struct ring *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->labels && i < r->n; i++)
        free(r->labels[i]);
    free(r->labels);
    free(r->points);
    free(r->slots);
    free(r->off_ring);
    free(r);
}

/* --- lookups -------------------------------------------------------------------- */

/* Random distribution only. Owned by each thread (no sharing, no lock):
 * xorshift64, seeded on first use from the clock and the state's address. */
static _Thread_local uint64_t random_state;

static uint32_t next_random(void)
{
    if (random_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        random_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                       (uint64_t)(uintptr_t)&random_state;
        random_state |= 1;
    }
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return (uint32_t)(random_state >> 32);
}

/* Index of the first point with value >= h, wrapping to 0. */
static size_t ketama_find(const struct ring *r, uint32_t h)
{
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].value < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->npoints ? 0 : lo;
}

/* The owner's position: a point index (ketama) or a slot index. */
static size_t start_of(const struct ring *r, const char *key, size_t nkey)
{
    if (r->dist == RING_RANDOM)
        return next_random() % r->nslots;
    uint32_t h = nkey ? ring_hash_key(r->hash, key, nkey) : 0;
    return r->dist == RING_KETAMA ? ketama_find(r, h) : h % r->nslots;
}

size_t ring_lookup(const struct ring *r, const char *key, size_t nkey)
{
    if (r->n == 1)
        return 0;
    size_t at = start_of(r, key, nkey);
    return r->dist == RING_KETAMA ? r->points[at].server : r->slots[at];
}

static bool listed(const size_t *out, size_t n, size_t server)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == server)
            return true;
    return false;
}

size_t ring_successors(const struct ring *r, const char *key, size_t nkey, size_t *out,
                       size_t want)
{
    if (want > r->n)
        want = r->n;
    if (want == 0)
        return 0;
    if (r->n == 1) {
        out[0] = 0;
        return 1;
    }
    size_t at = start_of(r, key, nkey), got = 0;
    size_t len = r->dist == RING_KETAMA ? r->npoints : r->nslots;
    for (size_t step = 0; step < len && got < want; step++) {
        size_t pos = (at + step) % len;
        size_t server = r->dist == RING_KETAMA ? r->points[pos].server : r->slots[pos];
        if (!listed(out, got, server))
            out[got++] = server;
    }
    /* servers too light to own a point still count as the last successors */
    for (size_t i = 0; r->off_ring && i < r->n && got < want; i++)
        if (r->off_ring[i])
            out[got++] = i;
    return got;
}

/* --- introspection ------------------------------------------------------------------ */

size_t ring_points(const struct ring *r)
{
    return r->npoints;
}

void ring_point(const struct ring *r, size_t i, uint32_t *value, size_t *server)
{
    *value = r->points[i].value;
    *server = r->points[i].server;
}

size_t ring_nservers(const struct ring *r)
{
    return r->n;
}

const char *ring_label(const struct ring *r, size_t i)
{
    return r->labels[i];
}
