/*
 * proto/text: framing and the classic commands of memcached's text protocol.
 *
 * One call of proto_text_parse() looks at the front of the read buffer once:
 *
 *   1. Framing. memchr finds the '\n'. Without one, a buffer of more than
 *      PROTO_LINE_MAX bytes closes the connection unless it starts (after at
 *      most 100 spaces) with "get " or "gets ": multiget lines are unbounded.
 *      A '\r' before the '\n' is dropped, and the line also ends at its first
 *      NUL byte, because memcached hands the line to strlen().
 *   2. Tokens. The line splits on ' ' only (a tab is part of a key), runs of
 *      spaces collapse, and at most 23 tokens are kept, as in memcached's
 *      24-slot tokenizer whose last slot points at the rest of the line. The
 *      tokens are (pointer, length) pairs into the caller's buffer: nothing
 *      is copied and nothing is allocated. The get family stops after its
 *      first key: its keys are simply the rest of the line, which the server
 *      walks once with proto_text_next_key().
 *   3. Dispatch, mirroring memcached's process_command_ascii() because the
 *      shape of its if-chain is visible to clients: an unknown command whose
 *      first letter is one of g s a c i d t (or a 2-letter "m?") gets ERROR,
 *      any other unknown command is checked for a trailing "HTTP/" token and
 *      then closes the connection.
 *   4. Per command, the token-count rule (a wrong count is ERROR and noreply
 *      is then ignored) and the syntactic checks in memcached's order. Each
 *      check has exactly one reply string. Meta commands go to meta.c.
 *
 * Every error here is a PROTO_ERROR with the exact line memcached sends. In
 * the classic protocol noreply silences errors too, so req->noreply is set
 * as soon as memcached would have set it, even on the error path.
 *
 * WHAT THE SERVER STILL CHECKS FOR ADMIN COMMANDS
 *
 * The parser classifies admin commands, fills req->tokens (N = req->ntokens
 * real tokens, N <= 23) and applies the pure token-count rules listed
 * below. Everything that depends on settings or state is the server's; these
 * are memcached 1.6.18's rules and replies, in order. "nr" means the reply is
 * suppressed when req->noreply (the parser sets it when memcached would).
 *
 * flush_all  parser: N in 1..3 else ERROR; noreply = last token "noreply".
 *    count cmd_flush first, always. -F: "CLIENT_ERROR flush_all not allowed".
 *    If N != (noreply ? 2 : 1): delay = proto_parse_i32(tokens[1]), failing
 *    with "CLIENT_ERROR invalid exptime argument" (so "flush_all 0 junk" is
 *    OK and "flush_all noreply junk" is an error). Else delay = 0. delay > 0:
 *    cutoff = realtime(delay), else now. "OK". All replies nr.
 * version    "VERSION 1.6.18", any extra tokens ignored, noreply ignored.
 * quit       close the connection, no reply, extra tokens ignored.
 * verbosity  parser: N in {2,3} else ERROR; noreply. proto_parse_u32(tokens[1])
 *    else "CLIENT_ERROR bad command line format"; level = min(v, 2); "OK". nr.
 * shutdown   never noreply. Without -A: "ERROR: shutdown not enabled". N == 1:
 *    shut down (SIGINT-like, no reply). N == 2 and tokens[1] == "graceful":
 *    graceful stop (SIGUSR1-like). Else "CLIENT_ERROR invalid shutdown mode".
 * cache_memlimit  parser: N in {2,3} else ERROR; noreply. proto_parse_u32
 *    (tokens[1]) else "ERROR"; v < 8: "MEMLIMIT_TOO_SMALL cannot set maxbytes
 *    to less than 8m"; v > 1000000000: "MEMLIMIT_ADJUST_FAILED input value is
 *    megabytes not bytes"; adjust ok: "OK", else "MEMLIMIT_ADJUST_FAILED out
 *    of bounds or unable to adjust". All nr.
 * stats      never noreply. N == 1: general stats. tokens[1]: "reset" ->
 *    "RESET"; "detail": N < 3 or arg not on|off|dump -> "CLIENT_ERROR usage:
 *    stats detail on|off|dump", on/off -> "OK", dump -> PREFIX lines + "END";
 *    "settings"; "cachedump": -X -> "CLIENT_ERROR stats cachedump not
 *    allowed", N < 4 -> "CLIENT_ERROR bad command line", id/limit not u32 ->
 *    "CLIENT_ERROR bad command line format", id >= 64 -> "CLIENT_ERROR
 *    Illegal slab id"; "conns"; "extstore" (just "END" when unused); "items",
 *    "slabs", "sizes"; "sizes_enable"/"sizes_disable" -> "STAT sizes_status
 *    enabled|disabled" with NO "END"; anything else "ERROR". Extra tokens
 *    after a known sub-stat are ignored.
 * lru_crawler  never noreply. N == 3 and tokens[1] ==
 *    "crawl": crawler off -> "CLIENT_ERROR lru crawler disabled"; then "OK" |
 *      "BUSY currently processing crawler request" | "BADCLASS invalid class
 *      id" | "NOTSTARTED no items to crawl" | "ERROR an unknown error happened".
 *    "metadump": crawler off -> "CLIENT_ERROR lru crawler disabled"; -X ->
 *      "ERROR metadump not allowed"; replies already queued on this connection
 *      -> "ERROR cannot pipeline other commands before metadump"; then the
 *      crawl codes above, except that success sends no "OK", only the dump
 *      lines (terminated by "\n") and "END\r\n".
 *    "tocrawl": u32 else "CLIENT_ERROR bad command line format"; "OK".
 *    "sleep": u32 else "CLIENT_ERROR bad command line format"; > 1000000 ->
 *      "CLIENT_ERROR sleep must be one second or less"; "OK".
 *    N == 2: "enable" -> "OK" | "ERROR failed to start lru crawler thread";
 *      "disable" -> "OK" | "ERROR failed to stop lru crawler thread".
 *    Anything else "ERROR".
 * slabs      N == 4 and tokens[1] == "reassign" (no noreply): slab_reassign
 *    off -> "CLIENT_ERROR slab reassignment disabled"; src/dst not i32 ->
 *    "CLIENT_ERROR bad command line format"; "OK" | "BUSY currently processing
 *    reassign request" | "BADCLASS invalid src or dst class id" | "NOSPARE
 *    source class has no spare pages" | "SAME src and dst class are
 *    identical". Else N >= 3 and tokens[1] == "automove" (parser sets
 *    noreply): tokens[2] == "ratio": N < 4 or tokens[3] not a strtod number ->
 *    "ERROR", else "OK"; otherwise tokens[2] not u32 -> "CLIENT_ERROR bad
 *    command line format", 0/1/2 -> "OK", other -> "ERROR". All nr. Anything
 *    else "ERROR".
 * lru        parser: N >= 2 else ERROR; noreply. "tune" with N >= 6: u32 hot,
 *    u32 warm, strtod hot_factor, strtod warm_factor, else "ERROR"; (uint32)
 *    (hot + warm) > 80 -> "ERROR hot and warm pcts must not exceed 80" (the
 *    sum wraps: "lru tune 4294967295 2 1 1" is OK); either factor <= 0 ->
 *    "ERROR hot/warm age factors must be greater than 0"; "OK". "mode" with
 *    N >= 3 (and the LRU maintainer on): flat|segmented -> "OK", else "ERROR".
 *    "temp_ttl" with N >= 3 (maintainer on): i32 else "ERROR"; < 0 turns the
 *    temp LRU off; "OK". Anything else "ERROR". All nr.
 * watch      parser sets noreply. -W -> "CLIENT_ERROR watch commands not
 *    allowed"; replies already queued -> "ERROR cannot pipeline other commands
 *    before watch"; each of tokens[1..N) must be rawcmds|evictions|fetchers|
 *    mutations|sysevents|connevents|proxyreqs|proxyevents|proxyuser else
 *    "ERROR" (so "watch noreply" is a silent ERROR); none given = fetchers;
 *    "OK" then log lines; "WATCHER_TOO_MANY log watcher limit reached",
 *    "WATCHER_FAILED failed to add log watcher". All nr.
 * refresh_certs  parser sets noreply. Without TLS the reply is "Error TLS not
 *    enabled", sent even with noreply; with TLS "OK" (nr) or the error text.
 * extstore   parser: N >= 2 else ERROR; noreply. N < 3 -> "ERROR".
 *    "free_memchunks" with N > 3: tokens[2], tokens[3] u32 and tokens[2] < 64
 *    -> "OK" else "ERROR". item_size|item_age|low_ttl|recache_rate|
 *    compact_under|drop_under|max_sleep: u32; max_frag: strtod; drop_unread:
 *    u32 (non-zero = on); parse failure or other name -> "ERROR"; "OK". nr.
 * misbehave, debugtime: not in release builds; they are unknown commands
 *    here (ERROR, or a silent close when the last token starts with HTTP/).
 */
