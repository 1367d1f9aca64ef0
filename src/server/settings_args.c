/*
 * settings_args: the option table and the word runner.
 *
 * The parser is getopt_long's behaviour rebuilt over a table, because getopt
 * keeps its state in globals and prints its own errors: short options
 * cluster (-vvv, -dM), a short option's value may be glued (-p11211) or the
 * next word (even one starting with '-'), long options take --name=value or
 * --name value and may be abbreviated to any unique prefix. Error wording is
 * glibc getopt's, with "tandemd: " in front like memcached's "memcached: ".
 *
 * Each handler applies one option at once, so a value error names the
 * option as written; checks that need several options wait for finish() in
 * settings.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "server/settings.h"
#include "server/settings_int.h"

/* ------------------------------------------------------------------------ */
/* the option table                                                           */

enum arg_kind { NO_ARG, REQ_ARG, OPT_ARG };

#define CONF_ONLY 1u /* refused on the command line (secrets) */

struct opt;
typedef int (*opt_fn)(struct settings_ctx *c, const struct opt *o, const char *arg);

struct opt {
    char shortname;       /* 0: long only */
    const char *longname; /* NULL: short only */
    enum arg_kind arg;
    opt_fn fn;
    size_t off;           /* field for the generic setters */
    bool val;             /* value for set_flag */
    unsigned flags;
};

static int oom(struct settings_ctx *c)
{
    return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
}

/* "Invalid value for -p: "abc" (expected a number)", naming the option as written. */
static int bad_value(struct settings_ctx *c, const char *arg, const char *want)
{
    return settings_fail(c, SETTINGS_EXIT_FAIL, "Invalid value for %s: \"%s\" (expected %s)",
                         c->optname, arg, want);
}

/* An int argument; garbage or out-of-int-range values are errors. */
static int get_int(struct settings_ctx *c, const char *arg, int *out)
{
    long long v;
    if (!settings_parse_ll(arg, &v) || v < INT32_MIN || v > INT32_MAX)
        return bad_value(c, arg, "a number");
    *out = (int)v;
    return 0;
}

static int set_flag(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)arg;
    *(bool *)((char *)c->s + o->off) = o->val;
    return 0;
}

static int set_string(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    return settings_set_str((char **)((char *)c->s + o->off), arg) ? 0 : oom(c);
}

static int set_nonempty(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    if (!*arg)
        return bad_value(c, arg, "a non-empty value");
    return set_string(c, o, arg);
}

/* -p / -U / --repl-port */
static int set_port(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    int v = 0;
    if (get_int(c, arg, &v) < 0)
        return -1;
    if (v < 0 || v > 65535)
        return settings_fail(c, SETTINGS_EXIT_USAGE, "ERROR: Invalid port number %d.", v);
    *(int *)((char *)c->s + o->off) = v;
    if (o->shortname == 'p')
        c->tcp_specified = true;
    if (o->shortname == 'U')
        c->udp_specified = true;
    if (o->off == offsetof(struct settings, repl_port))
        c->repl_port_given = true;
    return 0;
}

/* An int option whose memcached check is "must be greater than 0". */
static int set_positive(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    static const struct {
        char opt;
        const char *msg;
    } msgs[] = {
        {'c', "Maximum connections must be greater than 0"},
        {'t', "Number of threads must be greater than 0"},
        {'R', "Number of requests per event must be greater than 0"},
        {'n', "Chunk size must be greater than 0"},
        {'N', "Maximum number of NAPI IDs must be greater than 0"},
    };
    int v = 0;
    if (get_int(c, arg, &v) < 0)
        return -1;
    for (size_t i = 0; v <= 0 && i < sizeof(msgs) / sizeof(msgs[0]); i++)
        if (msgs[i].opt == o->shortname)
            return settings_fail(c, SETTINGS_EXIT_FAIL, "%s", msgs[i].msg);
    *(int *)((char *)c->s + o->off) = v;
    if (o->shortname == 't' && v > 64)
        fprintf(stderr, "WARNING: Setting a high number of workerthreads is not recommended.\n"
                        " Set this value to the number of cores in your machine or less.\n");
    return 0;
}

