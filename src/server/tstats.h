/*
 * tstats: per-worker command counters.
 *
 * Each worker bumps its own counters with plain (relaxed, lock-free) atomic
 * stores; `stats` sums them across workers. `stats reset` does not write into
 * other threads' counters: it records a baseline that later reads subtract,
 * so no increment is ever lost to a race with a reset.
 */
#ifndef TANDEM_SERVER_TSTATS_H
#define TANDEM_SERVER_TSTATS_H

#include <stdatomic.h>
#include <stdint.h>

#define TSTATS_CLASSES 256

/* The counters, in one place so sum/reset/print stay in step. */
#define TSTATS_FIELDS(X)                                                                       \
    X(get_cmds) X(get_hits) X(get_misses) X(touch_cmds) X(touch_hits) X(touch_misses)          \
    X(flush_cmds) X(meta_cmds) X(delete_hits) X(delete_misses) X(incr_hits)        \
    X(incr_misses) X(decr_hits) X(decr_misses) X(cas_hits) X(cas_misses) X(cas_badval)         \
    X(auth_cmds) X(auth_errors) X(store_too_large) X(store_no_memory)

/* Per size class, for `stats slabs`. */
#define TSTATS_CLASS_FIELDS(X)                                                                 \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) X(cas_hits) X(cas_badval)  \
    X(touch_hits)

struct tstats_class {
#define X(f) _Atomic uint64_t f;
    TSTATS_CLASS_FIELDS(X)
#undef X
};

struct tstats {
#define X(f) _Atomic uint64_t f;
    TSTATS_FIELDS(X)
#undef X
    struct tstats_class cls[TSTATS_CLASSES];
};

/* A plain copy for reporting. */
struct tstats_sum {
#define X(f) uint64_t f;
    TSTATS_FIELDS(X)
#undef X
    struct {
#define X(f) uint64_t f;
        TSTATS_CLASS_FIELDS(X)
#undef X
    } cls[TSTATS_CLASSES];
};

/* Bump a counter owned by the calling thread: load + store, no lock prefix. */
#define TSTAT_ADD(t, field, n)                                                                 \
    atomic_store_explicit(&(t)->field,                                                         \
                          atomic_load_explicit(&(t)->field, memory_order_relaxed) + (n),       \
                          memory_order_relaxed)
#define TSTAT_INC(t, field) TSTAT_ADD(t, field, 1)

/* Sum `n` workers' counters minus the reset baseline. */
void tstats_sum(struct tstats *const *per_thread, int n, struct tstats_sum *out);

/* stats reset: make the current totals the new zero. */
void tstats_reset(struct tstats *const *per_thread, int n);

#endif
