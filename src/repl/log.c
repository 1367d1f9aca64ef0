/*
 * The write log ring. See log.h for the design.
 *
 * Byte offsets (head, tail, cursor offsets) are logical: they only grow,
 * and `off % cap` is where a byte lives in the ring. A position p is held
 * iff first <= p <= last; the frame at position `first` starts at `tail`.
 * A cursor (next, off) stays valid exactly as long as next >= first, which
 * is the whole FELL_BEHIND test.
 *
 * Seeking to an arbitrary position must not walk a million headers under
 * the lock, so every 128th position records its offset in `marks`, a ring
 * sized so that two positions sharing a slot can never both be held (the
 * ring holds at most cap / (REPL_LOG_ENTRY_HDR + 1) frames). A seek starts
 * at the nearest mark and walks at most 127 headers.
 */
#include "repl/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define HDR REPL_LOG_ENTRY_HDR
#define MARK_SHIFT 7                   /* a seek mark every 128 positions */
#define MARK_STRIDE (1u << MARK_SHIFT)
#define COPY_CHUNK (64u << 10)         /* most bytes a read copies per lock hold */
#define YIELD_MAX 64                   /* how long a reader lets waiting writers in */

struct repl_log {
    pthread_mutex_t lock; /* guards the ring and the positions */
    char *ring;
    size_t cap;
    uint64_t head, tail;  /* logical offsets: next append, oldest frame */
    uint64_t first, last; /* positions held: first..last (empty when first > last) */
    uint64_t *marks;      /* marks[(p >> MARK_SHIFT) % nmarks]: offset of position p */
    size_t nmarks;
    uint64_t dropped_space, dropped_age;
    atomic_uint_least64_t appends; /* bumped under lock; read by yielding readers */
    atomic_uint waiting;           /* appenders queued on `lock` */

    uint64_t max_age_ms;
    uint64_t (*now_ms)(void);
    uint64_t history;

    pthread_mutex_t wake_lock; /* guards the list of open cursors */
    struct repl_log_cursor *cursors;
    atomic_uint narmed; /* open cursors waiting for a wake */
};

