/*
 * snapshot writer: frames to "<path>.tmp", then an atomic commit.
 *
 * Frames are gathered in a 1 MiB buffer and written with write(2) when it
 * fills, so a snapshot of millions of small items costs a few hundred
 * system calls per gigabyte, and a frame larger than the buffer goes to the
 * file directly. Every frame between header and trailer is fed to the
 * digest exactly as written, which is what the reader recomputes.
 *
 * Durability follows the usual recipe: write everything, fsync the file,
 * rename it over the final name, fsync the directory so the rename itself
 * survives a power cut. Until the rename, the final name holds whatever it
 * held before (usually nothing), never a partial file.
 *
 * The first I/O error sticks: later appends do nothing, and commit reports
 * that error and removes the temporary file, so a full disk never leaves a
 * file that looks whole.
 *
 * This file links into tandemctl too, which has no clock or log of its own:
 * it depends only on the frame codec and libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hlc.h"
#include "snapshot/snapshot.h"

#define OUT_CHUNK (1u << 20) /* write(2) once this much is buffered */

struct snap_writer {
    char *path;             /* final name */
    char *tmp;              /* path + ".tmp" */
    int fd;                 /* -1 once closed */
    bool created;           /* tmp was created by us: abort removes it */
    struct buf out;         /* frames not yet written */
    struct frame_digest *digest;
    uint64_t bytes;         /* header and frames so far */
    uint64_t first_ms, last_ms;
    char err[512];          /* the first failure, "" while all is well */
};

/* The wall-clock ms a version was stamped at (core/hlc.h's layout; the
 * arithmetic is repeated here because tandemctl does not link the clock). */
static uint64_t version_ms(uint64_t version)
{
    return (version >> (HLC_NODE_BITS + HLC_LOGICAL_BITS)) + HLC_EPOCH_MS;
}

static void fail(struct snap_writer *w, const char *what, int errnum)
{
    if (w->err[0])
        return;
    snprintf(w->err, sizeof(w->err), "%s: %s%s%s", w->tmp, what, errnum ? ": " : "",
             errnum ? strerror(errnum) : "");
}

static bool write_all(struct snap_writer *w, const char *p, size_t n)
{
    while (n > 0 && !w->err[0]) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            fail(w, "write failed", k < 0 ? errno : EIO);
            break;
        }
        p += k;
        n -= (size_t)k;
    }
    return !w->err[0];
}

static bool drain(struct snap_writer *w)
{
    bool ok = write_all(w, w->out.data, w->out.len);
    buf_reset(&w->out);
    return ok;
}

/* Buffer (or, if large, write through) n bytes at p. */
static bool put(struct snap_writer *w, const char *p, size_t n)
{
    if (w->err[0])
        return false;
    if (w->out.len + n > OUT_CHUNK && !drain(w))
        return false;
    if (n >= OUT_CHUNK) {
        w->bytes += n;
        return write_all(w, p, n);
    }
    buf_append(&w->out, p, n);
    if (w->out.oom) {
        fail(w, "out of memory", 0);
        return false;
    }
    w->bytes += n;
    return true;
}

struct snap_writer *snap_write_open(const char *path, const struct frame_file_header *h,
                                    char *err, size_t errlen)
{
    struct snap_writer *w = calloc(1, sizeof(*w));
    size_t n = strlen(path);
    if (w) {
        w->fd = -1;
        w->path = strdup(path);
        w->tmp = malloc(n + 5);
        w->digest = frame_digest_new();
    }
    if (!w || !w->path || !w->tmp || !w->digest || !buf_reserve(&w->out, OUT_CHUNK)) {
        snprintf(err, errlen, "%s.tmp: out of memory", path);
        snap_write_abort(w);
        return NULL;
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    /* 0600: a snapshot holds every value in the cache, which may be private */
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        snprintf(err, errlen, "%s: cannot create the snapshot file: %s", w->tmp,
                 strerror(errno));
        snap_write_abort(w);
        return NULL;
    }
    w->created = true;
    frame_encode_file_header(&w->out, h);
    w->bytes = w->out.len;
    return w;
}

/* Where SET, TOMB and FLUSH keep their version (or cutoff): after
 * the 6-byte header, origin u16 and seq u64. */
