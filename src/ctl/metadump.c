/*
 * ctl/metadump: parse and stream metadump lines.
 *
 * The dump must be the only command in flight (memcached answers "ERROR
 * cannot pipeline other commands before metadump" otherwise), so it is
 * sent alone and read to END before anything else goes on the connection.
 */
#include "ctl/metadump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

long ctl_urldecode(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] != '%') {
            dst[o++] = src[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(src[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(src[i + 2]) : -1;
        if (lo < 0)
            return -1;
        dst[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return (long)o;
}

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_exp(const char *p, size_t n, int64_t *out)
{
    uint64_t v;
    if (n == 2 && p[0] == '-' && p[1] == '1') {
        *out = -1;
        return true;
    }
    if (!parse_u64(p, n, &v) || v > INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/* Apply one "name=value" field to m; false if a known field is malformed. */
static bool field(struct ctl_meta *m, const char *name, size_t nn, const char *v, size_t vn,
                  bool *have_key, bool *have_cas)
{
    if (nn == 3 && memcmp(name, "key", 3) == 0) {
        char tmp[3 * CTL_KEY_MAX + 3];
        if (vn == 0 || vn > sizeof(tmp))
            return false;
        long k = ctl_urldecode(v, vn, tmp);
        if (k <= 0 || k > CTL_KEY_MAX)
            return false;
        memcpy(m->key, tmp, (size_t)k);
        m->key[k] = '\0';
        m->nkey = (size_t)k;
        return *have_key = true;
    }
    if (nn == 3 && memcmp(name, "cas", 3) == 0)
        return *have_cas = parse_u64(v, vn, &m->cas);
    if (nn == 3 && memcmp(name, "exp", 3) == 0)
        return parse_exp(v, vn, &m->exp);
    if (nn == 4 && memcmp(name, "size", 4) == 0)
        return parse_u64(v, vn, &m->size);
    return true;
}

bool ctl_metadump_parse(const char *line, size_t len, struct ctl_meta *m)
{
    bool have_key = false, have_cas = false;
    m->nkey = 0;
    m->cas = m->size = 0;
    m->exp = -1;
    for (size_t i = 0; i < len;) {
        while (i < len && line[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i == start)
            break;
        const char *eq = memchr(line + start, '=', i - start);
        if (!eq)
            return false;
        size_t nn = (size_t)(eq - (line + start));
        if (!field(m, line + start, nn, eq + 1, i - start - nn - 1, &have_key, &have_cas))
            return false;
    }
    return have_key && have_cas;
}

static bool is_busy(const char *line, size_t len)
{
    return len >= 4 && memcmp(line, "BUSY", 4) == 0;
}

/* Sleep a little between BUSY answers; the total stays within the timeout. */
static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Read items until END; *busy set if the server refused with BUSY. */
static enum ctl_status read_dump(struct ctl_conn *c, ctl_meta_fn fn, void *arg, bool *busy)
{
    struct ctl_meta m;
    *busy = false;
    for (bool first = true;; first = false) {
        char *line;
        size_t len;
        enum ctl_status rc = ctl_conn_readline(c, &line, &len);
        if (rc != CTL_OK)
            return rc;
        if (len == 3 && memcmp(line, "END", 3) == 0)
            return CTL_OK;
        if (ctl_metadump_parse(line, len, &m)) {
            if (!fn(arg, &m)) {
                snprintf(c->err, sizeof(c->err), "out of memory holding the key list");
                return CTL_ENOMEM;
            }
            continue;
        }
        if (first && is_busy(line, len)) {
            *busy = true;
            return CTL_OK;
        }
        if (first && ctl_conn_error_reply(c, line, len))
            return CTL_EREFUSED;
        return ctl_conn_bad_reply(c, line, len);
    }
}

enum ctl_status ctl_metadump(struct ctl_conn *c, ctl_meta_fn fn, void *arg)
{
    long waited = 0, step = 10;
    for (;;) {
        enum ctl_status rc = ctl_conn_send_str(c, "lru_crawler metadump all\r\n");
        bool busy = false;
        if (rc == CTL_OK)
            rc = read_dump(c, fn, arg, &busy);
        if (rc != CTL_OK || !busy)
            return rc;
        if (waited >= c->timeout_ms) {
            snprintf(c->err, sizeof(c->err), "the LRU crawler stayed busy for %g s "
                     "(another metadump or crawl is running; retry later or raise --timeout)",
                     c->timeout_ms / 1000.0);
            return CTL_ETIMEOUT;
        }
        pause_ms(step);
        waited += step;
        step = step < 200 ? step * 2 : 200;
    }
}
