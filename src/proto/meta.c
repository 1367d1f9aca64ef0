/*
 * proto/meta: the meta commands (mg ms md ma mn me): validation and replies.
 *
 * PARSING. memcached 1.6.18 runs one flag scanner for every meta command, so
 * every command accepts the same 23 flag letters
 *     b c f h k l q s t u v  C D F I J L M N O P R T
 * and ignores the ones it has no use for (an "mg k F5" is fine); any other
 * first byte is "CLIENT_ERROR invalid flag", a repeated letter or a byte >=
 * 127 is "CLIENT_ERROR duplicate flag" and both stop the scan. Numeric and
 * base64 errors do not stop it: the reply is the last such error seen, so
 * "mg k Tx Nx" and "mg k Tx zz" answer with the later problem. F with a bad
 * number fails without a message of its own, leaving the default "bad
 * command line format". md and ma replace every scanner error with "invalid
 * or duplicate flag". Checks run in memcached's order; see each parse_*().
 *
 * ms errors found after <datalen> was read set req->swallow to datalen + 2:
 * the data block is skipped. Earlier errors (bad key, too many tokens, bad
 * datalen) do not, and the data line is then parsed as a command. Meta
 * errors are always sent (req->noreply is false with PROTO_ERROR); q only
 * hides the nominal reply, which proto_meta_reply() knows about.
 *
 * memcached checks the length of an O token (at most 32 bytes with the O)
 * while it builds the reply. For md and ms that is before any work, and so it
 * is here. For ma it is after the arithmetic, so "ma k O<long>" on a
 * non-numeric value answers "cannot increment..." and on a counter applies
 * the delta and then answers "opaque token too long": the parser accepts
 * such an ma and proto_meta_reply() writes the error in place of the reply,
 * whatever the code and q. For mg the reply is the same error either way, so
 * the parser rejects it at once; memcached would first have applied a T that
 * precedes the O and created an N item, which we skip.
 *
 * REPLIES (proto_meta_reply). Return flags follow the request's flag order.
 *   mg hit:  "HD" or "VA <len>", then per flag: s<len> t<ttl> c<cas> f<flags>
 *            l<secs since last access> h<0|1> O<opaque> k<key>; T and N only
 *            change which TTL a later t shows (ttl -> ttl_T, and ttl_N when
 *            item->created). Then " Z" if win_sent, " X" if stale, " W" if
 *            won, "\r\n", and for VA the value and "\r\n". Never hidden by q.
 *   mg miss: "EN" with O and k only. Hidden by q.
 *   ms:      code HD|NS|EX|NF with O, k, c<cas> (cas of the stored item;
 *            pass item = NULL unless stored, which prints c0). q hides HD.
 *   md:      HD|NF|EX with O and k. q hides HD.
 *   ma:      item set (HD, or "VA <len>" + "\r\n<number>"): c t O k, T and N as
 *            for mg; q hides it unless item->created (a vivify is always
 *            reported). NF|EX|NS (item NULL): O and k. With an over-long O
 *            every ma outcome written here becomes "CLIENT_ERROR opaque token
 *            too long" (the server writes the non-numeric / out-of-memory
 *            errors itself, so those win, as in memcached).
 *   mn:      "MN". me is the server's own line (below).
 *   k prints the key, or its base64 followed by " b" when the key is binary:
 *   for an mg hit that is the item's own binary bit (set by the ms b that
 *   stored it), everywhere else the request's b.
 *
 * WHAT THE SERVER DOES (memcached 1.6.18 semantics).
 *   mg: on a miss with N, create an empty item with TTL from N; it "wins" (W)
 *     and is reported as a hit. With T, set the TTL (mg with T counts as a
 *     touch: touch_cmds/touch_hits/touch_misses instead of get_*). h and l
 *     report fetched/last-access before this access; u means no LRU bump and
 *     no fetched/last-access update. Win logic, in this order:
 *       won = created by N
 *          || (R given && !token_sent && !created && item has an expiry
 *              && expiry < realtime(R))
 *          || (stale && !token_sent);
 *     win_sent = the item's token-sent bit before this request; when won,
 *     set token-sent on the item.
 *   ms: mode E=add A=append P=prepend R=replace S=set (default). With C and
 *     mode S or R it becomes cas. I with cas mode: a C lower than the item's
 *     CAS is accepted: the new value keeps the old TTL, is marked stale and
 *     keeps the token-sent bit. With C, append/prepend need a matching CAS
 *     (else EX); add ignores C. F sets client flags (default 0), T the TTL
 *     (default never). A data block not ending in "\r\n" is "CLIENT_ERROR bad
 *     data chunk", sent even with q. Too large: "SERVER_ERROR object too
 *     large for cache" (and the old item is unlinked), out of memory:
 *     "SERVER_ERROR out of memory storing object"; both after swallowing.
 *     The item keeps a "binary key" bit taken from this ms's b (a plain ms
 *     clears it); later mg hits reflect k from that bit. Items created by mg
 *     N or ma N never get the bit: "mg dml2aWZ5 b N30 k" answers "kvivify",
 *     while ma reflects k from its request ("kY250dg== b").
 *   md: C mismatch -> EX. With I: mark stale, clear token-sent, new CAS, set
 *     the TTL if T given; HD. Else unlink; HD. Miss -> NF.
 *   ma: mode I/+ incr (default), D/- decr, delta D (default 1). Miss with N:
 *     create the item with the value J (default 0, the delta is not applied),
 *     TTL from N. C mismatch -> EX. Non-numeric value -> "CLIENT_ERROR cannot
 *     increment or decrement non-numeric value"; out of memory -> "SERVER_ERROR
 *     out of memory"; vivify failure -> "SERVER_ERROR Out of memory allocating
 *     new item". T sets the TTL of an existing item too.
 *   me: "ME <key> exp=<e> la=<secs> cas=<cas> fetch=yes|no cls=<class>
 *     size=<total item bytes>\r\n", key printed base64 if the item is binary;
 *     e = -1 without expiry, else now - expiry as a signed number (negative
 *     while the item lives: 9 s left prints exp=-9). No LRU bump. Miss: "EN".
 *   Stats: only me counts cmd_meta (observed); mg/ms/md/ma count like their
 *     classic twins (cmd_get/get_hits/..., cmd_set, delete_*, incr_* and decr_*).
 */
