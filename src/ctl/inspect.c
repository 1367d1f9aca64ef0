/*
 * ctl/inspect: `tandemctl inspect FILE [--json] [--records]`.
 *
 * Read a snapshot, backup or JSON lines file whole, as a restore would, and
 * say what is in it: the header (format, node, creation time, history, log position),
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

#define CTL_KEY_TEXT (250 * 4 + 8) /* a key quoted with \xNN escapes */

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

static const char *kind_name(enum xfer_kind k)
{
    return k == XFER_SET ? "SET" : k == XFER_TOMB ? "TOMB" : "FLUSH";
}

static void record_human(const struct xfer_item *it)
{
    char key[CTL_KEY_TEXT];
    if (it->kind == XFER_FLUSH) {
        printf("FLUSH cutoff %" PRIu64 "\n", it->version);
        return;
    }
    ctl_quote(key, sizeof(key), it->key, it->nkey, 250);
    printf("%s %s version %" PRIu64, kind_name(it->kind), key, it->version);
    if (it->kind == XFER_SET)
        printf(" flags %u exptime %u bytes %zu", it->flags, it->exptime, it->nvalue);
    putchar('\n');
}

static void record_json(struct summary *s, const struct xfer_item *it)
{
    bool first = true;
    char key[CTL_KEY_TEXT];
    fputs(s->listed ? ",\n  {" : "\n  {", stdout);
    s->listed = true;
    ctl_json_key(stdout, &first, "type");
    ctl_json_str(stdout, kind_name(it->kind));
    if (it->kind != XFER_FLUSH) {
        ctl_quote(key, sizeof(key), it->key, it->nkey, 250); /* \xNN for odd bytes */
        ctl_json_key(stdout, &first, "key");
        ctl_json_str(stdout, key);
    }
    ctl_json_key(stdout, &first, it->kind == XFER_FLUSH ? "cutoff" : "version");
    ctl_json_u64(stdout, true, it->version);
    if (it->kind == XFER_SET) {
        ctl_json_key(stdout, &first, "flags");
        ctl_json_u64(stdout, true, it->flags);
        ctl_json_key(stdout, &first, "exptime");
        ctl_json_u64(stdout, true, it->exptime);
        ctl_json_key(stdout, &first, "bytes");
        ctl_json_u64(stdout, true, it->nvalue);
    }
    fputs("}", stdout);
}

/* --- reading ------------------------------------------------------------------ */

static void count(struct summary *s, const struct xfer_item *it)
{
    if (it->kind == XFER_FLUSH) {
        s->flushes++;
    } else {
        it->kind == XFER_SET ? s->sets++ : s->tombs++;
        s->value_bytes += it->nvalue;
        s->key_bytes += it->nkey;
    }
    if (it->version && (s->min_version == 0 || it->version < s->min_version))
        s->min_version = it->version;
    if (it->version > s->max_version)
        s->max_version = it->version;
}

/* Read every record; false if the file is damaged (s->error says where). */
static bool read_all(struct xfer_source *src, struct summary *s, bool records, bool json)
{
    struct xfer_item it;
    enum xfer_next nx;
    while ((nx = src->next(src, &it)) == XFER_ITEM) {
        count(s, &it);
        if (records && json)
            record_json(s, &it);
        else if (records)
            record_human(&it);
    }
    if (nx == XFER_ERROR)
        s->error = src->err;
    return nx == XFER_END;
}

/* --- output -------------------------------------------------------------------- */