/* A non-negative int (our options, and -b). */
static int set_nonneg(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    int v = 0;
    if (get_int(c, arg, &v) < 0)
        return -1;
    if (v < 0)
        return bad_value(c, arg, "a number of 0 or more");
    *(int *)((char *)c->s + o->off) = v;
    return 0;
}

static int opt_memory(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    char num[32];
    size_t n = strlen(arg);
    if (n > 0 && (arg[n - 1] == 'm' || arg[n - 1] == 'M'))
        n--; /* "-m 64m" means what memcached's atoi() makes of it */
    long long mb;
    if (n == 0 || n >= sizeof(num))
        return bad_value(c, arg, "megabytes, e.g. 64");
    memcpy(num, arg, n);
    num[n] = '\0';
    if (!settings_parse_ll(num, &mb) || mb < 0)
        return bad_value(c, arg, "megabytes, e.g. 64");
    if ((unsigned long long)mb > (SIZE_MAX >> 20))
        return bad_value(c, arg, "a memory size this machine can address");
    c->s->maxbytes = (size_t)mb << 20;
    return 0;
}

/* -I: bytes with an optional k/m suffix; the limits are checked in finish(). */
static int opt_item_size(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    char num[32];
    size_t n = strlen(arg);
    long long mult = 1;
    if (n > 0 && strchr("kKmM", arg[n - 1])) {
        mult = (arg[n - 1] == 'k' || arg[n - 1] == 'K') ? 1024 : 1024 * 1024;
        n--;
    }
    long long v;
    if (n == 0 || n >= sizeof(num))
        return bad_value(c, arg, "a size such as 512k or 2m");
    memcpy(num, arg, n);
    num[n] = '\0';
    if (!settings_parse_ll(num, &v) || v < 0)
        return bad_value(c, arg, "a size such as 512k or 2m");
    if (v > INT32_MAX / mult)
        return settings_fail(c, SETTINGS_EXIT_USAGE,
                             "Cannot set item size limit higher than a gigabyte.");
    c->s->item_size_max = (int)(v * mult);
    return 0;
}

static int opt_factor(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    double f;
    if (!settings_parse_double(arg, &f))
        return bad_value(c, arg, "a number such as 1.25");
    if (f <= 1.0)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "Factor must be greater than 1");
    c->s->factor = f;
    return 0;
}

static int opt_access(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    char *end;
    long v = strtol(arg, &end, 8);
    if (!*arg || *end || *arg == '-' || *arg == '+' || v > 0777)
        return bad_value(c, arg, "an octal mode such as 700");
    c->s->access = (int)v;
    return 0;
}

static int opt_protocol(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    static const char *const names[] = {[BIND_AUTO] = "auto", [BIND_ASCII] = "ascii",
                                        [BIND_BINARY] = "binary"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(arg, names[i]) == 0) {
            c->s->binding_protocol = (enum bind_protocol)i;
            c->protocol_specified = true;
            return 0;
        }
    }
    return settings_fail(c, SETTINGS_EXIT_USAGE,
                         "Invalid value for binding protocol: %s\n"
                         " -- should be one of auto, binary, or ascii",
                         arg);
}

static int opt_delimiter(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    if (!arg[0])
        return settings_fail(c, SETTINGS_EXIT_FAIL, "No delimiter specified");
    if (arg[1])
        return bad_value(c, arg, "a single character");
    c->s->prefix_delimiter = arg[0];
    c->s->detail_enabled = true;
    return 0;
}

static int opt_verbose(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    int v = 0;
    if (!arg) {
        c->s->verbose++;
        return 0;
    }
    if (get_int(c, arg, &v) < 0)
        return -1;
    if (v < 0)
        return bad_value(c, arg, "a level of 0 or more");
    c->s->verbose = v;
    return 0;
}

