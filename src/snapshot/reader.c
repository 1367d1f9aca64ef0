/*
 * snapshot reader: a strict, streaming walk over a snapshot file.
 *
 * The file is read through one buffer that starts at 1 MiB and grows only
 * when a single frame is larger (up to FRAME_MAX), so memory stays bounded
 * by the largest frame, not by the file. Each call decodes the frame at the
 * front of the buffer with frame_decode(), which checks the header, the CRC
 * and every field, and returns it pointing into the buffer: it is valid
 * until the next call, which may move or refill the buffer.
 *
 * The file must read exactly as
 *
 *     FILE_HEADER  (SET | TOMB | FLUSH)*  FILE_TRAILER  <end of file>
 *
 * and anything else stops the walk with an error naming the byte offset.
 * Because each record carries its own CRC, every record handed out before
 * an error is one that was written (that is what `--salvage` relies on);
 * SNAP_END is only returned once the trailer's count and digest agree with
 * everything read, so a file that reaches it is exactly the file written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define IN_CHUNK (1u << 20) /* initial buffer, and the least we ask read(2) for */

enum rd_state { RD_OPEN, RD_END, RD_ERROR };

struct snap_reader {
    char *path;
    int fd;
    char *buf;
    size_t cap;                  /* bytes allocated at buf */
    size_t start, end;           /* unread bytes are buf[start..end) */
    uint64_t off;                /* file offset of buf[start] */
    uint64_t size;               /* file size at open */
    bool eof;                    /* read(2) returned 0 */
    enum rd_state state;
    enum frame_status last;      /* the codec's verdict on the frame that failed */
    struct frame_digest *digest;
    struct frame_file_header header;
    struct frame_file_trailer trailer;
    char err[640];
};

static size_t avail(const struct snap_reader *r) { return r->end - r->start; }

static enum snap_next fail(struct snap_reader *r, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum snap_next fail(struct snap_reader *r, uint64_t at, const char *fmt, ...)
{
    int n = snprintf(r->err, sizeof(r->err), "%s: offset %" PRIu64 ": ", r->path, at);
    if (n > 0 && (size_t)n < sizeof(r->err)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    r->state = RD_ERROR;
    return SNAP_ERROR;
}

/* Make at least `need` unread bytes available unless the file ends first.
 * False only on a read error (r->err set). */
static bool fill(struct snap_reader *r, size_t need)
{
    if (avail(r) >= need || r->eof)
        return true;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, avail(r));
        r->end -= r->start;
        r->start = 0;
    }
    if (need > r->cap) {
        char *nb = realloc(r->buf, need);
        if (!nb) {
            fail(r, r->off, "out of memory for a frame of %zu bytes", need);
            return false;
        }
        r->buf = nb;
        r->cap = need;
    }
    while (r->end < need && !r->eof) {
        ssize_t k = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fail(r, r->off + r->end, "read failed: %s", strerror(errno));
            return false;
        }
        if (k == 0)
            r->eof = true;
        r->end += (size_t)k;
    }
    return true;
}

static uint32_t le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Decode the frame at the front: FRAME_OK with *f filled (not consumed yet),
 * or SNAP_ERROR already reported. */
static bool next_frame(struct snap_reader *r, struct frame *f)
{
    if (!fill(r, FRAME_HEADER_LEN))
        return false;
    for (;;) {
        enum frame_status st = frame_decode(r->buf + r->start, avail(r), f);
        if (st == FRAME_OK)
            return true;
        if (st != FRAME_NEED_MORE) {
            r->last = st;
            uint64_t at = r->off + f->err_at;
            const char *type = frame_type_name((unsigned char)r->buf[r->start + 4]);
            if (f->err_at)
                fail(r, at, "%s (in the %s frame at offset %" PRIu64 ")", frame_strerror(st),
                     type, r->off);
            else
                fail(r, at, "%s (%s frame)", frame_strerror(st), type);
            return false;
        }
        /* the header is sane; how many bytes does the frame need? */
        size_t need = avail(r) >= 4 ? (size_t)le32(r->buf + r->start) + 4 : FRAME_HEADER_LEN;
        /* a frame longer than the rest of a regular file is cut short: say so
         * now rather than read (and allocate) up to 64 MiB to find out */
        bool past_end = r->off + need > r->size; /* files are regular: checked at open */
        if (r->eof || need <= avail(r) || past_end) {
            if (avail(r) >= 5)
                fail(r, r->off,
                     "truncated %s frame: it needs %zu bytes, the file ends after %zu; "
                     "the file was cut short (restore with --salvage keeps the records before "
                     "this offset)",
                     frame_type_name((unsigned char)r->buf[r->start + 4]), need,
                     (size_t)(r->size - r->off));
            else
                fail(r, r->off, "truncated frame header (%zu of %d bytes): the file was cut short",
                     avail(r), FRAME_HEADER_LEN);
            return false;
        }
        if (!fill(r, need))
            return false;
    }
}

static void consume(struct snap_reader *r, size_t n)
{
    r->start += n;
    r->off += n;
}

