/* Unit tests for snapshot files: what is written reads back record for
 * record; every corruption (each byte flipped in turn, each truncation,
 * wrong magic, a future format, a missing trailer, a wrong digest, trailing
 * bytes) is an error naming the file and an offset, never a silent success;
 * the records handed out before an error are exactly the ones written; a
 * frame of the largest size round-trips; the directory helpers list, name
 * and prune only snapshot files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hlc.h"
#include "repl/crc32c.h"
#include "snapshot/snapshot.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tandem-snaptest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a" SNAP_SUFFIX, dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const struct frame_file_header HDR = {
    .node = 42, .created_ms = 1700000000123ull, .history = 0xabcdef0123456789ull, .log_pos = 77};

/* A small file's records: a SET, a binary-key stale SET, a TOMB and a FLUSH. */
static const struct store_record RECS[] = {
    {.key = "user:1", .nkey = 6, .value = "hello\r\nworld", .nvalue = 12, .flags = 0xdeadbeef,
     .exptime = 1800000000u, .version = (100000ull << 22) | 5},
    {.key = "\0\xff", .nkey = 2, .value = "", .nvalue = 0, .version = (200000ull << 22) | 7,
     .binary_key = true, .stale = true},
    {.key = "gone", .nkey = 4, .version = (150000ull << 22) | 9, .tombstone = true},
};
static const struct frame_flush FLUSH = {.origin = 3, .seq = 4, .cutoff = 99, .when = 1234};
#define NRECS 4 /* RECS plus the FLUSH */

static void write_small(const char *p)
{
    char err[256];
    struct snap_writer *w = snap_write_open(p, &HDR, err, sizeof(err));
    assert_non_null(w);
    for (size_t i = 0; i < 3; i++)
        assert_true(snap_write_record(w, 7, i + 1, &RECS[i]));
    assert_true(snap_write_flush(w, &FLUSH));
    assert_int_equal(snap_write_records(w), NRECS);
    assert_true(snap_write_commit(w, err, sizeof(err)));
}

static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const char *p, const char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Does record i read back as written? */
static void check_record(const struct frame *f, size_t i)
{
    if (i == 3) {
        assert_int_equal(f->type, FRAME_FLUSH);
        assert_int_equal(f->flush.cutoff, FLUSH.cutoff);
        assert_int_equal(f->flush.when, FLUSH.when);
        assert_int_equal(f->flush.origin, FLUSH.origin);
        return;
    }
    struct store_record r;
    assert_true(frame_to_store_record(f, &r));
    const struct store_record *want = &RECS[i];
    assert_int_equal(f->rec.origin, 7);
    assert_int_equal(f->rec.seq, i + 1);
    assert_int_equal(r.tombstone, want->tombstone);
    assert_int_equal(r.nkey, want->nkey);
    assert_memory_equal(r.key, want->key, want->nkey);
    assert_int_equal(r.version, want->version);
    assert_int_equal(r.binary_key, want->binary_key);
    assert_int_equal(r.stale, want->stale);
    if (!want->tombstone) {
        assert_int_equal(r.nvalue, want->nvalue);
        if (r.nvalue)
            assert_memory_equal(r.value, want->value, want->nvalue);
        assert_int_equal(r.flags, want->flags);
        assert_int_equal(r.exptime, want->exptime);
    }
}

/* Read p to the end. Returns the verdict; records checked as they come;
 * the error (if any) in err. */
static bool no_check; /* records were moved on purpose: count them only */

static enum snap_next read_all(const char *p, size_t *nrec, char *err, size_t errlen)
{
    *nrec = 0;
    err[0] = '\0';
    struct snap_reader *r = snap_read_open(p, err, errlen);
    if (!r)
        return SNAP_ERROR;
    struct frame f;
    enum snap_next st;
    while ((st = snap_read_next(r, &f)) == SNAP_RECORD) {
        assert_true(*nrec < NRECS);
        if (!no_check)
            check_record(&f, *nrec);
        (*nrec)++;
    }
    if (st == SNAP_ERROR)
        snprintf(err, errlen, "%s", snap_read_error(r));
    else
        assert_non_null(snap_read_trailer(r));
    assert_int_equal(snap_read_next(r, &f), st); /* the verdict sticks */
    snap_read_close(r);
    return st;
}

