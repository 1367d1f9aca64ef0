/*
 * ctl/put: batches of `apply` frames or pipelined `ms ... ME` commands.
 *
 * Both modes queue into one buffer and send it whole when it is full, then
 * read every reply before queueing more, so at most one batch is in flight
 * and a refused batch is known before the next is sent.
 *
 * An apply batch is built with room for its command line in front
 * (APPLY_HEAD bytes), so the command and its frames go out in one write
 * and the connection remembers "apply <n>" as the command for messages.
 */
#include "ctl/put.h"

#include <stdio.h>
#include <string.h>

#include "core/hlc.h"
#include "ctl/b64.h"
#include "repl/frame.h"

#define APPLY_HEAD 32      /* "apply <n>\r\n" fits */
#define MEMCACHED_30_DAYS 2592000u

static bool is_line(const char *line, size_t len, const char *w)
{
    size_t k = strlen(w);
    return len >= k && memcmp(line, w, k) == 0 && (len == k || line[k] == ' ');
}

enum ctl_status ctl_put_has_apply(struct ctl_conn *c, bool *yes)
{
    /* an unknown command and the empty line after it both answer ERROR;
     * mn fences however many replies there are */
    enum ctl_status rc = ctl_conn_send_str(c, "apply 0\r\n\r\nmn\r\n");
    *yes = false;
    for (int i = 0; rc == CTL_OK && i < 4; i++) {
        char *line;
        size_t len;
        if ((rc = ctl_conn_readline(c, &line, &len)) != CTL_OK)
            return rc;
        if (is_line(line, len, "MN"))
            return CTL_OK;
        if (is_line(line, len, "APPLIED") || is_line(line, len, "CLIENT_ERROR") ||
            is_line(line, len, "SERVER_ERROR"))
            *yes = true;
        else if (!is_line(line, len, "ERROR"))
            return ctl_conn_bad_reply(c, line, len);
    }
    return rc == CTL_OK ? ctl_conn_bad_reply(c, "", 0) : rc;
}

bool ctl_put_parse_applied(const char *line, size_t len, uint64_t *newer, uint64_t *ignored)
{
    unsigned long long a, b;
    char tail;
    char tmp[80];
    if (len >= sizeof(tmp) || !is_line(line, len, "APPLIED"))
        return false;
    memcpy(tmp, line, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "APPLIED %llu %llu%c", &a, &b, &tail) != 2)
        return false;
    *newer = a;
    *ignored = b;
    return true;
}

/* --- apply ------------------------------------------------------------------ */

static enum ctl_status send_apply(struct ctl_put *p)
{
    char head[APPLY_HEAD];
    size_t nframes = p->out.len - APPLY_HEAD;
    int h = snprintf(head, sizeof(head), "apply %zu\r\n", nframes);
    memcpy(p->out.data + APPLY_HEAD - h, head, (size_t)h);
    buf_append(&p->out, "\r\n", 2);
    if (p->out.oom) {
        snprintf(p->conn->err, sizeof(p->conn->err), "out of memory building a batch");
        return CTL_ENOMEM;
    }
    enum ctl_status rc = ctl_conn_send(p->conn, p->out.data + APPLY_HEAD - h,
                                       p->out.len - (APPLY_HEAD - (size_t)h));
    char *line;
    size_t len;
    uint64_t newer, ignored;
    if (rc == CTL_OK)
        rc = ctl_conn_readline(p->conn, &line, &len);
    if (rc != CTL_OK)
        return rc;
    unsigned long long lost, nw, ign;
    int got = sscanf(line,
                     "SERVER_ERROR %llu records not stored (too large or out of memory); "
                     "%llu newer applied, %llu older ignored",
                     &lost, &nw, &ign);
    if (got >= 1) {
        /* the rest of the batch was merged; these did not fit the node. The
         * reply splits the rest into newer and ignored; without the split
         * (an older node) count it all as applied. */
        if (p->counts->refused == 0)
            ctl_quote(p->refusal, sizeof(p->refusal), line, len, 150);
        p->counts->refused += lost;
        if (got == 3) {
            p->counts->items += nw;
            p->counts->ignored += ign;
        } else {
            p->counts->items += lost < p->pending ? p->pending - lost : 0;
        }
        return CTL_OK;
    }
    if (!ctl_put_parse_applied(line, len, &newer, &ignored))
        return ctl_conn_error_reply(p->conn, line, len) ? CTL_EREFUSED
                                                        : ctl_conn_bad_reply(p->conn, line, len);
    p->counts->items += newer;
    p->counts->ignored += ignored;
    return CTL_OK;
}