/* The first frame must be a FILE_HEADER of a format we read. */
static bool read_header(struct snap_reader *r)
{
    static const char magic[8] = {'T', 'A', 'N', 'D', 'E', 'M', 'S', 'N'};
    if (!fill(r, FRAME_HEADER_LEN + sizeof(magic)))
        return false;
    if (avail(r) == 0) {
        fail(r, 0, "empty file, not a Tandem snapshot");
        return false;
    }
    size_t n = avail(r);
    bool type_ok = n < 5 || (unsigned char)r->buf[4] == FRAME_FILE_HEADER;
    size_t nmagic = n > FRAME_HEADER_LEN ? n - FRAME_HEADER_LEN : 0;
    if (nmagic > sizeof(magic))
        nmagic = sizeof(magic);
    if (!type_ok || memcmp(r->buf + FRAME_HEADER_LEN, magic, nmagic) != 0) {
        fail(r, 0, "not a Tandem snapshot (bad magic)");
        return false;
    }
    if (n < FRAME_HEADER_LEN + sizeof(magic)) {
        fail(r, 0, "truncated file header (%zu bytes): the file was cut short", n);
        return false;
    }
    struct frame f;
    if (!next_frame(r, &f)) {
        if (r->last == FRAME_E_VERSION) {
            uint16_t fmt = (uint16_t)((unsigned char)r->buf[14] | (unsigned char)r->buf[15] << 8);
            fail(r, 14,
                 "file format %u is newer than this build reads (format %d): use a newer "
                 "Tandem",
                 fmt, FRAME_FILE_FORMAT);
        }
        return false;
    }
    r->header = f.file_header;
    consume(r, f.size);
    return true;
}

struct snap_reader *snap_read_open(const char *path, char *err, size_t errlen)
{
    struct snap_reader *r = calloc(1, sizeof(*r));
    if (r) {
        r->fd = -1;
        r->path = strdup(path);
        r->buf = malloc(IN_CHUNK);
        r->cap = IN_CHUNK;
        r->digest = frame_digest_new();
    }
    if (!r || !r->path || !r->buf || !r->digest) {
        snprintf(err, errlen, "%s: out of memory", path);
        snap_read_close(r);
        return NULL;
    }
    struct stat sb;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        snap_read_close(r);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        snap_read_close(r);
        return NULL;
    }
    r->size = (uint64_t)sb.st_size;
    if (!read_header(r)) {
        snprintf(err, errlen, "%s", r->err);
        snap_read_close(r);
        return NULL;
    }
    return r;
}

/* After the trailer: it must agree with the records, and be the last byte. */
static enum snap_next finish(struct snap_reader *r, const struct frame *f)
{
    uint64_t at = r->off;
    const struct frame_file_trailer *t = &f->file_trailer;
    uint64_t have = frame_digest_records(r->digest);
    if (t->records != have)
        return fail(r, at, "the trailer counts %" PRIu64 " records but the file holds %" PRIu64
                           ": the file is corrupt",
                    t->records, have);
    if (frame_digest_check(r->digest, t) != FRAME_OK)
        return fail(r, at, "digest mismatch: the records do not hash to the trailer's digest "
                           "(%016" PRIx64 " vs %016" PRIx64 "): the file is corrupt",
                    frame_digest_value(r->digest), t->digest);
    consume(r, f->size);
    if (!fill(r, 1))
        return SNAP_ERROR;
    if (avail(r) > 0)
        return fail(r, r->off, "trailing garbage after the trailer (the file is %" PRIu64
                               " bytes, the trailer ends at %" PRIu64 ")",
                    r->size, r->off);
    r->trailer = *t;
    r->state = RD_END;
    return SNAP_END;
}

enum snap_next snap_read_next(struct snap_reader *r, struct frame *f)
{
    if (r->state == RD_END)
        return SNAP_END;
    if (r->state == RD_ERROR)
        return SNAP_ERROR;
    if (!fill(r, FRAME_HEADER_LEN))
        return SNAP_ERROR;
    if (avail(r) == 0)
        return fail(r, r->off,
                    "missing trailer: the file ends after %" PRIu64
                    " records without one (cut short while being written or copied)",
                    frame_digest_records(r->digest));
    uint64_t at = r->off;
    if (!next_frame(r, f))
        return SNAP_ERROR;
    switch (f->type) {
    case FRAME_SET:
    case FRAME_TOMB:
    case FRAME_FLUSH:
        frame_digest_add(r->digest, r->buf + r->start, f->size);
        consume(r, f->size);
        return SNAP_RECORD;
    case FRAME_FILE_TRAILER:
        return finish(r, f);
    default:
        return fail(r, at, "unexpected %s frame: a snapshot holds only SET, TOMB and FLUSH "
                           "records between its header and trailer",
                    frame_type_name(f->type));
    }
}

const char *snap_read_error(const struct snap_reader *r) { return r->err; }

const struct frame_file_header *snap_read_header(const struct snap_reader *r)
{
    return &r->header;
}

const struct frame_file_trailer *snap_read_trailer(const struct snap_reader *r)
{
    return r->state == RD_END ? &r->trailer : NULL;
}

uint64_t snap_read_offset(const struct snap_reader *r) { return r->off; }

uint64_t snap_read_size(const struct snap_reader *r) { return r->size; }

void snap_read_close(struct snap_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r->buf);
    frame_digest_free(r->digest);
    free(r);
}

bool snap_verify(const char *path, uint64_t *records, char *err, size_t errlen)
{
    struct snap_reader *r = snap_read_open(path, err, errlen);
    if (!r)
        return false;
    struct frame f;
    uint64_t n = 0;
    enum snap_next st;
    while ((st = snap_read_next(r, &f)) == SNAP_RECORD)
        n++;
    if (records)
        *records = n;
    if (st == SNAP_ERROR)
        snprintf(err, errlen, "%s", snap_read_error(r));
    snap_read_close(r);
    return st == SNAP_END;
}