#include <string.h>

#include "proto/text.h"

/* memcached's tokenizer keeps one of its PROTO_MAX_TOKENS slots for the rest
 * of the line. */
#define TOKEN_CAP (PROTO_MAX_TOKENS - 1)
/* Leading spaces memcached tolerates before "get " in an unterminated line. */
#define GET_PREFIX_SPACES 100

static const char ERR_ERROR[] = "ERROR";
static const char ERR_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char ERR_DELETE[] = "CLIENT_ERROR bad command line format.  "
                                 "Usage: delete <key> [noreply]";
static const char ERR_DELTA[] = "CLIENT_ERROR invalid numeric delta argument";
static const char ERR_EXPTIME[] = "CLIENT_ERROR invalid exptime argument";

#define TOK_IS(t, lit) ((t)->n == sizeof(lit) - 1 && memcmp((t)->p, lit, sizeof(lit) - 1) == 0)

/* The line being parsed, after framing. */
struct line {
    const char *end;  /* end of the line's content: before "\r\n", or at a NUL */
    const char *rest; /* where tokenizing stopped */
    bool stopped;     /* tokenizing stopped at a token limit, not at the end */
};

static enum proto_status fail(struct proto_req *req, const char *msg)
{
    req->error = msg;
    return PROTO_ERROR;
}

