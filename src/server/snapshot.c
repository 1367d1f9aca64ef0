/*
 * server/snapshot: periodic, on-demand and final snapshots, and the load at
 * start (see snapshot.h for the contract, docs/snapshots.md for operators).
 *
 * Writing without forking and without a global lock. The snapshotter walks
 * the table the way a replication full sync does: store_scan with a
 * resumable cursor, a slice of at most SLICE_MAX items at a time, each
 * slice under the lock of one shard only. The slice's items are encoded
 * into a private buffer while the lock is held (a memory copy, nothing
 * else) and written to the file after it is released, so a slow disk never
 * holds a lock. Clients keep writing during the walk; like memcached's
 * crawler this gives a "fuzzy" snapshot: every item present for the whole
 * walk is in it, items written during the walk may or may not be. The flush
 * cutoffs go first, so an item flushed before the walk can never come back
 * on load. The thread runs at a lower priority than the workers, so when
 * they share a CPU, clients come first.
 *
 * Each snapshot is a new file ("snapshot-<ms>-<node>.tsnap", see
 * snapshot/snapshot.h) written to a temporary name, fsynced and renamed;
 * then all but the newest --snapshot-keep are deleted. A failed snapshot
 * (full disk, directory gone) leaves the older files alone and is counted
 * and logged; the next one tries again.
 *
 * Requests. The thread sleeps on a condition variable until the interval
 * passes, a client asks (`snapshot`), or main stops it. A request waits for
 * a snapshot that *starts* after it, so it always covers the writes the
 * client made before asking; requests that arrive during a walk are served
 * together by the next one.
 *
 * Loading. Every file is verified whole (trailer, count, digest) before a
 * single record is applied, so a corrupt file is never half applied: the
 * load falls back to the next older file and logs why, with the offset.
 * Records merge by last-writer-wins (store_apply); items whose expiry has
 * passed are skipped. Replication keeps its rule for positions: a restarted
 * node takes a new history (docs/replication.md "Write log"), so peers
 * resync by walking the table rather than trusting positions the snapshot
 * saw.
 */
#include "server/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/hlc.h"
#include "core/log.h"
#include "repl/repl.h"
#include "server/server.h"
#include "server/settings.h"
#include "snapshot/snapshot.h"
#include "store/store.h"

#define SLICE_MAX 256            /* items per store_scan call */
#define SLICE_BYTES (4u << 20)   /* aim for slices of about this many encoded bytes */
#define SNAP_NICE 10             /* the thread's nice value: workers come first */

struct snapshotter {
    struct server *srv;
    char *dir;
    int interval;                /* seconds, 0 = no periodic snapshots */
    int keep;
    pthread_t tid;
    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t wake;         /* CLOCK_MONOTONIC */
    bool stop, final;
    bool requested;              /* a snapshot was asked for */
    struct snapshot_waiter *pending;   /* waiting for the next snapshot to start */
    struct snapshot_waiter *current;   /* served by the one running */
    /* stats */
    bool running;
    uint64_t last_created_ms;
    uint64_t written, failures;
    uint64_t last_time;          /* Unix seconds the last success finished */
    uint64_t last_ms, last_items, last_bytes;
    char last_path[600];
    char last_error[600];
    struct snapshot_load load;
};

/* --- time --------------------------------------------------------------------------- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- loading ------------------------------------------------------------------------ */

/* Merge one verified file into the store. False with err if reading failed
 * part way (the records before it are valid and stay applied). */
static bool apply_file(struct store *s, const char *path, struct snapshot_load *out, char *err,
                       size_t errlen)
{
    struct snap_reader *r = snap_read_open(path, err, errlen);
    if (!r)
        return false;
    uint32_t now = clock_now();
    struct frame f;
    enum snap_next st;
    while ((st = snap_read_next(r, &f)) == SNAP_RECORD) {
        out->records++;
        struct store_record rec;
        if (f.type == FRAME_FLUSH) {
            store_apply_flush(s, f.flush.cutoff, f.flush.when, f.flush.issued);
            continue;
        }
        if (!frame_to_store_record(&f, &rec))
            continue;
        if (!rec.tombstone && rec.exptime != 0 && rec.exptime <= now) {
            out->expired++;
            continue;
        }
        if (store_apply(s, &rec) == STORE_OK)
            out->applied++;
    }
    if (st == SNAP_ERROR)
        snprintf(err, errlen, "%s", snap_read_error(r));
    snap_read_close(r);
    return st == SNAP_END;
}

