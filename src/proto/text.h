/*
 * proto/text: memcached's text protocol, classic and meta, as pure functions.
 *
 * proto_text_parse() turns the bytes at the front of a read buffer into a
 * struct proto_req, or says how many more bytes it needs, or which exact
 * error memcached 1.6.18 would send. It never touches the cache and never
 * does I/O; the server glue (src/server) acts on the request. Every rule that
 * decides how many bytes a request consumes lives here, so the fuzzer and the
 * unit tests can check them without a socket.
 *
 * The reply writers at the bottom format memcached's response lines into a
 * struct buf, byte for byte.
 *
 * Pointers inside a proto_req (keys, tokens) point into the caller's buffer,
 * except `key` after base64 decoding, which points into req->keybuf. They are
 * valid until the caller consumes or moves the buffer.
 */
#ifndef TANDEM_PROTO_TEXT_H
#define TANDEM_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define PROTO_KEY_MAX 250
#define PROTO_MAX_TOKENS 24      /* memcached's MAX_TOKENS */
#define PROTO_LINE_MAX 2048      /* a longer line without \n closes the connection (except get) */
#define PROTO_META_MAX_FLAGS 17  /* flag tokens after the key (meta) */
#define PROTO_OPAQUE_MAX 32      /* O token including the 'O' */

enum proto_cmd {
    PROTO_CMD_NONE = 0,
    /* retrieval */
    PROTO_CMD_GET, /* also "bget" */
    PROTO_CMD_GETS,
    PROTO_CMD_GAT,
    PROTO_CMD_GATS,
    /* storage: a data block of req->nbytes + 2 bytes follows the line */
    PROTO_CMD_SET,
    PROTO_CMD_ADD,
    PROTO_CMD_REPLACE,
    PROTO_CMD_APPEND,
    PROTO_CMD_PREPEND,
    PROTO_CMD_CAS,
    /* single key */
    PROTO_CMD_DELETE,
    PROTO_CMD_INCR,
    PROTO_CMD_DECR,
    PROTO_CMD_TOUCH,
    /* admin; arguments are left in req->tokens for the server to interpret */
    PROTO_CMD_FLUSH_ALL,
    PROTO_CMD_VERSION,
    PROTO_CMD_VERBOSITY,
    PROTO_CMD_QUIT,
    PROTO_CMD_SHUTDOWN,
    PROTO_CMD_CACHE_MEMLIMIT,
    PROTO_CMD_STATS,
    PROTO_CMD_LRU_CRAWLER,
    PROTO_CMD_SLABS,
    PROTO_CMD_LRU,
    PROTO_CMD_WATCH,
    PROTO_CMD_REFRESH_CERTS,
    PROTO_CMD_EXTSTORE,
    /* Tandem: `apply <bytes> [noreply]`, a data block of replication frames
     * (docs/replication.md) merged by last-writer-wins; req->nbytes */
    PROTO_CMD_APPLY,
    /* Tandem: `replication promote`, `replication follow HOST:PORT` */
    PROTO_CMD_REPLICATION,
    /* Tandem: `snapshot`, write an in-server snapshot now (--snapshot-dir) */
    PROTO_CMD_SNAPSHOT,
    /* meta */
    PROTO_CMD_MG,
    PROTO_CMD_MS,
    PROTO_CMD_MD,
    PROTO_CMD_MA,
    PROTO_CMD_MN,
    PROTO_CMD_ME,
};

enum proto_status {
    PROTO_OK,        /* req is filled; consume req->nread bytes (the line) */
    PROTO_NEED_MORE, /* no complete line yet: read more, then call again */
    PROTO_ERROR,     /* reply req->error (unless req->noreply), consume req->nread,
                        then skip req->swallow more bytes, and go on */
    PROTO_CLOSE,     /* close the connection without a reply */
};

struct proto_token {
    const char *p;
    size_t n;
};

/* Meta flags of one request (mg/ms/md/ma/me), validated. */
struct proto_meta {
    uint64_t has;                       /* bit proto_meta_bit(c) set for each flag c seen */
    char order[PROTO_META_MAX_FLAGS];   /* flag letters in request order, for reflection */
    uint8_t norder;
    struct proto_token opaque;          /* O token without the 'O' */
    int64_t ttl_T;                      /* T<ttl>, signed seconds as sent (after
                                           memcached's truncation to 32 bits) */
    int64_t ttl_N;                      /* N<ttl> */
    int64_t ttl_R;                      /* R<ttl> */
    uint64_t cas;                       /* C<cas> */
    uint32_t client_flags;              /* F<flags> (ms) */
    uint64_t initial;                   /* J<n> (ma) */
    uint64_t delta;                     /* D<n> (ma), default 1 */
    char mode;                          /* M<c> (ms: E A P R S; ma: I + D -), 0 if absent */
};

