/*
 * ctl/xfer: what backup and restore move, and the ends they move it between.
 *
 * A backup reads items from a node (fetch.h) and writes them to a sink; a
 * restore reads them from a source and writes them to a node (put.h). The
 * three storage formats each provide both ends:
 *
 *     snapshot file   FILE (snapfile.c, through src/snapshot: frames, atomic)
 *     JSON lines      FILE.jsonl (jsonl.c)
 *     PostgreSQL      postgresql://... (pg.c)
 *
 * so backup.c and restore.c only pick the ends and pump items between them.
 *
 * An item is one SET record: exptime is absolute Unix seconds (0 = never),
 * as in the frames, so a file never ages; the remaining TTL is worked out
 * when the item is written to a node. version is the item's HLC version
 * (its CAS on tandemd). Sources may also yield TOMB records (tandemd
 * snapshots hold tombstones); FLUSH records are counted, never restored.
 */
#ifndef TANDEM_CTL_XFER_H
#define TANDEM_CTL_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define XFER_ERR_MAX 512

enum xfer_kind { XFER_SET, XFER_TOMB, XFER_FLUSH };

struct xfer_item {
    enum xfer_kind kind;
    const char *key;
    size_t nkey;
    const char *value;
    size_t nvalue;
    uint32_t flags;
    uint32_t exptime; /* absolute Unix seconds, 0 = never */
    uint64_t version;
    bool binary_key;  /* stored with meta b: the key is binary */
};

/* What a backup records about itself (the snapshot FILE_HEADER and more). */
struct xfer_meta {
    uint16_t node;       /* the source's node id (0 for memcached) */
    uint64_t created_ms; /* when the backup started */
    uint64_t history;    /* 0: a client-port backup is not a resume point */
    uint64_t log_pos;
    const char *source;  /* "HOST:PORT" it was taken from (may be NULL) */
    const char *server;  /* "tandemd" or "memcached" (may be NULL) */
};

/* --- sinks: where a backup goes ------------------------------------------- */

struct xfer_sink {
    /* Write one item; false with err set. */
    bool (*put)(struct xfer_sink *s, const struct xfer_item *it);
    /* Make the backup whole and visible (rename, COMMIT); false with err set.
     * Frees the sink either way. */
    bool (*commit)(struct xfer_sink *s, uint64_t items, uint64_t bytes);
    /* Throw away what was written and free the sink. */
    void (*abort)(struct xfer_sink *s);
    char err[XFER_ERR_MAX];
};

/* --- sources: where a restore comes from ---------------------------------- */

enum xfer_next { XFER_ITEM, XFER_END, XFER_ERROR };

struct xfer_source {
    /* The next item (valid until the next call), the end, or an error. */
    enum xfer_next (*next)(struct xfer_source *s, struct xfer_item *it);
    /* Bytes read so far and in total, for progress (0 total: unknown). */
    uint64_t (*done_bytes)(const struct xfer_source *s);
    uint64_t total_bytes;
    uint64_t total_items; /* 0: unknown */
    void (*close)(struct xfer_source *s);
    char err[XFER_ERR_MAX];
    /* What the backup says about itself: the header once read (files: at
     * open or with the first record), and at XFER_END the count its end
     * record holds and, for snapshot files, the digest. */
    const char *format;   /* "Tandem snapshot, format 1", ... */
    struct xfer_meta meta;
    uint64_t end_records;
    bool has_digest;
    uint64_t digest;
};

/* Open any backup source by what arg names (xfer_format_of); pg_id as for
 * ctl_pg_source. NULL with err set. */
struct xfer_source *xfer_open_source(const char *arg, uint64_t pg_id, char *err, size_t errlen);

/* Which format a FILE, FILE.jsonl or postgresql:// argument names. */
enum xfer_format { XFER_FMT_SNAPSHOT, XFER_FMT_JSONL, XFER_FMT_PG };
enum xfer_format xfer_format_of(const char *arg);

/* arg with any password replaced by "***" (postgresql://user:pw@..., and
 * password=... parameters), for every message that names it. */
void xfer_redact(char *out, size_t outlen, const char *arg);

/* Remove "--name VALUE" or "--name=VALUE" (has_value) or "--name" from
 * argv[1..*argc), setting *value (NULL if absent) or *flag. False with a
 * message if the value is missing or the option is given twice. */
bool xfer_take_value(const char *cmd, int *argc, char **argv, const char *name,
                     const char **value);
void xfer_take_flag(int *argc, char **argv, const char *name, bool *flag);

/* Catch SIGINT and SIGTERM so a long backup or restore can stop between
 * batches and clean up (a backup leaves nothing under DEST); a second
 * signal kills as usual. xfer_interrupted() says whether one came. */
void xfer_catch_signals(void);
bool xfer_interrupted(void);

/* Unix time now, in seconds and in milliseconds. */
uint32_t xfer_now(void);
uint64_t xfer_now_ms(void);

/* The Unix time in ms at which HLC version v was stamped (core/hlc.h's layout). */
uint64_t xfer_version_ms(uint64_t v);

/* The smallest HLC version of Unix time ms (node 0): the version a backup
 * of stock memcached gives its items, "as of the backup". */
uint64_t xfer_version_at(uint64_t ms);



/* --- the ends each format provides ---------------------------------------- *
 * Sinks write "<path>.tmp" and rename it at commit (fsyncing file and
 * directory); PostgreSQL writes in one transaction. Sources read a whole
 * backup; the *_verify functions read one without yielding anything and
 * say where the first problem is ("<path>: offset N: ..."). Every open
 * returns NULL with err set. */

struct xfer_sink *ctl_snapfile_sink(const char *path, const struct xfer_meta *m, char *err,
                                    size_t errlen);
struct xfer_source *ctl_snapfile_source(const char *path, char *err, size_t errlen);
bool ctl_snapfile_verify(const char *path, uint64_t *records, char *err, size_t errlen);

struct xfer_sink *ctl_jsonl_sink(const char *path, const struct xfer_meta *m, char *err,
                                 size_t errlen);
struct xfer_source *ctl_jsonl_source(const char *path, char *err, size_t errlen);
bool ctl_jsonl_verify(const char *path, uint64_t *records, char *err, size_t errlen);

/* PostgreSQL: url is a libpq connection URI; id 0 picks the newest complete
 * backup. The sink prints nothing; the backup id is in *id_out at commit. */
struct xfer_sink *ctl_pg_sink(const char *url, const struct xfer_meta *m, uint64_t *id_out,
                              char *err, size_t errlen);
struct xfer_source *ctl_pg_source(const char *url, uint64_t id, char *err, size_t errlen);
bool ctl_pg_verify(const char *url, uint64_t id, uint64_t *records, char *err, size_t errlen);

/* Flush and fsync f (open on tmp), close it, rename tmp over path and fsync
 * the directory: the atomic commit a file sink ends with. False with err
 * set (tmp is then removed). f is closed either way. */
bool xfer_file_commit(FILE *f, const char *tmp, const char *path, char *err, size_t errlen);

#endif
