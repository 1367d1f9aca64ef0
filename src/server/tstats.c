#include "server/tstats.h"

#include <pthread.h>
#include <string.h>

/* The reset baseline: written by `stats reset`, read by `stats`, both under
 * `baseline_lock`, from whichever worker runs the command. */
static pthread_mutex_t baseline_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tstats_sum baseline;

static void raw_sum(struct tstats *const *pt, int n, struct tstats_sum *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < n; i++) {
        const struct tstats *t = pt[i];
#define X(f) o->f += atomic_load_explicit(&t->f, memory_order_relaxed);
        TSTATS_FIELDS(X)
#undef X
        for (int c = 0; c < TSTATS_CLASSES; c++) {
#define X(f) o->cls[c].f += atomic_load_explicit(&t->cls[c].f, memory_order_relaxed);
            TSTATS_CLASS_FIELDS(X)
#undef X
        }
    }
}

void tstats_sum(struct tstats *const *pt, int n, struct tstats_sum *o)
{
    raw_sum(pt, n, o);
    pthread_mutex_lock(&baseline_lock);
#define X(f) o->f -= baseline.f;
    TSTATS_FIELDS(X)
#undef X
    for (int c = 0; c < TSTATS_CLASSES; c++) {
#define X(f) o->cls[c].f -= baseline.cls[c].f;
        TSTATS_CLASS_FIELDS(X)
#undef X
    }
    pthread_mutex_unlock(&baseline_lock);
}

void tstats_reset(struct tstats *const *pt, int n)
{
    struct tstats_sum now;
    raw_sum(pt, n, &now);
    pthread_mutex_lock(&baseline_lock);
    baseline = now;
    pthread_mutex_unlock(&baseline_lock);
}