#include <string.h>

#include "proto/text.h"

#define META_TOKEN_LIMIT 19 /* memcached: ntokens > 20 (with its end slot) */

static const char ERR_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char ERR_ERROR[] = "ERROR";
static const char ERR_DUPLICATE[] = "CLIENT_ERROR duplicate flag";
static const char ERR_INVALID[] = "CLIENT_ERROR invalid flag";
static const char ERR_BAD_TOKEN[] = "CLIENT_ERROR bad token in command line format";
static const char ERR_DECODE[] = "CLIENT_ERROR error decoding key";
static const char ERR_M_LENGTH[] = "CLIENT_ERROR incorrect length for M token";
static const char ERR_INITIAL[] = "CLIENT_ERROR invalid numeric initial value";
static const char ERR_DELTA[] = "CLIENT_ERROR invalid numeric delta value";
static const char ERR_OPAQUE[] = "CLIENT_ERROR opaque token too long";
static const char ERR_MG_TOO_LONG[] = "CLIENT_ERROR options flags are too long";
static const char ERR_TOO_LONG[] = "CLIENT_ERROR options flags too long";
static const char ERR_INVALID_OR_DUP[] = "CLIENT_ERROR invalid or duplicate flag";
static const char ERR_MS_MODE[] = "CLIENT_ERROR invalid mode for ms M token";
static const char ERR_MA_MODE[] = "CLIENT_ERROR invalid mode for ma M token";

static enum proto_status fail(struct proto_req *req, const char *msg)
{
    req->error = msg;
    req->noreply = false;
    return PROTO_ERROR;
}

/* --- flag scanning ------------------------------------------------------- */

static bool decode_key(struct proto_req *req)
{
    size_t n = proto_base64_decode(req->key.p, req->key.n, (unsigned char *)req->keybuf,
                                   sizeof(req->keybuf));
    req->key_binary = true;
    if (n == 0)
        return false;
    req->key = (struct proto_token){req->keybuf, n};
    return true;
}

static bool tail_i32(const struct proto_token *t, int64_t *out)
{
    int32_t v;
    if (!proto_parse_i32(t->p + 1, t->n - 1, &v))
        return false;
    *out = v;
    return true;
}

static bool tail_u64(const struct proto_token *t, uint64_t *out)
{
    return proto_parse_u64(t->p + 1, t->n - 1, out);
}

/* Check one flag token, recording its value. Returns NULL if fine, else the
 * error it raises; *stop is set for errors that end the scan. */