static void reset(struct proto_req *req)
{
    req->cmd = PROTO_CMD_NONE;
    req->nread = 0;
    req->noreply = false;
    req->error = NULL;
    req->swallow = 0;
    req->key = (struct proto_token){0};
    req->keys = (struct proto_token){0};
    req->key_binary = false;
    req->flags = 0;
    req->exptime = 0;
    req->nbytes = 0;
    req->cas = 0;
    req->delta = 0;
    req->ntokens = 0;
    /* field by field: order[] needs no clearing (norder bounds it), and a
     * whole-struct clear compiles to a slow rep stos on this hot path */
    struct proto_meta *m = &req->meta;
    m->has = 0;
    m->norder = 0;
    m->opaque = (struct proto_token){0};
    m->ttl_T = m->ttl_N = m->ttl_R = 0;
    m->cas = 0;
    m->client_flags = 0;
    m->initial = 0;
    m->delta = 1;
    m->mode = 0;
}

/* --- framing and tokens -------------------------------------------------- */

/* An unterminated line may grow past PROTO_LINE_MAX only if it is a get. */
static bool may_be_multiget(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && i <= GET_PREFIX_SPACES && buf[i] == ' ')
        i++;
    if (i > GET_PREFIX_SPACES)
        return false;
    const char *p = buf + i;
    size_t n = len - i;
    return (n >= 4 && memcmp(p, "get ", 4) == 0) || (n >= 5 && memcmp(p, "gets ", 5) == 0);
}

