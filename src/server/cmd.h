/*
 * cmd: the command functions shared between the session and the protocol
 * front ends (text, meta, binary, admin).
 */
#ifndef TANDEM_SERVER_CMD_H
#define TANDEM_SERVER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conn.h"
#include "proto/text.h"
#include "server/server.h"
#include "store/store.h"

struct session;

/* Reserve an item and start reading its value, or reply why not and skip
 * `nbytes + trailer` bytes. See cmd_text.c. */
bool cmd_begin_store(struct conn *c, struct session *s, const char *key, size_t nkey,
                     uint32_t flags, uint32_t exptime, uint32_t nbytes, bool is_set,
                     bool noreply, uint64_t trailer);

/* Count one lookup: a touch (gat, touch, mg T) or a plain get, hit or miss. */
void cmd_count_fetch(struct thread_ctx *t, bool touch, bool hit, unsigned clsid);

/* Log a fetch / a store to `watch` clients (cheap when nobody watches). */
void cmd_log_get(struct conn *c, const char *key, size_t nkey, bool hit, unsigned clsid,
                 uint32_t nvalue);
void cmd_log_store(struct conn *c, struct session *s, enum store_status st, unsigned clsid,
                   uint32_t nvalue);

/* On a replica, refuse a write (and skip its data block). True if refused. */
bool cmd_refuse_on_replica(struct conn *c, struct session *s, const struct proto_req *req);

/* Until the first sync (--repl-sync-wait error), refuse data commands. */
bool cmd_refuse_while_syncing(struct conn *c, struct session *s, const struct proto_req *req);

/* `apply <bytes>`: merge a batch of replication frames (a restore). Sets
 * *need_more while the data block is still arriving. See cmd_apply.c. */
enum conn_action cmd_apply_run(struct conn *c, struct session *s, const struct proto_req *req,
                               bool *need_more);

/* `replication promote` / `replication follow HOST:PORT` (manual failover). */
enum conn_action cmd_replication_run(struct conn *c, const struct proto_req *req);

/* Build the replication engine from the settings; NULL with err set. */
struct repl *server_repl_create(const struct settings *st, char *err, size_t errlen);

/* Meta commands (mg ms md ma mn me). */
enum conn_action cmd_meta_run(struct conn *c, struct session *s, struct proto_req *req);

/* Admin commands: flush_all, version, verbosity, shutdown, stats, ... */
enum conn_action cmd_admin_run(struct conn *c, struct session *s, struct proto_req *req);

/* `snapshot` parks its connection until the snapshot thread is done:
 * write the reply (true) or keep waiting (false). */
bool cmd_snapshot_resume(struct conn *c, struct session *s);

/* The connection is closing: forget a `snapshot` it waits for. */
void cmd_snapshot_cancel(struct conn *c, struct session *s);

/* `stats detail`: per key-prefix counters, on only when enabled. */
enum cmd_detail_op { CMD_DETAIL_GET, CMD_DETAIL_SET, CMD_DETAIL_DELETE };
void cmd_detail_record(struct server *srv, const char *key, size_t nkey, enum cmd_detail_op op,
                       bool hit);

/* Append the `stats detail dump` body (PREFIX lines and END). */
void cmd_detail_dump(struct server *srv, struct buf *out);

#endif
