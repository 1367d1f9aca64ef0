/*
 * cmd_admin: memcached's administrative text commands.
 *
 * Tandem has no slab mover, LRU segments, extstore or TLS to tune, but
 * clients and scripts send these commands anyway; each one gets the exact
 * reply memcached 1.6.18 gives for the same arguments, and the settings it
 * reports back are remembered.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/snapshot.h"
#include "server/stats.h"
#include "server/watch.h"

static bool tok_is(const struct proto_token *t, const char *s)
{
    size_t n = strlen(s);
    return t->n == n && memcmp(t->p, s, n) == 0;
}

static bool tok_u32(const struct proto_token *t, uint32_t *out)
{
    return proto_parse_u32(t->p, t->n, out);
}

static enum conn_action reply(struct conn *c, const char *line, bool noreply)
{
    session_reply(c, line, noreply);
    return CONN_WAIT;
}

static enum conn_action do_flush_all(struct conn *c, struct proto_req *req)
{
    struct thread_ctx *t = conn_thread(c);
    TSTAT_INC(t->stats, flush_cmds);
    if (!t->srv->settings->flush_enabled)
        return reply(c, "CLIENT_ERROR flush_all not allowed", req->noreply);
    int32_t delay = 0;
    size_t args = req->ntokens - 1 - (req->noreply ? 1 : 0);
    if (args > 0 && !proto_parse_i32(req->tokens[1].p, req->tokens[1].n, &delay))
        return reply(c, "CLIENT_ERROR invalid exptime argument", req->noreply);
    /* memcached hides items last written at or before (flush time - 1 s); an
     * absolute time before start-up (server_exptime gives 1) flushes nothing */
    uint32_t when = delay > 0 ? server_exptime(delay) - 1 : 0;
    if (delay <= 0 || when > 0)
        store_flush(t->srv->store, when);
    return reply(c, "OK", req->noreply);
}

static enum conn_action do_verbosity(struct conn *c, struct proto_req *req)
{
    uint32_t level;
    if (!tok_u32(&req->tokens[1], &level))
        return reply(c, "CLIENT_ERROR bad command line format", req->noreply);
    log_set_level(level > 2 ? 2 : (int)level);
    conn_thread(c)->srv->settings->verbose = level > 2 ? 2 : (int)level;
    return reply(c, "OK", req->noreply);
}

static enum conn_action do_shutdown(struct conn *c, struct proto_req *req)
{
    if (!conn_thread(c)->srv->settings->shutdown_command)
        return reply(c, "ERROR: shutdown not enabled", false);
    int sig;
    if (req->ntokens == 1)
        sig = SIGINT;
    else if (req->ntokens == 2 && tok_is(&req->tokens[1], "graceful"))
        sig = SIGUSR1;
    else
        return reply(c, "CLIENT_ERROR invalid shutdown mode", false);
    log_info("shutdown requested by a client");
    kill(getpid(), sig);
    conn_close_after_write(c);
    return CONN_WAIT;
}

