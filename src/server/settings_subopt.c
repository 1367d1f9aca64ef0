/*
 * settings_subopt: `-o name[=value],...`, memcached 1.6.18's extended options.
 *
 * The list is every sub-option Debian's build accepts (TLS and extstore
 * compiled in; no proxy, not a debug build, so relaxed_privileges and
 * proxy_* are "Illegal suboption" exactly as there). The list is split like
 * getsubopt(3): on commas, an empty entry is an illegal sub-option named "",
 * and a trailing comma ends the list. Messages are memcached's, collected by
 * running the binary with each sub-option missing its value and given
 * garbage. Where memcached's atoi() would quietly turn garbage into 0 we say
 * "could not parse argument to NAME", memcached's wording for the options it
 * does parse strictly.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/settings.h"
#include "server/settings_int.h"

enum sv { SV_NONE, SV_REQ, SV_OPT };

struct subopt;
typedef int (*sub_fn)(struct settings_ctx *c, const struct subopt *o, const char *v);

struct subopt {
    const char *name;
    enum sv val;
    sub_fn fn;
    size_t off;          /* field for the generic setters */
    long long x;         /* flag value, int value, or unit multiplier */
    const char *missing; /* message for a missing value; NULL: "Missing NAME argument" */
};

#define FIELD(c, o, type) ((type *)((char *)(c)->s + (o)->off))

static int cannot_parse(struct settings_ctx *c, const struct subopt *o)
{
    return settings_fail(c, SETTINGS_EXIT_FAIL, "could not parse argument to %s", o->name);
}

/* memcached's safe_strtoul(): an unsigned decimal that fits in 32 bits. */
static bool parse_u32(const char *v, uint32_t *out)
{
    long long n;
    if (!settings_parse_ll(v, &n) || n < 0 || n > UINT32_MAX || strchr(v, '-'))
        return false;
    *out = (uint32_t)n;
    return true;
}

static bool parse_int(const char *v, int *out)
{
    long long n;
    if (!settings_parse_ll(v, &n) || n < INT32_MIN || n > INT32_MAX)
        return false;
    *out = (int)n;
    return true;
}

static int sub_flag(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)v;
    *FIELD(c, o, bool) = o->x != 0;
    return 0;
}

static int sub_set_int(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)v;
    *FIELD(c, o, int) = (int)o->x;
    return 0;
}

static int sub_nop(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)c;
    (void)o;
    (void)v;
    return 0;
}

static int sub_u32(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return parse_u32(v, FIELD(c, o, uint32_t)) ? 0 : cannot_parse(c, o);
}

/* A 32-bit count of KB or MB, stored in bytes. */
static int sub_scaled(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    uint32_t n = 0;
    if (!parse_u32(v, &n))
        return cannot_parse(c, o);
    *FIELD(c, o, uint64_t) = (uint64_t)n * (uint64_t)o->x;
    return 0;
}

static int sub_double(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return settings_parse_double(v, FIELD(c, o, double)) ? 0 : cannot_parse(c, o);
}

static int sub_string(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    if (!settings_set_str(FIELD(c, o, char *), v))
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    return 0;
}

static int sub_hashpower(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    int n = 0;
    if (!parse_int(v, &n))
        return cannot_parse(c, o);
    if (n < 12)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "Initial hashtable multiplier of %d is too low", n);
    if (n > 32)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "Initial hashtable multiplier of %d is too high\n"
                             "Choose a value based on \"STAT hash_power_level\" from a running "
                             "instance",
                             n);
    c->s->hashpower_init = n;
    return 0;
}

/* An int in [lo, hi], else memcached's message for that option. */
static int int_in(struct settings_ctx *c, const struct subopt *o, const char *v, int lo, int hi,
                  const char *msg)
{
    int n = 0;
    if (!parse_int(v, &n))
        return cannot_parse(c, o);
    if (n < lo || n > hi)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "%s", msg);
    *FIELD(c, o, int) = n;
    return 0;
}

