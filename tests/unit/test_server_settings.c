/*
 * Unit tests for server/settings: memcached 1.6.18's flags, -o sub-options,
 * validation messages and `stats settings`, Debian's config file format, and
 * Tandem's replication options.
 *
 * The expected `stats settings` bodies were captured from Debian's memcached
 * 1.6.18 started with the same arguments; the only edit is the `inter` line
 * where memcached listened on every interface and tandemd defaults to
 * 127.0.0.1. Error messages and exit codes were captured the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "server/settings.h"

#define ERRLEN 1024

/* ------------------------------------------------------------------------ */
/* helpers                                                                    */

static int parse_v(struct settings *s, char *err, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    settings_init(s);
    return settings_parse_args(s, argc, argv, err, ERRLEN);
}

#define PARSE(s, err, ...) parse_v((s), (err), (char *[]){"tandemd", __VA_ARGS__, NULL})

/* Parse must succeed; the caller frees. */
#define PARSE_OK(s, ...)                                                       \
    do {                                                                       \
        char err_[ERRLEN] = "";                                                \
        int rc_ = PARSE((s), err_, __VA_ARGS__);                               \
        if (rc_ != 0)                                                          \
            fail_msg("parse failed (rc %d): %s", rc_, err_);                   \
    } while (0)

static char *stats_of(const struct settings *s)
{
    struct buf b = {0};
    settings_write_stats(&b, s);
    buf_append(&b, "", 1);
    assert_false(b.oom);
    return b.data;
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/tandem_settings_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Run f with stdout sent to a temp file; returns what it printed. */
static char *capture_stdout(int (*f)(void))
{
    char *path = write_temp("");
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = fopen(path, "w");
    assert_non_null(tmp);
    dup2(fileno(tmp), 1);
    int rc = f();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(tmp);
    assert_int_equal(rc, 1);
    FILE *in = fopen(path, "r");
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, in);
    text[n] = '\0';
    fclose(in);
    unlink(path);
    free(path);
    return text;
}

/* ------------------------------------------------------------------------ */
/* `stats settings` against real memcached 1.6.18                            */

/* memcached -p 21201 */
static const char mc_default[] =
    "STAT maxbytes 67108864\r\n"
    "STAT maxconns 1024\r\n"
    "STAT tcpport 21201\r\n"
    "STAT udpport 0\r\n"
    "STAT inter 127.0.0.1\r\n" /* memcached: NULL (all interfaces) */
    "STAT verbosity 0\r\n"
    "STAT oldest 0\r\n"
    "STAT evictions on\r\n"
    "STAT domain_socket NULL\r\n"
    "STAT umask 700\r\n"
    "STAT shutdown_command no\r\n"
    "STAT growth_factor 1.25\r\n"
    "STAT chunk_size 48\r\n"
    "STAT num_threads 4\r\n"
    "STAT num_threads_per_udp 4\r\n"
    "STAT stat_key_prefix :\r\n"
    "STAT detail_enabled no\r\n"
    "STAT reqs_per_event 20\r\n"
    "STAT cas_enabled yes\r\n"
    "STAT tcp_backlog 1024\r\n"
    "STAT binding_protocol auto-negotiate\r\n"
    "STAT auth_enabled_sasl no\r\n"
    "STAT auth_enabled_ascii no\r\n"
    "STAT item_size_max 1048576\r\n"
    "STAT maxconns_fast yes\r\n"
    "STAT hashpower_init 0\r\n"
    "STAT slab_reassign yes\r\n"
    "STAT slab_automove 1\r\n"
    "STAT slab_automove_ratio 0.80\r\n"
    "STAT slab_automove_window 30\r\n"
    "STAT slab_chunk_max 524288\r\n"
    "STAT lru_crawler yes\r\n"
    "STAT lru_crawler_sleep 100\r\n"
    "STAT lru_crawler_tocrawl 0\r\n"
    "STAT tail_repair_time 0\r\n"
    "STAT flush_enabled yes\r\n"
    "STAT dump_enabled yes\r\n"
    "STAT hash_algorithm murmur3\r\n"
    "STAT lru_maintainer_thread yes\r\n"
    "STAT lru_segmented yes\r\n"
    "STAT hot_lru_pct 20\r\n"
    "STAT warm_lru_pct 40\r\n"
    "STAT hot_max_factor 0.20\r\n"
    "STAT warm_max_factor 2.00\r\n"
    "STAT temp_lru no\r\n"
    "STAT temporary_ttl 61\r\n"
    "STAT idle_timeout 0\r\n"
    "STAT watcher_logbuf_size 262144\r\n"
    "STAT worker_logbuf_size 65536\r\n"
    "STAT read_buf_mem_limit 0\r\n"
    "STAT track_sizes no\r\n"
    "STAT inline_ascii_response no\r\n"
    "STAT ext_item_size 512\r\n"
    "STAT ext_item_age 4294967295\r\n"
    "STAT ext_low_ttl 0\r\n"
    "STAT ext_recache_rate 2000\r\n"
    "STAT ext_wbuf_size 4194304\r\n"
    "STAT ext_compact_under 0\r\n"
    "STAT ext_drop_under 0\r\n"
    "STAT ext_max_sleep 1000000\r\n"
    "STAT ext_max_frag 0.80\r\n"
    "STAT slab_automove_freeratio 0.010\r\n"
    "STAT ext_drop_unread no\r\n"
    "STAT ssl_enabled no\r\n"
    "STAT ssl_chain_cert (null)\r\n"
    "STAT ssl_key (null)\r\n"
    "STAT ssl_verify_mode 0\r\n"
    "STAT ssl_keyformat 1\r\n"
    "STAT ssl_ciphers NULL\r\n"
    "STAT ssl_ca_cert NULL\r\n"
    "STAT ssl_wbuf_size 16384\r\n"
    "STAT ssl_session_cache no\r\n"
    "STAT ssl_kernel_tls no\r\n"
    "STAT ssl_min_version tlsv1.2\r\n"
    "STAT num_napi_ids (null)\r\n"
    "STAT memory_file (null)\r\n";