/* "<path>: offset <n>: <what>" with n within the file. */
static void assert_located(const char *err, const char *p, size_t size)
{
    size_t n = strlen(p);
    assert_true(strncmp(err, p, n) == 0);
    unsigned long long off;
    int used = 0;
    assert_int_equal(sscanf(err + n, ": offset %llu: %n", &off, &used), 1);
    assert_true(used > 0 && err[n + (size_t)used] != '\0');
    assert_true(off <= size);
}

static void test_round_trip(void **state)
{
    (void)state;
    write_small(path);
    char err[512];
    size_t n;
    assert_int_equal(read_all(path, &n, err, sizeof(err)), SNAP_END);
    assert_int_equal(n, NRECS);

    struct snap_reader *r = snap_read_open(path, err, sizeof(err));
    assert_non_null(r);
    const struct frame_file_header *h = snap_read_header(r);
    assert_int_equal(h->node, HDR.node);
    assert_int_equal(h->created_ms, HDR.created_ms);
    assert_int_equal(h->history, HDR.history);
    assert_int_equal(h->log_pos, HDR.log_pos);
    assert_null(snap_read_trailer(r));
    struct frame f;
    while (snap_read_next(r, &f) == SNAP_RECORD)
        ;
    const struct frame_file_trailer *t = snap_read_trailer(r);
    assert_non_null(t);
    assert_int_equal(t->records, NRECS);
    /* the time range follows the record versions, not the flush cutoff */
    assert_int_equal(t->first_ms, 100000 + HLC_EPOCH_MS);
    assert_int_equal(t->last_ms, 200000 + HLC_EPOCH_MS);
    assert_int_equal(snap_read_offset(r), snap_read_size(r));
    snap_read_close(r);

    uint64_t count = 0;
    assert_true(snap_verify(path, &count, err, sizeof(err)));
    assert_int_equal(count, NRECS);

    /* no temporary file is left, and the file is private */
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
}

static void test_empty_snapshot(void **state)
{
    (void)state;
    char err[256];
    struct snap_writer *w = snap_write_open(path, &HDR, err, sizeof(err));
    assert_non_null(w);
    assert_true(snap_write_commit(w, err, sizeof(err)));
    uint64_t count = 99;
    assert_true(snap_verify(path, &count, err, sizeof(err)));
    assert_int_equal(count, 0);
}

/* The small file's bytes, and a second path in the test dir to write variants to. */
static char *small_file(size_t *size, char *other, size_t otherlen, const char *name)
{
    write_small(path);
    snprintf(other, otherlen, "%s/%s" SNAP_SUFFIX, dir, name);
    return slurp(path, size);
}

/* Flip each byte of the file in turn: never a whole file, and every
 * record seen before the error is one that was written. */
static void test_every_byte_flipped(void **state)
{
    (void)state;
    size_t size;
    char bad[160], err[512];
    char *orig = small_file(&size, bad, sizeof(bad), "bad");
    for (unsigned mask = 0x01; mask <= 0xff;
         mask = mask == 0x01 ? 0x80 : mask == 0x80 ? 0xff : 0x100) {
        for (size_t i = 0; i < size; i++) {
            orig[i] ^= (char)mask;
            spit(bad, orig, size);
            orig[i] ^= (char)mask;
            size_t n;
            enum snap_next st = read_all(bad, &n, err, sizeof(err));
            if (st != SNAP_ERROR)
                fail_msg("byte %zu ^ 0x%02x went unnoticed", i, mask);
            assert_located(err, bad, size);
            assert_false(snap_verify(bad, NULL, err, sizeof(err)));
        }
    }
    free(orig);
}