static int sub_automove(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    if (!v) {
        c->s->slab_automove = 1;
        return 0;
    }
    return int_in(c, o, v, 0, 2, "slab_automove must be between 0 and 2");
}

static int sub_automove_window(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    int n = 0;
    if (!parse_int(v, &n))
        return cannot_parse(c, o);
    if (n < 3)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "slab_automove_window must be > 2");
    c->s->slab_automove_window = (unsigned)n;
    return 0;
}

static int sub_tail_repair(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return int_in(c, o, v, 10, INT32_MAX, "Cannot set tail_repair_time to less than 10 seconds");
}

static int sub_crawler_sleep(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return int_in(c, o, v, 0, 1000000, "LRU crawler sleep must be between 0 and 1 second");
}

static int sub_tocrawl(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)o;
    if (!parse_u32(v, &c->s->lru_crawler_tocrawl))
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "lru_crawler_tocrawl takes a numeric 32bit value");
    return 0;
}

static int sub_lru_pct(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "%s must be > 1 and < 80", o->name);
    return int_in(c, o, v, 1, 79, msg);
}

/* automove ratio, hot/warm max factors: positive doubles. */
static int sub_positive_double(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    double d = 0;
    bool ratio = o->x != 0; /* slab_automove_ratio is also at most 1 */
    if (!settings_parse_double(v, &d))
        return cannot_parse(c, o);
    if (d <= 0 || (ratio && d > 1))
        return settings_fail(c, SETTINGS_EXIT_FAIL, ratio ? "%s must be > 0 and < 1"
                                                          : "%s must be > 0",
                             o->name);
    *FIELD(c, o, double) = d;
    return 0;
}

static int sub_temporary_ttl(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    if (!parse_u32(v, &c->s->temporary_ttl))
        return cannot_parse(c, o);
    c->s->temp_lru = true;
    return 0;
}

static int sub_idle_timeout(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return int_in(c, o, v, 0, INT32_MAX, "idle_timeout must be 0 (off) or more seconds");
}

static int sub_hash(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)o;
    static const enum settings_hash all[] = {SETTINGS_HASH_JENKINS, SETTINGS_HASH_MURMUR3,
                                             SETTINGS_HASH_XXH3};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(v, settings_hash_name(all[i])) == 0) {
            c->s->hash_algorithm = all[i];
            return 0;
        }
    }
    return settings_fail(c, SETTINGS_EXIT_FAIL,
                         "Unknown hash_algorithm option (jenkins, murmur3, xxh3)");
}

static int sub_lru_maintainer(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)v;
    c->s->lru_maintainer_thread = o->x != 0;
    c->s->lru_segmented = o->x != 0;
    return 0;
}

static int sub_slab_sizes(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    if (!*v)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "Missing %s argument", o->name);
    char *copy = strdup(v);
    if (!copy)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    free(c->slab_sizes_raw);
    c->slab_sizes_raw = copy; /* checked against -n and slab_chunk_max at the end */
    return 0;
}

static int sub_chunk_max(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    int n = 0;
    if (!parse_int(v, &n))
        return cannot_parse(c, o);
    if (n <= 0)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "slab_chunk_max must be greater than 0");
    c->s->slab_chunk_size_max = n;
    c->slab_chunk_changed = true;
    return 0;
}

static int sub_no_chunked(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)o;
    (void)v;
    c->s->slab_chunk_size_max = c->s->slab_page_size;
    return 0;
}

/* no_modern: the 1.4 defaults. */
static int sub_no_modern(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)o;
    (void)v;
    struct settings *s = c->s;
    if (!c->slab_chunk_changed)
        s->slab_chunk_size_max = s->slab_page_size;
    s->slab_reassign = false;
    s->slab_automove = 0;
    s->maxconns_fast = false;
    s->lru_segmented = false;
    s->hash_algorithm = SETTINGS_HASH_JENKINS;
    s->lru_crawler = false;
    s->lru_maintainer_thread = false;
    return 0;
}