/* memcached -l 127.0.0.1 -m 128 -c 500 -p 21202 -U 21203 -A -f 1.5 -n 64 -t 2 -D '|' -R 5 -C
 *   -b 100 -B ascii -I 2m -M -v -F -X -W -o <every value-taking sub-option> */
static const char mc_combo[] =
    "STAT maxbytes 134217728\r\n"
    "STAT maxconns 500\r\n"
    "STAT tcpport 21202\r\n"
    "STAT udpport 21203\r\n"
    "STAT inter 127.0.0.1\r\n"
    "STAT verbosity 1\r\n"
    "STAT oldest 0\r\n"
    "STAT evictions off\r\n"
    "STAT domain_socket NULL\r\n"
    "STAT umask 700\r\n"
    "STAT shutdown_command yes\r\n"
    "STAT growth_factor 1.50\r\n"
    "STAT chunk_size 64\r\n"
    "STAT num_threads 2\r\n"
    "STAT num_threads_per_udp 2\r\n"
    "STAT stat_key_prefix |\r\n"
    "STAT detail_enabled yes\r\n"
    "STAT reqs_per_event 5\r\n"
    "STAT cas_enabled no\r\n"
    "STAT tcp_backlog 100\r\n"
    "STAT binding_protocol ascii\r\n"
    "STAT auth_enabled_sasl no\r\n"
    "STAT auth_enabled_ascii no\r\n"
    "STAT item_size_max 2097152\r\n"
    "STAT maxconns_fast no\r\n"
    "STAT hashpower_init 16\r\n"
    "STAT slab_reassign yes\r\n"
    "STAT slab_automove 2\r\n"
    "STAT slab_automove_ratio 0.50\r\n"
    "STAT slab_automove_window 10\r\n"
    "STAT slab_chunk_max 524288\r\n"
    "STAT lru_crawler yes\r\n"
    "STAT lru_crawler_sleep 50\r\n"
    "STAT lru_crawler_tocrawl 7\r\n"
    "STAT tail_repair_time 30\r\n"
    "STAT flush_enabled no\r\n"
    "STAT dump_enabled no\r\n"
    "STAT hash_algorithm xxh3\r\n"
    "STAT lru_maintainer_thread yes\r\n"
    "STAT lru_segmented yes\r\n"
    "STAT hot_lru_pct 10\r\n"
    "STAT warm_lru_pct 30\r\n"
    "STAT hot_max_factor 0.30\r\n"
    "STAT warm_max_factor 1.50\r\n"
    "STAT temp_lru yes\r\n"
    "STAT temporary_ttl 30\r\n"
    "STAT idle_timeout 60\r\n"
    "STAT watcher_logbuf_size 131072\r\n"
    "STAT worker_logbuf_size 65536\r\n"
    "STAT read_buf_mem_limit 10485760\r\n"
    "STAT track_sizes yes\r\n"
    "STAT inline_ascii_response no\r\n"
    "STAT ext_item_size 1024\r\n"
    "STAT ext_item_age 100\r\n"
    "STAT ext_low_ttl 5\r\n"
    "STAT ext_recache_rate 100\r\n"
    "STAT ext_wbuf_size 8388608\r\n"
    "STAT ext_compact_under 3\r\n"
    "STAT ext_drop_under 2\r\n"
    "STAT ext_max_sleep 500\r\n"
    "STAT ext_max_frag 0.50\r\n"
    "STAT slab_automove_freeratio 0.020\r\n"
    "STAT ext_drop_unread yes\r\n"
    "STAT ssl_enabled no\r\n"
    "STAT ssl_chain_cert /a\r\n"
    "STAT ssl_key /b\r\n"
    "STAT ssl_verify_mode 3\r\n"
    "STAT ssl_keyformat 2\r\n"
    "STAT ssl_ciphers HIGH\r\n"
    "STAT ssl_ca_cert /x\r\n"
    "STAT ssl_wbuf_size 32768\r\n"
    "STAT ssl_session_cache yes\r\n"
    "STAT ssl_kernel_tls yes\r\n"
    "STAT ssl_min_version tlsv1.3\r\n"
    "STAT num_napi_ids (null)\r\n"
    "STAT memory_file (null)\r\n";

