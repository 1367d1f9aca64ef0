/*
 * ctl/inspect: `tandemctl inspect FILE [--json] [--records]`.
 *
 * Read a snapshot or backup file whole, as a restore would, and say what is
 * in it: the header (format, node, creation time, history, log position),
 * how many items, tombstones and flushes, their bytes, the time range of
 * their versions, and whether the trailer's count and digest match. A
 * damaged file prints what could be read and the error naming the file and
 * offset, and exits 1, so scripts can check backups with it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/json.h"
#include "ctl/xfer.h"
#include "snapshot/snapshot.h"

struct summary {
    uint64_t sets, tombs, flushes, value_bytes, key_bytes;
    uint64_t min_version, max_version;
    uint64_t file_size;
    const char *error; /* NULL: the file is whole */
    bool records_open; /* --json --records: the array has started */
    bool listed;       /* a record was listed in it */
};

static void iso_ms(char *out, size_t n, uint64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, n, "?");
        return;
    }
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03uZ", (unsigned)(ms % 1000));
}

/* --- --records ------------------------------------------------------------- */

static void record_human(const struct frame *f)
{
    if (f->type == FRAME_FLUSH) {
        printf("FLUSH cutoff %" PRIu64 " when %u\n", f->flush.cutoff, f->flush.when);
        return;
    }
    const struct frame_rec *r = &f->rec;
    char key[FRAME_KEY_MAX * 4 + 8];
    ctl_quote(key, sizeof(key), r->key, r->nkey, FRAME_KEY_MAX);
    printf("%s %s", f->type == FRAME_SET ? "SET" : "TOMB", key);
    printf(" version %" PRIu64, r->version);
    if (f->type == FRAME_SET)
        printf(" flags %u exptime %u bytes %u", r->flags, r->exptime, r->nvalue);
    putchar('\n');
}

static void record_json(struct summary *s, const struct frame *f)
{
    bool first = true;
    char key[FRAME_KEY_MAX * 4 + 8];
    fputs(s->listed ? ",\n  {" : "\n  {", stdout);
    s->listed = true;
    ctl_json_key(stdout, &first, "type");
    ctl_json_str(stdout, frame_type_name(f->type));
    if (f->type == FRAME_FLUSH) {
        ctl_json_key(stdout, &first, "cutoff");
        ctl_json_u64(stdout, true, f->flush.cutoff);
        ctl_json_key(stdout, &first, "when");
        ctl_json_u64(stdout, true, f->flush.when);
        fputs("}", stdout);
        return;
    }
    const struct frame_rec *r = &f->rec;
    ctl_quote(key, sizeof(key), r->key, r->nkey, FRAME_KEY_MAX); /* \xNN for odd bytes */
    ctl_json_key(stdout, &first, "key");
    ctl_json_str(stdout, key);
    ctl_json_key(stdout, &first, "version");
    ctl_json_u64(stdout, true, r->version);
    if (f->type == FRAME_SET) {
        ctl_json_key(stdout, &first, "flags");
        ctl_json_u64(stdout, true, r->flags);
        ctl_json_key(stdout, &first, "exptime");
        ctl_json_u64(stdout, true, r->exptime);
        ctl_json_key(stdout, &first, "bytes");
        ctl_json_u64(stdout, true, r->nvalue);
    }
    fputs("}", stdout);
}

/* --- reading ------------------------------------------------------------------ */

static void count(struct summary *s, const struct frame *f)
{
    uint64_t v;
    if (f->type == FRAME_FLUSH) {
        s->flushes++;
        v = f->flush.cutoff;
    } else {
        f->type == FRAME_SET ? s->sets++ : s->tombs++;
        s->value_bytes += f->rec.nvalue;
        s->key_bytes += f->rec.nkey;
        v = f->rec.version;
    }
    if (v && (s->min_version == 0 || v < s->min_version))
        s->min_version = v;
    if (v > s->max_version)
        s->max_version = v;
}

static void read_all(struct snap_reader *rd, struct summary *s, bool records, bool json)
{
    struct frame f;
    enum snap_next nx;
    while ((nx = snap_read_next(rd, &f)) == SNAP_RECORD) {
        count(s, &f);
        if (records && json)
            record_json(s, &f);
        else if (records)
            record_human(&f);
    }
    if (nx == SNAP_ERROR)
        s->error = snap_read_error(rd);
}

/* --- output -------------------------------------------------------------------- */

static void print_human(const char *path, const struct frame_file_header *h,
                        const struct frame_file_trailer *t, const struct summary *s)
{
    char a[40], b[40];
    printf("file       %s (%" PRIu64 " bytes)\n", path, s->file_size);
    printf("format     Tandem snapshot, format %d\n", FRAME_FILE_FORMAT);
    printf("node       %u\n", h->node);
    iso_ms(a, sizeof(a), h->created_ms);
    printf("created    %s (%" PRIu64 " ms)\n", a, h->created_ms);
    printf("history    %016" PRIx64 "\n", h->history);
    printf("log_pos    %" PRIu64 "\n", h->log_pos);
    printf("records    %" PRIu64 ": %" PRIu64 " items, %" PRIu64 " tombstones, %" PRIu64
           " flushes\n", s->sets + s->tombs + s->flushes, s->sets, s->tombs, s->flushes);
    printf("bytes      %" PRIu64 " value bytes, %" PRIu64 " key bytes\n", s->value_bytes,
           s->key_bytes);
    if (s->max_version) {
        iso_ms(a, sizeof(a), xfer_version_ms(s->min_version));
        iso_ms(b, sizeof(b), xfer_version_ms(s->max_version));
        printf("versions   %s .. %s\n", a, b);
    } else {
        printf("versions   - (no records)\n");
    }
    if (t)
        printf("integrity  OK (trailer: %" PRIu64 " records, digest %016" PRIx64 ")\n",
               t->records, t->digest);
    else
        printf("integrity  DAMAGED: %s\n", s->error);
}

