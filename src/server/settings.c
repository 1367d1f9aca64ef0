/*
 * settings: defaults, the final cross-option checks, and the entry points.
 *
 * settings_args.c applies the options one word at a time. After the last
 * word, finish() runs memcached's cross-option checks in the order
 * memcached's main() runs them, so a bad combination gets the first error
 * memcached would report, then Tandem's own replication checks.
 */
#include "server/settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/settings_int.h"

/* ------------------------------------------------------------------------ */
/* defaults                                                                   */

static void init_memcached(struct settings *s)
{
    s->port = 11211;
    s->access = 0700;
    s->backlog = 1024;
    s->maxconns = 1024;
    s->maxconns_fast = true;
    s->num_threads = 4;
    s->num_threads_per_udp = 4;
    s->reqs_per_event = 20;
    s->maxbytes = (size_t)64 * 1024 * 1024;
    s->evict_to_free = true;
    s->item_size_max = 1024 * 1024;
    s->factor = 1.25;
    s->chunk_size = 48;
    s->slab_page_size = SETTINGS_SLAB_PAGE_SIZE;
    s->slab_chunk_size_max = SETTINGS_SLAB_PAGE_SIZE / 2;
    s->use_cas = true;
    s->hash_expand = true;
    s->slab_reassign = true;
    s->slab_automove = 1;
    s->slab_automove_ratio = 0.8;
    s->slab_automove_window = 30;
    s->slab_automove_freeratio = 0.01;
    s->lru_crawler = true;
    s->lru_crawler_sleep = 100;
    s->lru_maintainer_thread = true;
    s->lru_segmented = true;
    s->hot_lru_pct = 20;
    s->warm_lru_pct = 40;
    s->hot_max_factor = 0.2;
    s->warm_max_factor = 2.0;
    s->temporary_ttl = 61;
    s->flush_enabled = true;
    s->dump_enabled = true;
    s->watch_enabled = true;
    s->prefix_delimiter = ':';
    s->logger_watcher_buf_size = 256 * 1024;
    s->logger_buf_size = 64 * 1024;
}

static void init_tls_ext(struct settings *s)
{
    s->ssl_keyformat = 1; /* SSL_FILETYPE_PEM */
    s->ssl_wbuf_size = 16 * 1024;
    s->ssl_min_version = 2; /* TLS 1.2 */
    s->ext_page_size = (uint64_t)64 * 1024 * 1024;
    s->ext_wbuf_size = (uint64_t)4 * 1024 * 1024;
    s->ext_threads = 1;
    s->ext_io_depth = 1;
    s->ext_item_size = 512;
    s->ext_item_age = UINT32_MAX;
    s->ext_recache_rate = 2000;
    s->ext_max_sleep = 1000000;
    s->ext_max_frag = 0.8;
}

void settings_init(struct settings *s)
{
    *s = (struct settings){0};
    init_memcached(s);
    init_tls_ext(s);
    s->inter = strdup(SETTINGS_DEFAULT_LISTEN); /* NULL if out of memory: parsing fails */
    s->repl_port = SETTINGS_REPL_PORT;
    s->repl_sync_timeout = 30;
    s->repl_ack_timeout = 1000;
    s->snapshot_interval = 300;
    s->snapshot_keep = 3;
}

void settings_wipe_free(char *p)
{
    if (!p)
        return;
    explicit_bzero(p, strlen(p));
    free(p);
}

void settings_free(struct settings *s)
{
    char **strs[] = {&s->inter,          &s->socketpath,         &s->pid_file,    &s->username,
                     &s->memory_file,    &s->auth_file,          &s->ssl_chain_cert,
                     &s->ssl_key,        &s->ssl_ciphers,        &s->ssl_ca_cert, &s->ext_path,
                     &s->config_file,    &s->logfile,            &s->replica_of_host,
                     &s->repl_user,      &s->repl_password_file, &s->snapshot_dir};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    for (int i = 0; i < s->npeers; i++)
        free(s->peers[i].host);
    settings_wipe_free(s->repl_password);
    *s = (struct settings){0};
}

/* ------------------------------------------------------------------------ */
/* shared helpers                                                             */

int settings_fail(struct settings_ctx *c, int exit_code, const char *fmt, ...)
{
    c->s->exit_code = exit_code;
    if (!c->err || c->errlen == 0)
        return -1;
    int n = 0;
    if (c->file)
        n = snprintf(c->err, c->errlen, "%s:%d: ", c->file, c->line);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

bool settings_set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src && !(copy = strdup(src)))
        return false;
    free(*dst);
    *dst = copy;
    return true;
}