static int sub_deprecated(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)c;
    (void)o;
    (void)v;
    fprintf(stderr, "DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,\n");
    return 0;
}

static int ssl_level(struct settings_ctx *c, const struct subopt *o, const char *v,
                     const char *what)
{
    int n = 0;
    if (!parse_int(v, &n))
        return cannot_parse(c, o);
    if (n < 0 || n > 3)
        return settings_fail(c, SETTINGS_EXIT_FAIL,
                             "Invalid %s. Use help to see valid options.", what);
    *FIELD(c, o, int) = n;
    return 0;
}

static int sub_ssl_verify(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return ssl_level(c, o, v, "ssl_verify_mode");
}

static int sub_ssl_min(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return ssl_level(c, o, v, "ssl_min_version");
}

static int sub_int(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    return parse_int(v, FIELD(c, o, int)) ? 0 : cannot_parse(c, o);
}

static int ext_path_error(struct settings_ctx *c, const char *why)
{
    return settings_fail(c, SETTINGS_EXIT_FAIL, "%s%sfailed to parse ext_path argument",
                         why ? why : "", why ? "\n" : "");
}

/* FILE:SIZE[:BUCKET], SIZE a number with an m/g/t/p unit. */
static int check_ext_path(struct settings_ctx *c, char *v)
{
    static const char *size_msg =
        "must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P supported)";
    char *save = NULL;
    char *file = strtok_r(v, ":", &save);
    char *size = file ? strtok_r(NULL, ":", &save) : NULL;
    char *bucket = size ? strtok_r(NULL, ":", &save) : NULL;
    if (!file)
        return ext_path_error(c, NULL);
    size_t n = size ? strlen(size) : 0;
    long long num;
    if (n < 2 || !strchr("mgtp", tolower((unsigned char)size[n - 1])))
        return ext_path_error(c, size_msg);
    size[n - 1] = '\0';
    if (!settings_parse_ll(size, &num) || num < 0)
        return ext_path_error(c, size_msg);
    if (!bucket || strcmp(bucket, "default") == 0)
        return 0;
    if (!strcmp(bucket, "compact") || !strcmp(bucket, "lowttl") || !strcmp(bucket, "chunked"))
        return ext_path_error(c, "ext_path only presently supports the default bucket");
    char msg[128];
    snprintf(msg, sizeof(msg), "Unknown extstore bucket: %s", bucket);
    return ext_path_error(c, msg);
}

static int sub_ext_path(struct settings_ctx *c, const struct subopt *o, const char *v)
{
    (void)o;
    struct settings *s = c->s;
    char *tmp = strdup(v);
    if (!tmp)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    int rc = check_ext_path(c, tmp);
    free(tmp);
    if (rc < 0)
        return rc;
    size_t old = s->ext_path ? strlen(s->ext_path) : 0;
    char *joined = realloc(s->ext_path, old + strlen(v) + 2);
    if (!joined)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    snprintf(joined + old, strlen(v) + 2, "%s%s", old ? "," : "", v);
    s->ext_path = joined;
    return 0;
}

#define F(field) offsetof(struct settings, field)
#define KB 1024LL
#define MB (1024LL * 1024)

