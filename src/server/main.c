/*
 * tandemd: start-up and shut-down.
 *
 * Order matters and follows memcached: parse options, refuse root without
 * -u, raise the descriptor limit, daemonize, create the store, bind the
 * listeners (while still privileged), drop privileges, then start the
 * workers. The main thread keeps the clock, accepts connections and handles
 * signals; a maintenance thread grows the hash table and sweeps expired
 * items in small steps so clients never wait for either.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "core/listen.h"
#include "core/log.h"
#include "repl/repl.h"
#include "server/auth.h"
#include "server/cmd.h"
#include "server/server.h"
#include "server/settings.h"
#include "server/snapshot.h"
#include "server/watch.h"
#include "store/store.h"

/* The maintenance thread must not compete with the workers while the table
 * grows: between two steps with more to do it sleeps MAINT_BUSY_NS (each
 * step holds a shard lock for at most a few dozen microseconds, see
 * walk.c), and it runs at nice MAINT_NICE. Growth still always finishes:
 * every operation on a growing shard moves HTAB_STEP buckets itself, and an
 * idle CPU runs this thread at once. Not SCHED_IDLE: on a CPU kept busy by
 * other processes an idle-class thread preempted while holding a shard lock
 * could leave the workers waiting on it for a long time, while nice 19
 * still gets a slice within a few milliseconds. Both sleeps wait on `wake`,
 * so shutdown interrupts them. */
#define MAINT_IDLE_NS (100 * 1000 * 1000)
#define MAINT_BUSY_NS (1000 * 1000)
#define MAINT_NICE 19

struct maint {
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct store *store;
};

static void *maint_main(void *arg)
{
    struct maint *m = arg;
    pthread_setname_np(pthread_self(), "tandem-maint");
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), MAINT_NICE) != 0)
        log_info("maintenance thread keeps normal priority: setpriority: %s", strerror(errno));
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        pthread_mutex_unlock(&m->lock);
        bool more = store_maintain(m->store);
        pthread_mutex_lock(&m->lock);
        if (m->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += more ? MAINT_BUSY_NS : MAINT_IDLE_NS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&m->wake, &m->lock, &ts);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    clock_tick();
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *srv = arg;
    log_info("Signal handled: %s.", sig == SIGUSR1 ? "User defined signal 1" : strsignal(sig));
    srv->stop_signal = (int)sig;
    event_base_loopbreak(srv->main_base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    struct server *srv = arg;
    char err[256];
    if (srv->settings->auth_file && !auth_load(srv->settings->auth_file, err, sizeof(err)))
        log_error("%s", err);
}

/* memcached raises the descriptor limit to fit -c; we only ever raise it. */
static bool raise_fd_limit(unsigned maxconns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "failed to getrlimit number of files\n");
        return false;
    }
    rlim_t want = (rlim_t)maxconns + 64;
    if (rl.rlim_cur >= want)
        return true;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "failed to set rlimit for open files. Try starting as root or "
                        "requesting smaller maxconns value.\n");
        return false;
    }
    return true;
}

/* Switch to -u's user when running as root; 0 or memcached's exit status. */
static int drop_privileges(const char *user)
{
    if (getuid() != 0 && geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "can't find the user %s to switch to\n", user);
        return EX_NOUSER;
    }
    if ((setgroups(0, NULL) < 0 && errno != EPERM) || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "failed to assume identity of user %s\n", user);
        return EX_OSERR;
    }
    return 0;
}

/* Options memcached has that this build does not: refuse them clearly. */
static int refuse_unsupported(const struct settings *st)
{
    if (st->sasl) {
        fprintf(stderr, "This server is not built with SASL support.\n");
        return EX_USAGE;
    }
    if (st->ssl_enabled) {
        fprintf(stderr, "This server is not built with TLS support.\n");
        return EX_USAGE;
    }
    if (st->replicas > 0) {
        fprintf(stderr, "%s is not available in this build yet\n",
                "--replicas (sharded mode; use tandem-proxy's replicas:)");
        return EX_USAGE;
    }
    if (st->memory_file) {
        fprintf(stderr, "tandemd does not support -e (memory file); "
                        "use --snapshot-dir for restarts that keep data\n");
        return EX_USAGE;
    }
    return 0;
}

/* -r and -k, as memcached applies them. */
static void apply_process_limits(const struct settings *st)
{
    if (st->maxcore) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_CORE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_CORE, &rl);
        }
    }
    if (st->lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k invalid, mlockall() failed: %s\n", strerror(errno));
}