static void print_json(const char *path, const struct frame_file_header *h,
                       const struct frame_file_trailer *t, const struct summary *s)
{
    bool first = true;
    char a[40];
    if (!s->records_open)
        fputs("{", stdout);
    else
        first = false;
    ctl_json_key(stdout, &first, "file");
    ctl_json_str(stdout, path);
#define U(name, v)                               \
    do {                                         \
        ctl_json_key(stdout, &first, name);      \
        ctl_json_u64(stdout, true, v);           \
    } while (0)
    U("size", s->file_size);
    U("format", FRAME_FILE_FORMAT);
    U("node", h->node);
    U("created_ms", h->created_ms);
    iso_ms(a, sizeof(a), h->created_ms);
    ctl_json_key(stdout, &first, "created");
    ctl_json_str(stdout, a);
    U("history", h->history);
    U("log_pos", h->log_pos);
    U("items", s->sets);
    U("tombstones", s->tombs);
    U("flushes", s->flushes);
    U("value_bytes", s->value_bytes);
    U("key_bytes", s->key_bytes);
    ctl_json_key(stdout, &first, "first_ms");
    ctl_json_u64(stdout, s->max_version != 0, xfer_version_ms(s->min_version));
    ctl_json_key(stdout, &first, "last_ms");
    ctl_json_u64(stdout, s->max_version != 0, xfer_version_ms(s->max_version));
    ctl_json_key(stdout, &first, "ok");
    fputs(t ? "true" : "false", stdout);
    ctl_json_key(stdout, &first, "digest");
    if (t)
        printf("\"%016" PRIx64 "\"", t->digest);
    else
        fputs("null", stdout);
    ctl_json_key(stdout, &first, "error");
    ctl_json_str(stdout, s->error);
#undef U
    fputs("}\n", stdout);
}

static int inspect_file(const char *path, bool json, bool records)
{
    char err[XFER_ERR_MAX];
    struct summary s = {0};
    struct stat st;
    struct snap_reader *rd = snap_read_open(path, err, sizeof(err));
    if (!rd) {
        if (json) {
            fputs("{\"file\": ", stdout);
            ctl_json_str(stdout, path);
            fputs(", \"ok\": false, \"error\": ", stdout);
            ctl_json_str(stdout, err);
            fputs("}\n", stdout);
        }
        fprintf(stderr, "tandemctl inspect: %s\n", err);
        return CTL_EXIT_ERROR;
    }
    s.file_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : snap_read_size(rd);
    if (json && records) {
        fputs("{\"records\": [", stdout);
        s.records_open = true;
    }
    read_all(rd, &s, records, json);
    if (json && records)
        fputs(s.listed ? "\n]" : "]", stdout);
    const struct frame_file_header *h = snap_read_header(rd);
    const struct frame_file_trailer *t = snap_read_trailer(rd);
    if (json)
        print_json(path, h, t, &s);
    else
        print_human(path, h, t, &s);
    if (s.error)
        fprintf(stderr, "tandemctl inspect: %s\n", s.error);
    snap_read_close(rd);
    return s.error ? CTL_EXIT_ERROR : CTL_EXIT_OK;
}

static int run_inspect(int argc, char **argv)
{
    bool records;
    struct ctl_opts o;
    xfer_take_flag(&argc, argv, "--records", &records);
    if (!ctl_opts_parse("inspect", argc, argv, CTL_OPT_JSON, &o))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_inspect_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs != 1) {
        ctl_usage_error("inspect", "takes one snapshot or backup file, got %d", o.nargs);
        return CTL_EXIT_ERROR;
    }
    return inspect_file(o.args[0], o.json, records);
}

const struct ctl_command ctl_inspect_command = {
    .name = "inspect",
    .summary = "show what a snapshot or backup file holds, and check it",
    .help =
        "usage: tandemctl inspect FILE [--json] [--records]\n"
        "\n"
        "Read a snapshot (tandemd --snapshot-dir) or backup file (tandemctl backup\n"
        "--to FILE) whole and print its header (format, node, created time,\n"
        "history, log position), its item, tombstone and flush counts, their\n"
        "bytes, the time range of their versions, and whether the trailer's\n"
        "record count and digest match. A damaged file (truncated, a flipped bit,\n"
        "wrong magic, a future format) is reported with the file and the byte\n"
        "offset of the damage.\n"
        "\n"
        "  --json     print one JSON object instead\n"
        "  --records  also list every record (key, version, flags, exptime, size);\n"
        "             key bytes that are not printable ASCII print as \\xNN\n"
        "\n"
        "Exit status: 0 if the file is whole, 1 if it is damaged or unreadable.\n",
    .run = run_inspect,
};