/* Split the line on spaces into req->tokens, from ln->rest on, until it
 * holds `limit` tokens. A NUL byte ends the line. */
static void tokenize(struct proto_req *req, struct line *ln, size_t limit)
{
    const char *p = ln->rest;
    const char *end = ln->end;
    for (;;) {
        while (p < end && *p == ' ')
            p++;
        if (p == end || *p == '\0')
            break;
        if (req->ntokens == limit) {
            ln->stopped = true;
            ln->rest = p;
            return;
        }
        const char *start = p;
        while (p < end && *p != ' ' && *p != '\0')
            p++;
        req->tokens[req->ntokens++] = (struct proto_token){start, (size_t)(p - start)};
    }
    ln->stopped = false;
    ln->end = p;
    ln->rest = p;
}

/* Where the text of the line really ends: at its first NUL, which the
 * tokenizer has not looked for past where it stopped. */
static const char *content_end(const struct line *ln)
{
    if (!ln->stopped)
        return ln->end;
    const char *nul = memchr(ln->rest, '\0', (size_t)(ln->end - ln->rest));
    return nul ? nul : ln->end;
}

/* memcached's set_noreply_maybe(): the last token is literally "noreply". */
static bool last_is_noreply(const struct proto_req *req)
{
    return req->ntokens > 0 && TOK_IS(&req->tokens[req->ntokens - 1], "noreply");
}

static bool key_too_long(const struct proto_req *req)
{
    return req->tokens[1].n > PROTO_KEY_MAX;
}

/* --- retrieval ----------------------------------------------------------- */

static enum proto_status parse_retrieval(struct proto_req *req, struct line *ln)
{
    bool touch = req->cmd == PROTO_CMD_GAT || req->cmd == PROTO_CMD_GATS;
    /* only the tokens before the first key matter; the keys are the rest */
    tokenize(req, ln, touch ? 3 : 2);
    if (req->ntokens < 2)
        return fail(req, ERR_ERROR);
    size_t first_key = 1;
    if (touch) {
        int32_t exptime;
        if (!proto_parse_i32(req->tokens[1].p, req->tokens[1].n, &exptime))
            return fail(req, ERR_EXPTIME);
        req->exptime = exptime;
        first_key = 2;
    }
    /* The keys run to the end of the line, past the token cap; the server
     * walks them with proto_text_next_key() and checks their length. */
    const char *end = content_end(ln);
    const char *start = first_key < req->ntokens ? req->tokens[first_key].p : end;
    req->keys = (struct proto_token){start, (size_t)(end - start)};
    return PROTO_OK;
}

bool proto_text_next_key(struct proto_token *rest, struct proto_token *key)
{
    const char *p = rest->p;
    const char *end = p + rest->n;
    while (p < end && *p == ' ')
        p++;
    if (p == end) {
        rest->p = end;
        rest->n = 0;
        return false;
    }
    const char *stop = memchr(p, ' ', (size_t)(end - p));
    if (!stop)
        stop = end;
    *key = (struct proto_token){p, (size_t)(stop - p)};
    rest->p = stop;
    rest->n = (size_t)(end - stop);
    return true;
}

/* --- storage ------------------------------------------------------------- */

/* set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]
 * cas <key> <flags> <exptime> <bytes> <unique> [noreply]
 * None of these errors swallows the data block: memcached has not yet
 * committed to reading it, so the data line is then parsed as a command. */
static enum proto_status parse_storage(struct proto_req *req)
{
    size_t base = req->cmd == PROTO_CMD_CAS ? 6 : 5;
    if (req->ntokens != base && req->ntokens != base + 1)
        return fail(req, ERR_ERROR);
    req->noreply = last_is_noreply(req);
    if (key_too_long(req))
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];

    const struct proto_token *t = req->tokens;
    int32_t exptime, vlen;
    if (!proto_parse_u32(t[2].p, t[2].n, &req->flags) ||
        !proto_parse_i32(t[3].p, t[3].n, &exptime) || !proto_parse_i32(t[4].p, t[4].n, &vlen))
        return fail(req, ERR_FORMAT);
    req->exptime = exptime;
    if (req->cmd == PROTO_CMD_CAS && !proto_parse_u64(t[5].p, t[5].n, &req->cas))
        return fail(req, ERR_FORMAT);
    if (vlen < 0 || vlen > INT32_MAX - 2)
        return fail(req, ERR_FORMAT);
    req->nbytes = (uint32_t)vlen;
    return PROTO_OK;
}