static const char *scan_flag(struct proto_req *req, const struct proto_token *t, bool *stop,
                             bool *failed)
{
    struct proto_meta *m = &req->meta;
    switch (t->p[0]) {
    case 'b':
        return decode_key(req) ? NULL : ERR_DECODE;
    case 'N':
        return tail_i32(t, &m->ttl_N) ? NULL : ERR_BAD_TOKEN;
    case 'T':
        return tail_i32(t, &m->ttl_T) ? NULL : ERR_BAD_TOKEN;
    case 'R':
        return tail_i32(t, &m->ttl_R) ? NULL : ERR_BAD_TOKEN;
    case 'O':
        m->opaque = (struct proto_token){t->p + 1, t->n - 1};
        return NULL;
    case 'F':
        /* memcached flags the error without naming it */
        if (!proto_parse_u32(t->p + 1, t->n - 1, &m->client_flags))
            *failed = true;
        return NULL;
    case 'C':
        return tail_u64(t, &m->cas) ? NULL : ERR_BAD_TOKEN;
    case 'M':
        if (t->n != 2)
            return ERR_M_LENGTH;
        m->mode = t->p[1];
        return NULL;
    case 'J':
        return tail_u64(t, &m->initial) ? NULL : ERR_INITIAL;
    case 'D':
        return tail_u64(t, &m->delta) ? NULL : ERR_DELTA;
    case 'c': case 'f': case 'h': case 'k': case 'l': case 'q': case 's':
    case 't': case 'u': case 'v': case 'I': case 'L': case 'P':
        return NULL;
    default:
        *stop = true;
        return ERR_INVALID;
    }
}

/* memcached's _meta_flag_preparse() over tokens[first..]. Returns the error
 * reply, or NULL when every flag is valid. */
static const char *scan_flags(struct proto_req *req, size_t first)
{
    struct proto_meta *m = &req->meta;
    const char *err = NULL;
    bool failed = false;
    for (size_t i = first; i < req->ntokens; i++) {
        const struct proto_token *t = &req->tokens[i];
        unsigned char c = (unsigned char)t->p[0];
        uint64_t bit = proto_meta_bit((char)c);
        if (c >= 127 || (m->has & bit))
            return ERR_DUPLICATE;
        bool stop = false;
        const char *e = scan_flag(req, t, &stop, &failed);
        if (stop)
            return e;
        if (e) {
            err = e;
            failed = true;
        }
        m->has |= bit;
        m->order[m->norder++] = (char)c;
    }
    return failed ? (err ? err : ERR_FORMAT) : NULL;
}

static bool opaque_too_long(const struct proto_req *req)
{
    return proto_meta_has(&req->meta, 'O') && req->meta.opaque.n + 1 > PROTO_OPAQUE_MAX;
}

/* --- commands ------------------------------------------------------------ */

/* mg <key> <flags>* */
static enum proto_status parse_mg(struct proto_req *req)
{
    if (req->ntokens < 2)
        return fail(req, ERR_ERROR);
    if (req->tokens[1].n > PROTO_KEY_MAX)
        return fail(req, ERR_FORMAT);
    if (req->ntokens > META_TOKEN_LIMIT)
        return fail(req, ERR_MG_TOO_LONG);
    req->key = req->tokens[1];
    const char *err = scan_flags(req, 2);
    if (err)
        return fail(req, err);
    if (opaque_too_long(req))
        return fail(req, ERR_OPAQUE);
    req->noreply = proto_meta_has(&req->meta, 'q');
    return PROTO_OK;
}

static bool ms_mode_valid(char mode)
{
    return mode == 0 || strchr("EAPRS", mode) != NULL;
}

/* ms <key> <datalen> <flags>*  (a data block follows) */
static enum proto_status parse_ms(struct proto_req *req)
{
    if (req->ntokens < 2)
        return fail(req, ERR_ERROR);
    if (req->tokens[1].n > PROTO_KEY_MAX || req->ntokens == 2)
        return fail(req, ERR_FORMAT);
    if (req->ntokens > META_TOKEN_LIMIT)
        return fail(req, ERR_TOO_LONG);
    int32_t vlen;
    if (!proto_parse_i32(req->tokens[2].p, req->tokens[2].n, &vlen) || vlen < 0 ||
        vlen > INT32_MAX - 2)
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];
    req->nbytes = (uint32_t)vlen;

    /* from here on memcached swallows the data block on error */
    const char *err = scan_flags(req, 3);
    if (!err && !ms_mode_valid(req->meta.mode))
        err = ERR_MS_MODE;
    if (!err && opaque_too_long(req))
        err = ERR_OPAQUE;
    if (err) {
        req->swallow = (size_t)vlen + 2;
        return fail(req, err);
    }
    req->noreply = proto_meta_has(&req->meta, 'q');
    return PROTO_OK;
}