static bool in_list(const char *list, const char *item, size_t n)
{
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* -l: the first one replaces the 127.0.0.1 default, later ones append. */
static int opt_listen(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    struct settings *s = c->s;
    if (!*arg)
        return bad_value(c, arg, "an address; 0.0.0.0 listens on every IPv4 interface");
    if (!c->inter_given) {
        free(s->inter);
        s->inter = NULL;
        c->inter_given = true;
    }
    for (const char *p = arg; p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && !in_list(s->inter, p, n)) {
            size_t old = s->inter ? strlen(s->inter) : 0;
            char *grown = realloc(s->inter, old + n + 2);
            if (!grown)
                return oom(c);
            if (old)
                grown[old++] = ',';
            memcpy(grown + old, p, n);
            grown[old + n] = '\0';
            s->inter = grown;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int opt_help(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)c;
    (void)arg;
    if (o->shortname == 'h')
        settings_usage(stdout);
    else if (o->shortname == 'V')
        settings_version(stdout);
    else
        settings_license(stdout);
    fflush(stdout);
    return 1;
}

static int opt_extended(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    return settings_apply_subopts(c, arg);
}

static int opt_config(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    if (c->file)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--config cannot be used inside a config file");
    if (!settings_set_str(&c->s->config_file, arg))
        return oom(c);
    return settings_read_config(c, arg);
}

/* HOST:PORT, [V6]:PORT, HOST or [V6]; *port = 0 when absent. */
static bool split_hostport(const char *arg, char **host, int *port)
{
    const char *h = arg, *colon;
    size_t hn;
    if (*arg == '[') {
        const char *close = strchr(arg, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        h = arg + 1;
        hn = (size_t)(close - h);
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strrchr(arg, ':');
        if (colon && strchr(arg, ':') != colon)
            colon = NULL; /* a bare IPv6 address */
        hn = colon ? (size_t)(colon - arg) : strlen(arg);
    }
    long long p = 0;
    if (hn == 0 || (colon && (!settings_parse_ll(colon + 1, &p) || p < 1 || p > 65535)))
        return false;
    if (!(*host = strndup(h, hn)))
        return false;
    *port = (int)p;
    return true;
}

static int opt_replica_of(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    char *host = NULL;
    int port = 0;
    if (!split_hostport(arg, &host, &port) || port == 0) {
        free(host);
        return bad_value(c, arg, "HOST:PORT of the master's replication port");
    }
    free(c->s->replica_of_host);
    c->s->replica_of_host = host;
    c->s->replica_of_port = port;
    return 0;
}

/* --peer HOST:PORT and repcached's -x HOST[:PORT]. */
static int opt_peer(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    struct settings *s = c->s;
    char *host = NULL;
    int port = 0;
    if (!split_hostport(arg, &host, &port) || (o->shortname != 'x' && port == 0)) {
        free(host);
        return bad_value(c, arg, o->shortname == 'x' ? "HOST or HOST:PORT" : "HOST:PORT");
    }
    for (int i = 0; i < s->npeers; i++) {
        if (strcmp(s->peers[i].host, host) == 0 && s->peers[i].port == port) {
            free(host);
            return settings_fail(c, SETTINGS_EXIT_FAIL, "peer %s is given twice", arg);
        }
    }
    if (s->npeers == SETTINGS_MAX_PEERS) {
        free(host);
        return settings_fail(c, SETTINGS_EXIT_FAIL, "too many peers (at most %d)",
                             SETTINGS_MAX_PEERS);
    }
    s->peers[s->npeers++] = (struct settings_peer){host, port};
    return 0;
}

static int opt_password(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    if (!*arg)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "--repl-password: the password is empty");
    char *copy = strdup(arg);
    if (!copy)
        return oom(c);
    settings_wipe_free(c->s->repl_password);
    c->s->repl_password = copy;
    return 0;
}

static int opt_node_id(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    int v = 0;
    if (get_int(c, arg, &v) < 0)
        return -1;
    if (v < 0 || v > (int)HLC_MAX_NODE)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "--node-id must be between 0 and %u",
                             HLC_MAX_NODE);
    c->s->node_id = v;
    c->s->node_id_given = true;
    return 0;
}

static int opt_sync_wait(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    static const char *const modes[] = {[SYNC_WAIT_BLOCK] = "block", [SYNC_WAIT_ERROR] = "error",
                                        [SYNC_WAIT_NONE] = "none"};
    for (int m = 0; m < 3; m++) {
        if (strcmp(arg, modes[m]) == 0) {
            c->s->repl_sync_wait = (enum sync_wait)m;
            return 0;
        }
    }
    return settings_fail(c, SETTINGS_EXIT_FAIL,
                         "--repl-sync-wait takes block, error or none (got \"%s\")", arg);
}

static int opt_replicas(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    (void)o;
    int v = 0;
    if (get_int(c, arg, &v) < 0)
        return -1;
    if (v < 1 || v > SETTINGS_MAX_PEERS + 1)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "--replicas must be between 1 and %d",
                             SETTINGS_MAX_PEERS + 1);
    c->s->replicas = v;
    return 0;
}

