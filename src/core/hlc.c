#include "core/hlc.h"

#include "core/clock.h"

#include <stdatomic.h>

#define LOW_BITS (HLC_NODE_BITS + HLC_LOGICAL_BITS)
#define NODE_MASK ((uint64_t)HLC_MAX_NODE)

/* Shared by all threads; every update is a compare-and-swap. */
static _Atomic uint64_t last;
static _Atomic uint16_t node_id;

void hlc_set_node(uint16_t node) { atomic_store(&node_id, node & HLC_MAX_NODE); }

uint16_t hlc_node(void) { return atomic_load(&node_id); }

uint64_t hlc_from_ms(uint64_t unix_ms)
{
    uint64_t ms = unix_ms > HLC_EPOCH_MS ? unix_ms - HLC_EPOCH_MS : 0;
    return ms << LOW_BITS;
}

uint64_t hlc_to_ms(uint64_t v) { return (v >> LOW_BITS) + HLC_EPOCH_MS; }

uint16_t hlc_node_of(uint64_t v) { return (uint16_t)(v & NODE_MASK); }

uint64_t hlc_now(void)
{
    uint64_t node = atomic_load_explicit(&node_id, memory_order_relaxed);
    uint64_t phys = hlc_from_ms(clock_now_ms());
    uint64_t old = atomic_load_explicit(&last, memory_order_relaxed);
    for (;;) {
        /* The next tick of the logical counter after `old`, with our node. */
        uint64_t next = (((old >> HLC_NODE_BITS) + 1) << HLC_NODE_BITS) | node;
        uint64_t cand = phys > next ? (phys | node) : next;
        if (atomic_compare_exchange_weak_explicit(&last, &old, cand, memory_order_relaxed,
                                                  memory_order_relaxed))
            return cand;
    }
}

void hlc_observe(uint64_t remote)
{
    uint64_t old = atomic_load_explicit(&last, memory_order_relaxed);
    while (remote > old &&
           !atomic_compare_exchange_weak_explicit(&last, &old, remote, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}