/* --- single-key commands ------------------------------------------------- */

/* delete <key> [0] [noreply]: the "0" is a relic of the removed hold time. */
static enum proto_status parse_delete(struct proto_req *req)
{
    size_t n = req->ntokens;
    if (n < 2 || n > 4)
        return fail(req, ERR_ERROR);
    if (n > 2) {
        bool zero = TOK_IS(&req->tokens[2], "0");
        req->noreply = last_is_noreply(req);
        bool valid = (n == 3 && (zero || req->noreply)) || (n == 4 && zero && req->noreply);
        if (!valid)
            return fail(req, ERR_DELETE);
    }
    if (key_too_long(req))
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];
    return PROTO_OK;
}

/* incr|decr <key> <delta> [noreply] */
static enum proto_status parse_arith(struct proto_req *req)
{
    if (req->ntokens != 3 && req->ntokens != 4)
        return fail(req, ERR_ERROR);
    req->noreply = last_is_noreply(req);
    if (key_too_long(req))
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];
    if (!proto_parse_u64(req->tokens[2].p, req->tokens[2].n, &req->delta))
        return fail(req, ERR_DELTA);
    return PROTO_OK;
}

/* touch <key> <exptime> [noreply] */
static enum proto_status parse_touch(struct proto_req *req)
{
    if (req->ntokens != 3 && req->ntokens != 4)
        return fail(req, ERR_ERROR);
    req->noreply = last_is_noreply(req);
    if (key_too_long(req))
        return fail(req, ERR_FORMAT);
    req->key = req->tokens[1];
    int32_t exptime;
    if (!proto_parse_i32(req->tokens[2].p, req->tokens[2].n, &exptime))
        return fail(req, ERR_EXPTIME);
    req->exptime = exptime;
    return PROTO_OK;
}

/* apply <bytes> [noreply]: the block is whole frames, read by the server. */
static enum proto_status parse_apply(struct proto_req *req)
{
    if (req->ntokens != 2 && req->ntokens != 3)
        return fail(req, ERR_ERROR);
    req->noreply = last_is_noreply(req);
    if (req->ntokens == 3 && !req->noreply)
        return fail(req, ERR_FORMAT);
    uint64_t n;
    if (!proto_parse_u64(req->tokens[1].p, req->tokens[1].n, &n) || n > UINT32_MAX)
        return fail(req, ERR_FORMAT);
    req->nbytes = (uint32_t)n;
    return PROTO_OK;
}

/* --- admin --------------------------------------------------------------- */

/* The token-count rules memcached applies before looking at any setting,
 * and the commands whose handler calls set_noreply_maybe(). The rest is the
 * server's (see the top of this file). */
static enum proto_status parse_admin(struct proto_req *req)
{
    size_t n = req->ntokens;
    const struct proto_token *t = req->tokens;
    switch (req->cmd) {
    case PROTO_CMD_FLUSH_ALL:
        if (n > 3)
            return fail(req, ERR_ERROR);
        break;
    case PROTO_CMD_VERBOSITY:
    case PROTO_CMD_CACHE_MEMLIMIT:
        if (n != 2 && n != 3)
            return fail(req, ERR_ERROR);
        break;
    case PROTO_CMD_LRU:
    case PROTO_CMD_EXTSTORE:
        if (n < 2)
            return fail(req, ERR_ERROR);
        break;
    case PROTO_CMD_WATCH:
    case PROTO_CMD_REFRESH_CERTS:
        break;
    case PROTO_CMD_SLABS:
        /* only the automove branch reads noreply; reassign is tried first */
        if (n == 4 && TOK_IS(&t[1], "reassign"))
            return PROTO_OK;
        if (n >= 3 && TOK_IS(&t[1], "automove"))
            break;
        return PROTO_OK;
    default: /* version, quit, shutdown, stats, lru_crawler: no noreply */
        return PROTO_OK;
    }
    req->noreply = last_is_noreply(req);
    return PROTO_OK;
}