static int opt_snapshot_interval(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    c->snapshot_interval_given = true;
    return set_nonneg(c, o, arg);
}

#define F(field) offsetof(struct settings, field)

static const struct opt opts[] = {
    /* memcached 1.6.18, in `memcached -h` order */
    {'p', "port", REQ_ARG, set_port, F(port), 0, 0},
    {'U', "udp-port", REQ_ARG, set_port, F(udpport), 0, 0},
    {'s', "unix-socket", REQ_ARG, set_string, F(socketpath), 0, 0},
    {'a', "unix-mask", REQ_ARG, opt_access, 0, 0, 0},
    {'A', "enable-shutdown", NO_ARG, set_flag, F(shutdown_command), true, 0},
    {'l', "listen", REQ_ARG, opt_listen, 0, 0, 0},
    {'d', "daemon", NO_ARG, set_flag, F(daemonize), true, 0},
    {'r', "enable-coredumps", NO_ARG, set_flag, F(maxcore), true, 0},
    {'u', "user", REQ_ARG, set_string, F(username), 0, 0},
    {'m', "memory-limit", REQ_ARG, opt_memory, 0, 0, 0},
    {'M', "disable-evictions", NO_ARG, set_flag, F(evict_to_free), false, 0},
    {'c', "conn-limit", REQ_ARG, set_positive, F(maxconns), 0, 0},
    {'k', "lock-memory", NO_ARG, set_flag, F(lock_memory), true, 0},
    {'v', "verbose", OPT_ARG, opt_verbose, 0, 0, 0},
    {'h', "help", NO_ARG, opt_help, 0, 0, 0},
    {'i', "license", NO_ARG, opt_help, 0, 0, 0},
    {'V', "version", NO_ARG, opt_help, 0, 0, 0},
    {'P', "pidfile", REQ_ARG, set_string, F(pid_file), 0, 0},
    {'f', "slab-growth-factor", REQ_ARG, opt_factor, 0, 0, 0},
    {'n', "slab-min-size", REQ_ARG, set_positive, F(chunk_size), 0, 0},
    {'L', "enable-largepages", NO_ARG, set_flag, F(large_pages), true, 0},
    {'D', NULL, REQ_ARG, opt_delimiter, 0, 0, 0},
    {'t', "threads", REQ_ARG, set_positive, F(num_threads), 0, 0},
    {'R', "max-reqs-per-event", REQ_ARG, set_positive, F(reqs_per_event), 0, 0},
    {'C', "disable-cas", NO_ARG, set_flag, F(use_cas), false, 0},
    {'b', "listen-backlog", REQ_ARG, set_nonneg, F(backlog), 0, 0},
    {'B', "protocol", REQ_ARG, opt_protocol, 0, 0, 0},
    {'I', "max-item-size", REQ_ARG, opt_item_size, 0, 0, 0},
    {'S', "enable-sasl", NO_ARG, set_flag, F(sasl), true, 0},
    {'F', "disable-flush-all", NO_ARG, set_flag, F(flush_enabled), false, 0},
    {'X', "disable-dumping", NO_ARG, set_flag, F(dump_enabled), false, 0},
    {'W', "disable-watch", NO_ARG, set_flag, F(watch_enabled), false, 0},
    {'Y', "auth-file", REQ_ARG, set_string, F(auth_file), 0, 0},
    {'e', "memory-file", REQ_ARG, set_string, F(memory_file), 0, 0},
    {'Z', "enable-ssl", NO_ARG, set_flag, F(ssl_enabled), true, 0},
    {'o', "extended", REQ_ARG, opt_extended, 0, 0, 0},
    {'N', "napi-ids", REQ_ARG, set_positive, F(num_napi_ids), 0, 0},
    {'N', "napi_ids", REQ_ARG, set_positive, F(num_napi_ids), 0, 0}, /* as -h spells it */
    /* Tandem */
    {0, "config", REQ_ARG, opt_config, 0, 0, 0},
    {0, "replica-of", REQ_ARG, opt_replica_of, 0, 0, 0},
    {0, "peer", REQ_ARG, opt_peer, 0, 0, 0},
    {'x', NULL, REQ_ARG, opt_peer, 0, 0, 0},
    {0, "repl-port", REQ_ARG, set_port, F(repl_port), 0, 0},
    {0, "repl-user", REQ_ARG, set_nonempty, F(repl_user), 0, 0},
    {0, "repl-password-file", REQ_ARG, set_nonempty, F(repl_password_file), 0, 0},
    {0, "repl-password", REQ_ARG, opt_password, 0, 0, CONF_ONLY},
    {0, "repl-min-acks", REQ_ARG, set_nonneg, F(repl_min_acks), 0, 0},
    {0, "repl-ack-timeout", REQ_ARG, set_nonneg, F(repl_ack_timeout), 0, 0},
    {0, "replicas", REQ_ARG, opt_replicas, 0, 0, 0},
    {0, "snapshot-dir", REQ_ARG, set_nonempty, F(snapshot_dir), 0, 0},
    {0, "snapshot-interval", REQ_ARG, opt_snapshot_interval, F(snapshot_interval), 0, 0},
    {0, "snapshot-keep", REQ_ARG, set_positive, F(snapshot_keep), 0, 0},
    {0, "node-id", REQ_ARG, opt_node_id, 0, 0, 0},
    {0, "repl-sync-wait", REQ_ARG, opt_sync_wait, 0, 0, 0},
    {0, "repl-sync-timeout", REQ_ARG, set_nonneg, F(repl_sync_timeout), 0, 0},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* ------------------------------------------------------------------------ */
/* the word runner                                                            */

/* getopt's messages start with the program name; in a file, with file:line. */
static const char *prog(const struct settings_ctx *c) { return c->file ? "" : SETTINGS_PROG ": "; }

static int apply(struct settings_ctx *c, const struct opt *o, const char *arg)
{
    if ((o->flags & CONF_ONLY) && !c->file)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "--%s is only accepted in a config file (a command line is visible "
                             "to every user); use --repl-password-file FILE",
                             o->longname);
    return o->fn(c, o, arg);
}