/* Bit for meta flag letter c ('a'..'z', 'A'..'Z') in proto_meta.has. */
static inline uint64_t proto_meta_bit(char c)
{
    return (c >= 'a' && c <= 'z') ? (1ull << (c - 'a'))
           : (c >= 'A' && c <= 'Z') ? (1ull << (26 + c - 'A'))
                                     : 0;
}

static inline bool proto_meta_has(const struct proto_meta *m, char c)
{
    return (m->has & proto_meta_bit(c)) != 0;
}

struct proto_req {
    enum proto_cmd cmd;
    size_t nread;        /* bytes of the command line, including its \n */
    bool noreply;        /* classic: the line ends in "noreply"; meta: the q flag */
    const char *error;   /* PROTO_ERROR: the reply line, without \r\n */
    size_t swallow;      /* PROTO_ERROR: data bytes to skip after the line */

    struct proto_token key;   /* single-key and meta commands */
    struct proto_token keys;  /* get/gets/gat/gats: the rest of the line, keys separated by spaces */
    bool key_binary;          /* meta b: key was base64 and has been decoded into keybuf */
    char keybuf[PROTO_KEY_MAX + 1];

    uint32_t flags;      /* storage: client flags (after memcached's 32-bit truncation) */
    int64_t exptime;     /* storage, touch, gat: as sent (relative/absolute/negative) */
    uint32_t nbytes;     /* storage: value length, without the trailing \r\n */
    uint64_t cas;        /* cas: the unique */
    uint64_t delta;      /* incr/decr */

    /* The tokens of the line, for admin commands: at most PROTO_MAX_TOKENS - 1,
     * as memcached keeps one slot of its 24 for the rest of the line, so a
     * longer line shows its first 23 tokens. ntokens counts real tokens, so
     * memcached's own `ntokens` is req->ntokens + 1. get/gets/gat/gats only
     * fill the tokens up to their first key (use req->keys). */
    struct proto_token tokens[PROTO_MAX_TOKENS];
    size_t ntokens;

    struct proto_meta meta;
};

/* Parse one request from the front of buf[0..len). See enum proto_status. */
enum proto_status proto_text_parse(const char *buf, size_t len, struct proto_req *req);

/* Take the next key from `rest` (req->keys), advancing it. False when none
 * remain. A key longer than PROTO_KEY_MAX is returned as is; the caller
 * answers "CLIENT_ERROR bad command line format" for the whole get. */
bool proto_text_next_key(struct proto_token *rest, struct proto_token *key);

/* memcached's safe_strtoul/strtol/strtoull rules for one token: true and
 * *out set if the whole token is a valid number of that kind. */
bool proto_parse_u32(const char *p, size_t n, uint32_t *out);
bool proto_parse_i32(const char *p, size_t n, int32_t *out);
bool proto_parse_u64(const char *p, size_t n, uint64_t *out);

/* --- reply writers -------------------------------------------------------- */

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n" */
void proto_text_value(struct buf *out, const char *key, size_t nkey, uint32_t flags,
                      const char *data, size_t ndata, bool with_cas, uint64_t cas);

/* What the server knows about one item when it answers a meta command. */
struct proto_item {
    const char *key;
    size_t nkey;
    bool key_binary;      /* reflect the key base64-encoded, followed by " b" */
    const char *value;
    size_t nvalue;
    uint32_t flags;
    int64_t ttl;          /* remaining seconds before this request changed it,
                             -1 = never expires; printed as memcached's unsigned
                             32-bit difference, so a past expiry shows 2^32 - x */
    int64_t ttl_T;        /* as ttl, once the request's T was applied (T0: -1) */
    int64_t ttl_N;        /* as ttl, once N was applied, if `created` (N0: -1) */
    bool created;         /* this request created the item (mg N<ttl>, ma N<ttl>) */
    uint64_t last_access; /* seconds since the last access, before this one */
    uint64_t cas;
    bool fetched;         /* h: fetched before */
    bool won;             /* W */
    bool stale;           /* X */
    bool win_sent;        /* Z */
};

/* A meta reply with return code `code` ("HD", "VA", "EN", "NF", "NS", "EX"),
 * its flags reflected in request order from `req->meta`, `item` supplying
 * the values (NULL on a miss), and the value block for VA. Does nothing if
 * the q flag hides this code. Which flags each command reflects, and what
 * the server must put in `item`, is described at the top of proto/meta.c. */
void proto_meta_reply(struct buf *out, const struct proto_req *req, const char *code,
                      const struct proto_item *item);

/* Base64 (RFC 4648, with padding) as meta's b flag uses it. */
size_t proto_base64_encode(const unsigned char *in, size_t n, char *out, size_t cap);
/* Returns the decoded length, or 0 if the input is not valid base64. */
size_t proto_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* --- internal: shared by proto/text.c and proto/meta.c only -------------- */

/* Validate a tokenized meta line (req->cmd is a meta command, tokens set)
 * and fill req->key and req->meta. */
enum proto_status proto_meta_parse(struct proto_req *req);

#endif