/* Cut the file at every length: always an error, never SNAP_END. */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t size;
    char cut[160], err[512];
    char *orig = small_file(&size, cut, sizeof(cut), "cut");
    size_t last_n = 0;
    for (size_t len = 0; len < size; len++) {
        spit(cut, orig, len);
        size_t n;
        assert_int_equal(read_all(cut, &n, err, sizeof(err)), SNAP_ERROR);
        assert_located(err, cut, size);
        assert_true(n >= last_n); /* a longer prefix never yields fewer records */
        last_n = n;
    }
    assert_int_equal(last_n, NRECS); /* cut inside the trailer: every record survives */
    free(orig);
}

static void expect_error(const char *p, const char *what, unsigned long long at)
{
    char err[512];
    size_t n;
    assert_int_equal(read_all(p, &n, err, sizeof(err)), SNAP_ERROR);
    if (!strstr(err, what))
        fail_msg("expected \"%s\" in: %s", what, err);
    char want[200];
    snprintf(want, sizeof(want), "%s: offset %llu: ", p, at);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected \"%s\" at the start of: %s", want, err);
}

static void test_named_errors(void **state)
{
    (void)state;
    size_t size;
    char p[160];
    char *orig = small_file(&size, p, sizeof(p), "x");

    /* wrong magic (a valid frame, so only the magic is wrong) */
    spit(p, "hello world, I am a text file\n", 30);
    expect_error(p, "not a Tandem snapshot (bad magic)", 0);
    spit(p, "", 0);
    expect_error(p, "empty file", 0);

    /* a future format: a header with format 2 and a correct CRC */
    struct buf b = {0};
    frame_encode_file_header(&b, &HDR);
    b.data[14] = 2;
    struct buf fixed = {0};
    struct frame hf;
    assert_int_equal(frame_decode(b.data, b.len, &hf), FRAME_E_CRC);
    uint32_t crc = crc32c_update(0, b.data + 4, b.len - 8);
    for (int i = 0; i < 4; i++)
        b.data[b.len - 4 + (size_t)i] = (char)(crc >> (8 * i));
    buf_append(&fixed, b.data, b.len);
    buf_append(&fixed, orig + b.len, size - b.len);
    spit(p, fixed.data, fixed.len);
    expect_error(p, "format 2 is newer", 14);
    buf_free(&b);
    buf_free(&fixed);

    /* missing trailer: the file stops cleanly after the last record */
    size_t trailer = FRAME_OVERHEAD + 32;
    spit(p, orig, size - trailer);
    expect_error(p, "missing trailer", size - trailer);

    /* trailing garbage after a whole file */
    char *longer = malloc(size + 3);
    memcpy(longer, orig, size);
    memcpy(longer + size, "xyz", 3);
    spit(p, longer, size + 3);
    expect_error(p, "trailing garbage", size);
    free(longer);

    /* a record dropped whole (frames intact, trailer disagrees) */
    struct frame f;
    size_t hdr_len = FRAME_OVERHEAD + 36;
    assert_int_equal(frame_decode(orig + hdr_len, size - hdr_len, &f), FRAME_OK);
    char *minus = malloc(size);
    memcpy(minus, orig, hdr_len);
    memcpy(minus + hdr_len, orig + hdr_len + f.size, size - hdr_len - f.size);
    no_check = true;
    spit(p, minus, size - f.size);
    expect_error(p, "trailer counts 4 records but the file holds 3", size - f.size - trailer);

    /* two records swapped: same count, different digest */
    struct frame g;
    assert_int_equal(frame_decode(orig + hdr_len + f.size, size - hdr_len - f.size, &g), FRAME_OK);
    memcpy(minus + hdr_len, orig + hdr_len + f.size, g.size);
    memcpy(minus + hdr_len + g.size, orig + hdr_len, f.size);
    memcpy(minus + hdr_len + f.size + g.size, orig + hdr_len + f.size + g.size,
           size - hdr_len - f.size - g.size);
    spit(p, minus, size);
    expect_error(p, "digest mismatch", size - trailer);
    no_check = false;
    free(minus);

    /* a bad CRC names the CRC's offset and the frame's */
    char *flip = malloc(size);
    memcpy(flip, orig, size);
    flip[hdr_len + 20] ^= 1;
    spit(p, flip, size);
    expect_error(p, "CRC32C mismatch", hdr_len + f.size - 4);
    free(flip);

    /* a file that is not there */
    char err[256];
    assert_null(snap_read_open("/nonexistent/x.tsnap", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/x.tsnap: cannot open"));
    free(orig);
}

/* Each large value, each followed by a small record. */
static void write_large(struct snap_writer *w, const char *value, const uint32_t *sizes)
{
    assert_non_null(w);
    for (int i = 0; i < 2; i++) {
        struct store_record r = {.key = "k", .nkey = 1, .value = value, .nvalue = sizes[i],
                                 .version = 1};
        assert_true(snap_write_record(w, 1, 1, &r));
        struct store_record small = {.key = "s", .nkey = 1, .version = 2};
        assert_true(snap_write_record(w, 1, 2, &small));
    }
}

/* A frame of FRAME_MAX bytes (larger than any buffer's first size) and a
 * value of a few MiB both round-trip. */
static void test_large_frames(void **state)
{
    (void)state;
    uint32_t sizes[] = {3u << 20, FRAME_VALUE_MAX};
    char *value = malloc(FRAME_VALUE_MAX);
    assert_non_null(value);
    for (uint32_t i = 0; i < FRAME_VALUE_MAX; i++)
        value[i] = (char)(i * 31 + 7);
    char err[256];
    struct snap_writer *w = snap_write_open(path, &HDR, err, sizeof(err));
    write_large(w, value, sizes);
    /* a value one byte over the limit is refused and fails the file */
    struct store_record big = {.key = "kk", .nkey = 2, .value = value, .nvalue = FRAME_VALUE_MAX,
                               .version = 1};
    assert_false(snap_write_record(w, 1, 1, &big));
    assert_non_null(strstr(snap_write_error(w), "larger"));
    assert_false(snap_write_commit(w, err, sizeof(err)));
    assert_int_not_equal(access(path, F_OK), 0);

    w = snap_write_open(path, &HDR, err, sizeof(err));
    write_large(w, value, sizes);
    assert_true(snap_write_commit(w, err, sizeof(err)));
    struct snap_reader *r = snap_read_open(path, err, sizeof(err));
    assert_non_null(r);
    struct frame f;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(snap_read_next(r, &f), SNAP_RECORD);
        assert_int_equal(f.rec.nvalue, sizes[i]);
        assert_memory_equal(f.rec.value, value, sizes[i]);
        if (i == 1)
            assert_int_equal(f.size, FRAME_MAX);
        assert_int_equal(snap_read_next(r, &f), SNAP_RECORD);
        assert_int_equal(f.rec.nkey, 1);
    }
    assert_int_equal(snap_read_next(r, &f), SNAP_END);
    snap_read_close(r);
    free(value);
}

/* Many records through the buffers: counts, bytes and the digest agree. */
static void test_many_records(void **state)
{
    (void)state;
    char err[256];
    struct snap_writer *w = snap_write_open(path, &HDR, err, sizeof(err));
    char key[32], val[200];
    memset(val, 'v', sizeof(val));
    const int N = 50000;
    for (int i = 0; i < N; i++) {
        int nk = snprintf(key, sizeof(key), "key:%d", i);
        struct store_record r = {.key = key, .nkey = (uint8_t)nk, .value = val,
                                 .nvalue = (uint32_t)(i % 200), .version = (uint64_t)i + 1};
        assert_true(snap_write_record(w, 1, (uint64_t)i, &r));
    }
    uint64_t bytes = snap_write_bytes(w);
    assert_true(snap_write_commit(w, err, sizeof(err)));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, bytes + FRAME_OVERHEAD + 32);
    struct snap_reader *r = snap_read_open(path, err, sizeof(err));
    struct frame f;
    int n = 0;
    while (snap_read_next(r, &f) == SNAP_RECORD) {
        int nk = snprintf(key, sizeof(key), "key:%d", n);
        assert_int_equal(f.rec.nkey, nk);
        assert_memory_equal(f.rec.key, key, (size_t)nk);
        assert_int_equal(f.rec.nvalue, n % 200);
        n++;
    }
    assert_non_null(snap_read_trailer(r));
    assert_int_equal(n, N);
    snap_read_close(r);
}