/* memcached -s /tmp/probe/w/sock -a 755 -Y /tmp/probe/w/auth -vv -vvv
 *   -o no_lru_crawler,no_lru_maintainer,no_slab_reassign,slab_chunk_max=16384,
 *      ssl_min_version=0,ssl_verify_mode=1 */
static const char mc_unix[] =
    "STAT maxbytes 67108864\r\n"
    "STAT maxconns 1024\r\n"
    "STAT tcpport 11211\r\n"
    "STAT udpport 0\r\n"
    "STAT inter 127.0.0.1\r\n" /* memcached: NULL (all interfaces) */
    "STAT verbosity 5\r\n"
    "STAT oldest 0\r\n"
    "STAT evictions on\r\n"
    "STAT domain_socket /tmp/probe/w/sock\r\n"
    "STAT umask 755\r\n"
    "STAT shutdown_command no\r\n"
    "STAT growth_factor 1.25\r\n"
    "STAT chunk_size 48\r\n"
    "STAT num_threads 4\r\n"
    "STAT num_threads_per_udp 4\r\n"
    "STAT stat_key_prefix :\r\n"
    "STAT detail_enabled no\r\n"
    "STAT reqs_per_event 20\r\n"
    "STAT cas_enabled yes\r\n"
    "STAT tcp_backlog 1024\r\n"
    "STAT binding_protocol ascii\r\n"
    "STAT auth_enabled_sasl no\r\n"
    "STAT auth_enabled_ascii /tmp/probe/w/auth\r\n"
    "STAT item_size_max 1048576\r\n"
    "STAT maxconns_fast yes\r\n"
    "STAT hashpower_init 0\r\n"
    "STAT slab_reassign no\r\n"
    "STAT slab_automove 1\r\n"
    "STAT slab_automove_ratio 0.80\r\n"
    "STAT slab_automove_window 30\r\n"
    "STAT slab_chunk_max 16384\r\n"
    "STAT lru_crawler no\r\n"
    "STAT lru_crawler_sleep 100\r\n"
    "STAT lru_crawler_tocrawl 0\r\n"
    "STAT tail_repair_time 0\r\n"
    "STAT flush_enabled yes\r\n"
    "STAT dump_enabled yes\r\n"
    "STAT hash_algorithm murmur3\r\n"
    "STAT lru_maintainer_thread no\r\n"
    "STAT lru_segmented no\r\n"
    "STAT hot_lru_pct 20\r\n"
    "STAT warm_lru_pct 40\r\n"
    "STAT hot_max_factor 0.20\r\n"
    "STAT warm_max_factor 2.00\r\n"
    "STAT temp_lru no\r\n"
    "STAT temporary_ttl 61\r\n"
    "STAT idle_timeout 0\r\n"
    "STAT watcher_logbuf_size 262144\r\n"
    "STAT worker_logbuf_size 65536\r\n"
    "STAT read_buf_mem_limit 0\r\n"
    "STAT track_sizes no\r\n"
    "STAT inline_ascii_response no\r\n"
    "STAT ext_item_size 512\r\n"
    "STAT ext_item_age 4294967295\r\n"
    "STAT ext_low_ttl 0\r\n"
    "STAT ext_recache_rate 2000\r\n"
    "STAT ext_wbuf_size 4194304\r\n"
    "STAT ext_compact_under 0\r\n"
    "STAT ext_drop_under 0\r\n"
    "STAT ext_max_sleep 1000000\r\n"
    "STAT ext_max_frag 0.80\r\n"
    "STAT slab_automove_freeratio 0.010\r\n"
    "STAT ext_drop_unread no\r\n"
    "STAT ssl_enabled no\r\n"
    "STAT ssl_chain_cert (null)\r\n"
    "STAT ssl_key (null)\r\n"
    "STAT ssl_verify_mode 1\r\n"
    "STAT ssl_keyformat 1\r\n"
    "STAT ssl_ciphers NULL\r\n"
    "STAT ssl_ca_cert NULL\r\n"
    "STAT ssl_wbuf_size 16384\r\n"
    "STAT ssl_session_cache no\r\n"
    "STAT ssl_kernel_tls no\r\n"
    "STAT ssl_min_version tlsv1.0\r\n"
    "STAT num_napi_ids (null)\r\n"
    "STAT memory_file (null)\r\n";

