/*
 * ctl/jsonlfile: FILE.jsonl as a backup sink and a restore source.
 *
 * The sink encodes each item into a reused buffer and writes it through
 * stdio to "<path>.tmp"; commit adds the end line and renames atomically.
 * The source reads a line at a time (getline: a line holds a whole value,
 * base64 or escaped, so it may be large) and decodes it in place. Errors
 * name the file, the line and its byte offset:
 * "<path>: offset 1234 (line 7): column 12: ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/jsonl.h"
#include "ctl/xfer.h"

/* --- sink ------------------------------------------------------------------ */

struct jsonl_sink {
    struct xfer_sink base;
    FILE *f;
    struct buf b;
    char *path, *tmp;
};

static void sink_free(struct jsonl_sink *s)
{
    buf_free(&s->b);
    free(s->path);
    free(s->tmp);
    free(s);
}

static bool write_buf(struct jsonl_sink *s)
{
    if (s->b.oom) {
        snprintf(s->base.err, sizeof(s->base.err), "%s: out of memory encoding a line", s->tmp);
        return false;
    }
    if (fwrite(s->b.data, 1, s->b.len, s->f) != s->b.len) {
        snprintf(s->base.err, sizeof(s->base.err), "%s: write failed: %s (is the disk full?)",
                 s->tmp, strerror(errno));
        return false;
    }
    buf_reset(&s->b);
    return true;
}

static bool sink_put(struct xfer_sink *base, const struct xfer_item *it)
{
    struct jsonl_sink *s = (struct jsonl_sink *)base;
    ctl_jsonl_encode_item(&s->b, it);
    return write_buf(s);
}

static bool sink_commit(struct xfer_sink *base, uint64_t items, uint64_t bytes)
{
    struct jsonl_sink *s = (struct jsonl_sink *)base;
    (void)bytes;
    ctl_jsonl_encode_end(&s->b, items);
    bool ok = write_buf(s);
    if (!ok) {
        fclose(s->f);
        remove(s->tmp);
    } else {
        ok = xfer_file_commit(s->f, s->tmp, s->path, s->base.err, sizeof(s->base.err));
    }
    sink_free(s);
    return ok;
}

static void sink_abort(struct xfer_sink *base)
{
    struct jsonl_sink *s = (struct jsonl_sink *)base;
    fclose(s->f);
    remove(s->tmp);
    sink_free(s);
}

struct xfer_sink *ctl_jsonl_sink(const char *path, const struct xfer_meta *m, char *err,
                                 size_t errlen)
{
    struct jsonl_sink *s = calloc(1, sizeof(*s));
    size_t n = strlen(path) + 5;
    if (s) {
        s->path = strdup(path);
        s->tmp = malloc(n);
    }
    if (!s || !s->path || !s->tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (s)
            sink_free(s);
        return NULL;
    }
    snprintf(s->tmp, n, "%s.tmp", path);
    /* a backup holds the cache's data: readable by its owner only, like snapshots */
    int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(s->f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "%s: cannot create: %s", s->tmp, strerror(errno));
        sink_free(s);
        return NULL;
    }
    s->base.put = sink_put;
    s->base.commit = sink_commit;
    s->base.abort = sink_abort;
    ctl_jsonl_encode_header(&s->b, m);
    if (!write_buf(s)) {
        snprintf(err, errlen, "%s", s->base.err);
        sink_abort(&s->base);
        return NULL;
    }
    return &s->base;
}

/* --- source ---------------------------------------------------------------- */

struct jsonl_source {
    struct xfer_source base;
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    uint64_t offset;  /* of the next line */
    uint64_t lineno;  /* of the last line read */
    uint64_t items;
    bool header, ended;
    char source[256], server[32]; /* the header's, copied out of the line */
};

static uint64_t src_done(const struct xfer_source *base)
{
    return ((const struct jsonl_source *)base)->offset;
}

static enum xfer_next src_fail(struct jsonl_source *s, uint64_t at, const char *what)
{
    snprintf(s->base.err, sizeof(s->base.err), "%s: offset %llu (line %llu): %s", s->path,
             (unsigned long long)at, (unsigned long long)s->lineno, what);
    return XFER_ERROR;
}