static enum ctl_status queue_frame(struct ctl_put *p, const struct xfer_item *it)
{
    /* a batch stays under CTL_PUT_APPLY_BYTES unless one frame is larger:
     * never near the node's 64 MiB limit */
    size_t frame = FRAME_OVERHEAD + 64 + it->nkey + it->nvalue;
    if (p->pending && p->out.len - APPLY_HEAD + frame > CTL_PUT_APPLY_BYTES) {
        enum ctl_status rc = ctl_put_flush(p);
        if (rc != CTL_OK)
            return rc;
    }
    if (p->out.len == 0)
        buf_append(&p->out, "                                ", APPLY_HEAD);
    struct frame_rec r = {
        .origin = (uint16_t)(it->version & HLC_MAX_NODE), .seq = ++p->seq,
        .version = it->version, .flags = it->flags, .exptime = it->exptime,
        .key = it->key, .nkey = (uint8_t)it->nkey, .value = it->value,
        .nvalue = (uint32_t)it->nvalue, .binary_key = it->binary_key,
    };
    enum frame_status st = FRAME_E_KEY;
    if (it->nkey >= 1 && it->nkey <= FRAME_KEY_MAX)
        st = it->kind == XFER_TOMB ? frame_encode_tomb(&p->out, &r) : frame_encode_set(&p->out, &r);
    if (st != FRAME_OK) {
        snprintf(p->conn->err, sizeof(p->conn->err), "an item of %zu key bytes and %zu value "
                 "bytes cannot be sent as a frame: %s", it->nkey, it->nvalue,
                 frame_strerror(st));
        return CTL_EPROTO;
    }
    p->pending++;
    return p->out.len - APPLY_HEAD >= CTL_PUT_APPLY_BYTES ? ctl_put_flush(p) : CTL_OK;
}

/* --- ms (memcached) ------------------------------------------------------------ */

static enum ctl_status read_ms_replies(struct ctl_put *p)
{
    for (size_t i = 0; i < p->pending; i++) {
        char *line;
        size_t len;
        enum ctl_status rc = ctl_conn_readline(p->conn, &line, &len);
        if (rc != CTL_OK)
            return rc;
        if (is_line(line, len, "HD")) {
            p->counts->items++;
        } else if (is_line(line, len, "NS")) {
            p->counts->kept++;
        } else if (is_line(line, len, "SERVER_ERROR") || is_line(line, len, "CLIENT_ERROR")) {
            if (p->counts->refused++ == 0)
                ctl_quote(p->refusal, sizeof(p->refusal), line, len, 150);
        } else {
            return ctl_conn_bad_reply(p->conn, line, len);
        }
    }
    return CTL_OK;
}

static enum ctl_status queue_ms(struct ctl_put *p, const struct xfer_item *it, uint32_t now)
{
    char key[CTL_B64_LEN(250) + 1];
    bool b64 = it->binary_key || !ctl_key_is_plain(it->key, it->nkey);
    size_t nk = it->nkey;
    if (it->nkey == 0 || it->nkey > 250) {
        snprintf(p->conn->err, sizeof(p->conn->err), "a key of %zu bytes (keys are 1 to 250)",
                 it->nkey);
        return CTL_EPROTO;
    }
    if (b64)
        nk = ctl_b64_encode(key, it->key, it->nkey);
    else
        memcpy(key, it->key, nk);
    buf_printf(&p->out, "ms %.*s %zu%s F%u", (int)nk, key, it->nvalue, b64 ? " b" : "",
               it->flags);
    if (it->exptime) {
        /* memcached reads a TTL above 30 days as an absolute time */
        uint32_t ttl = it->exptime > now ? it->exptime - now : 1;
        buf_printf(&p->out, " T%u", ttl > MEMCACHED_30_DAYS ? it->exptime : ttl);
    }
    buf_append(&p->out, " ME\r\n", 5);
    buf_append(&p->out, it->value, it->nvalue);
    buf_append(&p->out, "\r\n", 2);
    p->pending++;
    if (p->out.len >= CTL_PUT_MS_BYTES || p->pending >= CTL_PUT_MS_ITEMS)
        return ctl_put_flush(p);
    return CTL_OK;
}

/* --- common -------------------------------------------------------------------- */

enum ctl_status ctl_put_item(struct ctl_put *p, const struct xfer_item *it, uint32_t now)
{
    if (p->mode == CTL_PUT_APPLY)
        return queue_frame(p, it);
    return queue_ms(p, it, now);
}

enum ctl_status ctl_put_flush(struct ctl_put *p)
{
    if (p->pending == 0)
        return CTL_OK;
    enum ctl_status rc;
    if (p->mode == CTL_PUT_APPLY) {
        rc = send_apply(p);
    } else if (p->out.oom) {
        snprintf(p->conn->err, sizeof(p->conn->err), "out of memory building a batch");
        rc = CTL_ENOMEM;
    } else {
        rc = ctl_conn_send(p->conn, p->out.data, p->out.len);
        if (rc == CTL_OK)
            rc = read_ms_replies(p);
    }
    buf_reset(&p->out);
    p->pending = 0;
    return rc;
}

void ctl_put_free(struct ctl_put *p) { buf_free(&p->out); }