bool server_snapshot_load(struct store *s, const char *dir, struct snapshot_load *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char **paths;
    int n = snap_dir_list(dir, &paths, err, errlen);
    if (n < 0)
        return false;
    uint64_t t0 = mono_ms();
    for (int i = 0; i < n; i++) {
        char why[700];
        uint64_t records;
        if (!snap_verify(paths[i], &records, why, sizeof(why))) {
            log_error("snapshot not loaded: %s; trying an older snapshot", why);
            out->rejected++;
            continue;
        }
        snprintf(out->path, sizeof(out->path), "%s", paths[i]);
        if (!apply_file(s, paths[i], out, why, sizeof(why)))
            log_error("snapshot load stopped early: %s; the %" PRIu64
                      " records before that offset were loaded",
                      why, out->records);
        break;
    }
    out->ms = mono_ms() - t0;
    if (out->path[0])
        log_info("loaded snapshot %s: %" PRIu64 " records, %" PRIu64 " items applied, %" PRIu64
                 " already expired, in %" PRIu64 " ms",
                 out->path, out->records, out->applied, out->expired, out->ms);
    else if (n > 0)
        log_error("no usable snapshot in %s (%d rejected): starting with an empty cache", dir,
                  n);
    snap_dir_free(paths, n);
    return true;
}

/* Can this process create files in dir? */
static bool probe_dir(const char *dir, char *err, size_t errlen)
{
    char probe[600];
    snprintf(probe, sizeof(probe), "%s/.tandem-probe-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen,
                 "--snapshot-dir %s: cannot write there: %s; give tandemd's user (-u) write "
                 "access, or choose another directory",
                 dir, strerror(errno));
        return false;
    }
    close(fd);
    unlink(probe);
    return true;
}

bool server_snapshot_prepare(const char *dir, const char *user, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0) {
        /* root creates it for the user it is about to become */
        struct passwd *pw = geteuid() == 0 && user && user[0] ? getpwnam(user) : NULL;
        if (pw && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
            log_error("--snapshot-dir %s: cannot give it to user %s: %s", dir, user,
                      strerror(errno));
    } else if (errno != EEXIST) {
        snprintf(err, errlen,
                 "--snapshot-dir %s: cannot create the directory: %s; create it for the user "
                 "tandemd runs as, or choose another",
                 dir, strerror(errno));
        return false;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "--snapshot-dir %s: not a directory; choose a directory", dir);
        return false;
    }
    return probe_dir(dir, err, errlen);
}

/* --- writing ------------------------------------------------------------------------ */

static void encode_item(void *arg, const struct store_view *v)
{
    struct buf *slice = arg;
    struct frame_rec rec = {
        .origin = hlc_node_of(v->version), .version = v->version, .flags = v->flags,
        .exptime = v->exptime, .key = v->key, .nkey = v->nkey, .value = v->value,
        .nvalue = v->nvalue, .binary_key = v->binary_key, .stale = v->stale,
    };
    if (v->tombstone)
        frame_encode_tomb(slice, &rec);
    else
        frame_encode_set(slice, &rec);
}

