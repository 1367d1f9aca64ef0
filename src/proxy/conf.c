/*
 * proxy/conf: the YAML pool file, loaded with libyaml's document API.
 *
 * libyaml builds the node tree and keeps a start mark on every node, so each
 * check below can name the line of the value it rejects. The shape is fixed:
 * a top-level mapping of pool name -> mapping of scalar keys, where only
 * `servers` is a sequence. Every key twemproxy 0.5 accepts is accepted here
 * (redis must be false: we speak memcached only); unknown keys are errors,
 * because a misspelt `auto_eject_host` silently ignored is an outage later.
 */
#include "proxy/conf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CONF_MAX_FILE (16 * 1024 * 1024)

struct ctx {
    yaml_document_t *doc;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static enum conf_status fail(struct ctx *x, int line,
                                                                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "line %d: %s", line, msg);
    return CONF_EVALUE;
}

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

const char *conf_balance_name(enum conf_balance b)
{
    switch (b) {
    case BALANCE_ROUND_ROBIN: return "round-robin";
    case BALANCE_LEAST_CONN: return "least-connections";
    case BALANCE_HASH: return "hash";
    }
    return "?";
}

/* --- value readers: each names the key and what it expects ---------------- */

static enum conf_status get_str(struct ctx *x, const char *pool, const char *key,
                                const yaml_node_t *v, const char **out)
{
    const char *s = scalar(v);
    if (!s || !*s)
        return fail(x, line_of(v), "pool '%s': key '%s' expects a non-empty string", pool, key);
    *out = s;
    return CONF_OK;
}

static enum conf_status get_int(struct ctx *x, const char *pool, const char *key,
                                const yaml_node_t *v, long lo, long hi, int *out)
{
    const char *s = scalar(v);
    char *end;
    errno = 0;
    long n = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || n < lo || n > hi)
        return fail(x, line_of(v), "pool '%s': key '%s' expects an integer from %ld to %ld, got '%s'",
                    pool, key, lo, hi, s ? s : "(not a scalar)");
    *out = (int)n;
    return CONF_OK;
}

static enum conf_status get_bool(struct ctx *x, const char *pool, const char *key,
                                 const yaml_node_t *v, bool *out)
{
    const char *s = scalar(v);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes"))) {
        *out = true;
        return CONF_OK;
    }
    if (s && (!strcmp(s, "false") || !strcmp(s, "no"))) {
        *out = false;
        return CONF_OK;
    }
    return fail(x, line_of(v), "pool '%s': key '%s' expects true or false, got '%s'", pool, key,
                s ? s : "(not a scalar)");
}

/* "host:port" or "/path/to.sock [0666]" */
static enum conf_status get_listen(struct ctx *x, struct conf_pool *p, const yaml_node_t *v)
{
    const char *s = NULL;
    enum conf_status st = get_str(x, p->name, "listen", v, &s);
    if (st != CONF_OK)
        return st;
    if (s[0] == '/') {
        const char *sp = strchr(s, ' ');
        p->listen_path = sp ? strndup(s, (size_t)(sp - s)) : strdup(s);
        if (!p->listen_path)
            return CONF_ENOMEM;
        if (sp) {
            char *end;
            long perm = strtol(sp + 1, &end, 8);
            if (*end || perm < 0 || perm > 0777)
                return fail(x, line_of(v), "pool '%s': key 'listen' expects '/path [octal mode]', got '%s'",
                            p->name, s);
            p->listen_perm = (int)perm;
        }
        return CONF_OK;
    }
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == s || !end || *end || colon[1] == 0 || port < 1 || port > 65535)
        return fail(x, line_of(v), "pool '%s': key 'listen' expects host:port (port 1-65535) or a "
                    "UNIX socket path, got '%s'", p->name, s);
    p->listen_host = strndup(s, (size_t)(colon - s));
    p->listen_port = (int)port;
    return p->listen_host ? CONF_OK : CONF_ENOMEM;
}