static const struct subopt subopts[] = {
    {"maxconns_fast", SV_NONE, sub_flag, F(maxconns_fast), 1, NULL},
    {"no_maxconns_fast", SV_NONE, sub_flag, F(maxconns_fast), 0, NULL},
    {"hashpower", SV_REQ, sub_hashpower, 0, 0, "Missing numeric argument for hashpower"},
    {"no_hashexpand", SV_NONE, sub_flag, F(hash_expand), 0, NULL},
    {"slab_reassign", SV_NONE, sub_flag, F(slab_reassign), 1, NULL},
    {"no_slab_reassign", SV_NONE, sub_flag, F(slab_reassign), 0, NULL},
    {"slab_automove", SV_OPT, sub_automove, F(slab_automove), 0, NULL},
    {"no_slab_automove", SV_NONE, sub_set_int, F(slab_automove), 0, NULL},
    {"slab_automove_ratio", SV_REQ, sub_positive_double, F(slab_automove_ratio), 1, NULL},
    {"slab_automove_window", SV_REQ, sub_automove_window, 0, 0, NULL},
    {"tail_repair_time", SV_REQ, sub_tail_repair, F(tail_repair_time), 0,
     "Missing numeric argument for tail_repair_time"},
    {"hash_algorithm", SV_REQ, sub_hash, 0, 0, NULL},
    {"lru_crawler", SV_NONE, sub_flag, F(lru_crawler), 1, NULL},
    {"no_lru_crawler", SV_NONE, sub_flag, F(lru_crawler), 0, NULL},
    {"lru_crawler_sleep", SV_REQ, sub_crawler_sleep, F(lru_crawler_sleep), 0,
     "Missing lru_crawler_sleep value"},
    {"lru_crawler_tocrawl", SV_REQ, sub_tocrawl, 0, 0, "Missing lru_crawler_tocrawl value"},
    {"lru_maintainer", SV_NONE, sub_lru_maintainer, 0, 1, NULL},
    {"no_lru_maintainer", SV_NONE, sub_lru_maintainer, 0, 0, NULL},
    {"hot_lru_pct", SV_REQ, sub_lru_pct, F(hot_lru_pct), 0, NULL},
    {"warm_lru_pct", SV_REQ, sub_lru_pct, F(warm_lru_pct), 0, NULL},
    {"hot_max_factor", SV_REQ, sub_positive_double, F(hot_max_factor), 0, NULL},
    {"warm_max_factor", SV_REQ, sub_positive_double, F(warm_max_factor), 0, NULL},
    {"temporary_ttl", SV_REQ, sub_temporary_ttl, 0, 0, NULL},
    {"idle_timeout", SV_REQ, sub_idle_timeout, F(idle_timeout), 0,
     "Missing numeric argument for idle_timeout"},
    {"watcher_logbuf_size", SV_REQ, sub_scaled, F(logger_watcher_buf_size), KB, NULL},
    {"worker_logbuf_size", SV_REQ, sub_scaled, F(logger_buf_size), KB, NULL},
    {"slab_sizes", SV_REQ, sub_slab_sizes, 0, 0, NULL},
    {"slab_chunk_max", SV_REQ, sub_chunk_max, 0, 0, NULL},
    {"track_sizes", SV_NONE, sub_flag, F(track_sizes), 1, NULL},
    {"no_inline_ascii_resp", SV_NONE, sub_nop, 0, 0, NULL},
    {"inline_ascii_resp", SV_NONE, sub_nop, 0, 0, NULL},
    {"no_chunked_items", SV_NONE, sub_no_chunked, 0, 0, NULL},
    {"modern", SV_NONE, sub_nop, 0, 0, NULL},
    {"no_modern", SV_NONE, sub_no_modern, 0, 0, NULL},
    {"drop_privileges", SV_NONE, sub_flag, F(drop_privileges), 1, NULL},
    {"no_drop_privileges", SV_NONE, sub_flag, F(drop_privileges), 0, NULL},
    {"resp_obj_mem_limit", SV_OPT, sub_deprecated, 0, 0, NULL},
    {"read_buf_mem_limit", SV_REQ, sub_scaled, F(read_buf_mem_limit), MB, NULL},
    {"sock_cookie_id", SV_REQ, sub_u32, F(sock_cookie_id), 0, NULL},
    {"ssl_chain_cert", SV_REQ, sub_string, F(ssl_chain_cert), 0, NULL},
    {"ssl_key", SV_REQ, sub_string, F(ssl_key), 0, NULL},
    {"ssl_verify_mode", SV_REQ, sub_ssl_verify, F(ssl_verify_mode), 0, NULL},
    {"ssl_keyformat", SV_REQ, sub_int, F(ssl_keyformat), 0, NULL},
    {"ssl_ciphers", SV_REQ, sub_string, F(ssl_ciphers), 0, NULL},
    {"ssl_ca_cert", SV_REQ, sub_string, F(ssl_ca_cert), 0, NULL},
    {"ssl_wbuf_size", SV_REQ, sub_scaled, F(ssl_wbuf_size), KB, NULL},
    {"ssl_session_cache", SV_NONE, sub_flag, F(ssl_session_cache), 1, NULL},
    {"ssl_kernel_tls", SV_NONE, sub_flag, F(ssl_kernel_tls), 1, NULL},
    {"ssl_min_version", SV_REQ, sub_ssl_min, F(ssl_min_version), 0, NULL},
    {"ext_page_size", SV_REQ, sub_scaled, F(ext_page_size), MB, NULL},
    {"ext_wbuf_size", SV_REQ, sub_scaled, F(ext_wbuf_size), MB, NULL},
    {"ext_threads", SV_REQ, sub_u32, F(ext_threads), 0, NULL},
    {"ext_io_depth", SV_REQ, sub_u32, F(ext_io_depth), 0, NULL},
    {"ext_path", SV_REQ, sub_ext_path, 0, 0,
     "missing argument to ext_path, ie: ext_path=/d/file:5G"},
    {"ext_item_size", SV_REQ, sub_u32, F(ext_item_size), 0, NULL},
    {"ext_item_age", SV_REQ, sub_u32, F(ext_item_age), 0, NULL},
    {"ext_low_ttl", SV_REQ, sub_u32, F(ext_low_ttl), 0, NULL},
    {"ext_recache_rate", SV_REQ, sub_u32, F(ext_recache_rate), 0, NULL},
    {"ext_compact_under", SV_REQ, sub_u32, F(ext_compact_under), 0, NULL},
    {"ext_drop_under", SV_REQ, sub_u32, F(ext_drop_under), 0, NULL},
    {"ext_max_sleep", SV_REQ, sub_u32, F(ext_max_sleep), 0, NULL},
    {"ext_max_frag", SV_REQ, sub_double, F(ext_max_frag), 0, NULL},
    {"ext_drop_unread", SV_NONE, sub_flag, F(ext_drop_unread), 1, NULL},
    {"slab_automove_freeratio", SV_REQ, sub_double, F(slab_automove_freeratio), 0, NULL},
};

