/*
 * ctl/metadump: stream `lru_crawler metadump all` from one node.
 *
 * Each live item is one line, "key=<urlencoded> exp=.. la=.. cas=N fetch=..
 * cls=.. size=..\n", and the dump ends with "END\r\n". Lines are parsed as
 * they arrive and handed to a callback, so a dump of any size needs only
 * the client's read window. memcached may answer BUSY while its crawler is
 * running; the dump is then retried until the timeout.
 */
#ifndef TANDEM_CTL_METADUMP_H
#define TANDEM_CTL_METADUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/client.h"

#define CTL_KEY_MAX 250 /* memcached's longest key */

struct ctl_meta {
    char key[CTL_KEY_MAX + 1]; /* decoded, NUL-terminated for convenience */
    size_t nkey;
    uint64_t cas;
    int64_t exp;   /* -1: never */
    uint64_t size; /* item bytes as the server counts them; 0 if absent */
};

/* Decode %XX escapes of src[0..n) into dst (room for n bytes); the decoded
 * length, or -1 if an escape is malformed. '+' is kept as is (memcached
 * encodes it as %2B). */
long ctl_urldecode(const char *src, size_t n, char *dst);

/* Parse one metadump line into m; false if it has no valid key= or cas=. Fields
 * this parser does not know are ignored, so newer servers' lines still parse. */
bool ctl_metadump_parse(const char *line, size_t len, struct ctl_meta *m);

/* Called for each item; return false to stop (the dump then fails with
 * CTL_ENOMEM: the only reason a collector stops). */
typedef bool (*ctl_meta_fn)(void *arg, const struct ctl_meta *m);

/* Run the dump on c, calling fn for every item until END. */
enum ctl_status ctl_metadump(struct ctl_conn *c, ctl_meta_fn fn, void *arg);

#endif