static void test_write_errors(void **state)
{
    (void)state;
    char err[256];
    char p[200];
    snprintf(p, sizeof(p), "%s/no/such/dir/x" SNAP_SUFFIX, dir);
    assert_null(snap_write_open(p, &HDR, err, sizeof(err)));
    assert_non_null(strstr(err, "x" SNAP_SUFFIX ".tmp: cannot create"));
    assert_non_null(strstr(err, "No such file"));

    /* not a whole record frame */
    struct snap_writer *w = snap_write_open(path, &HDR, err, sizeof(err));
    assert_false(snap_write_frame(w, "abc", 3));
    assert_false(snap_write_commit(w, err, sizeof(err)));
    assert_non_null(strstr(err, "not one whole"));

    /* aborting leaves nothing behind */
    w = snap_write_open(path, &HDR, err, sizeof(err));
    snap_write_abort(w);
    char tmp[200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    snap_write_abort(NULL);
    snap_read_close(NULL);

    /* a full disk: /dev/full through a symlink at the temporary name */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(symlink("/dev/full", tmp), 0);
        w = snap_write_open(path, &HDR, err, sizeof(err));
        assert_non_null(w);
        char *val = calloc(1, 1 << 20);
        for (int i = 0; i < 3; i++)
            snap_write_record(w, 1, 1, &(struct store_record){.key = "k", .nkey = 1,
                                                                .value = val, .nvalue = 1 << 20});
        free(val);
        assert_false(snap_write_commit(w, err, sizeof(err)));
        assert_non_null(strstr(err, "No space left"));
        assert_int_not_equal(access(path, F_OK), 0);
        unlink(tmp);
    }
}

