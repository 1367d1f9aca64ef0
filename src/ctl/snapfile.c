/*
 * ctl/snapfile: snapshot files (src/snapshot) as a backup sink and a
 * restore source. All the format work is the snapshot library's; this only
 * translates between its frames and xfer items.
 *
 * Items a backup writes are SET frames stamped with the source's node as
 * origin and their position in the backup as seq (a backup has no write
 * log of its own). A source yields SET and TOMB records as items, and
 * FLUSH records as XFER_FLUSH so a restore can count what it skips.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl/xfer.h"
#include "snapshot/snapshot.h"

/* --- sink ------------------------------------------------------------------ */

struct snap_sink {
    struct xfer_sink base;
    struct snap_writer *w;
    uint16_t origin;
    uint64_t seq;
    const char *path;
};

static bool sink_put(struct xfer_sink *base, const struct xfer_item *it)
{
    struct snap_sink *s = (struct snap_sink *)base;
    struct store_record r = {
        .key = it->key, .nkey = (uint8_t)it->nkey, .value = it->value,
        .nvalue = (uint32_t)it->nvalue, .flags = it->flags, .exptime = it->exptime,
        .version = it->version, .tombstone = it->kind == XFER_TOMB,
        .binary_key = it->binary_key,
    };
    if (it->nkey == 0 || it->nkey > FRAME_KEY_MAX || it->nvalue > FRAME_VALUE_MAX) {
        snprintf(base->err, sizeof(base->err), "%s: an item of %zu key bytes and %zu value "
                 "bytes does not fit a frame", s->path, it->nkey, it->nvalue);
        return false;
    }
    if (!snap_write_record(s->w, s->origin, ++s->seq, &r)) {
        snprintf(base->err, sizeof(base->err), "%s.tmp: write failed (is the disk full?)",
                 s->path);
        return false;
    }
    return true;
}

static bool sink_commit(struct xfer_sink *base, uint64_t items, uint64_t bytes)
{
    struct snap_sink *s = (struct snap_sink *)base;
    (void)items;
    (void)bytes;
    bool ok = snap_write_commit(s->w, base->err, sizeof(base->err));
    free(s);
    return ok;
}

static void sink_abort(struct xfer_sink *base)
{
    struct snap_sink *s = (struct snap_sink *)base;
    snap_write_abort(s->w);
    free(s);
}

struct xfer_sink *ctl_snapfile_sink(const char *path, const struct xfer_meta *m, char *err,
                                    size_t errlen)
{
    struct snap_sink *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    struct frame_file_header h = {.node = m->node, .created_ms = m->created_ms,
                                  .history = m->history, .log_pos = m->log_pos};
    if (!(s->w = snap_write_open(path, &h, err, errlen))) {
        free(s);
        return NULL;
    }
    s->origin = m->node;
    s->path = path;
    s->base.put = sink_put;
    s->base.commit = sink_commit;
    s->base.abort = sink_abort;
    return &s->base;
}

/* --- source ---------------------------------------------------------------- */

struct snap_source {
    struct xfer_source base;
    struct snap_reader *r;
};

static uint64_t src_done(const struct xfer_source *base)
{
    return snap_read_offset(((const struct snap_source *)base)->r);
}

static enum xfer_next src_next(struct xfer_source *base, struct xfer_item *it)
{
    struct snap_source *s = (struct snap_source *)base;
    struct frame f;
    const struct frame_file_trailer *t;
    switch (snap_read_next(s->r, &f)) {
    case SNAP_END:
        t = snap_read_trailer(s->r);
        base->end_records = t->records;
        base->digest = t->digest;
        base->has_digest = true;
        return XFER_END;
    case SNAP_ERROR:
        snprintf(base->err, sizeof(base->err), "%s", snap_read_error(s->r));
        return XFER_ERROR;
    case SNAP_RECORD:
        break;
    }
    if (f.type == FRAME_FLUSH) {
        *it = (struct xfer_item){.kind = XFER_FLUSH, .version = f.flush.cutoff};
        return XFER_ITEM;
    }
    const struct frame_rec *r = &f.rec;
    *it = (struct xfer_item){
        .kind = f.type == FRAME_TOMB ? XFER_TOMB : XFER_SET, .key = r->key, .nkey = r->nkey,
        .value = r->value, .nvalue = r->nvalue, .flags = r->flags, .exptime = r->exptime,
        .version = r->version, .binary_key = r->binary_key,
    };
    if (f.type == FRAME_TOMB)
        it->value = NULL, it->nvalue = 0, it->flags = 0, it->exptime = 0;
    return XFER_ITEM;
}

static void src_close(struct xfer_source *base)
{
    struct snap_source *s = (struct snap_source *)base;
    snap_read_close(s->r);
    free(s);
}

struct xfer_source *ctl_snapfile_source(const char *path, char *err, size_t errlen)
{
    struct snap_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (!(s->r = snap_read_open(path, err, errlen))) {
        free(s);
        return NULL;
    }
    s->base.next = src_next;
    s->base.done_bytes = src_done;
    s->base.close = src_close;
    s->base.total_bytes = snap_read_size(s->r);
    s->base.format = "Tandem snapshot, format 1";
    const struct frame_file_header *h = snap_read_header(s->r);
    s->base.meta = (struct xfer_meta){.node = h->node, .created_ms = h->created_ms,
                                      .history = h->history, .log_pos = h->log_pos};
    return &s->base;
}

bool ctl_snapfile_verify(const char *path, uint64_t *records, char *err, size_t errlen)
{
    return snap_verify(path, records, err, errlen);
}