/* "host:port:weight [name]" or "/path:weight [name]" */
static enum conf_status get_server(struct ctx *x, struct conf_pool *p, const yaml_node_t *v,
                                   struct conf_server *sv)
{
    const char *s = scalar(v);
    sv->line = line_of(v);
    if (!s || !*s)
        return fail(x, sv->line, "pool '%s': each of 'servers' expects 'host:port:weight [name]'",
                    p->name);
    const char *sp = strchr(s, ' ');
    size_t addrlen = sp ? (size_t)(sp - s) : strlen(s);
    char addr[1024];
    if (addrlen >= sizeof(addr))
        return fail(x, sv->line, "pool '%s': server address too long", p->name);
    memcpy(addr, s, addrlen);
    addr[addrlen] = 0;
    if (sp) {
        while (*sp == ' ')
            sp++;
        if (!*sp || strchr(sp, ' '))
            return fail(x, sv->line, "pool '%s': server '%s': expected 'host:port:weight [name]' "
                        "with one name after the address", p->name, s);
        if (!(sv->name = strdup(sp)))
            return CONF_ENOMEM;
    }
    char *wc = strrchr(addr, ':');
    char *end;
    long w = wc ? strtol(wc + 1, &end, 10) : 0;
    if (!wc || !wc[1] || *end || w < 1 || w > 1000000)
        return fail(x, sv->line, "pool '%s': server '%s': expected 'host:port:weight [name]' with a "
                    "weight from 1 to 1000000", p->name, s);
    sv->weight = (unsigned)w;
    *wc = 0;
    if (addr[0] == '/') {
        sv->path = strdup(addr);
        sv->label = strdup(addr);
        return sv->path && sv->label ? CONF_OK : CONF_ENOMEM;
    }
    char *pc = strrchr(addr, ':');
    long port = pc ? strtol(pc + 1, &end, 10) : 0;
    if (!pc || pc == addr || !pc[1] || *end || port < 1 || port > 65535)
        return fail(x, sv->line, "pool '%s': server '%s': expected 'host:port:weight [name]' with a "
                    "port from 1 to 65535", p->name, s);
    *pc = 0;
    sv->host = strdup(addr);
    sv->port = (int)port;
    char label[1100];
    snprintf(label, sizeof(label), "%s:%d", addr, sv->port);
    sv->label = strdup(label);
    return sv->host && sv->label ? CONF_OK : CONF_ENOMEM;
}

static enum conf_status get_servers(struct ctx *x, struct conf_pool *p, const yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(x, line_of(v), "pool '%s': key 'servers' expects a list of "
                    "'host:port:weight [name]'", p->name);
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return fail(x, line_of(v), "pool '%s': key 'servers' is empty; list at least one server",
                    p->name);
    p->servers = calloc(n, sizeof(*p->servers));
    if (!p->servers)
        return CONF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = yaml_document_get_node(x->doc, v->data.sequence.items.start[i]);
        enum conf_status st = get_server(x, p, it, &p->servers[i]);
        p->nservers = i + 1;
        if (st != CONF_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p->servers[j].label, p->servers[i].label))
                return fail(x, p->servers[i].line, "pool '%s': server %s is listed twice (also "
                            "line %d)", p->name, p->servers[i].label, p->servers[j].line);
    }
    return CONF_OK;
}

/* --- one pool ----------------------------------------------------------- */