bool settings_parse_ll(const char *str, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(str, &end, 10);
    if (end == str || errno == ERANGE)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

bool settings_parse_double(const char *str, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(str, &end);
    if (end == str || errno == ERANGE || *end)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* memcached's checks after the options, in memcached's order                 */

static int check_item_size(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (s->item_size_max < 1024)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "Item max size cannot be less than 1024 bytes.");
    if ((size_t)s->item_size_max > s->maxbytes / 2)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "Cannot set item size limit higher than 1/2 of memory max.");
    if (s->item_size_max > 1024 * 1024 * 1024)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "Cannot set item size limit higher than a gigabyte.");
    if (s->item_size_max > 1024 * 1024 && !c->slab_chunk_changed)
        s->slab_chunk_size_max = s->slab_page_size / 2;
    return 0;
}

static int check_slab_chunk(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (s->slab_chunk_size_max > s->item_size_max)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "slab_chunk_max (bytes: %d) cannot be larger than -I "
                             "(item_size_max %d)",
                             s->slab_chunk_size_max, s->item_size_max);
    if (s->item_size_max % s->slab_chunk_size_max != 0)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "-I (item_size_max: %d) must be evenly divisible by "
                             "slab_chunk_max (bytes: %d)",
                             s->item_size_max, s->slab_chunk_size_max);
    if (s->slab_page_size % s->slab_chunk_size_max != 0)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "slab_chunk_max (bytes: %d) must divide evenly into %d "
                             "(slab_page_size)",
                             s->slab_chunk_size_max, s->slab_page_size);
    return 0;
}

static int check_extstore(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (!s->ext_path)
        return 0;
    if ((uint64_t)s->item_size_max > s->ext_wbuf_size)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "-I (item_size_max: %d) cannot be larger than ext_wbuf_size: %llu",
                             s->item_size_max, (unsigned long long)s->ext_wbuf_size);
    if (s->udpport)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "Cannot use UDP with extstore enabled (-U 0 to disable)");
    return 0;
}

/* memcached's _parse_slab_sizes(): ascending sizes, 8 bytes apart at least. */
static int check_slab_sizes(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (!c->slab_sizes_raw)
        return 0;
    uint32_t last = 0;
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(c->slab_sizes_raw, "-", &save); p; p = strtok_r(NULL, "-", &save)) {
        long long v;
        if (!settings_parse_ll(p, &v))
            return settings_fail(c, SETTINGS_EXIT_USAGE, "slab size \"%s\" is not a number", p);
        if (v < s->chunk_size || v > s->slab_chunk_size_max)
            return settings_fail(c, SETTINGS_EXIT_USAGE, "slab size %lld is out of valid range",
                                 v);
        if (last >= v)
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "slab size %lld cannot be lower than or equal to a previous "
                                 "class size",
                                 v);
        if (v <= last + 8)
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "slab size %lld must be at least 8 bytes larger than previous "
                                 "class",
                                 v);
        if (n == SETTINGS_MAX_SLAB_SIZES)
            return settings_fail(c, SETTINGS_EXIT_USAGE, "too many slab classes specified");
        s->slab_sizes[n++] = (uint32_t)v;
        last = (uint32_t)v;
    }
    s->nslab_sizes = n;
    return 0;
}

static int check_lru(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (s->hot_lru_pct + s->warm_lru_pct > 80)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "hot_lru_pct + warm_lru_pct cannot be more than 80%% combined");
    if (s->temp_lru && !s->lru_maintainer_thread)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "temporary_ttl requires lru_maintainer to be enabled");
    return 0;
}

/* -S and -Y pick the protocol unless -B did, and refuse the other one. */
static int check_auth(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (s->sasl) {
        if (!c->protocol_specified)
            s->binding_protocol = BIND_BINARY;
        else if (s->binding_protocol != BIND_BINARY)
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "ERROR: You cannot allow the ASCII protocol while using SASL.");
        if (s->udpport)
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "ERROR: Cannot enable UDP while using binary SASL "
                                 "authentication.");
    }
    if (s->auth_file) {
        if (!c->protocol_specified)
            s->binding_protocol = BIND_ASCII;
        else if (s->binding_protocol != BIND_ASCII)
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "ERROR: You cannot allow the BINARY protocol while using ascii "
                                 "authentication tokens.");
        if (s->udpport) /* a UDP socket is shared by every client: no per-client login */
            return settings_fail(c, SETTINGS_EXIT_USAGE,
                                 "Cannot use UDP with ascii authentication enabled (-U 0 to "
                                 "disable)");
    }
    return 0;
}

