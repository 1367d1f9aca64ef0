/*
 * ctl/ringspec: parsing server lists and ring options (see ringspec.h).
 */
#include "ctl/ringspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

#define WEIGHT_MAX 100000 /* keeps the point count of a list far from overflow */

static bool parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    if (n == 0 || n > 10)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* One entry e (NUL-terminated, modified in place) into server i. */
static bool parse_entry(const char *cmd, const char *opt, char *e, struct ctl_ring_list *l,
                        size_t i)
{
    struct ring_server *s = &l->servers[i];
    const char *whole = e; /* for messages, before we cut it */
    char shown[CTL_ADDR_MAX];
    snprintf(shown, sizeof(shown), "%s", whole);
    *s = (struct ring_server){.port = RING_LABEL_DEFAULT_PORT, .weight = 1};
    char *eq = strchr(e, '=');
    if (eq) {
        *eq = '\0';
        if (eq == e) {
            ctl_usage_error(cmd, "%s: '%s' has an empty name before '='", opt, shown);
            return false;
        }
        s->name = e;
        e = eq + 1;
    }
    char *rest;
    if (e[0] == '[') {
        char *close = strchr(e, ']');
        if (!close || (close[1] != '\0' && close[1] != ':')) {
            ctl_usage_error(cmd, "%s: '%s': an IPv6 address needs the form [ADDR]:PORT", opt,
                            shown);
            return false;
        }
        *close = '\0';
        s->host = e + 1;
        rest = close[1] ? close + 2 : NULL;
    } else {
        s->host = e;
        char *colon = strchr(e, ':');
        rest = colon ? colon + 1 : NULL;
        if (colon)
            *colon = '\0';
    }
    if (s->host[0] == '\0') {
        ctl_usage_error(cmd, "%s: '%s' has no host", opt, shown);
        return false;
    }
    unsigned long v;
    if (rest) {
        char *colon = strchr(rest, ':');
        size_t plen = colon ? (size_t)(colon - rest) : strlen(rest);
        if (!parse_uint(rest, plen, 65535, &v) || v == 0) {
            ctl_usage_error(cmd, "%s: '%s' has a bad port (1-65535; IPv6 addresses go in "
                            "brackets: [::1]:11211)", opt, shown);
            return false;
        }
        s->port = (int)v;
        if (colon) {
            if (!parse_uint(colon + 1, strlen(colon + 1), WEIGHT_MAX, &v) || v == 0) {
                ctl_usage_error(cmd, "%s: '%s' has a bad weight (a whole number from 1 to %d)",
                                opt, shown, WEIGHT_MAX);
                return false;
            }
            s->weight = (unsigned)v;
        }
    }
    bool v6 = strchr(s->host, ':') != NULL;
    if (snprintf(l->addr[i], CTL_ADDR_MAX, "%s%s%s:%d", v6 ? "[" : "", s->host, v6 ? "]" : "",
                 s->port) >= CTL_ADDR_MAX) {
        ctl_usage_error(cmd, "%s: '%.40s...' is too long", opt, shown);
        return false;
    }
    return true;
}

/* Two entries for the same server would put identical points on the ring. */
static bool check_unique(const char *cmd, const char *opt, const struct ctl_ring_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < i; j++) {
            bool same_addr = strcmp(l->addr[i], l->addr[j]) == 0;
            const char *ni = l->servers[i].name, *nj = l->servers[j].name;
            bool same_name = ni && nj && strcmp(ni, nj) == 0;
            if (same_addr || same_name) {
                ctl_usage_error(cmd, "%s lists %s twice", opt,
                                same_addr ? l->addr[i] : l->servers[i].name);
                return false;
            }
        }
    return true;
}

bool ctl_ring_list_parse(const char *cmd, const char *opt, const char *s,
                         struct ctl_ring_list *l)
{
    *l = (struct ctl_ring_list){0};
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    l->storage = strdup(s);
    l->servers = calloc(n, sizeof(*l->servers));
    l->addr = calloc(n, sizeof(*l->addr));
    if (!l->storage || !l->servers || !l->addr) {
        fprintf(stderr, "tandemctl %s: out of memory\n", cmd);
        ctl_ring_list_free(l);
        return false;
    }
    char *save = NULL;
    for (char *e = strtok_r(l->storage, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        if (!parse_entry(cmd, opt, e, l, l->n)) {
            ctl_ring_list_free(l);
            return false;
        }
        l->n++;
    }
    if (l->n == 0) {
        ctl_usage_error(cmd, "%s needs at least one server (HOST:PORT[:WEIGHT],...)", opt);
        ctl_ring_list_free(l);
        return false;
    }
    if (!check_unique(cmd, opt, l)) {
        ctl_ring_list_free(l);
        return false;
    }
    return true;
}

void ctl_ring_list_free(struct ctl_ring_list *l)
{
    free(l->servers);
    free(l->addr);
    free(l->storage);
    *l = (struct ctl_ring_list){0};
}

struct ring *ctl_ring_build(const char *cmd, const struct ctl_ring_opts *o,
                            const struct ctl_ring_list *l)
{
    struct ring *r = ring_new(o->dist, o->hash, l->servers, l->n);
    if (!r)
        fprintf(stderr, "tandemctl %s: out of memory building the ring\n", cmd);
    return r;
}

int ctl_opt_value(const char *cmd, const char *name, int argc, char **argv, int *i,
                  const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
    } else if (a[n] == '\0') {
        if (*i + 1 >= argc) {
            ctl_usage_error(cmd, "%s needs a value after it", name);
            return -1;
        }
        *value = argv[++*i];
    } else {
        return 0;
    }
    if (**value == '\0') {
        ctl_usage_error(cmd, "%s needs a non-empty value", name);
        return -1;
    }
    return 1;
}

int ctl_ring_opt(const char *cmd, int argc, char **argv, int *i, struct ctl_ring_opts *o)
{
    const char *v;
    int rc = ctl_opt_value(cmd, "--hash", argc, argv, i, &v);
    if (rc == 1 && !ring_hash_parse(v, &o->hash)) {
        ctl_usage_error(cmd, "unknown hash '%s' (one of: %s)", v, ring_hash_names());
        return -1;
    }
    if (rc != 0)
        return rc;
    rc = ctl_opt_value(cmd, "--distribution", argc, argv, i, &v);
    if (rc == 1 && !ring_dist_parse(v, &o->dist)) {
        ctl_usage_error(cmd, "unknown distribution '%s' (one of: ketama, modula, random)", v);
        return -1;
    }
    return rc;
}
