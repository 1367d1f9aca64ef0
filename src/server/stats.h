/*
 * stats: the `stats` command family and `lru_crawler metadump`.
 *
 * Output matches memcached 1.6.18 line for line: the same names in the same
 * order. Counters Tandem has no use for (slab mover, LRU segments) are
 * printed as memcached prints them when idle, so dashboards keep working.
 */
#ifndef TANDEM_SERVER_STATS_H
#define TANDEM_SERVER_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conn.h"
#include "proto/text.h"

struct session;
struct store;

/* Run a `stats ...` request. */
enum conn_action stats_run(struct conn *c, struct session *s, struct proto_req *req);

/* Is "1,2,5" a valid list of class ids? */
bool stats_valid_class_list(const struct store *st, const char *p, size_t n);

/* Start streaming `lru_crawler metadump <ids>` on this connection. */
void stats_metadump_begin(struct conn *c, struct session *s, const char *ids, size_t n);

/* Emit the next slice of an active metadump. False once it has ended. */
bool stats_metadump_step(struct conn *c, struct session *s);

#endif