struct entry {
    uint32_t n; /* frame bytes */
    uint64_t t; /* append time, ms */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the ring ----------------------------------------------------------------- */

static void ring_put(struct repl_log *log, uint64_t off, const void *src, size_t n)
{
    size_t at = off % log->cap, room = log->cap - at;
    size_t k = n < room ? n : room;
    memcpy(log->ring + at, src, k);
    if (n > k)
        memcpy(log->ring, (const char *)src + k, n - k);
}

static void ring_get(const struct repl_log *log, uint64_t off, void *dst, size_t n)
{
    size_t at = off % log->cap, room = log->cap - at;
    size_t k = n < room ? n : room;
    memcpy(dst, log->ring + at, k);
    if (n > k)
        memcpy((char *)dst + k, log->ring, n - k);
}

static struct entry entry_at(const struct repl_log *log, uint64_t off)
{
    unsigned char h[HDR];
    struct entry e;
    ring_get(log, off, h, HDR);
    memcpy(&e.n, h, 4);
    memcpy(&e.t, h + 4, 8);
    return e;
}

static bool empty(const struct repl_log *log) { return log->first > log->last; }

static void drop_oldest(struct repl_log *log)
{
    log->tail += HDR + entry_at(log, log->tail).n;
    log->first++;
}

static void expire_locked(struct repl_log *log, uint64_t now)
{
    if (!log->max_age_ms)
        return;
    while (!empty(log)) {
        uint64_t t = entry_at(log, log->tail).t;
        if (now < t || now - t <= log->max_age_ms)
            break;
        drop_oldest(log);
        log->dropped_age++;
    }
}

static void store(struct repl_log *log, uint64_t pos, const void *frame, size_t n, uint64_t now)
{
    while (log->cap - (log->head - log->tail) < HDR + n) {
        drop_oldest(log);
        log->dropped_space++;
    }
    unsigned char h[HDR];
    uint32_t n32 = (uint32_t)n;
    memcpy(h, &n32, 4);
    memcpy(h + 4, &now, 8);
    ring_put(log, log->head, h, HDR);
    ring_put(log, log->head + HDR, frame, n);
    if ((pos & (MARK_STRIDE - 1)) == 0)
        log->marks[(pos >> MARK_SHIFT) % log->nmarks] = log->head;
    log->head += HDR + n;
}

/* Offset of position pos, first <= pos <= last + 1. */
static uint64_t locate(const struct repl_log *log, uint64_t pos)
{
    if (pos > log->last)
        return log->head;
    uint64_t p = pos & ~(uint64_t)(MARK_STRIDE - 1), off;
    if (p >= log->first) {
        off = log->marks[(p >> MARK_SHIFT) % log->nmarks];
    } else {
        p = log->first;
        off = log->tail;
    }
    for (; p < pos; p++)
        off += HDR + entry_at(log, off).n;
    return off;
}

static bool covers_locked(const struct repl_log *log, uint64_t pos)
{
    return pos <= log->last && pos + 1 >= log->first;
}

static void lock_append(struct repl_log *log)
{
    atomic_fetch_add(&log->waiting, 1);
    pthread_mutex_lock(&log->lock);
    atomic_fetch_sub(&log->waiting, 1);
}

/* --- waking readers ----------------------------------------------------------- */

static void arm(struct repl_log *log, struct repl_log_cursor *cur)
{
    if (cur->open && cur->wake && !atomic_exchange(&cur->armed, true))
        atomic_fetch_add(&log->narmed, 1);
}

static void wake_armed(struct repl_log *log)
{
    if (atomic_load(&log->narmed) == 0)
        return;
    pthread_mutex_lock(&log->wake_lock);
    for (struct repl_log_cursor *c = log->cursors; c; c = c->next_open) {
        if (atomic_exchange(&c->armed, false)) {
            atomic_fetch_sub(&log->narmed, 1);
            c->wake(c->arg);
        }
    }
    pthread_mutex_unlock(&log->wake_lock);
}

/* --- life cycle --------------------------------------------------------------- */

void repl_log_config_init(struct repl_log_config *cfg)
{
    *cfg = (struct repl_log_config){.max_bytes = REPL_LOG_DEFAULT_BYTES};
}

static bool random_history(uint64_t *h)
{
    do {
        ssize_t r = getrandom(h, sizeof(*h), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof(*h))
            return false;
    } while (*h == 0);
    return true;
}

static struct repl_log *create_fail(struct repl_log *log, enum repl_log_status code,
                                    enum repl_log_status *st, const char **err)
{
    if (log) {
        free(log->ring);
        free(log->marks);
        free(log);
    }
    *st = code;
    *err = repl_log_strerror(code);
    return NULL;
}

struct repl_log *repl_log_create(const struct repl_log_config *cfg, enum repl_log_status *st,
                                 const char **err)
{
    if (cfg->max_bytes < REPL_LOG_MIN_BYTES)
        return create_fail(NULL, REPL_LOG_E_CONFIG, st, err);
    struct repl_log *log = calloc(1, sizeof(*log));
    if (!log)
        return create_fail(NULL, REPL_LOG_E_NOMEM, st, err);
    log->history = cfg->history;
    if (!log->history && !random_history(&log->history))
        return create_fail(log, REPL_LOG_E_RANDOM, st, err);
    log->cap = cfg->max_bytes;
    log->nmarks = log->cap / ((HDR + 1) * (size_t)MARK_STRIDE) + 2;
    log->ring = malloc(log->cap);
    log->marks = calloc(log->nmarks, sizeof(*log->marks));
    if (!log->ring || !log->marks)
        return create_fail(log, REPL_LOG_E_NOMEM, st, err);
    log->last = cfg->last_pos;
    log->first = cfg->last_pos + 1;
    log->max_age_ms = cfg->max_age_ms;
    log->now_ms = cfg->now_ms ? cfg->now_ms : mono_ms;
    pthread_mutex_init(&log->lock, NULL);
    pthread_mutex_init(&log->wake_lock, NULL);
    *st = REPL_LOG_OK;
    *err = NULL;
    return log;
}

void repl_log_destroy(struct repl_log *log)
{
    if (!log)
        return;
    pthread_mutex_destroy(&log->lock);
    pthread_mutex_destroy(&log->wake_lock);
    free(log->ring);
    free(log->marks);
    free(log);
}

/* --- writing ------------------------------------------------------------------ */

uint64_t repl_log_append(struct repl_log *log, const void *frame, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t now = log->now_ms();
    lock_append(log);
    uint64_t pos = ++log->last;
    if (n > log->cap - HDR || n > UINT32_MAX) {
        /* can never be held: drop it and everything before it, so readers
         * that still need it fall behind rather than skip it */
        log->dropped_space += pos - log->first + 1;
        log->tail = log->head;
        log->first = pos + 1;
    } else {
        store(log, pos, frame, n, now);
    }
    expire_locked(log, now);
    atomic_fetch_add_explicit(&log->appends, 1, memory_order_relaxed);
    pthread_mutex_unlock(&log->lock);
    wake_armed(log);
    return pos;
}

/* --- reading ------------------------------------------------------------------ */

/* Between chunks of a long copy: release the lock and, if appenders are
 * queued, give one of them the chance to get in before taking it back. */
static void let_writers_in(struct repl_log *log)
{
    uint64_t seen = atomic_load_explicit(&log->appends, memory_order_relaxed);
    pthread_mutex_unlock(&log->lock);
    for (int i = 0; i < YIELD_MAX && atomic_load(&log->waiting) &&
                    atomic_load_explicit(&log->appends, memory_order_relaxed) == seen;
         i++)
        sched_yield();
    pthread_mutex_lock(&log->lock);
}

/* Copy the n-byte frame of position pos at offset off into out (which has
 * room), COPY_CHUNK bytes per lock hold. False if it was dropped meanwhile. */
static bool copy_frame(struct repl_log *log, uint64_t pos, uint64_t off, size_t n,
                       struct buf *out, size_t *held)
{
    size_t done = 0;
    while (done < n) {
        if (*held >= COPY_CHUNK) {
            let_writers_in(log);
            *held = 0;
            if (pos < log->first)
                return false;
        }
        size_t k = n - done < COPY_CHUNK ? n - done : COPY_CHUNK;
        ring_get(log, off + done, out->data + out->len + done, k);
        done += k;
        *held += k;
    }
    out->len += n;
    return true;
}

/* Grow out for an n-byte frame without holding the lock. */
static bool grow_unlocked(struct repl_log *log, struct buf *out, size_t n)
{
    pthread_mutex_unlock(&log->lock);
    bool ok = buf_reserve(out, n);
    pthread_mutex_lock(&log->lock);
    return ok;
}

enum repl_log_status repl_log_read(struct repl_log *log, struct repl_log_cursor *cur,
                                   struct buf *out, size_t max_bytes)
{
    size_t start = out->len, copied = 0, held = 0;
    uint64_t pos = cur->next, off = cur->off;
    enum repl_log_status st = REPL_LOG_OK;
    if (!buf_reserve(out, max_bytes < COPY_CHUNK ? max_bytes : COPY_CHUNK))
        return REPL_LOG_E_NOMEM;
    uint64_t now = log->now_ms();
    pthread_mutex_lock(&log->lock);
    expire_locked(log, now);
    for (;;) {
        if (pos < log->first) {
            st = REPL_LOG_FELL_BEHIND;
            break;
        }
        if (pos > log->last)
            break;
        size_t n = entry_at(log, off).n;
        if (copied && copied + n > max_bytes)
            break;
        if (out->cap - out->len < n) {
            if (!grow_unlocked(log, out, n)) {
                st = REPL_LOG_E_NOMEM;
                break;
            }
            held = 0;
            continue; /* the lock was released: check pos again */
        }
        if (!copy_frame(log, pos, off + HDR, n, out, &held)) {
            st = REPL_LOG_FELL_BEHIND;
            break;
        }
        pos++;
        off += HDR + n;
        copied += n;
    }
    if (st == REPL_LOG_OK && copied == 0) {
        st = REPL_LOG_END;
        arm(log, cur);
    }
    pthread_mutex_unlock(&log->lock);
    if (st == REPL_LOG_OK) {
        cur->next = pos;
        cur->off = off;
    } else if (st != REPL_LOG_END) {
        out->len = start;
    }
    return st;
}

enum repl_log_status repl_log_cursor_seek(struct repl_log *log, struct repl_log_cursor *cur,
                                          uint64_t after)
{
    uint64_t now = log->now_ms();
    enum repl_log_status st = REPL_LOG_OK;
    pthread_mutex_lock(&log->lock);
    expire_locked(log, now);
    if (covers_locked(log, after)) {
        cur->next = after + 1;
        cur->off = locate(log, cur->next);
    } else {
        st = REPL_LOG_FELL_BEHIND;
    }
    pthread_mutex_unlock(&log->lock);
    return st;
}

enum repl_log_status repl_log_cursor_open(struct repl_log *log, struct repl_log_cursor *cur,
                                          uint64_t after, repl_log_wake_fn wake, void *arg)
{
    *cur = (struct repl_log_cursor){.wake = wake, .arg = arg};
    atomic_init(&cur->armed, false);
    enum repl_log_status st = repl_log_cursor_seek(log, cur, after);
    if (st != REPL_LOG_OK)
        return st;
    pthread_mutex_lock(&log->wake_lock);
    cur->next_open = log->cursors;
    if (log->cursors)
        log->cursors->prev_open = cur;
    log->cursors = cur;
    cur->open = true;
    pthread_mutex_unlock(&log->wake_lock);
    return REPL_LOG_OK;
}

void repl_log_cursor_close(struct repl_log *log, struct repl_log_cursor *cur)
{
    if (!cur->open)
        return;
    pthread_mutex_lock(&log->wake_lock);
    if (cur->prev_open)
        cur->prev_open->next_open = cur->next_open;
    else
        log->cursors = cur->next_open;
    if (cur->next_open)
        cur->next_open->prev_open = cur->prev_open;
    if (atomic_exchange(&cur->armed, false))
        atomic_fetch_sub(&log->narmed, 1);
    cur->open = false;
    cur->prev_open = cur->next_open = NULL;
    pthread_mutex_unlock(&log->wake_lock);
}

/* --- queries ------------------------------------------------------------------ */

uint64_t repl_log_history(const struct repl_log *log) { return log->history; }

uint64_t repl_log_last(struct repl_log *log)
{
    pthread_mutex_lock(&log->lock);
    uint64_t last = log->last;
    pthread_mutex_unlock(&log->lock);
    return last;
}

bool repl_log_covers(struct repl_log *log, uint64_t pos)
{
    uint64_t now = log->now_ms();
    pthread_mutex_lock(&log->lock);
    expire_locked(log, now);
    bool ok = covers_locked(log, pos);
    pthread_mutex_unlock(&log->lock);
    return ok;
}

void repl_log_expire(struct repl_log *log)
{
    uint64_t now = log->now_ms();
    pthread_mutex_lock(&log->lock);
    expire_locked(log, now);
    pthread_mutex_unlock(&log->lock);
}

void repl_log_stats(struct repl_log *log, struct repl_log_stats *out)
{
    uint64_t now = log->now_ms();
    pthread_mutex_lock(&log->lock);
    expire_locked(log, now);
    *out = (struct repl_log_stats){
        .history = log->history,
        .first = log->first,
        .last = log->last,
        .frames = empty(log) ? 0 : log->last - log->first + 1,
        .bytes = log->head - log->tail,
        .capacity = log->cap,
        .dropped_space = log->dropped_space,
        .dropped_age = log->dropped_age,
    };
    if (!empty(log)) {
        uint64_t t = entry_at(log, log->tail).t;
        out->oldest_age_ms = now > t ? now - t : 0;
    }
    pthread_mutex_unlock(&log->lock);
}

const char *repl_log_strerror(enum repl_log_status st)
{
    switch (st) {
    case REPL_LOG_OK: return "ok";
    case REPL_LOG_END: return "no new records";
    case REPL_LOG_FELL_BEHIND: return "the write log no longer holds the next record: a full sync is needed";
    case REPL_LOG_E_NOMEM: return "out of memory for the write log";
    case REPL_LOG_E_CONFIG: return "write log size too small (at least 4096 bytes)";
    case REPL_LOG_E_RANDOM: return "could not read random bytes for the history id (getrandom)";
    }
    return "unknown write log status";
}