static const struct opt *find_short(char ch)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].shortname == ch)
            return &opts[i];
    return NULL;
}

/* Exact name, else a unique prefix (aliases of one option count once). */
static const struct opt *find_long(struct settings_ctx *c, const char *word, size_t len)
{
    const char *name = word + 2;
    const struct opt *found = NULL;
    bool ambiguous = false;
    for (size_t i = 0; i < NOPTS; i++) {
        const char *ln = opts[i].longname;
        if (!ln || strncmp(ln, name, len) != 0)
            continue;
        if (ln[len] == '\0')
            return &opts[i];
        if (found && (found->fn != opts[i].fn || found->off != opts[i].off))
            ambiguous = true;
        else if (!found)
            found = &opts[i];
    }
    if (ambiguous) {
        char list[512];
        size_t n = 0;
        list[0] = '\0';
        for (size_t i = 0; i < NOPTS && n < sizeof(list); i++)
            if (opts[i].longname && strncmp(opts[i].longname, name, len) == 0)
                n += (size_t)snprintf(list + n, sizeof(list) - n, " '--%s'", opts[i].longname);
        settings_fail(c, SETTINGS_EXIT_FAIL, "%soption '%s' is ambiguous; possibilities:%s",
                      prog(c), word, list);
        return NULL;
    }
    if (!found)
        settings_fail(c, SETTINGS_EXIT_FAIL, "%sunrecognized option '%s'", prog(c), word);
    return found;
}

