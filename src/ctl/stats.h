/*
 * ctl/stats: fetch `stats [sub]` into name/value pairs.
 *
 * A reply is "STAT <name> <value>\r\n" lines then "END\r\n". The value is the
 * rest of the line (last_error values hold spaces). An ERROR reply is
 * CTL_EREFUSED, which is how `stats replication` tells a stock memcached
 * apart from a Tandem node; anything else is CTL_EPROTO.
 */
#ifndef TANDEM_CTL_STATS_H
#define TANDEM_CTL_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "ctl/client.h"

struct ctl_stat {
    char *name;
    char *value;
};

struct ctl_stats {
    struct ctl_stat *v;
    size_t n, cap;
};

/* Send `stats` (sub NULL) or `stats <sub>` and collect the reply into st
 * (which must be empty or freed). */
enum ctl_status ctl_stats_fetch(struct ctl_conn *c, const char *sub, struct ctl_stats *st);

/* Parse one reply line into st: true for a STAT line, false otherwise. *oom
 * is set if memory ran out. */
bool ctl_stats_parse_line(struct ctl_stats *st, const char *line, size_t len, bool *oom);

/* The value of `name`, or NULL. */
const char *ctl_stats_get(const struct ctl_stats *st, const char *name);

/* The value of `name` as an unsigned number; false if absent or not a number. */
bool ctl_stats_u64(const struct ctl_stats *st, const char *name, uint64_t *out);

/* Free the pairs and reset to empty. */
void ctl_stats_free(struct ctl_stats *st);

#endif
