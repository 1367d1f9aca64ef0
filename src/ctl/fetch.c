/*
 * ctl/fetch: probe a node's kind, and fetch batches of items with mg.
 *
 * A reply is "VA <len> f<flags> t<ttl> c<cas> k<key> [b]" then the value
 * and "\r\n", or "EN" (a miss). The k token must echo the key we sent:
 * that catches a reply stream out of step with the requests before a value
 * could be filed under the wrong key. t is the remaining TTL (-1: none) and
 * becomes an absolute exptime here, as files keep it.
 */
#include "ctl/fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/b64.h"
#include "ctl/metadump.h"
#include "ctl/stats.h"
#include "repl/frame.h"

enum ctl_status ctl_node_probe(struct ctl_conn *c, struct ctl_node_info *info)
{
    struct ctl_stats st = {0};
    uint64_t id = 0;
    *info = (struct ctl_node_info){0};
    enum ctl_status rc = ctl_stats_fetch(c, "replication", &st);
    if (rc == CTL_EREFUSED && c->unknown_cmd) /* stock memcached */
        rc = CTL_OK;
    else if (rc == CTL_OK)
        info->tandem = true;
    if (ctl_stats_u64(&st, "node_id", &id) && id <= UINT16_MAX)
        info->node_id = (uint16_t)id;
    ctl_stats_free(&st);
    return rc;
}

size_t ctl_fetch_format_mg(char *out, const char *key, size_t nkey, bool binary,
                           const char *flags)
{
    size_t o = 3, nf = strlen(flags);
    memcpy(out, "mg ", 3);
    if (nkey > CTL_KEY_MAX)
        nkey = CTL_KEY_MAX;
    bool b64 = binary || !ctl_key_is_plain(key, nkey);
    if (b64) {
        o += ctl_b64_encode(out + o, key, nkey);
        memcpy(out + o, " b", 2);
        o += 2;
    } else {
        memcpy(out + o, key, nkey);
        o += nkey;
    }
    if (nf + 3 > CTL_MG_MAX - o)
        nf = CTL_MG_MAX - o - 3;
    if (nf) {
        out[o++] = ' ';
        memcpy(out + o, flags, nf);
        o += nf;
    }
    memcpy(out + o, "\r\n", 2);
    return o + 2;
}

/* --- one reply -------------------------------------------------------------- */

struct va {
    uint64_t len, flags, cas;
    int64_t ttl;         /* -1: no expiry */
    const char *k;       /* the echoed key token */
    size_t nk;
    bool b;
};

/* Decimal digits p[0..n) (no sign, no spaces) into *out. */
static bool num(const char *p, size_t n, uint64_t *out)
{
    char tmp[24], *end;
    if (n == 0 || n >= sizeof(tmp) || p[0] < '0' || p[0] > '9')
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtoull(tmp, &end, 10);
    return errno == 0 && *end == '\0';
}

/* "VA <len> <flags>..." into v; false if the line is not one. */
static bool parse_va(const char *line, size_t len, struct va *v)
{
    *v = (struct va){.ttl = -1};
    if (len < 4 || memcmp(line, "VA ", 3) != 0)
        return false;
    size_t i = 3, s = i;
    while (i < len && line[i] != ' ')
        i++;
    if (!num(line + s, i - s, &v->len))
        return false;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        s = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i == s)
            break;
        const char *t = line + s + 1;
        size_t nt = i - s - 1;
        uint64_t x;
        switch (line[s]) {
        case 'f':
            if (!num(t, nt, &v->flags) || v->flags > UINT32_MAX)
                return false;
            break;
        case 'c':
            if (!num(t, nt, &v->cas))
                return false;
            break;
        case 't':
            if (nt == 2 && memcmp(t, "-1", 2) == 0)
                v->ttl = -1;
            else if (num(t, nt, &x) && x <= UINT32_MAX)
                v->ttl = (int64_t)x;
            else
                return false;
            break;
        case 'k':
            v->k = t;
            v->nk = nt;
            break;
        case 'b':
            v->b = nt == 0;
            break;
        default: /* W, X, Z and flags of later versions */
            break;
        }
    }
    return true;
}

struct sink_buf {
    char *p;
    size_t n;
};