#define REC_VERSION_AT (FRAME_HEADER_LEN + 2 + 8)

bool snap_write_frame(struct snap_writer *w, const char *p, size_t n)
{
    if (w->err[0])
        return false;
    const unsigned char *u = (const unsigned char *)p;
    uint32_t len = n >= 4 ? (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
                                (uint32_t)u[3] << 24
                          : 0;
    if (n < REC_VERSION_AT + 8 || (size_t)len + 4 != n ||
        (u[4] != FRAME_SET && u[4] != FRAME_TOMB && u[4] != FRAME_FLUSH)) {
        fail(w, "internal error: not one whole SET, TOMB or FLUSH frame", 0);
        return false;
    }
    if (u[4] != FRAME_FLUSH) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | u[REC_VERSION_AT + i];
        uint64_t ms = version_ms(v);
        if (!w->first_ms || ms < w->first_ms)
            w->first_ms = ms;
        if (ms > w->last_ms)
            w->last_ms = ms;
    }
    if (!put(w, p, n))
        return false;
    frame_digest_add(w->digest, p, n);
    return true;
}

/* Encode into a scratch buffer, then append as a frame. */
static bool put_encoded(struct snap_writer *w, struct buf *tmp, enum frame_status st)
{
    bool ok = false;
    if (tmp->oom)
        fail(w, "out of memory", 0);
    else if (st != FRAME_OK)
        fail(w, frame_strerror(st), 0);
    else
        ok = snap_write_frame(w, tmp->data, tmp->len);
    buf_free(tmp);
    return ok;
}

bool snap_write_record(struct snap_writer *w, uint16_t origin, uint64_t seq,
                       const struct store_record *r)
{
    struct frame_rec rec = {
        .origin = origin, .seq = seq, .version = r->version, .flags = r->flags,
        .exptime = r->exptime, .key = r->key, .nkey = r->nkey, .value = r->value,
        .nvalue = r->nvalue, .binary_key = r->binary_key, .stale = r->stale,
    };
    struct buf tmp = {0};
    enum frame_status st =
        r->tombstone ? frame_encode_tomb(&tmp, &rec) : frame_encode_set(&tmp, &rec);
    return put_encoded(w, &tmp, st);
}

bool snap_write_flush(struct snap_writer *w, const struct frame_flush *fl)
{
    struct buf tmp = {0};
    frame_encode_flush(&tmp, fl);
    return put_encoded(w, &tmp, FRAME_OK);
}

uint64_t snap_write_records(const struct snap_writer *w) { return frame_digest_records(w->digest); }

uint64_t snap_write_bytes(const struct snap_writer *w) { return w->bytes; }

const char *snap_write_error(const struct snap_writer *w) { return w->err; }

/* fsync the directory holding path, so a rename into it is durable. */
static bool sync_dir(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: cannot sync the directory: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

bool snap_write_commit(struct snap_writer *w, char *err, size_t errlen)
{
    struct frame_file_trailer t = {
        .records = frame_digest_records(w->digest),
        .digest = frame_digest_value(w->digest),
        .first_ms = w->first_ms,
        .last_ms = w->last_ms,
    };
    struct buf tr = {0};
    frame_encode_file_trailer(&tr, &t);
    if (tr.oom)
        fail(w, "out of memory", 0);
    else
        put(w, tr.data, tr.len);
    buf_free(&tr);
    drain(w);
    if (!w->err[0] && fsync(w->fd) != 0)
        fail(w, "fsync failed", errno);
    if (!w->err[0]) {
        int rc = close(w->fd);
        w->fd = -1; /* released even when close fails: abort must not close it again */
        if (rc != 0)
            fail(w, "close failed", errno);
    }
    if (!w->err[0] && rename(w->tmp, w->path) != 0)
        fail(w, "cannot rename into place", errno);
    if (w->err[0]) {
        snprintf(err, errlen, "%s", w->err);
        snap_write_abort(w);
        return false;
    }
    bool ok = sync_dir(w->path, err, errlen);
    w->created = false; /* renamed: nothing left to remove */
    snap_write_abort(w);
    return ok;
}

void snap_write_abort(struct snap_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->created)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    buf_free(&w->out);
    frame_digest_free(w->digest);
    free(w);
}