static enum conn_action do_cache_memlimit(struct conn *c, struct proto_req *req)
{
    struct thread_ctx *t = conn_thread(c);
    uint32_t mb;
    if (!tok_u32(&req->tokens[1], &mb))
        return reply(c, "ERROR", false);
    if (mb < 8)
        return reply(c, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m", req->noreply);
    if (mb > 1000000000)
        return reply(c, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes",
                     req->noreply);
    size_t bytes = (size_t)mb * 1024 * 1024;
    if (store_set_limit(t->srv->store, bytes) != STORE_OK)
        return reply(c, "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust", req->noreply);
    t->srv->settings->maxbytes = bytes;
    log_info("maxbytes adjusted to %um", mb);
    return reply(c, "OK", req->noreply);
}

/* lru_crawler <enable|disable|sleep N|tocrawl N|crawl ids|metadump ids> */
static enum conn_action do_lru_crawler(struct conn *c, struct session *s, struct proto_req *req)
{
    struct settings *st = conn_thread(c)->srv->settings;
    if (req->ntokens < 2)
        return reply(c, "ERROR", false);
    const struct proto_token *sub = &req->tokens[1];
    uint32_t v;
    if (req->ntokens == 3 && tok_is(sub, "metadump")) {
        if (!st->dump_enabled)
            return reply(c, "ERROR metadump not allowed", false);
        if (c->wbuf.len > 0) /* replies of earlier pipelined commands are pending */
            return reply(c, "ERROR cannot pipeline other commands before metadump", false);
        if (c->kind == CONN_UDP)
            return reply(c, "CLIENT_ERROR metadump is not available over UDP", false);
        const struct proto_token *ids = &req->tokens[2];
        if (!tok_is(ids, "all") && !tok_is(ids, "hash") && !stats_valid_class_list(conn_thread(c)->srv->store, ids->p, ids->n))
            return reply(c, "BADCLASS invalid class id", false);
        stats_metadump_begin(c, s, ids->p, ids->n);
        return CONN_MORE;
    }
    if (req->ntokens == 3 && tok_is(sub, "crawl")) {
        const struct proto_token *ids = &req->tokens[2];
        if (!tok_is(ids, "all") && !stats_valid_class_list(conn_thread(c)->srv->store, ids->p, ids->n))
            return reply(c, "BADCLASS invalid class id", false);
        return reply(c, "OK", false);
    }
    if (req->ntokens == 3 && tok_is(sub, "sleep")) {
        if (!tok_u32(&req->tokens[2], &v) || v > 1000000)
            return reply(c, "CLIENT_ERROR sleep must be one second or less", false);
        st->lru_crawler_sleep = v;
        return reply(c, "OK", false);
    }
    if (req->ntokens == 3 && tok_is(sub, "tocrawl")) {
        if (!tok_u32(&req->tokens[2], &v))
            return reply(c, "ERROR", false);
        st->lru_crawler_tocrawl = v;
        return reply(c, "OK", false);
    }
    if (req->ntokens == 2 && tok_is(sub, "enable")) {
        if (st->lru_crawler)
            return reply(c, "ERROR failed to start lru crawler thread", false);
        st->lru_crawler = true;
        store_set_sweep(conn_thread(c)->srv->store, true);
        return reply(c, "OK", false);
    }
    if (req->ntokens == 2 && tok_is(sub, "disable")) {
        if (!st->lru_crawler)
            return reply(c, "ERROR failed to stop lru crawler thread", false);
        st->lru_crawler = false;
        store_set_sweep(conn_thread(c)->srv->store, false);
        return reply(c, "OK", false);
    }
    return reply(c, "ERROR", false);
}

/* slabs reassign <src> <dst> | slabs automove <0|1|2> | slabs automove ratio <f> */
static enum conn_action do_slabs(struct conn *c, struct proto_req *req)
{
    struct settings *st = conn_thread(c)->srv->settings;
    if (req->ntokens == 4 && tok_is(&req->tokens[1], "reassign")) {
        uint32_t src, dst;
        if (!st->slab_reassign)
            return reply(c, "CLIENT_ERROR slab reassignment disabled", false);
        if (!tok_u32(&req->tokens[2], &src) || !tok_u32(&req->tokens[3], &dst) || src > 63 ||
            dst > 63 || src == 0 || dst == 0)
            return reply(c, "BADCLASS invalid src or dst class id", false);
        if (src == dst)
            return reply(c, "SAME src and dst class are identical", false);
        /* pages move between classes automatically in Tandem; none to spare by hand */
        return reply(c, "NOSPARE source class has no spare pages", false);
    }
    if (req->ntokens == 3 && tok_is(&req->tokens[1], "automove")) {
        uint32_t level;
        if (!tok_u32(&req->tokens[2], &level) || level > 2)
            return reply(c, "ERROR", false);
        st->slab_automove = (int)level;
        return reply(c, "OK", false);
    }
    if (req->ntokens == 4 && tok_is(&req->tokens[1], "automove") &&
        tok_is(&req->tokens[2], "ratio")) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)req->tokens[3].n, req->tokens[3].p);
        char *end;
        double r = strtod(tmp, &end);
        if (end == tmp || *end)
            return reply(c, "ERROR", false);
        st->slab_automove_ratio = r;
        return reply(c, "OK", false);
    }
    return reply(c, "ERROR", false);
}