static enum conf_status set_key(struct ctx *x, struct conf_pool *p, const char *k,
                                const yaml_node_t *v, bool *have_servers, bool *have_listen)
{
    const char *s = NULL;
    enum conf_status st;
    int n;
    if (!strcmp(k, "listen")) {
        *have_listen = true;
        return get_listen(x, p, v);
    }
    if (!strcmp(k, "servers")) {
        *have_servers = true;
        return get_servers(x, p, v);
    }
    if (!strcmp(k, "hash")) {
        if ((st = get_str(x, p->name, k, v, &s)) != CONF_OK)
            return st;
        if (!ring_hash_parse(s, &p->hash))
            return fail(x, line_of(v), "pool '%s': key 'hash' expects one of one_at_a_time, md5, "
                        "crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, "
                        "jenkins; got '%s'", p->name, s);
        return CONF_OK;
    }
    if (!strcmp(k, "distribution")) {
        if ((st = get_str(x, p->name, k, v, &s)) != CONF_OK)
            return st;
        if (!ring_dist_parse(s, &p->dist))
            return fail(x, line_of(v), "pool '%s': key 'distribution' expects ketama, modula or "
                        "random; got '%s'", p->name, s);
        return CONF_OK;
    }
    if (!strcmp(k, "hash_tag")) {
        if ((st = get_str(x, p->name, k, v, &s)) != CONF_OK)
            return st;
        if (strlen(s) != 2)
            return fail(x, line_of(v), "pool '%s': key 'hash_tag' expects two characters, like "
                        "\"{}\"; got '%s'", p->name, s);
        memcpy(p->hash_tag, s, 2);
        return CONF_OK;
    }
    if (!strcmp(k, "timeout"))
        return get_int(x, p->name, k, v, 1, INT_MAX, &p->timeout_ms);
    if (!strcmp(k, "backlog"))
        return get_int(x, p->name, k, v, 1, 65535, &p->backlog);
    if (!strcmp(k, "client_connections"))
        return get_int(x, p->name, k, v, 0, INT_MAX, &p->client_connections);
    if (!strcmp(k, "server_connections"))
        return get_int(x, p->name, k, v, 1, 1024, &p->server_connections);
    if (!strcmp(k, "server_retry_timeout"))
        return get_int(x, p->name, k, v, 1, INT_MAX, &p->server_retry_timeout_ms);
    if (!strcmp(k, "server_failure_limit"))
        return get_int(x, p->name, k, v, 1, 1000000, &p->server_failure_limit);
    if (!strcmp(k, "preconnect"))
        return get_bool(x, p->name, k, v, &p->preconnect);
    if (!strcmp(k, "auto_eject_hosts"))
        return get_bool(x, p->name, k, v, &p->auto_eject_hosts);
    if (!strcmp(k, "tcpkeepalive"))
        return get_bool(x, p->name, k, v, &p->tcpkeepalive);
    if (!strcmp(k, "failover_on_miss"))
        return get_bool(x, p->name, k, v, &p->failover_on_miss);
    if (!strcmp(k, "redis")) {
        bool redis = false;
        if ((st = get_bool(x, p->name, k, v, &redis)) != CONF_OK)
            return st;
        if (redis)
            return fail(x, line_of(v), "pool '%s': redis: true is not supported; tandem-proxy "
                        "speaks the memcached protocol only (remove the key or set it to false)",
                        p->name);
        return CONF_OK;
    }
    if (!strcmp(k, "redis_auth") || !strcmp(k, "redis_db"))
        return fail(x, line_of(v), "pool '%s': key '%s' is for redis pools; tandem-proxy speaks "
                    "the memcached protocol only", p->name, k);
    if (!strcmp(k, "replicas")) {
        if ((st = get_int(x, p->name, k, v, 1, 8, &n)) != CONF_OK) /* PX_REPLICAS_MAX */
            return st;
        p->replicas = (unsigned)n;
        return CONF_OK;
    }
    if (!strcmp(k, "balance")) {
        if ((st = get_str(x, p->name, k, v, &s)) != CONF_OK)
            return st;
        if (!strcmp(s, "round-robin"))
            p->balance = BALANCE_ROUND_ROBIN;
        else if (!strcmp(s, "least-connections"))
            p->balance = BALANCE_LEAST_CONN;
        else if (!strcmp(s, "hash"))
            p->balance = BALANCE_HASH;
        else
            return fail(x, line_of(v), "pool '%s': key 'balance' expects round-robin, "
                        "least-connections or hash; got '%s'", p->name, s);
        return CONF_OK;
    }
    if (!strcmp(k, "read_from")) {
        if ((st = get_str(x, p->name, k, v, &s)) != CONF_OK)
            return st;
        if (!strcmp(s, "any"))
            p->read_from = READ_FROM_ANY;
        else if (!strcmp(s, "primary"))
            p->read_from = READ_FROM_PRIMARY;
        else
            return fail(x, line_of(v), "pool '%s': key 'read_from' expects any or primary; got '%s'",
                        p->name, s);
        return CONF_OK;
    }
    return fail(x, line_of(v) > 1 ? line_of(v) : p->line,
                "pool '%s': unknown key '%s' (expected listen, hash, hash_tag, distribution, "
                "timeout, backlog, preconnect, client_connections, server_connections, "
                "auto_eject_hosts, server_retry_timeout, server_failure_limit, tcpkeepalive, "
                "servers, replicas, balance, read_from, failover_on_miss)", p->name, k);
}

static void pool_defaults(struct conf_pool *p)
{
    p->hash = RING_HASH_FNV1A_64; /* twemproxy's defaults */
    p->dist = RING_KETAMA;
    p->timeout_ms = -1;
    p->backlog = 512;
    p->server_connections = 1;
    p->server_retry_timeout_ms = 30000;
    p->server_failure_limit = 2;
    p->listen_perm = -1;
    p->replicas = 1;
    p->balance = BALANCE_ROUND_ROBIN;
    p->read_from = READ_FROM_ANY;
}

