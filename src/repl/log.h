/*
 * log: the write log, a bounded ring of encoded frames that replication
 * links replay from.
 *
 * Every record a node will serve to others (its own SET/TOMB/FLUSH, and on
 * a replica those it applied from upstream) is encoded once and appended
 * here, and gets the next position: 1, 2, 3... never reused within a
 * history. A link keeps a cursor and copies frames out, already encoded and
 * checksummed, straight into its send buffer. A peer that reconnects says
 * the last position it received; if the ring still holds the next one
 * (repl_log_covers) the link resumes there (partial sync), otherwise it
 * must walk the table (full sync).
 *
 *     tail (oldest, position `first`)              head (next append)
 *      v                                            v
 *   ...+---------+---------+-------+---------+------+..........+...
 *      | hdr|frm | hdr|frm |  ...  | hdr|frm | free space (wraps)  |
 *      +---------+---------+-------+---------+--------------------+
 *   hdr = frame length u32 + append time u64 (12 bytes); a frame may wrap
 *   around the end of the ring.
 *
 * Bounds: bytes (max_bytes, headers included) and optionally age
 * (max_age_ms). The oldest frames go first, whoever is still reading them:
 * writers never wait for readers. A reader whose next frame was dropped gets
 * REPL_LOG_FELL_BEHIND and must full-sync. A frame larger than the whole
 * ring still takes a position but is dropped at once, with everything
 * before it, so every cursor before it falls behind instead of silently
 * skipping it.
 *
 * Concurrency: one mutex. An append holds it for a memcpy of the frame
 * (plus reading the headers of frames it evicts). A read holds it while
 * copying at most 64 KiB at a time and releases it in between, so even a
 * reader copying a 64 MiB frame holds writers up for microseconds; a slow
 * reader holds nothing while it is not in repl_log_read. Buffer growth
 * happens outside the lock.
 *
 * Waking readers: a cursor may carry a wake callback. When repl_log_read
 * finds nothing new it arms the cursor (under the lock, so no append can
 * slip between "nothing new" and "armed"); the next append disarms it and
 * calls the callback once, on the appending thread, after releasing the log
 * lock. One wake per drained-then-idle cycle, not one per frame, and none at
 * all while readers are busy. We chose a callback over an eventfd per
 * reader because the links run on libevent: the callback is typically
 * event_active() (thread-safe with evthread) or a write to the link's own
 * eventfd, and needs no extra descriptor here. The callback must be short
 * and must not call into the log.
 *
 * Positions are accounted in a per-node history: a random non-zero u64
 * chosen at creation (getrandom), unless the caller restores one.
 */
#ifndef TANDEM_REPL_LOG_H
#define TANDEM_REPL_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define REPL_LOG_DEFAULT_BYTES (64u << 20)
#define REPL_LOG_MIN_BYTES 4096
#define REPL_LOG_ENTRY_HDR 12 /* per-frame overhead counted against max_bytes */

struct repl_log_config {
    size_t max_bytes;        /* ring size, headers included (64 MiB) */
    uint64_t max_age_ms;     /* drop frames older than this; 0 = no age bound */
    uint64_t history;        /* 0: choose a random one; else keep this (restored node) */
    uint64_t last_pos;       /* positions continue after this (restored node), else 0 */
    uint64_t (*now_ms)(void); /* monotonic ms for ages; NULL = CLOCK_MONOTONIC (tests override) */
};

enum repl_log_status {
    REPL_LOG_OK,          /* frames copied, or the cursor placed */
    REPL_LOG_END,         /* nothing new after the cursor; its wake is armed */
    REPL_LOG_FELL_BEHIND, /* frames after the cursor were dropped: do a full sync */
    REPL_LOG_E_NOMEM,     /* out of memory (out->oom, or creation) */
    REPL_LOG_E_CONFIG,    /* max_bytes below REPL_LOG_MIN_BYTES */
    REPL_LOG_E_RANDOM,    /* getrandom failed: no history id */
};

typedef void (*repl_log_wake_fn)(void *arg);

/* A reader's place in the log. Owned by one thread (its link); only the
 * wake callback runs elsewhere. Fields other than `next` are private. */
struct repl_log_cursor {
    uint64_t next;                 /* position of the next frame to read */
    uint64_t off;                  /* its byte offset in the ring */
    repl_log_wake_fn wake;
    void *arg;
    atomic_bool armed;
    bool open;
    struct repl_log_cursor *prev_open, *next_open;
};

struct repl_log_stats {
    uint64_t history;
    uint64_t first;          /* oldest position held (last + 1 when empty) */
    uint64_t last;           /* newest position given out (0: none yet) */
    uint64_t frames;         /* frames held */
    uint64_t bytes;          /* ring bytes in use, headers included */
    uint64_t capacity;       /* max_bytes */
    uint64_t oldest_age_ms;  /* age of the oldest frame held, 0 when empty */
    uint64_t dropped_space;  /* frames dropped to make room, ever */
    uint64_t dropped_age;    /* frames dropped for age, ever */
};

struct repl_log;

/* Fill a config with the defaults (64 MiB, no age bound, random history). */
void repl_log_config_init(struct repl_log_config *cfg);

/* Create a log; NULL with *err (a static message) and *st set on failure. */
struct repl_log *repl_log_create(const struct repl_log_config *cfg, enum repl_log_status *st,
                                 const char **err);

/* Free the log. Every cursor must have been closed. */
void repl_log_destroy(struct repl_log *log);

/* Append one encoded frame (n >= 1 bytes) and wake armed readers; returns its position. */
uint64_t repl_log_append(struct repl_log *log, const void *frame, size_t n);

/* The history id positions belong to. */
uint64_t repl_log_history(const struct repl_log *log);

/* The newest position given out (0 if none). */
uint64_t repl_log_last(struct repl_log *log);

/* Can a reader that has everything up to `pos` resume from pos + 1 here? */
bool repl_log_covers(struct repl_log *log, uint64_t pos);

/* Start a cursor (not already open) reading the frames after `after`, with an
 * optional wake callback (NULL: none). REPL_LOG_FELL_BEHIND (cursor left
 * closed) if not covered. The callback runs on appending threads, possibly
 * under their locks (the store's, for the change feed): it must not block. */
enum repl_log_status repl_log_cursor_open(struct repl_log *log, struct repl_log_cursor *cur,
                                          uint64_t after, repl_log_wake_fn wake, void *arg);

/* Move an open cursor to read the frames after `after` (e.g. after a full sync). */
enum repl_log_status repl_log_cursor_seek(struct repl_log *log, struct repl_log_cursor *cur,
                                          uint64_t after);

/* Stop a cursor; once this returns its wake callback is not running and never will. */
void repl_log_cursor_close(struct repl_log *log, struct repl_log_cursor *cur);

/* Append whole frames from the cursor on to out, up to max_bytes (at least
 * one frame, however large), and advance the cursor: REPL_LOG_OK, _END,
 * _FELL_BEHIND (out unchanged) or _E_NOMEM (out unchanged, cursor too). */
enum repl_log_status repl_log_read(struct repl_log *log, struct repl_log_cursor *cur,
                                   struct buf *out, size_t max_bytes);

/* Drop frames past the age bound now (appends and reads also do it). */
void repl_log_expire(struct repl_log *log);

/* Current numbers. */
void repl_log_stats(struct repl_log *log, struct repl_log_stats *out);

/* A human-readable description of a status. */
const char *repl_log_strerror(enum repl_log_status st);

#endif