static const char combo_o[] =
    "maxconns_fast,no_maxconns_fast,hashpower=16,slab_automove=2,slab_automove_ratio=0.5,"
    "slab_automove_window=10,tail_repair_time=30,hash_algorithm=xxh3,lru_crawler_sleep=50,"
    "lru_crawler_tocrawl=7,hot_lru_pct=10,warm_lru_pct=30,hot_max_factor=0.3,"
    "warm_max_factor=1.5,temporary_ttl=30,idle_timeout=60,watcher_logbuf_size=128,"
    "read_buf_mem_limit=10,track_sizes,ext_item_size=1024,ext_item_age=100,ext_low_ttl=5,"
    "ext_recache_rate=100,ext_wbuf_size=8,ext_compact_under=3,ext_drop_under=2,"
    "ext_max_sleep=500,ext_max_frag=0.5,slab_automove_freeratio=0.02,ext_drop_unread,"
    "ssl_verify_mode=2,ssl_keyformat=2,ssl_ciphers=HIGH,ssl_ca_cert=/x,ssl_wbuf_size=32,"
    "ssl_session_cache,ssl_kernel_tls,ssl_min_version=3,ssl_chain_cert=/a,ssl_key=/b";

static void test_stats_default_matches_memcached(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-p", "21201");
    char *got = stats_of(&s);
    assert_string_equal(got, mc_default);
    free(got);
    settings_free(&s);
}

static void test_stats_combo_matches_memcached(void **state)
{
    (void)state;
    struct settings s;
    char o[sizeof(combo_o)];
    memcpy(o, combo_o, sizeof(o));
    PARSE_OK(&s, "-l", "127.0.0.1", "-m", "128", "-c", "500", "-p", "21202", "-U", "21203", "-A",
             "-f", "1.5", "-n", "64", "-t", "2", "-D", "|", "-R", "5", "-C", "-b", "100", "-B",
             "ascii", "-I", "2m", "-M", "-v", "-F", "-X", "-W", "-o", o);
    char *got = stats_of(&s);
    assert_string_equal(got, mc_combo);
    free(got);
    settings_free(&s);
}

static void test_stats_unix_auth_matches_memcached(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-s", "/tmp/probe/w/sock", "-a", "755", "-Y", "/tmp/probe/w/auth", "-vv",
             "-vvv", "-o",
             "no_lru_crawler,no_lru_maintainer,no_slab_reassign,slab_chunk_max=16384,"
             "ssl_min_version=0,ssl_verify_mode=1");
    char *got = stats_of(&s);
    assert_string_equal(got, mc_unix);
    free(got);
    settings_free(&s);
}