/* One decoded line into *rec; XFER_END at the end of the file. */
static enum xfer_next read_rec(struct jsonl_source *s, struct ctl_jsonl_rec *rec)
{
    errno = 0;
    ssize_t n = getline(&s->line, &s->cap, s->f);
    uint64_t at = s->offset;
    if (n < 0) {
        if (errno)
            return src_fail(s, at, strerror(errno));
        return XFER_END;
    }
    s->offset += (uint64_t)n;
    s->lineno++;
    if (s->line[n - 1] != '\n')
        return src_fail(s, at, "the last line has no newline (the file is truncated)");
    char why[300];
    if (!ctl_jsonl_decode(s->line, (size_t)n - 1, rec, why, sizeof(why)))
        return src_fail(s, at, why);
    return XFER_ITEM;
}

static enum xfer_next src_next(struct xfer_source *base, struct xfer_item *it)
{
    struct jsonl_source *s = (struct jsonl_source *)base;
    struct ctl_jsonl_rec rec;
    if (s->ended)
        return XFER_END;
    uint64_t at = s->offset;
    enum xfer_next r = read_rec(s, &rec);
    if (r == XFER_ERROR)
        return r;
    if (r == XFER_END) {
        s->lineno++; /* the line that should be there */
        return src_fail(s, at, "no end line (the file is truncated or was not finished)");
    }
    if (!s->header) {
        if (rec.kind != CTL_JSONL_HEADER)
            return src_fail(s, at, "not a Tandem JSON lines backup (the first line is not "
                                   "a {\"format\":\"tandem-jsonl\",...} header)");
        s->header = true;
        base->meta = rec.meta;
        snprintf(s->source, sizeof(s->source), "%s", rec.meta.source ? rec.meta.source : "");
        snprintf(s->server, sizeof(s->server), "%s", rec.meta.server ? rec.meta.server : "");
        base->meta.source = rec.meta.source ? s->source : NULL;
        base->meta.server = rec.meta.server ? s->server : NULL;
        return src_next(base, it);
    }
    if (rec.kind == CTL_JSONL_HEADER)
        return src_fail(s, at, "a second header line");
    if (rec.kind == CTL_JSONL_END) {
        if (rec.records != s->items) {
            char why[160];
            snprintf(why, sizeof(why), "the end line counts %llu records but the file holds "
                     "%llu", (unsigned long long)rec.records, (unsigned long long)s->items);
            return src_fail(s, at, why);
        }
        errno = 0;
        if (getc(s->f) != EOF)
            return src_fail(s, s->offset, "bytes after the end line");
        s->ended = true;
        base->end_records = rec.records;
        return XFER_END;
    }
    s->items++;
    *it = rec.item;
    return XFER_ITEM;
}

static void src_close(struct xfer_source *base)
{
    struct jsonl_source *s = (struct jsonl_source *)base;
    if (s->f)
        fclose(s->f);
    free(s->line);
    free(s);
}

struct xfer_source *ctl_jsonl_source(const char *path, char *err, size_t errlen)
{
    struct jsonl_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->path = path;
    struct stat st;
    if (!(s->f = fopen(path, "re")) || fstat(fileno(s->f), &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        src_close(&s->base);
        return NULL;
    }
    s->base.next = src_next;
    s->base.done_bytes = src_done;
    s->base.close = src_close;
    s->base.total_bytes = (uint64_t)st.st_size;
    s->base.format = "Tandem JSON lines, format_version 1";
    return &s->base;
}

bool ctl_jsonl_verify(const char *path, uint64_t *records, char *err, size_t errlen)
{
    struct xfer_source *s = ctl_jsonl_source(path, err, errlen);
    if (!s)
        return false;
    struct xfer_item it;
    enum xfer_next r;
    uint64_t n = 0;
    while ((r = s->next(s, &it)) == XFER_ITEM)
        n++;
    if (r == XFER_ERROR)
        snprintf(err, errlen, "%s", s->err);
    if (records)
        *records = n;
    s->close(s);
    return r == XFER_END;
}
