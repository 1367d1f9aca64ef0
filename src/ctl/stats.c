/*
 * ctl/stats: `stats` replies as a list of pairs, kept in reply order so a
 * summary can walk the per-link groups of `stats replication` as the
 * server wrote them.
 */
#include "ctl/stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

bool ctl_stats_parse_line(struct ctl_stats *st, const char *line, size_t len, bool *oom)
{
    *oom = false;
    if (len < 6 || memcmp(line, "STAT ", 5) != 0)
        return false;
    const char *name = line + 5, *end = line + len;
    const char *sp = memchr(name, ' ', (size_t)(end - name));
    if (!sp || sp == name)
        return false;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct ctl_stat *v = realloc(st->v, cap * sizeof(*v));
        if (!v) {
            *oom = true;
            return false;
        }
        st->v = v;
        st->cap = cap;
    }
    struct ctl_stat *s = &st->v[st->n];
    s->name = dup_n(name, (size_t)(sp - name));
    s->value = dup_n(sp + 1, (size_t)(end - sp - 1));
    if (!s->name || !s->value) {
        free(s->name);
        free(s->value);
        *oom = true;
        return false;
    }
    st->n++;
    return true;
}

enum ctl_status ctl_stats_fetch(struct ctl_conn *c, const char *sub, struct ctl_stats *st)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "stats%s%s\r\n", sub ? " " : "", sub ? sub : "");
    enum ctl_status rc = ctl_conn_send_str(c, cmd);
    for (bool first = true; rc == CTL_OK; first = false) {
        char *line;
        size_t len;
        if ((rc = ctl_conn_readline(c, &line, &len)) != CTL_OK)
            break;
        if (len == 3 && memcmp(line, "END", 3) == 0)
            return CTL_OK;
        bool oom;
        if (ctl_stats_parse_line(st, line, len, &oom))
            continue;
        if (oom) {
            snprintf(c->err, sizeof(c->err), "out of memory reading '%s'", c->cmd);
            return CTL_ENOMEM;
        }
        if (first && ctl_conn_error_reply(c, line, len))
            return CTL_EREFUSED;
        return ctl_conn_bad_reply(c, line, len);
    }
    return rc;
}

const char *ctl_stats_get(const struct ctl_stats *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->v[i].name, name) == 0)
            return st->v[i].value;
    return NULL;
}

bool ctl_stats_u64(const struct ctl_stats *st, const char *name, uint64_t *out)
{
    const char *v = ctl_stats_get(st, name);
    if (!v || *v < '0' || *v > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

void ctl_stats_free(struct ctl_stats *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->v[i].name);
        free(st->v[i].value);
    }
    free(st->v);
    st->v = NULL;
    st->n = st->cap = 0;
}
