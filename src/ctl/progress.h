/*
 * ctl/progress: a progress line for long operations, and their summary.
 *
 * On a terminal (stderr is a tty) the line shows items, bytes, rate and,
 * when the total is known, percent and ETA; it is drawn at the first
 * update, then redrawn at most four times a second with "\r", and erased
 * at the end. Otherwise nothing is
 * drawn, so logs and pipes get only the one summary line.
 */
#ifndef TANDEM_CTL_PROGRESS_H
#define TANDEM_CTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ctl_progress {
    const char *what;        /* "backup", "restore" */
    bool tty;
    bool drawn;              /* a line is on the screen */
    uint64_t start_ns, last_ns;
    uint64_t total_items, total_bytes; /* 0: unknown */
    uint64_t items, bytes;
};

/* Start the clock; draw only if stderr is a terminal. */
void ctl_progress_start(struct ctl_progress *p, const char *what);

/* Record progress; redraws if on a terminal and 250 ms passed. */
void ctl_progress_update(struct ctl_progress *p, uint64_t items, uint64_t bytes);

/* Erase the line (if drawn) so a message or the summary can follow. */
void ctl_progress_clear(struct ctl_progress *p);

/* Seconds since start. */
double ctl_progress_seconds(const struct ctl_progress *p);

/* What a backup or restore did, for its summary. */
struct ctl_counts {
    uint64_t items;    /* written (backup) or applied (restore) */
    uint64_t bytes;    /* value bytes of those */
    uint64_t expired;  /* skipped: expired before they could be written */
    uint64_t missing;  /* skipped: deleted between the listing and the fetch */
    uint64_t ignored;  /* not applied: the target held a newer (or equal) version */
    uint64_t kept;     /* memcached: the key existed, the target's item was kept */
    uint64_t tombs;    /* tombstones passed on (tandemd) or skipped (memcached) */
    uint64_t flushes;  /* flush records skipped */
    uint64_t refused;  /* the target refused (too large, out of memory) */
};

/* One summary line on f: "<what>: N items, X MB in S s (I items/s, M MB/s);
 * skipped ...; ignored ...". The rates count every item handled (written,
 * skipped, ignored or kept) and every byte read. */
void ctl_progress_summary(FILE *f, const struct ctl_progress *p, const struct ctl_counts *c);

#endif