static bool tok_double(const struct proto_token *t, double *out)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(t->n < 31 ? t->n : 31), t->p);
    char *end;
    *out = strtod(tmp, &end);
    return end != tmp && *end == '\0';
}

/* lru tune <hot%> <warm%> <hot_factor> <warm_factor> | lru mode flat|segmented | lru temp_ttl N */
static enum conn_action do_lru(struct conn *c, struct proto_req *req)
{
    struct settings *st = conn_thread(c)->srv->settings;
    if (req->ntokens == 6 && tok_is(&req->tokens[1], "tune")) {
        uint32_t hot, warm;
        double hf, wf;
        if (!tok_u32(&req->tokens[2], &hot) || !tok_u32(&req->tokens[3], &warm) ||
            !tok_double(&req->tokens[4], &hf) || !tok_double(&req->tokens[5], &wf))
            return reply(c, "ERROR", false);
        if (hot + warm > 80)
            return reply(c, "ERROR hot and warm pcts must not exceed 80", false);
        if (hf <= 0 || wf <= 0)
            return reply(c, "ERROR hot/warm age factors must be greater than 0", false);
        st->hot_lru_pct = hot;
        st->warm_lru_pct = warm;
        st->hot_max_factor = hf;
        st->warm_max_factor = wf;
        return reply(c, "OK", false);
    }
    if (req->ntokens == 3 && tok_is(&req->tokens[1], "mode")) {
        if (tok_is(&req->tokens[2], "flat"))
            st->lru_segmented = false;
        else if (tok_is(&req->tokens[2], "segmented"))
            st->lru_segmented = true;
        else
            return reply(c, "ERROR", false);
        return reply(c, "OK", false);
    }
    if (req->ntokens == 3 && tok_is(&req->tokens[1], "temp_ttl")) {
        int32_t ttl;
        if (!proto_parse_i32(req->tokens[2].p, req->tokens[2].n, &ttl))
            return reply(c, "ERROR", false);
        st->temporary_ttl = ttl;
        st->temp_lru = ttl > 0;
        return reply(c, "OK", false);
    }
    return reply(c, "ERROR", false);
}

static enum conn_action do_watch(struct conn *c, struct session *s, struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->settings->watch_enabled)
        return reply(c, "CLIENT_ERROR watch commands not allowed", req->noreply);
    if (c->kind == CONN_UDP) /* a stream needs a connection of its own */
        return reply(c, "CLIENT_ERROR watch is not available over UDP", false);
    if (c->wbuf.len > 0) /* replies of earlier pipelined commands are pending */
        return reply(c, "ERROR cannot pipeline other commands before watch", req->noreply);
    unsigned kinds = watch_kinds(req->tokens + 1, req->ntokens - 1);
    if (!kinds)
        return reply(c, "ERROR", req->noreply);
    if (!watch_subscribe(srv->watch, c, kinds))
        return reply(c, "SERVER_ERROR out of memory", false);
    s->watching = true;
    return reply(c, "OK", req->noreply);
}

static enum conn_action do_extstore(struct conn *c, struct proto_req *req)
{
    static const char *const opts[] = {"item_size",     "item_age",    "low_ttl",
                                       "recache_rate",  "compact_under", "drop_under",
                                       "max_sleep",     "max_frag",    "drop_unread",
                                       "free_memchunks"};
    if (req->ntokens != 3)
        return reply(c, "ERROR", false);
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
        if (tok_is(&req->tokens[1], opts[k]))
            return reply(c, "OK", false);
    return reply(c, "ERROR", false);
}

/* snapshot: write an in-server snapshot now and answer once it is on disk,
 * "OK <path>" or "SERVER_ERROR snapshot failed: <why>". The connection
 * parks meanwhile (its worker serves everyone else); requests pipelined
 * behind it wait with it, so replies stay in order. */