static void take(void *arg, const char *p, size_t n)
{
    struct sink_buf *b = arg;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static bool is_miss(const char *line, size_t len)
{
    return len >= 2 && memcmp(line, "EN", 2) == 0 && (len == 2 || line[2] == ' ');
}

/* Read the reply to the mg for key (sent as token tok). */
static enum ctl_status read_reply(struct ctl_fetch *f, const struct ctl_keyref *key,
                                  const char *tok, size_t ntok, uint32_t now)
{
    struct ctl_conn *c = f->conn;
    char *line;
    size_t len;
    struct va v;
    enum ctl_status rc = ctl_conn_readline(c, &line, &len);
    if (rc != CTL_OK)
        return rc;
    if (is_miss(line, len)) {
        f->missing++;
        return CTL_OK;
    }
    if (!parse_va(line, len, &v))
        return ctl_conn_error_reply(c, line, len) ? CTL_EREFUSED : ctl_conn_bad_reply(c, line, len);
    if (v.nk != ntok || memcmp(v.k, tok, ntok) != 0) {
        snprintf(c->err, sizeof(c->err), "the reply to '%s' is for another key (k%.*s): the "
                 "replies are out of step with the requests", c->cmd, (int)(v.nk > 80 ? 80 : v.nk),
                 v.k ? v.k : "");
        return CTL_EPROTO;
    }
    if (v.len > FRAME_VALUE_MAX) { /* before allocating what a node claims */
        snprintf(c->err, sizeof(c->err), "the reply to '%s' claims a value of %llu bytes, more "
                 "than the %u a backup record can hold", c->cmd, (unsigned long long)v.len,
                 (unsigned)FRAME_VALUE_MAX);
        return CTL_EPROTO;
    }
    bool binary = v.b;
    uint64_t cas = v.cas;
    int64_t ttl = v.ttl;
    uint32_t flags = (uint32_t)v.flags;
    if (v.len > f->vcap || !f->vbuf) {
        size_t cap = v.len > 64 ? (size_t)v.len : 64;
        char *nb = realloc(f->vbuf, cap);
        if (!nb) {
            snprintf(c->err, sizeof(c->err), "out of memory for a value of %llu bytes",
                     (unsigned long long)v.len);
            return CTL_ENOMEM;
        }
        f->vbuf = nb;
        f->vcap = cap;
    }
    struct sink_buf b = {f->vbuf, 0};
    if ((rc = ctl_conn_consume(c, v.len, take, &b)) != CTL_OK)
        return rc;
    if ((rc = ctl_conn_readline(c, &line, &len)) != CTL_OK)
        return rc;
    if (len != 0)
        return ctl_conn_bad_reply(c, line, len);
    if (f->stopped)
        return CTL_OK; /* keep reading the batch so the connection stays in step */
    struct xfer_item it = {
        .kind = XFER_SET, .key = key->p, .nkey = key->len, .value = f->vbuf,
        .nvalue = (size_t)v.len, .flags = flags,
        .exptime = ttl < 0 ? 0 : now + (uint32_t)ttl,
        .version = f->tandem ? cas : f->version, .binary_key = binary,
    };
    if (!f->fn(f->arg, &it))
        f->stopped = true;
    return CTL_OK;
}

enum ctl_status ctl_fetch_batch(struct ctl_fetch *f, const struct ctl_keyref *keys, size_t n)
{
    char *req = malloc(n * CTL_MG_MAX);
    size_t *at = malloc((n + 1) * sizeof(*at));
    if (!req || !at) {
        free(req);
        free(at);
        snprintf(f->conn->err, sizeof(f->conn->err), "out of memory fetching values");
        return CTL_ENOMEM;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        at[i] = used;
        used += ctl_fetch_format_mg(req + used, keys[i].p, keys[i].len, false, "v f t c k");
    }
    at[n] = used;
    uint32_t now = xfer_now();
    enum ctl_status rc = ctl_conn_send(f->conn, req, used);
    for (size_t i = 0; rc == CTL_OK && i < n; i++) {
        /* the key token is what follows "mg " up to the next space */
        const char *tok = req + at[i] + 3;
        size_t ntok = strcspn(tok, " ");
        rc = read_reply(f, &keys[i], tok, ntok, now);
    }
    free(req);
    free(at);
    return rc;
}

void ctl_fetch_free(struct ctl_fetch *f)
{
    free(f->vbuf);
    f->vbuf = NULL;
    f->vcap = 0;
}