static void print_human(const char *path, const struct xfer_source *src,
                        const struct summary *s)
{
    const struct xfer_meta *m = &src->meta;
    char a[40], b[40];
    printf("file       %s (%" PRIu64 " bytes)\n", path, s->file_size);
    printf("format     %s\n", src->format);
    printf("node       %u\n", m->node);
    iso_ms(a, sizeof(a), m->created_ms);
    printf("created    %s (%" PRIu64 " ms)\n", a, m->created_ms);
    if (m->source) { /* from the file: quoted, as a key would be */
        char qs[CTL_KEY_TEXT], qv[CTL_KEY_TEXT];
        const char *server = m->server ? m->server : "?";
        ctl_quote(qs, sizeof(qs), m->source, strlen(m->source), 200);
        ctl_quote(qv, sizeof(qv), server, strlen(server), 200);
        printf("source     %s (%s)\n", qs, qv);
    }
    printf("history    %016" PRIx64 "\n", m->history);
    printf("log_pos    %" PRIu64 "\n", m->log_pos);
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
    if (s->error)
        printf("integrity  DAMAGED: %s\n", s->error);
    else if (src->has_digest)
        printf("integrity  OK (trailer: %" PRIu64 " records, digest %016" PRIx64 ")\n",
               src->end_records, src->digest);
    else
        printf("integrity  OK (end line: %" PRIu64 " records)\n", src->end_records);
}

static void print_json(const char *path, const struct xfer_source *src,
                       const struct summary *s)
{
    const struct xfer_meta *m = &src->meta;
    bool first = !s->records_open;
    char a[40];
    if (first)
        fputs("{", stdout);
    ctl_json_key(stdout, &first, "file");
    ctl_json_str(stdout, path);
    ctl_json_key(stdout, &first, "format");
    ctl_json_str(stdout, src->format);
#define U(name, v)                               \
    do {                                         \
        ctl_json_key(stdout, &first, name);      \
        ctl_json_u64(stdout, true, v);           \
    } while (0)
    U("size", s->file_size);
    U("node", m->node);
    U("created_ms", m->created_ms);
    iso_ms(a, sizeof(a), m->created_ms);
    ctl_json_key(stdout, &first, "created");
    ctl_json_str(stdout, a);
    ctl_json_key(stdout, &first, "source");
    ctl_json_str(stdout, m->source);
    ctl_json_key(stdout, &first, "server");
    ctl_json_str(stdout, m->server);
    U("history", m->history);
    U("log_pos", m->log_pos);
    U("items", s->sets);
    U("tombstones", s->tombs);
    U("flushes", s->flushes);
    U("value_bytes", s->value_bytes);
    U("key_bytes", s->key_bytes);
#undef U
    ctl_json_key(stdout, &first, "first_ms");
    ctl_json_u64(stdout, s->max_version != 0, xfer_version_ms(s->min_version));
    ctl_json_key(stdout, &first, "last_ms");
    ctl_json_u64(stdout, s->max_version != 0, xfer_version_ms(s->max_version));
    ctl_json_key(stdout, &first, "ok");
    fputs(s->error ? "false" : "true", stdout);
    ctl_json_key(stdout, &first, "digest");
    if (!s->error && src->has_digest)
        printf("\"%016" PRIx64 "\"", src->digest);
    else
        fputs("null", stdout);
    ctl_json_key(stdout, &first, "error");
    ctl_json_str(stdout, s->error);
    fputs("}\n", stdout);
}

static int inspect_file(const char *path, bool json, bool records)
{
    char err[XFER_ERR_MAX];
    struct summary s = {0};
    struct stat st;
    struct xfer_source *src = xfer_open_source(path, 0, err, sizeof(err));
    if (!src) {
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
    s.file_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : src->total_bytes;
    if (json && records) {
        fputs("{\"records\": [", stdout);
        s.records_open = true;
    }
    read_all(src, &s, records, json);
    if (json && records)
        fputs(s.listed ? "\n]" : "]", stdout);
    if (json)
        print_json(path, src, &s);
    else
        print_human(path, src, &s);
    if (s.error)
        fprintf(stderr, "tandemctl inspect: %s\n", s.error);
    src->close(src);
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
    if (xfer_format_of(o.args[0]) == XFER_FMT_PG) {
        ctl_usage_error("inspect", "reads files; for a PostgreSQL backup use "
                        "'tandemctl restore --from URL --dry-run'");
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
        "--to FILE or FILE.jsonl) whole and print its header (format, node, created time,\n"
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
