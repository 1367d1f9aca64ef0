/* Shared helpers for the store unit tests (header-only, static). */
#ifndef TANDEM_TEST_STORE_UTIL_H
#define TANDEM_TEST_STORE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "store/store.h"

/* This process's resident size in bytes (0 if /proc cannot tell). */
static inline long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static inline struct store *mk_store(size_t mem, bool evict, uint32_t tombstone_ttl)
{
    struct store_config cfg;
    store_config_init(&cfg);
    cfg.mem_limit = mem;
    cfg.evict = evict;
    cfg.tombstone_ttl = tombstone_ttl;
    const char *err = NULL;
    struct store *s = store_create(&cfg, &err);
    assert_non_null(s);
    return s;
}

static inline enum store_status put_full(struct store *s, const char *key, const void *val, size_t n,
                                  uint32_t flags, uint32_t exptime, enum store_mode mode,
                                  uint64_t cas, uint64_t *ver)
{
    struct store_item *it;
    enum store_status st = store_item_alloc(s, key, strlen(key), flags, exptime, (uint32_t)n, &it);
    if (st != STORE_OK)
        return st;
    memcpy(store_item_data(it), val, n);
    struct store_write w = {.mode = mode, .cas = cas};
    return store_item_link(s, it, &w, ver);
}

static inline enum store_status put(struct store *s, const char *key, const char *val)
{
    return put_full(s, key, val, strlen(val), 0, 0, STORE_SET, 0, NULL);
}

static inline enum store_status put_mode(struct store *s, const char *key, const char *val,
                                  enum store_mode mode, uint64_t cas, uint64_t *ver)
{
    return put_full(s, key, val, strlen(val), 0, 0, mode, cas, ver);
}

struct got {
    char val[2048];
    uint32_t nvalue;
    uint32_t flags, exptime, prev_exptime, atime;
    uint64_t version;
    bool fetched, stale, won, win_sent, binary_key, tombstone, created;
};

static inline void got_fn(void *arg, const struct store_view *v)
{
    struct got *g = arg;
    g->nvalue = v->nvalue;
    size_t n = v->nvalue < sizeof(g->val) - 1 ? v->nvalue : sizeof(g->val) - 1;
    memcpy(g->val, v->value, n);
    g->val[n] = '\0';
    g->flags = v->flags;
    g->exptime = v->exptime;
    g->prev_exptime = v->prev_exptime;
    g->atime = v->atime;
    g->version = v->version;
    g->fetched = v->fetched;
    g->stale = v->stale;
    g->won = v->won;
    g->win_sent = v->win_sent;
    g->binary_key = v->binary_key;
    g->tombstone = v->tombstone;
    g->created = v->created;
}

static inline bool get_opt(struct store *s, const char *key, const struct store_fetch *opt, struct got *g)
{
    memset(g, 0, sizeof(*g));
    return store_fetch(s, key, strlen(key), opt, got_fn, g) == STORE_OK;
}

static inline bool get(struct store *s, const char *key, struct got *g)
{
    return get_opt(s, key, NULL, g);
}

static inline bool has(struct store *s, const char *key)
{
    struct store_fetch nb = {.no_bump = true};
    return store_fetch(s, key, strlen(key), &nb, NULL, NULL) == STORE_OK;
}

static inline struct store_stats stats_of(struct store *s)
{
    struct store_stats st;
    store_stats(s, &st);
    return st;
}

#endif
