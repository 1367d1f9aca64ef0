/*
 * ctl/fetch: read a node's items for a backup, through its client port.
 *
 * Works the same against tandemd and stock memcached 1.6: the keys come
 * from `lru_crawler metadump all` (the caller collects them into a keyset
 * first, because the dump must be alone on its connection and memcached's
 * crawler should not wait on us), then each batch of keys is fetched with
 * one pipelined write of `mg <key> v f t c k` (base64 with b for keys that
 * are not plain text) and the replies are read in order. A key deleted or
 * expired since the dump answers EN and is counted as missing.
 *
 * On tandemd the CAS is the item's HLC version and is kept. memcached's CAS
 * is a per-server counter that means nothing elsewhere, so its items get
 * one version, that of the backup's start (xfer_version_at): restored into
 * tandemd they lose to anything written there after the backup began.
 */
#ifndef TANDEM_CTL_FETCH_H
#define TANDEM_CTL_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/client.h"
#include "ctl/values.h"
#include "ctl/xfer.h"

#define CTL_FETCH_BATCH 128 /* keys per pipelined mg batch */

/* What `stats replication` says about a node. */
struct ctl_node_info {
    bool tandem;      /* answered it (memcached says ERROR) */
    uint16_t node_id; /* 0 if none */
};

/* Ask c which kind of server it is. */
enum ctl_status ctl_node_probe(struct ctl_conn *c, struct ctl_node_info *info);

/* Called with each item fetched; return false to stop (err in the sink). */
typedef bool (*ctl_item_fn)(void *arg, const struct xfer_item *it);

struct ctl_fetch {
    struct ctl_conn *conn;
    bool tandem;        /* the CAS is the version */
    uint64_t version;   /* memcached: the version every item gets */
    ctl_item_fn fn;
    void *arg;
    uint64_t missing;   /* answered EN: gone since the dump */
    bool stopped;       /* fn returned false */
    char *vbuf;         /* the value being read */
    size_t vcap;
};

/* Fetch keys[0..n) (n <= CTL_FETCH_BATCH), calling f->fn for each hit. A
 * CTL_OK return with f->stopped set means fn refused an item. */
enum ctl_status ctl_fetch_batch(struct ctl_fetch *f, const struct ctl_keyref *keys, size_t n);

/* Free the value buffer. */
void ctl_fetch_free(struct ctl_fetch *f);

/* Write "mg <key> [b] <flags>\r\n" (flags like "v f t c k") into out, which
 * holds CTL_MG_MAX bytes; the length. The key token is base64 with b when
 * the key is not plain text or binary is set. */
size_t ctl_fetch_format_mg(char *out, const char *key, size_t nkey, bool binary,
                           const char *flags);

#endif
