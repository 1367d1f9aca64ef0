#include "core/clock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/* Written by the main thread's timer (clock_tick) or by tests (clock_set);
 * read by every thread. */
static _Atomic uint32_t now_s;
static _Atomic bool frozen;
static _Atomic uint32_t started_s;

static uint32_t read_system(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)ts.tv_sec;
}

uint32_t clock_now(void)
{
    uint32_t t = atomic_load_explicit(&now_s, memory_order_relaxed);
    if (t == 0) {
        clock_tick();
        t = atomic_load_explicit(&now_s, memory_order_relaxed);
    }
    return t;
}

uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void clock_tick(void)
{
    if (atomic_load(&frozen))
        return;
    uint32_t t = read_system();
    atomic_store_explicit(&now_s, t, memory_order_relaxed);
    uint32_t zero = 0;
    atomic_compare_exchange_strong(&started_s, &zero, t - 2);
}

void clock_set(uint32_t now)
{
    if (now == 0) {
        atomic_store(&frozen, false);
        clock_tick();
        return;
    }
    atomic_store(&frozen, true);
    atomic_store_explicit(&now_s, now, memory_order_relaxed);
    uint32_t zero = 0;
    atomic_compare_exchange_strong(&started_s, &zero, now - 2);
}

uint32_t clock_started(void)
{
    if (atomic_load(&started_s) == 0)
        clock_tick();
    return atomic_load(&started_s);
}