/* One "name" or "name=value" entry; `tok` is not NUL-terminated at '='. */
static int apply_one(struct settings_ctx *c, const char *tok)
{
    const char *eq = strchr(tok, '=');
    size_t n = eq ? (size_t)(eq - tok) : strlen(tok);
    const char *v = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < sizeof(subopts) / sizeof(subopts[0]); i++) {
        const struct subopt *o = &subopts[i];
        if (strncmp(o->name, tok, n) != 0 || o->name[n] != '\0')
            continue;
        if (o->val == SV_NONE && v)
            return settings_fail(c, SETTINGS_EXIT_FAIL,
                                 "suboption \"%s\" takes no value (got \"%s\")", o->name, tok);
        if (o->val == SV_REQ && !v) {
            if (o->missing)
                return settings_fail(c, SETTINGS_EXIT_FAIL, "%s", o->missing);
            return settings_fail(c, SETTINGS_EXIT_FAIL, "Missing %s argument", o->name);
        }
        return o->fn(c, o, v);
    }
    return settings_fail(c, SETTINGS_EXIT_FAIL, "Illegal suboption \"%s\"", tok);
}

int settings_apply_subopts(struct settings_ctx *c, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    int rc = 0;
    for (char *p = copy; rc == 0 && *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        rc = apply_one(c, p);
        p = comma ? comma + 1 : p + strlen(p);
    }
    free(copy);
    return rc;
}