/* --- dispatch ------------------------------------------------------------ */

static enum proto_cmd lookup_meta(const struct proto_token *t)
{
    switch (t->p[1]) {
    case 'g': return PROTO_CMD_MG;
    case 's': return PROTO_CMD_MS;
    case 'd': return PROTO_CMD_MD;
    case 'a': return PROTO_CMD_MA;
    case 'n': return PROTO_CMD_MN;
    case 'e': return PROTO_CMD_ME;
    default: return PROTO_CMD_NONE;
    }
}

/* The command named by token t, or PROTO_CMD_NONE. A switch on the length
 * keeps every comparison a fixed-size compare the compiler inlines. */
static enum proto_cmd lookup(const struct proto_token *t)
{
#define IS(lit) (memcmp(t->p, lit, sizeof(lit) - 1) == 0)
    switch (t->n) {
    case 2:
        return t->p[0] == 'm' ? lookup_meta(t) : PROTO_CMD_NONE;
    case 3:
        return IS("get") ? PROTO_CMD_GET
             : IS("set") ? PROTO_CMD_SET
             : IS("gat") ? PROTO_CMD_GAT
             : IS("add") ? PROTO_CMD_ADD
             : IS("cas") ? PROTO_CMD_CAS
             : IS("lru") ? PROTO_CMD_LRU
                         : PROTO_CMD_NONE;
    case 4:
        return IS("gets") ? PROTO_CMD_GETS
             : IS("incr") ? PROTO_CMD_INCR
             : IS("decr") ? PROTO_CMD_DECR
             : IS("gats") ? PROTO_CMD_GATS
             : IS("bget") ? PROTO_CMD_GET
             : IS("quit") ? PROTO_CMD_QUIT
                          : PROTO_CMD_NONE;
    case 5:
        return IS("touch") ? PROTO_CMD_TOUCH
             : IS("stats") ? PROTO_CMD_STATS
             : IS("slabs") ? PROTO_CMD_SLABS
             : IS("watch") ? PROTO_CMD_WATCH
             : IS("apply") ? PROTO_CMD_APPLY
                           : PROTO_CMD_NONE;
    case 6:
        return IS("delete") ? PROTO_CMD_DELETE
             : IS("append") ? PROTO_CMD_APPEND
                            : PROTO_CMD_NONE;
    case 7:
        return IS("replace") ? PROTO_CMD_REPLACE
             : IS("prepend") ? PROTO_CMD_PREPEND
             : IS("version") ? PROTO_CMD_VERSION
                             : PROTO_CMD_NONE;
    case 8:
        return IS("shutdown") ? PROTO_CMD_SHUTDOWN
             : IS("extstore") ? PROTO_CMD_EXTSTORE
             : IS("snapshot") ? PROTO_CMD_SNAPSHOT
                              : PROTO_CMD_NONE;
    case 9:
        return IS("flush_all") ? PROTO_CMD_FLUSH_ALL
             : IS("verbosity") ? PROTO_CMD_VERBOSITY
                               : PROTO_CMD_NONE;
    case 11:
        return IS("lru_crawler") ? PROTO_CMD_LRU_CRAWLER
             : IS("replication") ? PROTO_CMD_REPLICATION
                                 : PROTO_CMD_NONE;
    case 13:
        return IS("refresh_certs") ? PROTO_CMD_REFRESH_CERTS : PROTO_CMD_NONE;
    case 14:
        return IS("cache_memlimit") ? PROTO_CMD_CACHE_MEMLIMIT : PROTO_CMD_NONE;
    default:
        return PROTO_CMD_NONE;
    }
#undef IS
}

