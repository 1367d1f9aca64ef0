/* Unit tests for repl/log: positions, whole-frame reads, wrap-around,
 * falling behind exactly at the boundary, covers(), oversized frames, the
 * age bound, wake-ups, seeking, and concurrent appenders and readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "repl/frame.h"
#include "repl/log.h"

static struct repl_log *mk_log(size_t bytes, uint64_t max_age_ms, uint64_t (*now)(void))
{
    struct repl_log_config cfg;
    repl_log_config_init(&cfg);
    cfg.max_bytes = bytes;
    cfg.max_age_ms = max_age_ms;
    cfg.history = 0xabcdef;
    cfg.now_ms = now;
    enum repl_log_status st;
    const char *err;
    struct repl_log *log = repl_log_create(&cfg, &st, &err);
    assert_non_null(log);
    assert_int_equal(st, REPL_LOG_OK);
    return log;
}

/* A SET frame whose value is `n` bytes derived from (writer, seq), so a
 * reader can tell which record it got and that it arrived whole. */
static void mk_frame(struct buf *b, uint16_t writer, uint64_t seq, size_t n)
{
    char v[4096];
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(seq * 31 + i + writer);
    char key[2] = {'w', (char)('0' + writer)};
    struct frame_rec r = {.origin = writer, .seq = seq, .version = seq + 1, .key = key, .nkey = 2,
                          .value = v, .nvalue = (uint32_t)n};
    buf_reset(b);
    assert_int_equal(frame_encode_set(b, &r), FRAME_OK);
}

static uint64_t append_frame(struct repl_log *log, uint16_t writer, uint64_t seq, size_t n)
{
    struct buf b = {0};
    mk_frame(&b, writer, seq, n);
    uint64_t pos = repl_log_append(log, b.data, b.len);
    buf_free(&b);
    return pos;
}

/* Check one decoded frame against what mk_frame made for (writer, seq). */
static bool frame_is(const struct frame *f, uint16_t writer, uint64_t seq)
{
    if (f->type != FRAME_SET || f->rec.origin != writer || f->rec.seq != seq)
        return false;
    for (uint32_t i = 0; i < f->rec.nvalue; i++)
        if (f->rec.value[i] != (char)(seq * 31 + i + writer))
            return false;
    return true;
}

/* Split `out` into frames; returns how many, checking each decodes. */
static size_t count_frames(const struct buf *out, uint64_t first_seq)
{
    size_t off = 0, n = 0;
    while (off < out->len) {
        struct frame f;
        assert_int_equal(frame_decode(out->data + off, out->len - off, &f), FRAME_OK);
        assert_true(frame_is(&f, f.rec.origin, first_seq + n));
        off += f.size;
        n++;
    }
    return n;
}

/* --- positions and reads ------------------------------------------------------ */

static void test_positions_and_reads(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(1 << 20, 0, NULL);
    assert_int_equal(repl_log_history(log), 0xabcdef);
    assert_int_equal(repl_log_last(log), 0);
    for (uint64_t i = 1; i <= 100; i++)
        assert_int_equal(append_frame(log, 0, i, i % 50), i);
    assert_int_equal(repl_log_last(log), 100);

    struct repl_log_cursor cur;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    assert_int_equal(cur.next, 1);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_OK);
    assert_int_equal(count_frames(&out, 1), 100);
    assert_int_equal(cur.next, 101);
    buf_reset(&out);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_END);
    assert_int_equal(out.len, 0);
    append_frame(log, 0, 101, 3);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_OK);
    assert_int_equal(count_frames(&out, 101), 1);
    repl_log_cursor_close(log, &cur);
    buf_free(&out);
    repl_log_destroy(log);
}

/* max_bytes bounds a read to whole frames, but one frame always comes. */
static void test_read_limit_whole_frames(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(1 << 20, 0, NULL);
    struct buf one = {0};
    mk_frame(&one, 0, 1, 100);
    size_t fsz = one.len;
    for (uint64_t i = 1; i <= 10; i++)
        append_frame(log, 0, i, 100);
    struct repl_log_cursor cur;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    assert_int_equal(repl_log_read(log, &cur, &out, 3 * fsz + fsz / 2), REPL_LOG_OK);
    assert_int_equal(out.len, 3 * fsz);
    assert_int_equal(cur.next, 4);
    buf_reset(&out);
    assert_int_equal(repl_log_read(log, &cur, &out, 1), REPL_LOG_OK);
    assert_int_equal(out.len, fsz);
    assert_int_equal(count_frames(&out, 4), 1);
    /* reads append: earlier content stays */
    assert_int_equal(repl_log_read(log, &cur, &out, 0), REPL_LOG_OK);
    assert_int_equal(count_frames(&out, 4), 2);
    buf_free(&one);
    buf_free(&out);
    repl_log_destroy(log);
}