static int run_long(struct settings_ctx *c, char **w, int n, int *i, const int *lines)
{
    const char *word = w[*i];
    const char *eq = strchr(word, '=');
    size_t len = eq ? (size_t)(eq - word - 2) : strlen(word + 2);
    const struct opt *o = find_long(c, word, len);
    if (!o)
        return -1;
    const char *arg = eq ? eq + 1 : NULL;
    snprintf(c->optname, sizeof(c->optname), "--%s", o->longname);
    if (o->arg == NO_ARG && arg)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "%soption '--%s' doesn't allow an argument",
                             prog(c), o->longname);
    if (o->arg == REQ_ARG && !arg) {
        if (*i + 1 >= n)
            return settings_fail(c, SETTINGS_EXIT_FAIL, "%soption '--%s' requires an argument",
                                 prog(c), o->longname);
        arg = w[++*i];
        c->line = lines ? lines[*i] : 0;
    }
    c->after_X = false;
    return apply(c, o, arg);
}

static int run_short(struct settings_ctx *c, char **w, int n, int *i, const int *lines)
{
    const char *word = w[*i];
    for (const char *p = word + 1; *p; p++) {
        const struct opt *o = find_short(*p);
        if (!o)
            return settings_fail(c, SETTINGS_EXIT_FAIL, "%sinvalid option -- '%c'", prog(c), *p);
        snprintf(c->optname, sizeof(c->optname), "-%c", *p);
        if (o->arg != REQ_ARG) {
            int rc = apply(c, o, NULL);
            if (rc != 0)
                return rc;
            c->after_X = *p == 'X' && !p[1];
            continue;
        }
        const char *arg = p + 1;
        if (!*arg) {
            if (*i + 1 >= n)
                return settings_fail(c, SETTINGS_EXIT_FAIL,
                                     "%soption requires an argument -- '%c'", prog(c), *p);
            arg = w[++*i];
            c->line = lines ? lines[*i] : 0;
        }
        c->after_X = false;
        return apply(c, o, arg);
    }
    return 0;
}

static int stray(struct settings_ctx *c, const char *word)
{
    long long v;
    if (c->after_X && settings_parse_ll(word, &v))
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "unexpected argument \"%s\": -X takes no value in memcached 1.6 (it "
                             "disables cachedump); for repcached's replication port use "
                             "--repl-port %s",
                             word, word);
    return settings_fail(c, SETTINGS_EXIT_FAIL,
                         "unexpected argument \"%s\" (options start with '-'; see %s -h)", word,
                         SETTINGS_PROG);
}

int settings_run_words(struct settings_ctx *c, char **w, int n, const int *lines)
{
    for (int i = 0; i < n; i++) {
        const char *word = w[i];
        int rc;
        c->line = lines ? lines[i] : 0;
        if (strcmp(word, "--") == 0) {
            c->after_X = false;
            if (i + 1 < n) {
                c->line = lines ? lines[i + 1] : 0;
                return stray(c, w[i + 1]);
            }
            return 0;
        }
        if (word[0] != '-' || word[1] == '\0')
            rc = stray(c, word);
        else if (word[1] == '-')
            rc = run_long(c, w, n, &i, lines);
        else
            rc = run_short(c, w, n, &i, lines);
        if (rc != 0)
            return rc;
    }
    return 0;
}