/* -d: detach; stdout/stderr go to the config file's `logfile` if it has one. */
static bool daemonize(const struct settings *st)
{
    signal(SIGHUP, SIG_IGN);
    if (daemon(0, st->verbose > 0 || st->logfile) != 0) {
        fprintf(stderr, "failed to daemon() in order to daemonize\n");
        return false;
    }
    if (st->logfile && (!freopen(st->logfile, "a", stdout) || !freopen(st->logfile, "a", stderr)))
        return false;
    return true;
}

static bool write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "Could not open the pid file %s for writing: %s\n", path, strerror(errno));
        return false;
    }
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f) == 0;
}

/* --repl-sync-wait block: like repcached, a restarted node opens its client
 * port only once its peers have given it their data back (or the wait
 * times out, e.g. when every peer is down). */
static void wait_for_first_sync(struct repl *r, uint32_t timeout_s)
{
    if (repl_synced(r))
        return;
    log_info("waiting for the first sync with peers before serving clients");
    struct timespec start, now, nap = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (repl_synced(r))
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (timeout_s && now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
            log_error("no sync with peers after %u s; serving clients with the data held",
                      timeout_s);
            return;
        }
        nanosleep(&nap, NULL);
    }
}

static struct store *make_store(const struct settings *st, struct repl *repl)
{
    struct store_config sc = {
        .mem_limit = st->maxbytes,
        .item_size_max = st->item_size_max,
        .evict = st->evict_to_free,
        .use_cas = st->use_cas,
        .hashpower = st->hashpower_init ? st->hashpower_init : 16,
        .hash_expand = st->hash_expand,
        .no_sweep = !st->lru_crawler,
        /* replication: deletes leave tombstones for an hour so a late write
         * from a peer cannot bring a key back, and every change is fed to
         * the write log; a touch must get a new version to win by LWW */
        .tombstone_ttl = repl ? 3600 : 0,
        .on_change = repl ? repl_on_change : NULL,
        .on_change_arg = repl,
        .touch_new_version = repl != NULL,
        .growth_factor = st->factor,
        .chunk_min = st->chunk_size,
    };
    const char *err = NULL;
    struct store *s = store_create(&sc, &err);
    if (!s)
        fprintf(stderr, "failed to create the cache: %s\n", err ? err : "out of memory");
    return s;
}

static bool start_workers(struct server *srv)
{
    srv->workers = workers_create(srv->nworkers);
    srv->tstats = calloc((size_t)srv->nworkers, sizeof(*srv->tstats));
    struct thread_ctx *ctx = srv->ctx = calloc((size_t)srv->nworkers, sizeof(*ctx));
    if (!srv->workers || !srv->tstats || !ctx)
        return false;
    for (int i = 0; i < srv->nworkers; i++) {
        srv->tstats[i] = calloc(1, sizeof(struct tstats));
        if (!srv->tstats[i])
            return false;
        ctx[i] = (struct thread_ctx){srv, srv->tstats[i]};
        srv->workers[i].ctx = &ctx[i];
    }
    return true;
}

static void free_workers_ctx(struct server *srv)
{
    if (srv->tstats)
        for (int i = 0; i < srv->nworkers; i++)
            free(srv->tstats[i]);
    free(srv->tstats);
    free(srv->ctx);
}