/* Copy the frames of one slice into the file (no lock held). */
static bool write_slice(struct snap_writer *w, const struct buf *slice)
{
    for (size_t off = 0; off < slice->len;) {
        const unsigned char *u = (const unsigned char *)slice->data + off;
        size_t n = ((size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24) + 4;
        if (!snap_write_frame(w, slice->data + off, n))
            return false;
        off += n;
    }
    return true;
}

static void write_flush_state(struct snap_writer *w, struct store *s)
{
    struct store_flush_info fi;
    store_flush_state(s, &fi);
    struct frame_flush fl[2];
    for (size_t i = 0, n = frame_flush_state(&fi, fl); i < n; i++)
        snap_write_flush(w, &fl[i]);
}

/* The node id versions carry: the replication engine's (given or derived), else hlc's. */
static uint16_t node_of(const struct snapshotter *sn)
{
    return sn->srv->repl ? repl_node_id(sn->srv->repl) : hlc_node();
}

/* The header: who wrote it, when, and where this node's write log stood. */
static struct frame_file_header make_header(struct snapshotter *sn, uint64_t created_ms)
{
    struct frame_file_header h = {.node = node_of(sn), .created_ms = created_ms};
    if (sn->srv->repl)
        repl_log_position(sn->srv->repl, &h.history, &h.log_pos);
    return h;
}

/* Walk the table into a new file and commit it. The path written, or why
 * not, goes to result. */
static bool take(struct snapshotter *sn, uint64_t created_ms, char *result, size_t resultlen,
                 uint64_t *items, uint64_t *bytes)
{
    char path[512];
    snap_dir_name(path, sizeof(path), sn->dir, created_ms, node_of(sn));
    struct frame_file_header h = make_header(sn, created_ms);
    struct snap_writer *w = snap_write_open(path, &h, result, resultlen);
    if (!w)
        return false;
    struct store *s = sn->srv->store;
    write_flush_state(w, s);
    struct store_cursor cur = {0};
    struct buf slice = {0};
    size_t max = SLICE_MAX;
    while (!cur.done && !snap_write_error(w)[0]) {
        buf_reset(&slice);
        size_t got = store_scan(s, &cur, max, true, encode_item, &slice);
        if (slice.oom) {
            snprintf(result, resultlen, "out of memory encoding a slice of the table");
            break;
        }
        write_slice(w, &slice);
        /* fewer items per slice when they are large, so the copy stays small */
        size_t fit = slice.len && got ? SLICE_BYTES / (slice.len / got + 1) : SLICE_MAX;
        max = fit < 1 ? 1 : fit > SLICE_MAX ? SLICE_MAX : fit;
    }
    buf_free(&slice);
    if (!cur.done) {
        if (snap_write_error(w)[0])
            snprintf(result, resultlen, "%s", snap_write_error(w));
        snap_write_abort(w);
        return false;
    }
    *items = snap_write_records(w);
    *bytes = snap_write_bytes(w) + FRAME_OVERHEAD + 32; /* + the trailer */
    if (!snap_write_commit(w, result, resultlen))
        return false;
    snprintf(result, resultlen, "%s", path);
    return true;
}

/* Complete every waiter of the snapshot that just ended (lock held). */
static void complete(struct snapshotter *sn, bool ok, const char *result)
{
    struct snapshot_waiter *w;
    while ((w = sn->current) != NULL) {
        sn->current = w->next;
        w->next = w->prev = NULL;
        w->queued = false;
        w->done = true;
        w->ok = ok;
        snprintf(w->result, sizeof(w->result), "%s", result);
        event_active(w->ev, EV_TIMEOUT, 0);
    }
}

/* One snapshot, from the thread (lock held on entry and exit). */
static void run_one(struct snapshotter *sn, const char *why)
{
    sn->requested = false;
    sn->current = sn->pending; /* those who asked before it started */
    sn->pending = NULL;
    sn->running = true;
    uint64_t created = wall_ms();
    if (created <= sn->last_created_ms)
        created = sn->last_created_ms + 1; /* names stay unique and ordered */
    sn->last_created_ms = created;
    pthread_mutex_unlock(&sn->lock);

    char result[600];
    uint64_t items = 0, bytes = 0, t0 = mono_ms();
    bool ok = take(sn, created, result, sizeof(result), &items, &bytes);
    uint64_t took = mono_ms() - t0;
    if (ok) {
        snap_dir_prune(sn->dir, sn->keep);
        log_info("snapshot (%s) written: %s, %" PRIu64 " records, %" PRIu64 " bytes, %" PRIu64
                 " ms",
                 why, result, items, bytes, took);
    } else {
        log_error("snapshot (%s) failed: %s; the older snapshots are kept", why, result);
    }

    pthread_mutex_lock(&sn->lock);
    sn->running = false;
    if (ok) {
        sn->written++;
        sn->last_time = (uint64_t)time(NULL);
        sn->last_ms = took;
        sn->last_items = items;
        sn->last_bytes = bytes;
        snprintf(sn->last_path, sizeof(sn->last_path), "%s", result);
    } else {
        sn->failures++;
        snprintf(sn->last_error, sizeof(sn->last_error), "%s", result);
    }
    complete(sn, ok, result);
}

static void deadline_after(struct timespec *ts, int seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += seconds;
}

static void *snap_main(void *arg)
{
    struct snapshotter *sn = arg;
    pthread_setname_np(pthread_self(), "tandem-snap");
    /* On a busy CPU the scheduler would split it evenly between a worker
     * and this thread, doubling client latency; at nice 10 the worker gets
     * about nine tenths, and the snapshot still finishes on an idle one. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), SNAP_NICE) != 0)
        log_info("snapshot thread keeps normal priority: setpriority: %s", strerror(errno));
    struct timespec next;
    deadline_after(&next, sn->interval);
    pthread_mutex_lock(&sn->lock);
    while (!sn->stop) {
        if (sn->requested) {
            run_one(sn, "requested");
            deadline_after(&next, sn->interval); /* a fresh snapshot restarts the interval */
            continue;
        }
        int rc = sn->interval > 0 ? pthread_cond_timedwait(&sn->wake, &sn->lock, &next)
                                  : pthread_cond_wait(&sn->wake, &sn->lock);
        if (rc == ETIMEDOUT && !sn->stop && !sn->requested) {
            run_one(sn, "interval");
            deadline_after(&next, sn->interval);
        }
    }
    if (sn->final)
        run_one(sn, "shutdown");
    sn->current = sn->pending;
    sn->pending = NULL;
    complete(sn, false, "the server is shutting down");
    pthread_mutex_unlock(&sn->lock);
    return NULL;
}