/* A small ring wraps many times; frames split across its end read back whole. */
static void test_wrap_around(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(4096, 0, NULL);
    struct repl_log_cursor cur;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    uint64_t seq = 1;
    for (int round = 0; round < 500; round++) {
        size_t batch = 1 + round % 7;
        for (size_t i = 0; i < batch; i++)
            append_frame(log, 1, seq + i, 37 + (round * 13 + i * 101) % 400);
        buf_reset(&out);
        assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_OK);
        assert_int_equal(count_frames(&out, seq), batch);
        seq += batch;
        struct repl_log_stats s;
        repl_log_stats(log, &s);
        assert_true(s.bytes <= 4096);
    }
    struct repl_log_stats s;
    repl_log_stats(log, &s);
    assert_true(s.dropped_space > 0);
    assert_int_equal(s.last, seq - 1);
    repl_log_cursor_close(log, &cur);
    buf_free(&out);
    repl_log_destroy(log);
}

/* Frames of 500 bytes take 512 with the header: exactly 8 fit in 4096. */
static void test_fell_behind_exactly_at_boundary(void **state)
{
    (void)state;
    struct buf f = {0};
    mk_frame(&f, 0, 0, 500 - 10 - 31 - 2);
    assert_int_equal(f.len, 500);
    buf_free(&f);

    struct repl_log *log = mk_log(4096, 0, NULL);
    struct repl_log_cursor a, b;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(log, &a, 0, NULL, NULL), REPL_LOG_OK);
    for (uint64_t i = 1; i <= 8; i++)
        append_frame(log, 0, i, 500 - 10 - 31 - 2);
    struct repl_log_stats s;
    repl_log_stats(log, &s);
    assert_int_equal(s.bytes, 4096);
    assert_int_equal(s.first, 1);
    assert_int_equal(s.frames, 8);
    assert_true(repl_log_covers(log, 0));
    assert_int_equal(repl_log_cursor_open(log, &b, 1, NULL, NULL), REPL_LOG_OK);

    append_frame(log, 0, 9, 500 - 10 - 31 - 2); /* evicts position 1 only */
    repl_log_stats(log, &s);
    assert_int_equal(s.first, 2);
    assert_int_equal(s.frames, 8);
    assert_false(repl_log_covers(log, 0));
    assert_true(repl_log_covers(log, 1));
    assert_int_equal(repl_log_read(log, &a, &out, 1 << 20), REPL_LOG_FELL_BEHIND);
    assert_int_equal(out.len, 0);
    assert_int_equal(a.next, 1);
    assert_int_equal(repl_log_read(log, &b, &out, 1 << 20), REPL_LOG_OK);
    assert_int_equal(count_frames(&out, 2), 8);
    assert_int_equal(repl_log_cursor_seek(log, &a, 0), REPL_LOG_FELL_BEHIND);
    assert_int_equal(repl_log_cursor_seek(log, &a, 1), REPL_LOG_OK);
    buf_free(&out);
    repl_log_destroy(log);
}

static void test_covers(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(4096, 0, NULL);
    assert_true(repl_log_covers(log, 0)); /* nothing written, nothing missed */
    assert_false(repl_log_covers(log, 1)); /* a position we never gave out */
    append_frame(log, 0, 1, 10);
    append_frame(log, 0, 2, 10);
    assert_true(repl_log_covers(log, 0));
    assert_true(repl_log_covers(log, 2));
    assert_false(repl_log_covers(log, 3));
    assert_false(repl_log_covers(log, UINT64_MAX));
    struct repl_log_cursor cur;
    assert_int_equal(repl_log_cursor_open(log, &cur, 3, NULL, NULL), REPL_LOG_FELL_BEHIND);
    assert_false(cur.open);
    repl_log_destroy(log);

    /* a restored node continues its positions */
    struct repl_log_config cfg;
    repl_log_config_init(&cfg);
    cfg.max_bytes = 4096;
    cfg.history = 7;
    cfg.last_pos = 100;
    enum repl_log_status st;
    const char *err;
    log = repl_log_create(&cfg, &st, &err);
    assert_non_null(log);
    assert_true(repl_log_covers(log, 100));
    assert_false(repl_log_covers(log, 99));
    assert_int_equal(append_frame(log, 0, 1, 10), 101);
    assert_true(repl_log_covers(log, 100));
    repl_log_destroy(log);
}

