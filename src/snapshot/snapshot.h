/*
 * snapshot: files of replication frames (docs/replication.md, DESIGN §5).
 *
 * A snapshot or backup file is FILE_HEADER, then SET/TOMB/FLUSH frames,
 * then FILE_TRAILER (record count, XXH3 digest of the records, time range).
 * The same files come from tandemd's --snapshot-dir and from
 * `tandemctl backup`, and both are read back here.
 *
 * Writing is atomic: frames go to "<path>.tmp", and commit writes the
 * trailer, fsyncs, renames to <path> and fsyncs the directory. A crash
 * leaves either the old file set or the new one, never half a file under
 * the final name.
 *
 * Reading is streaming and strict. Every problem is reported as
 * "<path>: offset <n>: <what>" where n is the byte offset in the file of
 * the bad frame (or field), so operators can find it with a hex dump:
 * wrong magic, a future format, a bad CRC, a truncated frame, a missing
 * trailer, a digest or count that disagrees with the trailer.
 *
 * Thread safety: a writer or reader belongs to one thread at a time.
 */
#ifndef TANDEM_SNAPSHOT_SNAPSHOT_H
#define TANDEM_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/frame.h"
#include "store/store.h"

#define SNAP_SUFFIX ".tsnap"

/* --- writing ------------------------------------------------------------ */

struct snap_writer;

/* Create "<path>.tmp" (replacing a stale one) and write the header.
 * NULL with err set ("<path>.tmp: <strerror>"). */
struct snap_writer *snap_write_open(const char *path, const struct frame_file_header *h,
                                    char *err, size_t errlen);

/* Append one whole encoded SET, TOMB or FLUSH frame (n bytes at p). The
 * trailer's time range follows the versions of the records written. */
bool snap_write_frame(struct snap_writer *w, const char *p, size_t n);

/* Append a store record as a SET or TOMB frame. */
bool snap_write_record(struct snap_writer *w, uint16_t origin, uint64_t seq,
                       const struct store_record *r);

/* Append a FLUSH frame. */
bool snap_write_flush(struct snap_writer *w, const struct frame_flush *fl);

/* Records and bytes written so far (header included in bytes). */
uint64_t snap_write_records(const struct snap_writer *w);
uint64_t snap_write_bytes(const struct snap_writer *w);

/* The first error (a failed write, a frame the codec refused), "" if none;
 * once set, appends return false and commit fails with it. */
const char *snap_write_error(const struct snap_writer *w);

/* Write the trailer, fsync, rename "<path>.tmp" to <path>, fsync the
 * directory, and free w. False with err set (the temporary file is removed). */
bool snap_write_commit(struct snap_writer *w, char *err, size_t errlen);

/* Remove the temporary file and free w (NULL is fine). */
void snap_write_abort(struct snap_writer *w);

/* --- reading ------------------------------------------------------------ */

struct snap_reader;

enum snap_next {
    SNAP_RECORD, /* *f holds a SET, TOMB or FLUSH; valid until the next call */
    SNAP_END,    /* the trailer was read and matches every record: the file is whole */
    SNAP_ERROR,  /* see snap_read_error(); records returned before it were valid */
};

/* Open a file and check its header. NULL with err set, naming the file and
 * the offset ("<path>: offset 0: not a Tandem snapshot (bad magic)"). */
struct snap_reader *snap_read_open(const char *path, char *err, size_t errlen);

/* The next record, the verified end, or an error. */
enum snap_next snap_read_next(struct snap_reader *r, struct frame *f);

/* After SNAP_ERROR: "<path>: offset <n>: <what>". */
const char *snap_read_error(const struct snap_reader *r);

/* The header; the trailer once SNAP_END was returned (else NULL). */
const struct frame_file_header *snap_read_header(const struct snap_reader *r);
const struct frame_file_trailer *snap_read_trailer(const struct snap_reader *r);

/* Byte offset of the next frame; total file size (for progress). */
uint64_t snap_read_offset(const struct snap_reader *r);
uint64_t snap_read_size(const struct snap_reader *r);

/* Close and free (NULL is fine). */
void snap_read_close(struct snap_reader *r);

/* Read a whole file without applying it: true if it ends in a matching
 * trailer, else false with err naming the file and offset. Counts records
 * into *records if not NULL. */
bool snap_verify(const char *path, uint64_t *records, char *err, size_t errlen);

/* --- a directory of snapshots (tandemd --snapshot-dir) ------------------ */

/* The name a new snapshot gets in dir: "<dir>/snapshot-<created_ms>-<node>.tsnap"
 * (names sort by time). */
void snap_dir_name(char *out, size_t outlen, const char *dir, uint64_t created_ms,
                   uint16_t node);

/* Snapshot files in dir, newest first (by the name's time); *paths is an
 * array of malloc'd strings the caller frees with snap_dir_free. -1 with
 * err set if dir cannot be read. */
int snap_dir_list(const char *dir, char ***paths, char *err, size_t errlen);
void snap_dir_free(char **paths, int n);

/* Delete all but the newest `keep` snapshots (and stale .tmp files). */
void snap_dir_prune(const char *dir, int keep);

#endif
