/*
 * ctl/progress: the rate-limited progress line and the summary line.
 */
#include "ctl/progress.h"

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 250000000ull /* at most 4 redraws a second */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ctl_progress_start(struct ctl_progress *p, const char *what)
{
    *p = (struct ctl_progress){.what = what, .tty = isatty(STDERR_FILENO) == 1};
    p->start_ns = mono_ns();
    p->last_ns = 0; /* the first update draws at once */
}

double ctl_progress_seconds(const struct ctl_progress *p)
{
    return (double)(mono_ns() - p->start_ns) / 1e9;
}

static void eta(char *out, size_t n, double secs)
{
    if (secs < 0 || secs > 360000)
        snprintf(out, n, "?");
    else if (secs >= 3600)
        snprintf(out, n, "%dh%02dm", (int)secs / 3600, (int)secs / 60 % 60);
    else
        snprintf(out, n, "%dm%02ds", (int)secs / 60, (int)secs % 60);
}

static void draw(struct ctl_progress *p, double secs)
{
    double mb = (double)p->bytes / 1e6;
    double rate = secs > 0 ? (double)p->items / secs : 0;
    double done = -1;
    if (p->total_bytes)
        done = (double)p->bytes / (double)p->total_bytes;
    else if (p->total_items)
        done = (double)p->items / (double)p->total_items;
    fprintf(stderr, "\r%s: %" PRIu64 " items, %.0f items/s", p->what, p->items, rate);
    if (p->bytes)
        fprintf(stderr, ", %.1f MB, %.1f MB/s", mb, secs > 0 ? mb / secs : 0);
    if (done >= 0 && done <= 1)
        fprintf(stderr, ", %.0f%%", done * 100);
    if (done > 0 && done <= 1 && secs >= 1) { /* too early, a rate says little */
        char e[32];
        eta(e, sizeof(e), secs / done - secs);
        fprintf(stderr, ", ETA %s", e);
    }
    fputs("\033[K", stderr); /* erase the rest of a longer previous line */
    fflush(stderr);
    p->drawn = true;
}

void ctl_progress_update(struct ctl_progress *p, uint64_t items, uint64_t bytes)
{
    p->items = items;
    p->bytes = bytes;
    if (!p->tty)
        return;
    uint64_t now = mono_ns();
    if (p->last_ns && now - p->last_ns < REDRAW_NS)
        return;
    p->last_ns = now;
    draw(p, (double)(now - p->start_ns) / 1e9);
}

void ctl_progress_clear(struct ctl_progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
    p->drawn = false;
}

void ctl_progress_summary(FILE *f, const struct ctl_progress *p, const struct ctl_counts *c)
{
    double secs = ctl_progress_seconds(p);
    double mb = (double)c->bytes / 1e6;
    double s = secs > 1e-6 ? secs : 1e-6;
    /* the rate counts every item handled, so a restore that finds only
     * newer data still shows how fast it went */
    uint64_t handled = c->items + c->expired + c->missing + c->ignored + c->kept + c->refused;
    fprintf(f, "%s: %" PRIu64 " items, %.2f MB in %.2f s (%.0f items/s, %.2f MB/s); "
               "skipped %" PRIu64 " expired, %" PRIu64 " missing; ignored %" PRIu64 " older",
            p->what, c->items, mb, secs, (double)handled / s, mb / s, c->expired, c->missing,
            c->ignored);
    if (c->kept)
        fprintf(f, "; kept %" PRIu64 " existing", c->kept);
    if (c->tombs)
        fprintf(f, "; %" PRIu64 " tombstones", c->tombs);
    if (c->flushes)
        fprintf(f, "; %" PRIu64 " flushes not replayed", c->flushes);
    if (c->refused)
        fprintf(f, "; %" PRIu64 " refused by the target", c->refused);
    fputc('\n', f);
}