/* The names, in order, whatever the values: the contract clients parse. */
static void test_stats_names_in_memcached_order(void **state)
{
    (void)state;
    static const char *const names[] = {
        "maxbytes", "maxconns", "tcpport", "udpport", "inter", "verbosity", "oldest",
        "evictions", "domain_socket", "umask", "shutdown_command", "growth_factor",
        "chunk_size", "num_threads", "num_threads_per_udp", "stat_key_prefix",
        "detail_enabled", "reqs_per_event", "cas_enabled", "tcp_backlog", "binding_protocol",
        "auth_enabled_sasl", "auth_enabled_ascii", "item_size_max", "maxconns_fast",
        "hashpower_init", "slab_reassign", "slab_automove", "slab_automove_ratio",
        "slab_automove_window", "slab_chunk_max", "lru_crawler", "lru_crawler_sleep",
        "lru_crawler_tocrawl", "tail_repair_time", "flush_enabled", "dump_enabled",
        "hash_algorithm", "lru_maintainer_thread", "lru_segmented", "hot_lru_pct",
        "warm_lru_pct", "hot_max_factor", "warm_max_factor", "temp_lru", "temporary_ttl",
        "idle_timeout", "watcher_logbuf_size", "worker_logbuf_size", "read_buf_mem_limit",
        "track_sizes", "inline_ascii_response", "ext_item_size", "ext_item_age", "ext_low_ttl",
        "ext_recache_rate", "ext_wbuf_size", "ext_compact_under", "ext_drop_under",
        "ext_max_sleep", "ext_max_frag", "slab_automove_freeratio", "ext_drop_unread",
        "ssl_enabled", "ssl_chain_cert", "ssl_key", "ssl_verify_mode", "ssl_keyformat",
        "ssl_ciphers", "ssl_ca_cert", "ssl_wbuf_size", "ssl_session_cache", "ssl_kernel_tls",
        "ssl_min_version", "num_napi_ids", "memory_file"};
    struct settings s;
    PARSE_OK(&s, "-N", "4", "-e", "/dev/shm/x", "-S", "-Z", "-o", "ext_path=/x:64m");
    char *got = stats_of(&s);
    char *line = got;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "STAT %s ", names[i]);
        if (strncmp(line, want, strlen(want)) != 0)
            fail_msg("line %zu: expected \"%s...\", got \"%.40s\"", i, want, line);
        char *eol = strstr(line, "\r\n");
        assert_non_null(eol);
        line = eol + 2;
    }
    assert_string_equal(line, ""); /* no END: the caller adds it */
    assert_non_null(strstr(got, "STAT num_napi_ids 4\r\n"));
    assert_non_null(strstr(got, "STAT memory_file /dev/shm/x\r\n"));
    assert_non_null(strstr(got, "STAT auth_enabled_sasl yes\r\n"));
    assert_non_null(strstr(got, "STAT binding_protocol binary\r\n"));
    assert_non_null(strstr(got, "STAT ssl_enabled yes\r\n"));
    free(got);
    settings_free(&s);
}

static void test_stats_runtime_fields(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-p", "1");
    s.oldest_live = 61;
    s.verbose = 2;
    s.maxbytes = 8u << 20;
    s.detail_enabled = true;
    char *got = stats_of(&s);
    assert_non_null(strstr(got, "STAT oldest 61\r\n"));
    assert_non_null(strstr(got, "STAT verbosity 2\r\n"));
    assert_non_null(strstr(got, "STAT maxbytes 8388608\r\n"));
    assert_non_null(strstr(got, "STAT detail_enabled yes\r\n"));
    free(got);
    settings_free(&s);
}

/* ------------------------------------------------------------------------ */
/* defaults and flag families                                                 */

static void test_defaults(void **state)
{
    (void)state;
    struct settings s;
    settings_init(&s);
    assert_int_equal(s.port, 11211);
    assert_int_equal(s.udpport, 0);
    assert_string_equal(s.inter, "127.0.0.1");
    assert_int_equal(s.maxconns, 1024);
    assert_int_equal(s.num_threads, 4);
    assert_true(s.maxbytes == (size_t)64 << 20);
    assert_int_equal(s.item_size_max, 1 << 20);
    assert_int_equal(s.slab_chunk_size_max, 1 << 19);
    assert_true(s.use_cas && s.evict_to_free && s.flush_enabled && s.dump_enabled);
    assert_true(s.watch_enabled && s.hash_expand && s.lru_crawler && s.lru_segmented);
    assert_false(s.shutdown_command || s.daemonize || s.sasl || s.ssl_enabled);
    assert_int_equal(s.binding_protocol, BIND_AUTO);
    assert_int_equal(s.access, 0700);
    assert_int_equal(s.backlog, 1024);
    assert_int_equal(s.reqs_per_event, 20);
    assert_int_equal(s.prefix_delimiter, ':');
    assert_int_equal(s.repl_port, 11212);
    assert_int_equal(s.snapshot_interval, 300);
    assert_int_equal(s.node_id, 0);
    assert_null(s.username);
    assert_null(s.repl_password);
    assert_int_equal(s.npeers, 0);
    settings_free(&s);
    assert_null(s.inter); /* settings_free leaves a zeroed struct */
}

static void test_network_flags(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-p", "11300", "-U", "11301", "-c", "64", "-b", "5", "-t", "3", "-R", "9",
             "-B", "binary", "-a", "0750");
    assert_int_equal(s.port, 11300);
    assert_int_equal(s.udpport, 11301);
    assert_int_equal(s.maxconns, 64);
    assert_int_equal(s.backlog, 5);
    assert_int_equal(s.num_threads, 3);
    assert_int_equal(s.num_threads_per_udp, 3);
    assert_int_equal(s.reqs_per_event, 9);
    assert_int_equal(s.binding_protocol, BIND_BINARY);
    assert_int_equal(s.access, 0750);
    settings_free(&s);

    /* -U alone moves the TCP port too (memcached) */
    PARSE_OK(&s, "-U", "11400");
    assert_int_equal(s.port, 11400);
    settings_free(&s);

    PARSE_OK(&s, "-s", "/tmp/mc.sock");
    assert_string_equal(s.socketpath, "/tmp/mc.sock");
    settings_free(&s);
}

