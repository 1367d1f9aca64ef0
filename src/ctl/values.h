/*
 * ctl/values: fetch a batch of keys with `mg <key> v c` and fingerprint them.
 *
 * A batch is pipelined: all its requests go out in one write, then the
 * replies are read in order (meta commands answer in request order, and
 * without the q flag every request gets exactly one reply: VA or EN).
 * Values stream through the read window into an XXH3-128 hash, so a batch
 * of large items costs no more memory than a batch of small ones, and two
 * nodes' values compare by (length, 128-bit hash). Keys that are not plain
 * text (space, control or non-ASCII bytes) are sent base64-encoded with the
 * b flag.
 */
#ifndef TANDEM_CTL_VALUES_H
#define TANDEM_CTL_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/client.h"

#define CTL_VALUES_BATCH 64 /* keys per pipelined batch */

struct ctl_keyref {
    const char *p;
    size_t len;
};

struct ctl_value {
    bool found;
    uint64_t cas;
    uint64_t len;
    uint64_t hash[2]; /* XXH3-128 of the value bytes (high, low) */
};

/* Fetch keys[0..n) (n <= CTL_VALUES_BATCH) into out[0..n). */
enum ctl_status ctl_values_fetch(struct ctl_conn *c, const struct ctl_keyref *keys, size_t n,
                                 struct ctl_value *out);

/* True if the two fetched values are the same item: both missing, or both
 * present with the same cas and bytes. */
bool ctl_value_equal(const struct ctl_value *a, const struct ctl_value *b);

/* Parse a "VA <len> <flags>..." header line into v (found, len, cas); false if
 * the line is not one. */
bool ctl_values_parse_va(const char *line, size_t len, struct ctl_value *v);

/* Write `mg <key> v c` (base64 with b when needed) into out, which has room
 * for CTL_MG_MAX bytes; the length written. */
#define CTL_MG_MAX 400
size_t ctl_values_format_mg(char *out, const char *key, size_t nkey);

#endif
