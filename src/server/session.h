/*
 * session: the per-connection protocol state of tandemd.
 *
 * A session frames requests: it picks text or binary from the first byte,
 * parses one request at a time, and, for storage commands, reads the value
 * straight into a store item before handing the request to its command.
 *
 *     ST_CMD ──storage cmd──> ST_NREAD ──value + \r\n──> store ──> ST_CMD
 *        │                       │
 *        └──error with data──> ST_SWALLOW ──skipped──> ST_CMD
 */
#ifndef TANDEM_SERVER_SESSION_H
#define TANDEM_SERVER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/binary.h"
#include "proto/text.h"
#include "repl/repl.h"
#include "server/server.h"
#include "store/store.h"

/* Output beyond which a session stops producing and lets the core flush. */
#define SESSION_OUT_HIGH (512 * 1024)

/* A UDP reply can be at most this big (65535 datagrams of 1392 bytes). */
#define SESSION_UDP_MAX ((size_t)65535 * 1392)

enum sess_proto { SESS_UNKNOWN, SESS_TEXT, SESS_BINARY };
enum sess_state { ST_CMD, ST_NREAD, ST_SWALLOW };

/* What to do with a value once it has arrived. */
enum pend_kind { PEND_TEXT, PEND_META, PEND_BINARY, PEND_AUTH };

struct pending {
    enum pend_kind kind;
    struct store_write w;
    bool noreply;
    struct proto_req req;      /* text/meta: the request line, key and opaque copied */
    char opaque[PROTO_OPAQUE_MAX];
    struct proto_bin_req breq; /* binary: the header */
    char key[PROTO_KEY_MAX + 1];
    size_t nkey;
    uint32_t exptime;          /* for the mutation log */
};

struct session {
    enum sess_proto proto;
    enum sess_state st;
    struct store_item *item;   /* being filled in ST_NREAD */
    char *data;                /* its value buffer */
    uint32_t nvalue;
    uint32_t got;              /* value bytes received */
    uint64_t swallow;          /* bytes left to skip in ST_SWALLOW */
    bool authenticated;        /* -Y: ascii auth passed */
    bool quit;                 /* close once the output is flushed */
    bool watching;             /* a `watch` log stream: input is ignored */
    size_t get_resume;         /* a paused multiget: offset of its next key in the line */
    struct pending p;
    struct {                   /* an lru_crawler metadump in progress */
        bool active;
        bool all;
        uint64_t classes[4];   /* bitmap of class ids when not all */
        struct store_cursor cur;
    } dump;
    struct snapshot_waiter *snap; /* `snapshot` waiting for its file (cmd_admin.c) */
    struct {                   /* pipelined gets prefetched ahead (cmd_text_lookahead) */
        size_t slot, item;     /* rbuf offsets: end of the lines prefetched so far */
        unsigned nslot, nitem; /* get lines between the read position and those */
    } ahead;
    struct {                   /* a write waiting for --repl-min-acks (acks.c) */
        bool waiting;
        struct repl_waiter w;
        size_t hold;           /* output length before the write's reply */
        uint64_t deadline_ms;
    } ack;
};

/* After a request that started at output length `hold`: if it logged a
 * write that must be acknowledged, park until it is. True: return CONN_PARK. */
bool acks_park(struct conn *c, struct session *s, uint64_t pos_before, size_t hold);

/* A parked session was woken: true if it must park again. On a timeout
 * the held reply becomes a SERVER_ERROR. */
bool acks_resume(struct conn *c, struct session *s);

/* The connection is closing: forget the wait. */
void acks_cancel(struct conn *c, struct session *s);

/* Begin reading a value of `nvalue` bytes into `it` (already allocated);
 * the pending request is in s->p. Text and meta values end in \r\n, binary
 * values do not. */
void session_read_value(struct conn *c, struct session *s, struct store_item *it,
                        uint32_t nvalue);

/* Skip `n` bytes of input (an unwanted data block). */
void session_swallow(struct session *s, uint64_t n);

/* Append "<line>\r\n" unless noreply. */
void session_reply(struct conn *c, const char *line, bool noreply);

/* Called with the value complete: finish the pending storage command. */
void cmd_text_store(struct conn *c, struct session *s, bool bad_chunk);
void cmd_meta_store(struct conn *c, struct session *s, bool bad_chunk);
void cmd_binary_store(struct conn *c, struct session *s);

/* Before the text request at the read position runs: prefetch for the
 * single-key gets queued behind it in the input, the bucket slots a few
 * lines ahead and the items behind them nearer, as a multi-get does for its
 * keys. A hint only: it reads the input, never consumes it. Call
 * cmd_text_lookahead_reset when process() starts (offsets are into rbuf,
 * which may move between calls) and cmd_text_lookahead_done after each
 * request. */
void cmd_text_lookahead(struct conn *c, struct session *s);
void cmd_text_lookahead_reset(struct conn *c, struct session *s);
void cmd_text_lookahead_done(struct session *s);

/* Run one parsed request. */
enum conn_action cmd_text_run(struct conn *c, struct session *s, struct proto_req *req);
enum conn_action cmd_binary_run(struct conn *c, struct session *s, struct proto_bin_req *req);

#endif