static enum conf_status parse_pool(struct ctx *x, const yaml_node_t *kn, const yaml_node_t *vn,
                                   struct conf_pool *p)
{
    pool_defaults(p);
    p->line = line_of(kn);
    const char *name = scalar(kn);
    if (!name || !*name)
        return fail(x, p->line, "a pool name must be a non-empty string");
    if (!(p->name = strdup(name)))
        return CONF_ENOMEM;
    if (vn->type != YAML_MAPPING_NODE)
        return fail(x, line_of(vn), "pool '%s' expects a mapping of keys (listen, servers, ...)",
                    name);
    bool have_servers = false, have_listen = false;
    for (yaml_node_pair_t *pr = vn->data.mapping.pairs.start; pr < vn->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, pr->value);
        const char *ks = scalar(k);
        if (!ks)
            return fail(x, line_of(k), "pool '%s': keys must be plain names", name);
        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < pr; q++)
            if (!strcmp(scalar(yaml_document_get_node(x->doc, q->key)), ks))
                return fail(x, line_of(k), "pool '%s': key '%s' appears twice", name, ks);
        enum conf_status st = set_key(x, p, ks, v, &have_servers, &have_listen);
        if (st != CONF_OK)
            return st;
    }
    if (!have_listen)
        return fail(x, p->line, "pool '%s': key 'listen' is missing (expected host:port)", name);
    if (!have_servers)
        return fail(x, p->line, "pool '%s': key 'servers' is missing (expected a list of "
                    "'host:port:weight [name]')", name);
    if (p->replicas > p->nservers)
        return fail(x, p->line, "pool '%s': replicas: %u but the pool has only %zu server%s", name,
                    p->replicas, p->nservers, p->nservers == 1 ? "" : "s");
    return CONF_OK;
}

static bool same_listen(const struct conf_pool *a, const struct conf_pool *b)
{
    if (a->listen_path || b->listen_path)
        return a->listen_path && b->listen_path && !strcmp(a->listen_path, b->listen_path);
    return a->listen_port == b->listen_port && !strcmp(a->listen_host, b->listen_host);
}

enum conf_status conf_parse(const char *text, size_t len, struct conf *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof(*out));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return CONF_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %zu: not valid YAML: %s%s%s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return CONF_ESYNTAX;
    }
    struct ctx x = {.doc = &doc, .err = err, .errlen = errlen};
    enum conf_status st = CONF_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "line %d: expected a mapping of pool names to pools (an empty file "
                 "has no pools)", root ? line_of(root) : 1);
        st = CONF_ESYNTAX;
        goto done;
    }
    size_t n = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    if (!(out->pools = calloc(n ? n : 1, sizeof(*out->pools)))) {
        st = CONF_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n && st == CONF_OK; i++) {
        yaml_node_pair_t *pr = &root->data.mapping.pairs.start[i];
        out->npools = i + 1;
        st = parse_pool(&x, yaml_document_get_node(&doc, pr->key),
                        yaml_document_get_node(&doc, pr->value), &out->pools[i]);
        for (size_t j = 0; j < i && st == CONF_OK; j++) {
            if (!strcmp(out->pools[j].name, out->pools[i].name))
                st = fail(&x, out->pools[i].line, "pool '%s' is defined twice (also line %d)",
                          out->pools[i].name, out->pools[j].line);
            else if (same_listen(&out->pools[j], &out->pools[i]))
                st = fail(&x, out->pools[i].line, "pool '%s' listens on the same address as pool "
                          "'%s'", out->pools[i].name, out->pools[j].name);
        }
    }
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (st != CONF_OK) {
        if (st == CONF_ENOMEM)
            snprintf(err, errlen, "out of memory");
        conf_free(out);
    }
    return st;
}

enum conf_status conf_load(const char *path, struct conf *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CONF_EIO;
    }
    char *text = malloc(CONF_MAX_FILE);
    size_t n = text ? fread(text, 1, CONF_MAX_FILE, f) : 0;
    bool bad = !text || ferror(f) || n == CONF_MAX_FILE;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: cannot read (or larger than 16 MB)", path);
        free(text);
        return CONF_EIO;
    }
    char msg[768];
    enum conf_status st = conf_parse(text, n, out, msg, sizeof(msg));
    free(text);
    if (st != CONF_OK)
        snprintf(err, errlen, "%s: %s", path, msg);
    return st;
}

void conf_free(struct conf *c)
{
    for (size_t i = 0; i < c->npools; i++) {
        struct conf_pool *p = &c->pools[i];
        for (size_t j = 0; j < p->nservers; j++) {
            free(p->servers[j].host);
            free(p->servers[j].path);
            free(p->servers[j].name);
            free(p->servers[j].label);
        }
        free(p->servers);
        free(p->name);
        free(p->listen_host);
        free(p->listen_path);
    }
    free(c->pools);
    memset(c, 0, sizeof(*c));
}