static void test_listen_list(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-l", "10.0.0.1");
    assert_string_equal(s.inter, "10.0.0.1"); /* replaces the default */
    assert_int_equal(s.num_threads_per_udp, 4);
    settings_free(&s);

    PARSE_OK(&s, "-l", "10.0.0.1", "-l", "10.0.0.2,10.0.0.1", "-l", "10.0.0.3");
    assert_string_equal(s.inter, "10.0.0.1,10.0.0.2,10.0.0.3");
    assert_int_equal(s.num_threads_per_udp, 1); /* several listeners: one thread per UDP port */
    settings_free(&s);

    /* memcached would drop "27.0.0.1" as a substring of "127.0.0.1" */
    PARSE_OK(&s, "-l", "127.0.0.1", "-l", "27.0.0.1");
    assert_string_equal(s.inter, "127.0.0.1,27.0.0.1");
    settings_free(&s);
}

static void test_memory_and_items(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-m", "128", "-M", "-C", "-f", "1.08", "-n", "32", "-I", "4m");
    assert_true(s.maxbytes == (size_t)128 << 20);
    assert_false(s.evict_to_free);
    assert_false(s.use_cas);
    assert_true(s.factor > 1.079 && s.factor < 1.081);
    assert_int_equal(s.chunk_size, 32);
    assert_int_equal(s.item_size_max, 4 << 20);
    settings_free(&s);

    PARSE_OK(&s, "-m", "64m", "-I", "512k");
    assert_true(s.maxbytes == (size_t)64 << 20);
    assert_int_equal(s.item_size_max, 512 * 1024);
    settings_free(&s);

    PARSE_OK(&s, "-I", "1M");
    assert_int_equal(s.item_size_max, 1 << 20);
    settings_free(&s);

    PARSE_OK(&s, "-I", "2097152", "-m", "1024");
    assert_int_equal(s.item_size_max, 2 << 20);
    settings_free(&s);

    PARSE_OK(&s, "-m", "8192", "-I", "1024m");
    assert_int_equal(s.item_size_max, 1 << 30);
    settings_free(&s);
}

static void test_feature_flags(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-A", "-F", "-X", "-W", "-D", "#", "-k", "-r", "-L", "-d", "-u", "memcache",
             "-P", "/run/mc.pid", "-e", "/dev/shm/mc", "-N", "2", "-Z");
    assert_true(s.shutdown_command);
    assert_false(s.flush_enabled);
    assert_false(s.dump_enabled);
    assert_false(s.watch_enabled);
    assert_int_equal(s.prefix_delimiter, '#');
    assert_true(s.detail_enabled);
    assert_true(s.lock_memory && s.maxcore && s.large_pages && s.daemonize && s.ssl_enabled);
    assert_string_equal(s.username, "memcache");
    assert_string_equal(s.pid_file, "/run/mc.pid");
    assert_string_equal(s.memory_file, "/dev/shm/mc");
    assert_int_equal(s.num_napi_ids, 2);
    settings_free(&s);

    /* -Y picks ascii, -S picks binary, unless -B said otherwise */
    PARSE_OK(&s, "-Y", "/etc/auth");
    assert_string_equal(s.auth_file, "/etc/auth");
    assert_int_equal(s.binding_protocol, BIND_ASCII);
    settings_free(&s);
    PARSE_OK(&s, "-S");
    assert_true(s.sasl);
    assert_int_equal(s.binding_protocol, BIND_BINARY);
    settings_free(&s);
}

static void test_verbosity(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-v");
    assert_int_equal(s.verbose, 1);
    settings_free(&s);
    PARSE_OK(&s, "-vv", "-vvv");
    assert_int_equal(s.verbose, 5); /* memcached counts every v */
    settings_free(&s);
    PARSE_OK(&s, "--verbose", "--verbose");
    assert_int_equal(s.verbose, 2);
    settings_free(&s);
    PARSE_OK(&s, "-v", "--verbose=3");
    assert_int_equal(s.verbose, 3);
    settings_free(&s);
}