/* An unknown command: memcached answers ERROR inside its first-letter
 * branches, and only falls through to its HTTP check for other letters. */
static enum proto_status unknown_command(struct proto_req *req)
{
    const struct proto_token *cmd = &req->tokens[0];
    const struct proto_token *last = &req->tokens[req->ntokens - 1];
    bool branch_letter = strchr("gsacidt", cmd->p[0]) != NULL || (cmd->p[0] == 'm' && cmd->n == 2);
    if (!branch_letter && last->n >= 5 && memcmp(last->p, "HTTP/", 5) == 0)
        return PROTO_CLOSE;
    return fail(req, ERR_ERROR);
}

static enum proto_status dispatch(struct proto_req *req, struct line *ln)
{
    switch (req->cmd) {
    case PROTO_CMD_GET:
    case PROTO_CMD_GETS:
    case PROTO_CMD_GAT:
    case PROTO_CMD_GATS:
        return parse_retrieval(req, ln);
    default:
        break;
    }
    tokenize(req, ln, TOKEN_CAP);
    switch (req->cmd) {
    case PROTO_CMD_NONE:
        return unknown_command(req);
    case PROTO_CMD_SET:
    case PROTO_CMD_ADD:
    case PROTO_CMD_REPLACE:
    case PROTO_CMD_APPEND:
    case PROTO_CMD_PREPEND:
    case PROTO_CMD_CAS:
        return parse_storage(req);
    case PROTO_CMD_DELETE:
        return parse_delete(req);
    case PROTO_CMD_INCR:
    case PROTO_CMD_DECR:
        return parse_arith(req);
    case PROTO_CMD_TOUCH:
        return parse_touch(req);
    case PROTO_CMD_APPLY:
        return parse_apply(req);
    case PROTO_CMD_MG:
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
    case PROTO_CMD_MA:
    case PROTO_CMD_MN:
    case PROTO_CMD_ME:
        return proto_meta_parse(req);
    default:
        return parse_admin(req);
    }
}

enum proto_status proto_text_parse(const char *buf, size_t len, struct proto_req *req)
{
    reset(req);
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > PROTO_LINE_MAX && !may_be_multiget(buf, len))
            return PROTO_CLOSE;
        return PROTO_NEED_MORE;
    }
    req->nread = (size_t)(nl - buf) + 1;

    /* memcached strips the '\r' only when the line has another byte */
    struct line ln = {.end = nl, .rest = buf};
    if (nl - buf > 1 && nl[-1] == '\r')
        ln.end--;
    tokenize(req, &ln, 1);

    if (req->ntokens == 0 || req->tokens[0].n < 2)
        return fail(req, ERR_ERROR);
    req->cmd = lookup(&req->tokens[0]);
    return dispatch(req, &ln);
}

/* --- replies ------------------------------------------------------------- */

void proto_text_value(struct buf *out, const char *key, size_t nkey, uint32_t flags,
                      const char *data, size_t ndata, bool with_cas, uint64_t cas)
{
    /* "VALUE " key ' ' flags ' ' bytes [' ' cas] "\r\n" data "\r\n" */
    size_t room = 6 + nkey + 1 + 10 + 1 + 20 + 1 + 20 + 2 + ndata + 2;
    if (!buf_reserve(out, room))
        return;
    char *p = out->data + out->len;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, key, nkey);
    p += nkey;
    *p++ = ' ';
    p = buf_fmt_u64(p, flags);
    *p++ = ' ';
    p = buf_fmt_u64(p, ndata);
    if (with_cas) {
        *p++ = ' ';
        p = buf_fmt_u64(p, cas);
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    if (ndata)
        memcpy(p, data, ndata);
    p += ndata;
    memcpy(p, "\r\n", 2);
    p += 2;
    out->len = (size_t)(p - out->data);
}
