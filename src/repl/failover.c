/*
 * failover: manual promotion and re-pointing of replicas (tandemctl promote).
 *
 * When a master dies, an operator promotes one replica (`replication
 * promote` on its client port): it stops following the dead master and
 * takes writes. The other replicas, and the old master when it comes back,
 * are told to follow the new one (`replication follow HOST:REPLPORT`).
 * Because a sync merges by last-writer-wins and never wipes, re-pointing a
 * node at a new master loses nothing the new master has; what a cut-off
 * old master accepted after the promotion stays on it alone, which is why
 * the old master must be demoted before clients reach it again.
 *
 * Upstreams belong to the replication thread, so a worker posts its request
 * (one at a time, under cmd_lock) and waits on cmd_cond for the thread to
 * run it; a waiter that gives up unhooks its error buffer first. The upstream array only grows: a master that is left is marked
 * retired and never dialed again, and a new master is appended before nup
 * is published, so stats readers on workers never see a half-made entry.
 */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "repl/link.h"

enum { CMD_PROMOTE = 1, CMD_FOLLOW };

#define CMD_WAIT_S 5

static bool has_peers(const struct repl *r)
{
    for (int i = 0; i < r->nup; i++)
        if (!r->up[i].master && !atomic_load(&r->up[i].retired))
            return true;
    return false;
}

/* Stop following every master (repl thread). */
static void leave_masters(struct repl *r)
{
    for (int i = 0; i < r->nup; i++) {
        struct upstream *u = &r->up[i];
        if (!u->master || atomic_load(&u->retired))
            continue;
        atomic_store(&u->retired, true);
        if (u->retry_ev)
            event_del(u->retry_ev);
        if (u->link)
            link_close(u->link, "this node was promoted");
    }
}

static void do_promote(struct repl *r, char *why, size_t whylen)
{
    if (has_peers(r)) {
        snprintf(why, whylen, "a multi-master node has no master to be promoted from");
        return;
    }
    if (!atomic_load(&r->read_only)) {
        snprintf(why, whylen, "this node is already a master");
        return;
    }
    atomic_store(&r->read_only, false); /* before the name goes: see repl_master */
    leave_masters(r);
    log_info("replication: promoted to master (was a replica of %s)", r->master);
}

static void do_follow(struct repl *r, char *why, size_t whylen)
{
    if (has_peers(r)) {
        snprintf(why, whylen, "a multi-master node cannot follow a master; remove its --peer "
                              "links");
        return;
    }
    if (strlen(r->cmd.host) >= REPL_HOST_MAX - 1) {
        snprintf(why, whylen, "host name longer than %d bytes", REPL_HOST_MAX - 2);
        return;
    }
    if (r->nup >= REPL_MAX_UPSTREAMS) {
        snprintf(why, whylen, "too many masters followed in turn; restart this node with "
                              "--replica-of");
        return;
    }
    leave_masters(r);
    struct upstream *u = &r->up[r->nup];
    memset(u, 0, sizeof(*u));
    u->r = r;
    u->master = true;
    u->backoff_ms = REPL_BACKOFF_MIN_MS;
    snprintf(u->host, sizeof(u->host), "%s", r->cmd.host);
    snprintf(u->name, sizeof(u->name), "%s:%d", r->cmd.host, r->cmd.port);
    r->cfg.up[r->nup] = (struct repl_upstream_config){u->host, r->cmd.port, true};
    pthread_mutex_lock(&r->master_lock);
    snprintf(r->master, sizeof(r->master), "%s", u->name);
    pthread_mutex_unlock(&r->master_lock);
    __atomic_store_n(&r->nup, r->nup + 1, __ATOMIC_RELEASE);
    atomic_store(&r->read_only, true);
    upstream_schedule(u, 0);
    log_info("replication: now a replica of %s", u->name);
}

void repl_run_cmd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct repl *r = arg;
    pthread_mutex_lock(&r->cmd_lock);
    char why[160] = "";
    if (r->cmd.op == CMD_PROMOTE)
        do_promote(r, why, sizeof(why));
    else if (r->cmd.op == CMD_FOLLOW)
        do_follow(r, why, sizeof(why));
    if (r->cmd.err)
        snprintf(r->cmd.err, r->cmd.errlen, "%s", why);
    r->cmd.done_gen = r->cmd.gen;
    r->cmd.busy = false;
    pthread_cond_broadcast(&r->cmd_cond);
    pthread_mutex_unlock(&r->cmd_lock);
}

/* Post a request and wait for the replication thread to run it. */
static bool run(struct repl *r, int op, const char *host, int port, char *err, size_t errlen)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CMD_WAIT_S;
    pthread_mutex_lock(&r->cmd_lock);
    while (r->cmd.busy) { /* one request at a time */
        if (pthread_cond_timedwait(&r->cmd_cond, &r->cmd_lock, &until) != 0) {
            pthread_mutex_unlock(&r->cmd_lock);
            snprintf(err, errlen, "another promote or follow is still running");
            return false;
        }
    }
    uint64_t gen = ++r->cmd.gen;
    r->cmd.busy = true;
    r->cmd.op = op;
    snprintf(r->cmd.host, sizeof(r->cmd.host), "%s", host ? host : "");
    r->cmd.port = port;
    err[0] = '\0';
    r->cmd.err = err;
    r->cmd.errlen = errlen;
    event_active(r->cmd_ev, 0, 0);
    while (r->cmd.done_gen < gen)
        if (pthread_cond_timedwait(&r->cmd_cond, &r->cmd_lock, &until) != 0)
            break;
    bool done = r->cmd.done_gen >= gen;
    if (r->cmd.gen == gen)
        r->cmd.err = NULL; /* ours: the thread must not write here any more */
    pthread_mutex_unlock(&r->cmd_lock);
    if (!done)
        snprintf(err, errlen, "the replication thread did not answer in %d s", CMD_WAIT_S);
    return done && err[0] == '\0';
}

bool repl_promote(struct repl *r, char *err, size_t errlen)
{
    return run(r, CMD_PROMOTE, NULL, 0, err, errlen);
}

bool repl_follow(struct repl *r, const char *host, int port, char *err, size_t errlen)
{
    return run(r, CMD_FOLLOW, host, port, err, errlen);
}