/* md <key> <flags>* and ma <key> <flags>*: the same checks, with one message
 * for every flag error. */
static enum proto_status parse_md_ma(struct proto_req *req)
{
    if (req->ntokens < 2)
        return fail(req, ERR_ERROR);
    if (req->tokens[1].n > PROTO_KEY_MAX)
        return fail(req, ERR_FORMAT);
    if (req->ntokens > META_TOKEN_LIMIT)
        return fail(req, ERR_TOO_LONG);
    req->key = req->tokens[1];
    if (scan_flags(req, 2))
        return fail(req, ERR_INVALID_OR_DUP);
    if (req->cmd == PROTO_CMD_MA && req->meta.mode != 0 && !strchr("I+D-", req->meta.mode))
        return fail(req, ERR_MA_MODE);
    /* ma finds out only once it has done the arithmetic (see the top) */
    if (req->cmd == PROTO_CMD_MD && opaque_too_long(req))
        return fail(req, ERR_OPAQUE);
    req->noreply = proto_meta_has(&req->meta, 'q');
    return PROTO_OK;
}

/* me <key> [b]: only a literal "b" as the first flag decodes the key; every
 * other token is ignored, and every error is "bad command line format". */
static enum proto_status parse_me(struct proto_req *req)
{
    if (req->ntokens < 2 || req->tokens[1].n > PROTO_KEY_MAX)
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];
    if (req->ntokens >= 3 && req->tokens[2].n == 1 && req->tokens[2].p[0] == 'b' &&
        !decode_key(req))
        return fail(req, ERR_FORMAT);
    return PROTO_OK;
}

enum proto_status proto_meta_parse(struct proto_req *req)
{
    switch (req->cmd) {
    case PROTO_CMD_MG:
        return parse_mg(req);
    case PROTO_CMD_MS:
        return parse_ms(req);
    case PROTO_CMD_MD:
    case PROTO_CMD_MA:
        return parse_md_ma(req);
    case PROTO_CMD_ME:
        return parse_me(req);
    default: /* mn: extra tokens are ignored */
        return PROTO_OK;
    }
}

/* --- replies ------------------------------------------------------------- */

static char *put_bare_flag(char *p, char flag)
{
    *p++ = ' ';
    *p++ = flag;
    return p;
}

static char *put_flag_u64(char *p, char flag, uint64_t v)
{
    *p++ = ' ';
    *p++ = flag;
    return buf_fmt_u64(p, v);
}

/* memcached prints a TTL as an unsigned 32-bit difference, or -1. */
static char *put_ttl(char *p, int64_t ttl)
{
    *p++ = ' ';
    *p++ = 't';
    if (ttl == -1) {
        memcpy(p, "-1", 2);
        return p + 2;
    }
    return buf_fmt_u64(p, (uint32_t)ttl);
}

static char *put_key(char *p, const char *key, size_t nkey, bool binary)
{
    *p++ = ' ';
    *p++ = 'k';
    if (!binary) {
        memcpy(p, key, nkey);
        return p + nkey;
    }
    p += proto_base64_encode((const unsigned char *)key, nkey, p, (nkey + 2) / 3 * 4);
    memcpy(p, " b", 2);
    return p + 2;
}

static char *put_opaque(char *p, const struct proto_token *opaque)
{
    *p++ = ' ';
    *p++ = 'O';
    memcpy(p, opaque->p, opaque->n);
    return p + opaque->n;
}

static bool code_is(const char *code, const char *two)
{
    return code[0] == two[0] && code[1] == two[1] && code[2] == '\0';
}

/* q hides only the reply that means "done as asked". */
static bool hidden_by_q(const struct proto_req *req, const char *code, const struct proto_item *item)
{
    if (!proto_meta_has(&req->meta, 'q'))
        return false;
    switch (req->cmd) {
    case PROTO_CMD_MG:
        return code_is(code, "EN");
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
        return code_is(code, "HD");
    case PROTO_CMD_MA:
        return (code_is(code, "HD") || code_is(code, "VA")) && !(item && item->created);
    default:
        return false;
    }
}