static void touch(const char *name)
{
    char p[200];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static bool exists(const char *name)
{
    char p[200];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_dir(void **state)
{
    (void)state;
    char name[200];
    snap_dir_name(name, sizeof(name), dir, 1700000000123ull, 5);
    char want[200];
    snprintf(want, sizeof(want), "%s/snapshot-1700000000123-5" SNAP_SUFFIX, dir);
    assert_string_equal(name, want);
    snap_dir_name(name, sizeof(name), dir, 42, 1);
    snprintf(want, sizeof(want), "%s/snapshot-0000000000042-1" SNAP_SUFFIX, dir);
    assert_string_equal(name, want);

    touch("snapshot-0000000000300-1.tsnap");
    touch("snapshot-0000000000100-1.tsnap");
    touch("snapshot-1000-2.tsnap"); /* unpadded still counts, by its time */
    touch("snapshot-0000000000200-1.tsnap");
    touch("snapshot-0000000000400-1.tsnap.tmp");
    touch("snapshot-x-1.tsnap");
    touch("snapshot-0000000000500-1.tsnap.bak");
    touch("notes.txt");
    char err[256];
    char **paths;
    int n = snap_dir_list(dir, &paths, err, sizeof(err));
    assert_int_equal(n, 4);
    const char *order[] = {"snapshot-1000-2.tsnap", "snapshot-0000000000300-1.tsnap",
                           "snapshot-0000000000200-1.tsnap", "snapshot-0000000000100-1.tsnap"};
    for (int i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "%s/%s", dir, order[i]);
        assert_string_equal(paths[i], want);
    }
    snap_dir_free(paths, n);

    snap_dir_prune(dir, 2);
    assert_true(exists("snapshot-1000-2.tsnap"));
    assert_true(exists("snapshot-0000000000300-1.tsnap"));
    assert_false(exists("snapshot-0000000000200-1.tsnap"));
    assert_false(exists("snapshot-0000000000100-1.tsnap"));
    assert_false(exists("snapshot-0000000000400-1.tsnap.tmp"));
    assert_true(exists("snapshot-x-1.tsnap"));
    assert_true(exists("snapshot-0000000000500-1.tsnap.bak"));
    assert_true(exists("notes.txt"));

    assert_int_equal(snap_dir_list("/nonexistent-dir", &paths, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir: cannot read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