/* A frame bigger than the ring takes a position but cannot be served:
 * readers before it fall behind instead of silently skipping it. */
static void test_oversized_frame(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(4096, 0, NULL);
    struct repl_log_cursor cur;
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    append_frame(log, 0, 1, 10);
    assert_int_equal(append_frame(log, 0, 2, 4090), 2);
    struct buf out = {0};
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_FELL_BEHIND);
    assert_false(repl_log_covers(log, 1));
    assert_true(repl_log_covers(log, 2));
    assert_int_equal(append_frame(log, 0, 3, 10), 3);
    assert_int_equal(repl_log_cursor_seek(log, &cur, 2), REPL_LOG_OK);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_OK);
    assert_int_equal(count_frames(&out, 3), 1);
    struct repl_log_stats s;
    repl_log_stats(log, &s);
    assert_int_equal(s.dropped_space, 2);
    assert_int_equal(repl_log_append(log, "", 0), 0);
    buf_free(&out);
    repl_log_destroy(log);
}

/* --- age ------------------------------------------------------------------------ */

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static void test_age_bound(void **state)
{
    (void)state;
    fake_now = 10000;
    struct repl_log *log = mk_log(1 << 20, 1000, fake_clock);
    append_frame(log, 0, 1, 10);
    fake_now += 500;
    append_frame(log, 0, 2, 10);
    struct repl_log_stats s;
    repl_log_stats(log, &s);
    assert_int_equal(s.oldest_age_ms, 500);
    assert_int_equal(s.frames, 2);

    fake_now += 500; /* frame 1 is exactly 1000 ms old: kept */
    assert_true(repl_log_covers(log, 0));
    fake_now += 1; /* now older than the bound */
    assert_false(repl_log_covers(log, 0));
    repl_log_stats(log, &s);
    assert_int_equal(s.first, 2);
    assert_int_equal(s.frames, 1);
    assert_int_equal(s.oldest_age_ms, 501);
    assert_int_equal(s.dropped_age, 1);

    fake_now += 10000;
    repl_log_expire(log);
    repl_log_stats(log, &s);
    assert_int_equal(s.frames, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.oldest_age_ms, 0);
    assert_int_equal(s.first, 3);
    assert_true(repl_log_covers(log, 2)); /* nothing to send, still partial */
    assert_int_equal(append_frame(log, 0, 3, 10), 3);
    repl_log_destroy(log);
}

/* --- wake-ups ------------------------------------------------------------------- */

static void count_wake(void *arg) { (*(int *)arg)++; }

static void test_wake_once_per_idle(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(1 << 16, 0, NULL);
    int wakes = 0;
    struct repl_log_cursor cur;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, count_wake, &wakes), REPL_LOG_OK);
    append_frame(log, 0, 1, 10);
    assert_int_equal(wakes, 0); /* not armed: the reader has not gone idle */
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 16), REPL_LOG_OK);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 16), REPL_LOG_END);
    append_frame(log, 0, 2, 10);
    assert_int_equal(wakes, 1);
    append_frame(log, 0, 3, 10);
    assert_int_equal(wakes, 1); /* one wake until the reader drains again */
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 16), REPL_LOG_OK);
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 16), REPL_LOG_END);
    repl_log_cursor_close(log, &cur);
    append_frame(log, 0, 4, 10);
    assert_int_equal(wakes, 1); /* closed: never again */
    repl_log_cursor_close(log, &cur); /* twice is harmless */
    buf_free(&out);
    repl_log_destroy(log);
}

/* --- seeking ------------------------------------------------------------------- */