/* Which flags a command reflects: mg hit, ma hit, or just O and k. */
enum reflect { REFLECT_OK_ONLY, REFLECT_MG_HIT, REFLECT_MS, REFLECT_MA_HIT };

static enum reflect reflection(const struct proto_req *req, const struct proto_item *item)
{
    switch (req->cmd) {
    case PROTO_CMD_MG:
        return item ? REFLECT_MG_HIT : REFLECT_OK_ONLY;
    case PROTO_CMD_MS:
        return REFLECT_MS;
    case PROTO_CMD_MA:
        return item ? REFLECT_MA_HIT : REFLECT_OK_ONLY;
    default:
        return REFLECT_OK_ONLY;
    }
}

/* The return flags, in request order. */
static char *put_flags(char *p, const struct proto_req *req, const struct proto_item *item,
                       enum reflect what)
{
    const struct proto_meta *m = &req->meta;
    const char *key = req->key.p;
    size_t nkey = req->key.n;
    bool binary = req->key_binary;
    if (what == REFLECT_MG_HIT) {
        binary = item->key_binary;
        if (item->key) {
            key = item->key;
            nkey = item->nkey;
        }
    }
    bool full = what == REFLECT_MG_HIT || what == REFLECT_MA_HIT;
    bool mg = what == REFLECT_MG_HIT;
    int64_t ttl = item ? item->ttl : -1;

    for (size_t i = 0; i < m->norder; i++) {
        char f = m->order[i];
        if (f == 'O') {
            p = put_opaque(p, &m->opaque);
        } else if (f == 'k') {
            p = put_key(p, key, nkey, binary);
        } else if (f == 'c' && what == REFLECT_MS) {
            p = put_flag_u64(p, 'c', item ? item->cas : 0);
        } else if (!full) {
            continue;
        } else if (f == 'c') {
            p = put_flag_u64(p, 'c', item->cas);
        } else if (f == 't') {
            p = put_ttl(p, ttl);
        } else if (f == 'T') {
            ttl = item->ttl_T;
        } else if (f == 'N') {
            if (item->created)
                ttl = item->ttl_N;
        } else if (!mg) {
            continue;
        } else if (f == 's') {
            p = put_flag_u64(p, 's', item->nvalue);
        } else if (f == 'f') {
            p = put_flag_u64(p, 'f', item->flags);
        } else if (f == 'l') {
            p = put_flag_u64(p, 'l', item->last_access);
        } else if (f == 'h') {
            p = put_flag_u64(p, 'h', item->fetched ? 1 : 0);
        }
    }
    return p;
}

void proto_meta_reply(struct buf *out, const struct proto_req *req, const char *code,
                      const struct proto_item *item)
{
    if (req->cmd == PROTO_CMD_MA && opaque_too_long(req)) {
        buf_append(out, ERR_OPAQUE, sizeof(ERR_OPAQUE) - 1);
        buf_append(out, "\r\n", 2);
        return;
    }
    if (hidden_by_q(req, code, item))
        return;
    bool va = code_is(code, "VA") && item;
    enum reflect what = reflection(req, item);
    size_t nkey = what == REFLECT_MG_HIT && item->key ? item->nkey : req->key.n;
    size_t nvalue = va ? item->nvalue : 0;
    /* code, VA length, 22 per flag, opaque, key (base64 grows it by 4/3),
     * " b", " Z X W", and the value block */
    size_t ncode = strlen(code);
    size_t room = ncode + 21 + 22 * (size_t)req->meta.norder + req->meta.opaque.n +
                  (nkey + 2) / 3 * 4 + 2 + 6 + 2 + nvalue + 2;
    if (!buf_reserve(out, room))
        return;

    char *p = out->data + out->len;
    memcpy(p, code, ncode);
    p += ncode;
    if (va) {
        *p++ = ' ';
        p = buf_fmt_u64(p, nvalue);
    }
    p = put_flags(p, req, item, what);
    if (what == REFLECT_MG_HIT) {
        /* memcached's order; Z before W so that a client never sees both */
        if (item->win_sent)
            p = put_bare_flag(p, 'Z');
        if (item->stale)
            p = put_bare_flag(p, 'X');
        if (item->won)
            p = put_bare_flag(p, 'W');
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    if (va) {
        if (nvalue)
            memcpy(p, item->value, nvalue);
        p += nvalue;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    out->len = (size_t)(p - out->data);
}