static void test_long_forms_and_getopt_rules(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "--port=21286", "--udp-port", "0", "--memory-limit=32", "--conn-limit=100",
             "--threads=3", "--max-reqs-per-event=7", "--disable-cas", "--listen-backlog=50",
             "--protocol=binary", "--max-item-size=512k", "--disable-flush-all",
             "--disable-dumping", "--disable-watch", "--enable-shutdown", "--disable-evictions",
             "--slab-growth-factor=1.1", "--slab-min-size=32", "--extended=track_sizes",
             "--listen=10.1.1.1", "--unix-mask=755", "--user=nobody", "--pidfile=/p",
             "--enable-largepages", "--lock-memory", "--enable-coredumps", "--daemon",
             "--memory-file=/m", "--enable-ssl", "--napi-ids=3",
             "--enable-sasl", "--unix-socket=/s");
    assert_int_equal(s.port, 21286);
    assert_true(s.maxbytes == (size_t)32 << 20);
    assert_int_equal(s.maxconns, 100);
    assert_int_equal(s.num_threads, 3);
    assert_int_equal(s.reqs_per_event, 7);
    assert_false(s.use_cas);
    assert_int_equal(s.backlog, 50);
    assert_int_equal(s.item_size_max, 512 * 1024);
    assert_true(s.track_sizes && s.shutdown_command && s.large_pages && s.lock_memory);
    assert_string_equal(s.inter, "10.1.1.1");
    assert_int_equal(s.access, 0755);
    assert_string_equal(s.socketpath, "/s");
    assert_int_equal(s.num_napi_ids, 3);
    settings_free(&s);

    /* clusters, glued values, unique prefixes, the value after "-p" even if it looks
     * like an option */
    PARSE_OK(&s, "-vdMp21285", "-t4", "--memory-l=32", "--thr", "2", "--napi_ids", "1");
    assert_int_equal(s.verbose, 1);
    assert_true(s.daemonize);
    assert_false(s.evict_to_free);
    assert_int_equal(s.port, 21285);
    assert_true(s.maxbytes == (size_t)32 << 20);
    assert_int_equal(s.num_threads, 2);
    assert_int_equal(s.num_napi_ids, 1);
    settings_free(&s);

    PARSE_OK(&s, "--", NULL);
    settings_free(&s);
}

static int run_help(void)
{
    struct settings s;
    char err[ERRLEN];
    int rc = PARSE(&s, err, "-h", "--bogus");
    settings_free(&s);
    return rc;
}

static int run_version(void)
{
    struct settings s;
    char err[ERRLEN];
    int rc = PARSE(&s, err, "-V");
    settings_free(&s);
    return rc;
}

static void test_help_version_exit_zero(void **state)
{
    (void)state;
    /* -h prints and stops at once: the bad option after it is never seen */
    char *help = capture_stdout(run_help);
    assert_non_null(strstr(help, "-p, --port=<num>"));
    assert_non_null(strstr(help, "--replica-of"));
    free(help);
    char *ver = capture_stdout(run_version);
    assert_string_equal(ver, "memcached 1.6.18 (tandemd " SETTINGS_TANDEM_VERSION ")\n");
    free(ver);
}