/* --- the public side ---------------------------------------------------------------- */

struct snapshotter *server_snapshot_start(struct server *srv, const struct snapshot_load *ld,
                                          char *err, size_t errlen)
{
    const struct settings *st = srv->settings;
    if (!probe_dir(st->snapshot_dir, err, errlen))
        return NULL;
    struct snapshotter *sn = calloc(1, sizeof(*sn));
    if (!sn || !(sn->dir = strdup(st->snapshot_dir))) {
        free(sn);
        snprintf(err, errlen, "out of memory starting the snapshot thread");
        return NULL;
    }
    sn->srv = srv;
    sn->interval = st->snapshot_interval;
    sn->keep = st->snapshot_keep;
    if (ld)
        sn->load = *ld;
    pthread_mutex_init(&sn->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sn->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sn->tid, NULL, snap_main, sn) != 0) {
        snprintf(err, errlen, "cannot start the snapshot thread: %s", strerror(errno));
        pthread_cond_destroy(&sn->wake);
        pthread_mutex_destroy(&sn->lock);
        free(sn->dir);
        free(sn);
        return NULL;
    }
    return sn;
}

void server_snapshot_request(struct snapshotter *sn, struct snapshot_waiter *w)
{
    pthread_mutex_lock(&sn->lock);
    if (w) {
        w->done = false;
        w->queued = true;
        w->prev = NULL;
        w->next = sn->pending;
        if (sn->pending)
            sn->pending->prev = w;
        sn->pending = w;
    }
    sn->requested = true;
    pthread_cond_signal(&sn->wake);
    pthread_mutex_unlock(&sn->lock);
}

bool server_snapshot_done(struct snapshotter *sn, const struct snapshot_waiter *w)
{
    pthread_mutex_lock(&sn->lock);
    bool done = w->done;
    pthread_mutex_unlock(&sn->lock);
    return done;
}

void server_snapshot_cancel(struct snapshotter *sn, struct snapshot_waiter *w)
{
    pthread_mutex_lock(&sn->lock);
    if (w->queued) {
        if (w->prev)
            w->prev->next = w->next;
        else if (sn->pending == w)
            sn->pending = w->next;
        else
            sn->current = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->queued = false;
    }
    pthread_mutex_unlock(&sn->lock);
}

void server_snapshot_stop(struct snapshotter *sn, bool final)
{
    if (!sn)
        return;
    pthread_mutex_lock(&sn->lock);
    sn->stop = true;
    sn->final = final;
    pthread_cond_signal(&sn->wake);
    pthread_mutex_unlock(&sn->lock);
    pthread_join(sn->tid, NULL);
    pthread_cond_destroy(&sn->wake);
    pthread_mutex_destroy(&sn->lock);
    free(sn->dir);
    free(sn);
}

void server_snapshot_write_stats(struct snapshotter *sn, struct buf *out)
{
    if (!sn) {
        buf_puts(out, "STAT snapshot_enabled 0\r\n");
        return;
    }
    pthread_mutex_lock(&sn->lock);
    buf_printf(out,
               "STAT snapshot_enabled 1\r\n"
               "STAT snapshot_dir %s\r\n"
               "STAT snapshot_interval %d\r\n"
               "STAT snapshot_keep %d\r\n"
               "STAT snapshot_in_progress %d\r\n"
               "STAT snapshots_written %" PRIu64 "\r\n"
               "STAT snapshot_failures %" PRIu64 "\r\n"
               "STAT last_snapshot_time %" PRIu64 "\r\n"
               "STAT last_snapshot_duration_ms %" PRIu64 "\r\n"
               "STAT last_snapshot_items %" PRIu64 "\r\n"
               "STAT last_snapshot_bytes %" PRIu64 "\r\n"
               "STAT last_snapshot_path %s\r\n"
               "STAT last_snapshot_error %s\r\n"
               "STAT snapshot_loaded_path %s\r\n"
               "STAT snapshot_loaded_items %" PRIu64 "\r\n"
               "STAT snapshot_loaded_expired %" PRIu64 "\r\n"
               "STAT snapshot_load_ms %" PRIu64 "\r\n"
               "STAT snapshot_load_rejected %d\r\n",
               sn->dir, sn->interval, sn->keep, sn->running ? 1 : 0, sn->written, sn->failures,
               sn->last_time, sn->last_ms, sn->last_items, sn->last_bytes,
               sn->last_path[0] ? sn->last_path : "-", sn->last_error[0] ? sn->last_error : "-",
               sn->load.path[0] ? sn->load.path : "-", sn->load.applied, sn->load.expired,
               sn->load.ms, sn->load.rejected);
    pthread_mutex_unlock(&sn->lock);
}
