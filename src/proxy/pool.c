/*
 * proxy/pool: which servers hold a key, given who is alive.
 *
 * Two placement rules, chosen by `replicas`:
 *
 *  - replicas: 1 is twemproxy's pool. The ring is built over the live
 *    servers only, so when auto_eject_hosts ejects one, its keys move to the
 *    next server on the ring (a cache miss, not an error) and move back when
 *    it returns. With every server live the ring is libmemcached's.
 *
 *  - replicas: N > 1 keeps the ring over all servers, always. A key's copies
 *    are its N successors on that ring; an ejected copy is skipped, never
 *    replaced by the next server along, because that server does not have
 *    the key and would answer reads with misses. Writes go to the live
 *    copies, reads to one of them. Only when all N are down does the key
 *    fail, with an error naming its owner.
 *
 * Reads pick a copy by `balance` (round-robin, least-connections = fewest
 * requests in flight, hash = the same copy for the same key), unless
 * read_from: primary pins them to the first live copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ring.h"
#include "proxy/proxy.h"

/* The part of the key that is hashed: between the hash_tag bytes if both
 * are present with something in between, else the whole key. */
static void tagged(const struct conf_pool *cf, const char **key, size_t *nkey)
{
    if (!cf->hash_tag[0])
        return;
    const char *open = memchr(*key, cf->hash_tag[0], *nkey);
    if (!open)
        return;
    size_t rest = *nkey - (size_t)(open + 1 - *key);
    const char *close = memchr(open + 1, cf->hash_tag[1], rest);
    if (!close || close == open + 1)
        return;
    *key = open + 1;
    *nkey = (size_t)(close - open - 1);
}

bool pool_rebuild(struct pool *p)
{
    struct ring_server rs[p->nservers];
    size_t n = 0;
    bool all = p->cf->replicas > 1;
    for (size_t i = 0; i < p->nservers; i++) {
        const struct conf_server *cs = p->servers[i].cf;
        if (!all && p->servers[i].ejected)
            continue;
        rs[n] = (struct ring_server){.host = cs->host ? cs->host : cs->path,
                                     .port = cs->host ? cs->port : 0,
                                     .weight = cs->weight,
                                     .name = cs->name};
        p->ring_map[n++] = i;
    }
    size_t live = 0;
    for (size_t i = 0; i < p->nservers; i++)
        live += !p->servers[i].ejected;
    p->nlive = live;
    struct ring *r = n ? ring_new(p->cf->dist, p->cf->hash, rs, n) : NULL;
    if (n && !r)
        return false;
    ring_free(p->ring);
    p->ring = r;
    return true;
}

bool pool_init(struct px *px, struct pool *p, const struct conf_pool *cf, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->px = px;
    p->cf = cf;
    p->lfd = -1;
    p->nservers = cf->nservers;
    p->servers = calloc(cf->nservers, sizeof(*p->servers));
    p->ring_map = calloc(cf->nservers, sizeof(*p->ring_map));
    if (!p->servers || !p->ring_map) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < cf->nservers; i++)
        if (!server_init(&p->servers[i], p, i, &cf->servers[i], err, errlen))
            return false;
    if (!pool_rebuild(p)) {
        snprintf(err, errlen, "pool '%s': out of memory building the ring", cf->name);
        return false;
    }
    return true;
}

void pool_free(struct pool *p)
{
    if (p->servers)
        for (size_t i = 0; i < p->nservers; i++)
            server_free(&p->servers[i]);
    free(p->servers);
    free(p->ring_map);
    ring_free(p->ring);
    p->servers = NULL;
    p->ring_map = NULL;
    p->ring = NULL;
}

size_t pool_copies(struct pool *p, const char *key, size_t nkey, struct server **out,
                   struct server **owner)
{
    tagged(p->cf, &key, &nkey);
    if (!p->ring) {
        *owner = NULL;
        return 0;
    }
    size_t want = p->cf->replicas;
    if (want == 1) {
        struct server *s = &p->servers[p->ring_map[ring_lookup(p->ring, key, nkey)]];
        *owner = s;
        out[0] = s;
        return 1;
    }
    size_t idx[PX_REPLICAS_MAX];
    size_t got = ring_successors(p->ring, key, nkey, idx, want), n = 0;
    *owner = got ? &p->servers[p->ring_map[idx[0]]] : NULL;
    for (size_t i = 0; i < got; i++) {
        struct server *s = &p->servers[p->ring_map[idx[i]]];
        if (!s->ejected)
            out[n++] = s;
    }
    return n;
}

void pool_read_order(struct pool *p, const char *key, size_t nkey, struct server **c, size_t n)
{
    if (n < 2 || p->cf->read_from == READ_FROM_PRIMARY)
        return;
    size_t first = 0;
    switch (p->cf->balance) {
    case BALANCE_ROUND_ROBIN:
        first = (size_t)(p->rr++ % n);
        break;
    case BALANCE_LEAST_CONN:
        for (size_t i = 1; i < n; i++)
            if (c[i]->nout < c[first]->nout)
                first = i;
        break;
    case BALANCE_HASH: {
        tagged(p->cf, &key, &nkey);
        /* a hash other than the ring's, so the choice does not follow the owner */
        uint32_t h = ring_hash_key(RING_HASH_FNV1A_32, key, nkey);
        first = (h ^ (h >> 16)) % n;
        break;
    }
    }
    struct server *tmp[PX_REPLICAS_MAX];
    for (size_t i = 0; i < n; i++)
        tmp[i] = c[(first + i) % n];
    memcpy(c, tmp, n * sizeof(*c));
}
