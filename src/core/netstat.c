#include "core/netstat.h"

#include <stdatomic.h>

/* Shared by all threads; every access is a relaxed atomic. */
static _Atomic uint64_t curr, total, rejected, structures, nread, nwritten, disabled, yields;

#define BUMP(v, n) atomic_fetch_add_explicit(&(v), (n), memory_order_relaxed)
#define READ(v) atomic_load_explicit(&(v), memory_order_relaxed)

void netstat_conn_opened(void)
{
    BUMP(curr, 1);
    BUMP(total, 1);
    uint64_t now = READ(curr);
    uint64_t max = READ(structures);
    while (now > max && !atomic_compare_exchange_weak(&structures, &max, now))
        ;
}

void netstat_conn_closed(void) { atomic_fetch_sub_explicit(&curr, 1, memory_order_relaxed); }
void netstat_conn_rejected(void) { BUMP(rejected, 1); }
void netstat_listen_disabled(void) { BUMP(disabled, 1); }
void netstat_conn_yield(void) { BUMP(yields, 1); }
void netstat_bytes_read(uint64_t n) { BUMP(nread, n); }
void netstat_bytes_written(uint64_t n) { BUMP(nwritten, n); }
uint64_t netstat_curr_connections(void) { return READ(curr); }

void netstat_get(struct netstat *o)
{
    o->curr_connections = READ(curr);
    o->total_connections = READ(total);
    o->rejected_connections = READ(rejected);
    o->connection_structures = READ(structures);
    o->bytes_read = READ(nread);
    o->bytes_written = READ(nwritten);
    o->listen_disabled_num = READ(disabled);
    o->conn_yields = READ(yields);
}

void netstat_reset(void)
{
    atomic_store(&total, 0);
    atomic_store(&rejected, 0);
    atomic_store(&nread, 0);
    atomic_store(&nwritten, 0);
    atomic_store(&disabled, 0);
    atomic_store(&yields, 0);
}