/* Seek to every position of a ring that has wrapped, through the marks. */
static void test_seek_every_position(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(64 << 10, 0, NULL);
    for (uint64_t i = 1; i <= 3000; i++)
        append_frame(log, 0, i, (i * 7) % 90);
    struct repl_log_stats s;
    repl_log_stats(log, &s);
    assert_true(s.first > 1);
    struct buf out = {0};
    struct repl_log_cursor cur;
    assert_int_equal(repl_log_cursor_open(log, &cur, s.first - 1, NULL, NULL), REPL_LOG_OK);
    for (uint64_t p = s.first; p <= s.last; p++) {
        buf_reset(&out);
        assert_int_equal(repl_log_cursor_seek(log, &cur, p - 1), REPL_LOG_OK);
        assert_int_equal(repl_log_read(log, &cur, &out, 1), REPL_LOG_OK);
        assert_int_equal(count_frames(&out, p), 1);
    }
    repl_log_cursor_close(log, &cur);
    buf_free(&out);
    repl_log_destroy(log);
}

/* A reader that never reads holds nobody up: writers lap it, it falls behind. */
static void test_idle_reader_never_blocks_writers(void **state)
{
    (void)state;
    struct repl_log *log = mk_log(4096, 0, NULL);
    struct repl_log_cursor cur;
    assert_int_equal(repl_log_cursor_open(log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    for (uint64_t i = 1; i <= 10000; i++)
        assert_int_equal(append_frame(log, 0, i, 100), i);
    struct buf out = {0};
    assert_int_equal(repl_log_read(log, &cur, &out, 1 << 20), REPL_LOG_FELL_BEHIND);
    repl_log_cursor_close(log, &cur);
    buf_free(&out);
    repl_log_destroy(log);
}

static void test_create_errors_and_history(void **state)
{
    (void)state;
    struct repl_log_config cfg;
    repl_log_config_init(&cfg);
    assert_int_equal(cfg.max_bytes, 64u << 20);
    enum repl_log_status st;
    const char *err = NULL;
    cfg.max_bytes = 100;
    assert_null(repl_log_create(&cfg, &st, &err));
    assert_int_equal(st, REPL_LOG_E_CONFIG);
    assert_non_null(err);
    cfg.max_bytes = 4096;
    struct repl_log *a = repl_log_create(&cfg, &st, &err);
    struct repl_log *b = repl_log_create(&cfg, &st, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_not_equal(repl_log_history(a), 0);
    assert_int_not_equal(repl_log_history(a), repl_log_history(b));
    repl_log_destroy(a);
    repl_log_destroy(b);
    for (int i = REPL_LOG_OK; i <= REPL_LOG_E_RANDOM; i++)
        assert_string_not_equal(repl_log_strerror((enum repl_log_status)i), "unknown write log status");
}

/* --- concurrency ------------------------------------------------------------------ */

#define WRITERS 2
#define READERS 2
#define PER_WRITER 100000

struct conc {
    struct repl_log *log;
    uint16_t writer;
    int efd;
    bool may_fall_behind;
    atomic_bool *writers_done;
    /* reader results */
    const char *why;
    uint64_t frames;
    uint64_t fell_behind;
    bool ok;
};

static void *writer_main(void *arg)
{
    struct conc *c = arg;
    struct buf b = {0};
    for (uint64_t i = 0; i < PER_WRITER; i++) {
        mk_frame(&b, c->writer, i, (i * 13) % 200);
        repl_log_append(c->log, b.data, b.len);
    }
    buf_free(&b);
    return NULL;
}

static void wake_efd(void *arg)
{
    uint64_t one = 1;
    ssize_t r = write(*(int *)arg, &one, sizeof(one));
    (void)r;
}

/* Check one batch: per writer, seqs go up by exactly one (or jump after a
 * fall-behind when allowed). Returns false on any violation. */
static bool check_batch(const struct buf *out, uint64_t *expect, bool *gap_ok, struct conc *c)
{
    size_t off = 0;
    while (off < out->len) {
        struct frame f;
        if (frame_decode(out->data + off, out->len - off, &f) != FRAME_OK)
            return false;
        uint16_t w = f.rec.origin;
        if (w >= WRITERS || !frame_is(&f, w, f.rec.seq))
            return false;
        if (f.rec.seq != expect[w] && !(gap_ok[w] && f.rec.seq > expect[w]))
            return false;
        gap_ok[w] = false;
        expect[w] = f.rec.seq + 1;
        off += f.size;
        c->frames++;
    }
    return true;
}

static bool fail_why(struct conc *c, const char *why)
{
    c->why = why;
    return false;
}

/* Wait for a wake-up. Armed readers must be woken by the next append, so 5 s
 * of silence while writers still run is a lost wake-up. */
static bool wait_wake(struct conc *c)
{
    struct pollfd p = {.fd = c->efd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return fail_why(c, "lost wake-up");
    uint64_t v;
    ssize_t r = read(c->efd, &v, sizeof(v));
    (void)r;
    return true;
}

/* After falling behind, start again from the newest position (which may
 * itself be gone by the time we get there in a tiny ring: try again). */
static bool reseek(struct conc *c, struct repl_log_cursor *cur)
{
    for (int i = 0; i < 1000; i++)
        if (repl_log_cursor_seek(c->log, cur, repl_log_last(c->log)) == REPL_LOG_OK)
            return true;
    return fail_why(c, "cannot reseek");
}

static void *reader_main(void *arg)
{
    struct conc *c = arg;
    struct repl_log_cursor cur;
    struct buf out = {0};
    uint64_t expect[WRITERS] = {0};
    bool gap_ok[WRITERS] = {false};
    /* in a small ring the writers may lap us before this thread even starts */
    enum repl_log_status st0 = repl_log_cursor_open(c->log, &cur, 0, wake_efd, &c->efd);
    while (st0 == REPL_LOG_FELL_BEHIND && c->may_fall_behind) {
        c->fell_behind++;
        gap_ok[0] = gap_ok[1] = true;
        st0 = repl_log_cursor_open(c->log, &cur, repl_log_last(c->log), wake_efd, &c->efd);
    }
    c->ok = st0 == REPL_LOG_OK || fail_why(c, "open");
    time_t deadline = time(NULL) + 60;
    while (c->ok) {
        bool done = atomic_load(c->writers_done);
        buf_reset(&out);
        enum repl_log_status st = repl_log_read(c->log, &cur, &out, 16 << 10);
        if (st == REPL_LOG_OK) {
            c->ok = check_batch(&out, expect, gap_ok, c) || fail_why(c, "order");
        } else if (st == REPL_LOG_END) {
            if (done) /* caught up after the last append */
                break;
            c->ok = wait_wake(c);
        } else if (st == REPL_LOG_FELL_BEHIND && c->may_fall_behind) {
            c->fell_behind++;
            gap_ok[0] = gap_ok[1] = true;
            c->ok = reseek(c, &cur);
        } else {
            c->ok = fail_why(c, repl_log_strerror(st));
        }
        if (time(NULL) > deadline)
            c->ok = fail_why(c, "too slow");
    }
    repl_log_cursor_close(c->log, &cur);
    buf_free(&out);
    return NULL;
}

static void run_concurrent(size_t ring, bool may_fall_behind, struct conc *readers)
{
    struct repl_log *log = mk_log(ring, 0, NULL);
    struct conc writers[WRITERS];
    pthread_t wt[WRITERS], rt[READERS];
    atomic_bool done = false;
    for (int i = 0; i < READERS; i++) {
        readers[i] = (struct conc){.log = log, .may_fall_behind = may_fall_behind,
                                   .writers_done = &done};
        readers[i].efd = eventfd(0, EFD_CLOEXEC);
        assert_true(readers[i].efd >= 0);
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &readers[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (struct conc){.log = log, .writer = (uint16_t)i};
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &writers[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&done, true);
    for (int i = 0; i < READERS; i++) {
        wake_efd(&readers[i].efd); /* a reader idle since before `done` */
        pthread_join(rt[i], NULL);
        close(readers[i].efd);
        if (!readers[i].ok)
            print_message("reader %d: %s\n", i, readers[i].why);
    }
    assert_int_equal(repl_log_last(log), WRITERS * PER_WRITER);
    repl_log_destroy(log);
}

/* A ring that holds everything: every frame read exactly once, in order. */
static void test_concurrent_every_frame_once(void **state)
{
    (void)state;
    struct conc readers[READERS];
    run_concurrent(64u << 20, false, readers);
    for (int i = 0; i < READERS; i++) {
        assert_true(readers[i].ok);
        assert_int_equal(readers[i].frames, WRITERS * PER_WRITER);
        assert_int_equal(readers[i].fell_behind, 0);
    }
}

/* A small ring: readers may fall behind, but between fall-behinds they see
 * each writer's frames in order without gaps or duplicates, never torn. */
static void test_concurrent_small_ring(void **state)
{
    (void)state;
    struct conc readers[READERS];
    run_concurrent(16 << 10, true, readers);
    uint64_t fell = 0;
    for (int i = 0; i < READERS; i++) {
        assert_true(readers[i].ok);
        fell += readers[i].fell_behind;
    }
    print_message("small ring: readers fell behind %llu times\n", (unsigned long long)fell);
}

/* Frames of 100..400 KiB in a 1 MiB ring, read while a writer laps it: the
 * copy goes in 64 KiB pieces with the lock released in between, so a frame
 * may be overwritten mid-copy. The reader must then get FELL_BEHIND, never
 * a torn frame (frame_decode checks the CRC of everything it gets). */
struct big {
    struct repl_log *log;
    atomic_bool done;
};

static void big_frame(struct buf *b, uint64_t seq)
{
    size_t n = (100u << 10) + (seq * 7919 % 300) * 1024;
    char *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(seq + i / 7);
    struct frame_rec r = {.origin = 1, .seq = seq, .key = "big", .nkey = 3, .value = v,
                          .nvalue = (uint32_t)n};
    buf_reset(b);
    assert_int_equal(frame_encode_set(b, &r), FRAME_OK);
    free(v);
}

static void *big_writer(void *arg)
{
    struct big *g = arg;
    struct buf b = {0};
    for (uint64_t i = 1; i <= 400; i++) {
        big_frame(&b, i);
        repl_log_append(g->log, b.data, b.len);
    }
    buf_free(&b);
    atomic_store(&g->done, true);
    return NULL;
}

static void test_big_frames_never_torn(void **state)
{
    (void)state;
    struct big g = {.log = mk_log(1 << 20, 0, NULL)};
    pthread_t t;
    struct repl_log_cursor cur;
    struct buf out = {0};
    assert_int_equal(repl_log_cursor_open(g.log, &cur, 0, NULL, NULL), REPL_LOG_OK);
    assert_int_equal(pthread_create(&t, NULL, big_writer, &g), 0);
    uint64_t got = 0, behind = 0, last_seq = 0;
    for (;;) {
        bool done = atomic_load(&g.done);
        buf_reset(&out);
        enum repl_log_status st = repl_log_read(g.log, &cur, &out, 1 << 20);
        if (st == REPL_LOG_FELL_BEHIND) {
            behind++;
            while (repl_log_cursor_seek(g.log, &cur, repl_log_last(g.log)) != REPL_LOG_OK)
                ;
            continue;
        }
        if (st == REPL_LOG_END) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        assert_int_equal(st, REPL_LOG_OK);
        for (size_t off = 0; off < out.len;) {
            struct frame f;
            assert_int_equal(frame_decode(out.data + off, out.len - off, &f), FRAME_OK);
            assert_true(f.rec.seq > last_seq);
            assert_true(f.rec.nvalue >= 100u << 10);
            for (uint32_t i = 0; i < f.rec.nvalue; i += 4093)
                assert_int_equal(f.rec.value[i], (char)(f.rec.seq + i / 7));
            last_seq = f.rec.seq;
            off += f.size;
            got++;
        }
    }
    pthread_join(t, NULL);
    print_message("big frames: %llu read whole, fell behind %llu times\n",
                  (unsigned long long)got, (unsigned long long)behind);
    assert_true(got > 0);
    repl_log_destroy(g.log);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_and_reads),
        cmocka_unit_test(test_read_limit_whole_frames),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_fell_behind_exactly_at_boundary),
        cmocka_unit_test(test_covers),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_age_bound),
        cmocka_unit_test(test_wake_once_per_idle),
        cmocka_unit_test(test_seek_every_position),
        cmocka_unit_test(test_idle_reader_never_blocks_writers),
        cmocka_unit_test(test_create_errors_and_history),
        cmocka_unit_test(test_concurrent_every_frame_once),
        cmocka_unit_test(test_concurrent_small_ring),
        cmocka_unit_test(test_big_frames_never_torn),
    };
    return cmocka_run_group_tests_name("repl_log", tests, NULL, NULL);
}