static enum conn_action do_snapshot(struct conn *c, struct session *s, struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    if (req->ntokens != 1)
        return reply(c, "ERROR", false);
    if (!srv->snapshots)
        return reply(c, "SERVER_ERROR snapshot failed: no --snapshot-dir configured; restart "
                        "tandemd with --snapshot-dir DIR",
                     false);
    if (c->kind == CONN_UDP)
        return reply(c, "CLIENT_ERROR snapshot is not available over UDP", false);
    struct event *ev = conn_wake_event(c);
    s->snap = ev ? calloc(1, sizeof(*s->snap)) : NULL;
    if (!s->snap)
        return reply(c, "SERVER_ERROR out of memory", false);
    s->snap->ev = ev;
    server_snapshot_request(srv->snapshots, s->snap);
    return CONN_PARK;
}

bool cmd_snapshot_resume(struct conn *c, struct session *s)
{
    if (!server_snapshot_done(conn_thread(c)->srv->snapshots, s->snap))
        return false;
    char line[700];
    if (s->snap->ok)
        snprintf(line, sizeof(line), "OK %s", s->snap->result);
    else
        snprintf(line, sizeof(line), "SERVER_ERROR snapshot failed: %s", s->snap->result);
    session_reply(c, line, false);
    free(s->snap);
    s->snap = NULL;
    return true;
}

void cmd_snapshot_cancel(struct conn *c, struct session *s)
{
    if (!s->snap)
        return;
    server_snapshot_cancel(conn_thread(c)->srv->snapshots, s->snap);
    free(s->snap);
    s->snap = NULL;
}

/* Commands that change settings run under the settings lock. */
static enum conn_action locked(struct conn *c, struct session *s, struct proto_req *req,
                               enum conn_action (*fn)(struct conn *, struct session *,
                                                      struct proto_req *))
{
    struct server *srv = conn_thread(c)->srv;
    pthread_mutex_lock(&srv->settings_lock);
    enum conn_action a = fn(c, s, req);
    pthread_mutex_unlock(&srv->settings_lock);
    return a;
}

static enum conn_action run_verbosity(struct conn *c, struct session *s, struct proto_req *req)
{
    (void)s;
    return do_verbosity(c, req);
}

static enum conn_action run_memlimit(struct conn *c, struct session *s, struct proto_req *req)
{
    (void)s;
    return do_cache_memlimit(c, req);
}

static enum conn_action run_slabs(struct conn *c, struct session *s, struct proto_req *req)
{
    (void)s;
    return do_slabs(c, req);
}

static enum conn_action run_lru(struct conn *c, struct session *s, struct proto_req *req)
{
    (void)s;
    return do_lru(c, req);
}

enum conn_action cmd_admin_run(struct conn *c, struct session *s, struct proto_req *req)
{
    switch (req->cmd) {
    case PROTO_CMD_FLUSH_ALL: return do_flush_all(c, req);
    case PROTO_CMD_VERSION: return reply(c, "VERSION " TANDEM_MEMCACHED_VERSION, false);
    case PROTO_CMD_VERBOSITY: return locked(c, s, req, run_verbosity);
    case PROTO_CMD_SHUTDOWN: return do_shutdown(c, req);
    case PROTO_CMD_CACHE_MEMLIMIT: return locked(c, s, req, run_memlimit);
    case PROTO_CMD_STATS: return stats_run(c, s, req);
    case PROTO_CMD_LRU_CRAWLER: return locked(c, s, req, do_lru_crawler);
    case PROTO_CMD_SLABS: return locked(c, s, req, run_slabs);
    case PROTO_CMD_LRU: return locked(c, s, req, run_lru);
    case PROTO_CMD_WATCH: return do_watch(c, s, req);
    case PROTO_CMD_REFRESH_CERTS: return reply(c, "Error TLS not enabled", false);
    case PROTO_CMD_EXTSTORE: return do_extstore(c, req);
    case PROTO_CMD_REPLICATION: return cmd_replication_run(c, req);
    case PROTO_CMD_SNAPSHOT: return do_snapshot(c, s, req);
    default: return reply(c, "ERROR", false);
    }
}