int main(int argc, char **argv)
{
    static struct settings st; /* process-wide, set up before any thread starts */
    char err[512] = "";
    settings_init(&st);
    int rc = settings_parse_args(&st, argc, argv, err, sizeof(err));
    if (rc > 0)
        return EXIT_SUCCESS;
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return st.exit_code ? st.exit_code : EX_USAGE;
    }
    log_set_level(st.verbose);
    if (settings_check_user(&st, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return EX_USAGE;
    }
    if (!raise_fd_limit(st.maxconns))
        return EX_OSERR;
    if ((rc = refuse_unsupported(&st)) != 0)
        return rc;
    if (st.snapshot_dir && !server_snapshot_prepare(st.snapshot_dir, st.username, err,
                                                    sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return EX_CANTCREAT;
    }
    apply_process_limits(&st);
    if (st.auth_file && !auth_load(st.auth_file, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return EX_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (st.daemonize && !daemonize(&st))
        return EXIT_FAILURE;

    clock_tick();
    hlc_set_node((uint16_t)st.node_id);
    evthread_use_pthreads();

    struct server srv = {.settings = &st, .nworkers = st.num_threads, .started = clock_started()};
    pthread_mutex_init(&srv.settings_lock, NULL);
    srv.reserved_fds = 4 + 4 * (unsigned)st.num_threads;
    atomic_store(&srv.detail_enabled, st.detail_enabled);
    if (st.repl_enabled && !(srv.repl = server_repl_create(&st, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return EX_CONFIG;
    }
    srv.store = make_store(&st, srv.repl);
    srv.main_base = event_base_new();
    srv.watch = watch_create();
    if (!srv.store || !srv.main_base || !srv.watch || !start_workers(&srv)) {
        fprintf(stderr, "failed to initialise the server\n");
        return EXIT_FAILURE;
    }

    struct listen_config lc = {
        .addrs = st.inter,
        .port = st.port,
        .udp_port = st.udpport,
        .unix_path = st.socketpath,
        .unix_mask = st.access,
        .backlog = st.backlog,
        .maxconns = (unsigned)st.maxconns,
    };
    /* the local snapshot first, then the peers' data on top (DESIGN §4 Restart) */
    struct snapshot_load loaded = {.records = 0};
    if (st.snapshot_dir && !server_snapshot_load(srv.store, st.snapshot_dir, &loaded, err,
                                                 sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return EX_CANTCREAT;
    }
    if (srv.repl && !repl_start(srv.repl, srv.store, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return EX_OSERR;
    }
    if (srv.repl && st.repl_sync_wait == SYNC_WAIT_BLOCK)
        wait_for_first_sync(srv.repl, (uint32_t)st.repl_sync_timeout);
    srv.sync_refuse = srv.repl && st.repl_sync_wait == SYNC_WAIT_ERROR;
    if (!listen_start(srv.main_base, &lc, srv.workers, srv.nworkers, &session_handler, err,
                      sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return EX_OSERR;
    }
    if (st.username && st.username[0] && (rc = drop_privileges(st.username)) != 0)
        return rc;
    if (st.pid_file)
        write_pidfile(st.pid_file); /* like memcached: a warning, not a reason to stop */
    /* after dropping privileges, so snapshot files belong to -u's user */
    if (st.snapshot_dir &&
        !(srv.snapshots = server_snapshot_start(&srv, &loaded, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return EX_CANTCREAT;
    }

    struct maint maint = {.store = srv.store};
    pthread_mutex_init(&maint.lock, NULL);
    pthread_cond_init(&maint.wake, NULL);
    workers_set_idle_timeout(srv.workers, srv.nworkers, (uint32_t)st.idle_timeout);
    if (!workers_start(srv.workers, srv.nworkers) ||
        pthread_create(&maint.tid, NULL, maint_main, &maint) != 0) {
        fprintf(stderr, "failed to start threads\n");
        return EXIT_FAILURE;
    }

    struct event *tick = event_new(srv.main_base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 100000};
    event_add(tick, &tv);
    int sigs[] = {SIGINT, SIGTERM, SIGUSR1};
    struct event *sev[4];
    for (int i = 0; i < 3; i++) {
        sev[i] = evsignal_new(srv.main_base, sigs[i], on_stop_signal, &srv);
        event_add(sev[i], NULL);
    }
    sev[3] = evsignal_new(srv.main_base, SIGHUP, on_hup, &srv);
    event_add(sev[3], NULL);

    event_base_dispatch(srv.main_base);

    /* shut down: stop accepting, stop clients, stop housekeeping, free */
    workers_stop(srv.workers, srv.nworkers); /* no worker reads listener state after this */
    listen_stop();
    pthread_mutex_lock(&maint.lock);
    maint.stop = true;
    pthread_cond_signal(&maint.wake);
    pthread_mutex_unlock(&maint.lock);
    pthread_join(maint.tid, NULL);
    repl_stop(srv.repl); /* before the store goes: links apply into it */
    /* SIGTERM and SIGUSR1 (memcached's graceful stop) save a last snapshot
     * of the now quiet store; SIGINT stops at once */
    server_snapshot_stop(srv.snapshots, srv.stop_signal == SIGTERM || srv.stop_signal == SIGUSR1);
    for (int i = 0; i < 4; i++)
        event_free(sev[i]);
    event_free(tick);
    event_base_free(srv.main_base);
    free_workers_ctx(&srv);
    store_destroy(srv.store);
    repl_destroy(srv.repl);
    watch_destroy(srv.watch);
    auth_free();
    if (st.pid_file)
        unlink(st.pid_file);
    settings_free(&st);
    return EXIT_SUCCESS;
}
