/*
 * ctl/put: write restored items to a node, never overwriting newer data.
 *
 * Two ways, picked by what the node is:
 *
 *   tandemd    `apply <n>\r\n<n bytes of SET/TOMB frames>\r\n`, answered
 *              `APPLIED <newer> <ignored>`: the node merges each frame by
 *              last-writer-wins on its version, exactly as replication
 *              does, so flags, version and exptime are kept and an item the
 *              node holds at a newer version stays. Batches are ~1 MiB.
 *   memcached  `ms <key> <len> T<ttl> F<flags> ME` (mode add), pipelined:
 *              an existing key is kept (NS, counted as "kept existing").
 *              memcached cannot take a version, so a restored item gets a
 *              new CAS and "newer" can only mean "already there".
 *
 * A tandemd without `apply` (older builds) is written like memcached. The
 * probe for it is `apply 0` fenced by `mn`, harmless on any server.
 */
#ifndef TANDEM_CTL_PUT_H
#define TANDEM_CTL_PUT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "ctl/client.h"
#include "ctl/progress.h"
#include "ctl/xfer.h"

#define CTL_PUT_APPLY_BYTES (1u << 20) /* frames per apply batch */
#define CTL_PUT_MS_BYTES (256u << 10)  /* ms commands per pipelined batch */
#define CTL_PUT_MS_ITEMS 256

enum ctl_put_mode { CTL_PUT_APPLY, CTL_PUT_ADD };

struct ctl_put {
    struct ctl_conn *conn;
    enum ctl_put_mode mode;
    struct ctl_counts *counts;
    struct buf out;       /* frames, or ms commands, not yet sent */
    size_t pending;       /* records in out */
    uint64_t seq;
    char refusal[200];    /* the first error reply to an ms, quoted */
};

/* True if the node takes `apply` (sends a probe and reads its replies). */
enum ctl_status ctl_put_has_apply(struct ctl_conn *c, bool *yes);

/* Queue one SET (or, with apply, TOMB) record; sends a batch when full.
 * now is the Unix time TTLs are worked out from. */
enum ctl_status ctl_put_item(struct ctl_put *p, const struct xfer_item *it, uint32_t now);

/* Send what is queued and read the replies. */
enum ctl_status ctl_put_flush(struct ctl_put *p);

/* Free the buffer. */
void ctl_put_free(struct ctl_put *p);

/* Parse "APPLIED <newer> <ignored>"; false if the line is not one. */
bool ctl_put_parse_applied(const char *line, size_t len, uint64_t *newer, uint64_t *ignored);

#endif