/* Every option the parser accepts is documented in -h. */
static void test_help_documents_everything(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    settings_usage(f);
    fclose(f);
    static const char *const must[] = {
        "-p, --port", "-U, --udp-port", "-s, --unix-socket", "-a, --unix-mask",
        "-A, --enable-shutdown", "-l, --listen", "-d, --daemon", "-r, --enable-coredumps",
        "-u, --user", "-m, --memory-limit", "-M, --disable-evictions", "-c, --conn-limit",
        "-k, --lock-memory", "-v, --verbose", "-vv", "-vvv", "-h, --help", "-i, --license",
        "-V, --version", "-P, --pidfile", "-f, --slab-growth-factor", "-n, --slab-min-size",
        "-L, --enable-largepages", "-D <char>", "-t, --threads", "-R, --max-reqs-per-event",
        "-C, --disable-cas", "-b, --listen-backlog", "-B, --protocol", "-I, --max-item-size",
        "-S, --enable-sasl", "-F, --disable-flush-all", "-X, --disable-dumping",
        "-W, --disable-watch", "-Y, --auth-file", "-e, --memory-file", "-Z, --enable-ssl",
        "-o, --extended", "-N, --napi-ids", "--config", "--replica-of", "--peer", "-x <host>",
        "--repl-port", "--repl-user", "--repl-password-file", "--repl-password=",
        "--repl-min-acks", "--replicas", "--snapshot-dir", "--snapshot-interval", "--node-id",
        "maxconns_fast", "hashpower", "tail_repair_time", "hash_algorithm", "no_lru_crawler",
        "lru_crawler_sleep", "lru_crawler_tocrawl", "read_buf_mem_limit", "no_lru_maintainer",
        "hot_lru_pct", "warm_lru_pct", "hot_max_factor", "warm_max_factor", "temporary_ttl",
        "idle_timeout", "slab_chunk_max", "slab_sizes", "watcher_logbuf_size",
        "worker_logbuf_size", "track_sizes", "no_hashexpand", "modern", "no_modern",
        "sock_cookie_id", "slab_reassign", "slab_automove", "no_chunked_items",
        "inline_ascii_resp", "drop_privileges", "resp_obj_mem_limit", "ext_path",
        "ext_page_size", "ext_wbuf_size", "ext_threads", "ext_io_depth", "ext_item_size",
        "ext_item_age", "ext_low_ttl", "ext_drop_unread", "ext_recache_rate",
        "ext_compact_under", "ext_drop_under", "ext_max_frag", "ext_max_sleep",
        "slab_automove_freeratio", "ssl_chain_cert", "ssl_key", "ssl_keyformat",
        "ssl_verify_mode", "ssl_ciphers", "ssl_ca_cert", "ssl_wbuf_size", "ssl_session_cache",
        "ssl_kernel_tls", "ssl_min_version", "default: 127.0.0.1", "INADDR_ANY"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(text, must[i]))
            fail_msg("-h does not mention \"%s\"", must[i]);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* -o                                                                         */

static void test_subopts(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-o", "hashpower=20,no_hashexpand,slab_automove", "-o",
             "slab_sizes=100-200-300,drop_privileges,lru_crawler_tocrawl=4294967295,"
             "sock_cookie_id=7,ext_threads=3,ext_io_depth=8,ext_page_size=32,hashpower=20,");
    assert_int_equal(s.hashpower_init, 20);
    assert_false(s.hash_expand);
    assert_int_equal(s.slab_automove, 1);
    assert_int_equal(s.nslab_sizes, 3);
    assert_int_equal(s.slab_sizes[0], 100);
    assert_int_equal(s.slab_sizes[2], 300);
    assert_true(s.drop_privileges);
    assert_int_equal(s.lru_crawler_tocrawl, UINT32_MAX);
    assert_int_equal(s.sock_cookie_id, 7);
    assert_int_equal(s.ext_threads, 3);
    assert_int_equal(s.ext_io_depth, 8);
    assert_true(s.ext_page_size == (uint64_t)32 << 20);
    settings_free(&s);

    /* no_modern restores 1.4 defaults; options after it still win */
    PARSE_OK(&s, "-o", "no_modern,lru_crawler");
    assert_false(s.slab_reassign || s.maxconns_fast || s.lru_segmented);
    assert_false(s.lru_maintainer_thread);
    assert_int_equal(s.slab_automove, 0);
    assert_int_equal(s.hash_algorithm, SETTINGS_HASH_JENKINS);
    assert_int_equal(s.slab_chunk_size_max, 1 << 20);
    assert_true(s.lru_crawler);
    settings_free(&s);

    /* -I above 1m puts slab_chunk_max back to half a page unless it was set */
    PARSE_OK(&s, "-o", "no_chunked_items", "-I", "2m");
    assert_int_equal(s.slab_chunk_size_max, 1 << 19);
    settings_free(&s);

    PARSE_OK(&s, "-o", "", "-o", "ext_path=/a:64m,ext_path=/b:1g:default");
    assert_string_equal(s.ext_path, "/a:64m,/b:1g:default");
    settings_free(&s);

    PARSE_OK(&s, "-o", "ssl_verify_mode=3,ssl_min_version=3,temporary_ttl=5");
    assert_int_equal(s.ssl_verify_mode, 3);
    assert_true(s.temp_lru);
    assert_int_equal(s.temporary_ttl, 5);
    settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_default_matches_memcached),
        cmocka_unit_test(test_stats_combo_matches_memcached),
        cmocka_unit_test(test_stats_unix_auth_matches_memcached),
        cmocka_unit_test(test_stats_names_in_memcached_order),
        cmocka_unit_test(test_stats_runtime_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_network_flags),
        cmocka_unit_test(test_listen_list),
        cmocka_unit_test(test_memory_and_items),
        cmocka_unit_test(test_feature_flags),
        cmocka_unit_test(test_verbosity),
        cmocka_unit_test(test_long_forms_and_getopt_rules),
        cmocka_unit_test(test_help_version_exit_zero),
        cmocka_unit_test(test_help_documents_everything),
        cmocka_unit_test(test_subopts),
    };
    return cmocka_run_group_tests_name("server_settings", tests, NULL, NULL);
}