static int check_ports(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (!s->inter && !c->inter_given) /* never fall back to every interface by accident */
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    s->num_threads_per_udp = (s->inter && strchr(s->inter, ',')) ? 1 : s->num_threads;
    if (c->udp_specified && s->udpport != 0 && !c->tcp_specified)
        s->port = s->udpport; /* memcached: -U alone moves TCP too */
    if (s->ssl_enabled && !s->port)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "ERROR: You cannot enable SSL without a TCP port.");
    return 0;
}

/* memcached's thread.c: the item lock table must stay smaller than the hash
 * table, and it grows with -t. */
static int check_lock_table(struct settings_ctx *c)
{
    const struct settings *s = c->s;
    int t = s->num_threads;
    int power = t < 3 ? 10 : t < 4 ? 11 : t < 5 ? 12 : t <= 10 ? 13 : t <= 20 ? 14 : 15;
    if (s->hashpower_init && power >= s->hashpower_init)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "Hash table power size (%d) cannot be equal to or less than item "
                             "lock table (%d)\n"
                             "Item lock table grows with `-t N` (worker threadcount)\n"
                             "Hash table grows with `-o hashpower=N` ",
                             s->hashpower_init, power);
    return 0;
}

/* Tandem's replication options, checked together. */
static int check_tandem(struct settings_ctx *c)
{
    struct settings *s = c->s;
    if (s->replica_of_host && s->npeers)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--replica-of (a read-only replica) cannot be combined with --peer "
                             "or -x (multi-master peers)");
    if (s->replica_of_host && s->replicas)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--replicas (sharded mode) cannot be combined with --replica-of");
    if (s->replicas > s->npeers + 1)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--replicas %d needs at least %d nodes: this one and %d --peer "
                             "(only %d given)",
                             s->replicas, s->replicas, s->replicas - 1, s->npeers);
    if (s->repl_password && s->repl_password_file)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "use either --repl-password or --repl-password-file, not both");
    if (c->snapshot_interval_given && !s->snapshot_dir)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--snapshot-interval needs --snapshot-dir DIR");
    if (s->snapshot_dir && strlen(s->snapshot_dir) > SETTINGS_SNAPSHOT_DIR_MAX)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--snapshot-dir is longer than %d bytes; choose a shorter path",
                             SETTINGS_SNAPSHOT_DIR_MAX);
    if (s->repl_port && s->repl_port == s->port && !s->socketpath) {
        bool repl = s->replica_of_host || s->npeers || s->replicas || s->repl_user ||
                    s->repl_password || s->repl_password_file;
        if (c->repl_port_given || repl)
            return settings_fail(c, SETTINGS_EXIT_FAIL,
                                 "the replication port (--repl-port %d) is also the client port "
                                 "(-p); choose another --repl-port",
                                 s->repl_port);
        s->repl_port = 0; /* a plain memcached setup on port 11212: no replication wanted */
    }
    s->repl_enabled = c->repl_port_given || s->replica_of_host || s->npeers || s->repl_user ||
                      s->repl_password || s->repl_password_file;
    if (s->repl_min_acks > 0 && !s->repl_enabled)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--repl-min-acks %d needs replication: give --repl-port for "
                             "replicas to follow, or --peer",
                             s->repl_min_acks);
    return 0;
}

static int finish(struct settings_ctx *c)
{
    int (*const checks[])(struct settings_ctx *) = {
        check_item_size, check_slab_chunk, check_extstore, check_slab_sizes, check_lru,
        check_auth,      check_ports,      check_lock_table, check_tandem,
    };
    c->file = NULL; /* cross-option errors are not one line's fault */
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        if (checks[i](c) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* entry points                                                               */

int settings_parse_args(struct settings *s, int argc, char **argv, char *err, size_t errlen)
{
    struct settings_ctx c = {.s = s, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    s->exit_code = 0;
    int rc = argc > 1 ? settings_run_words(&c, argv + 1, argc - 1, NULL) : 0;
    if (rc == 0)
        rc = finish(&c);
    free(c.slab_sizes_raw);
    return rc;
}

int settings_parse_file(struct settings *s, const char *path, char *err, size_t errlen)
{
    struct settings_ctx c = {.s = s, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    s->exit_code = 0;
    int rc = settings_set_str(&s->config_file, path)
                 ? settings_read_config(&c, path)
                 : settings_fail(&c, SETTINGS_EXIT_FAIL, "out of memory");
    if (rc == 0)
        rc = finish(&c);
    free(c.slab_sizes_raw);
    return rc;
}

int settings_check_user(const struct settings *s, char *err, size_t errlen)
{
    if (getuid() != 0 && geteuid() != 0)
        return 0;
    if (s->username && s->username[0])
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "can't run as root without the -u switch");
    return -1;
}
