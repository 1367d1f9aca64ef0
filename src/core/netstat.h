/*
 * netstat: process-wide connection and traffic counters for `stats`.
 *
 * Counters are relaxed atomics: they are bumped on hot paths by every worker
 * and only read, approximately, by `stats`.
 */
#ifndef TANDEM_CORE_NETSTAT_H
#define TANDEM_CORE_NETSTAT_H

#include <stdint.h>

struct netstat {
    uint64_t curr_connections;
    uint64_t total_connections;
    uint64_t rejected_connections;
    uint64_t connection_structures;
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t listen_disabled_num;
    uint64_t conn_yields;
};

void netstat_conn_opened(void);
void netstat_conn_closed(void);
void netstat_conn_rejected(void);
void netstat_listen_disabled(void);
void netstat_conn_yield(void);
void netstat_bytes_read(uint64_t n);
void netstat_bytes_written(uint64_t n);

/* Open connections right now (for the -c limit). */
uint64_t netstat_curr_connections(void);

/* A snapshot of all counters. */
void netstat_get(struct netstat *out);

/* Zero the counters that `stats reset` clears. */
void netstat_reset(void);

#endif
