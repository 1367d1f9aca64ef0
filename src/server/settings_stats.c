/*
 * settings_stats: the `stats settings` body, byte for byte as memcached 1.6.18.
 *
 * The order, names and value formats were captured from Debian's 1.6.18
 * (TLS and extstore compiled in, so the ext_* and ssl_* lines are always
 * there). The value styles are mixed on purpose: yes/no, on/off, and unset
 * strings printed as "NULL" by some lines and "(null)" (glibc's printf of a
 * NULL %s) by others. num_napi_ids is "(null)" at its default of 0; with -N
 * memcached passes an int to %s and crashes, we print the number.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "server/settings.h"

static void st_s(struct buf *b, const char *name, const char *v)
{
    buf_printf(b, "STAT %s %s\r\n", name, v);
}

static void st_d(struct buf *b, const char *name, long long v)
{
    buf_printf(b, "STAT %s %lld\r\n", name, v);
}

static void st_yn(struct buf *b, const char *name, bool v) { st_s(b, name, v ? "yes" : "no"); }

static void st_f(struct buf *b, const char *name, int decimals, double v)
{
    buf_printf(b, "STAT %s %.*f\r\n", name, decimals, v);
}

/* memcached prints some unset strings as "NULL" and others as "(null)". */
static const char *or_null(const char *v, const char *null_style) { return v ? v : null_style; }

const char *settings_hash_name(enum settings_hash h)
{
    switch (h) {
    case SETTINGS_HASH_JENKINS: return "jenkins";
    case SETTINGS_HASH_XXH3: return "xxh3";
    case SETTINGS_HASH_MURMUR3: break;
    }
    return "murmur3";
}

static const char *protocol_name(enum bind_protocol p)
{
    return p == BIND_ASCII ? "ascii" : p == BIND_BINARY ? "binary" : "auto-negotiate";
}

static void write_network(struct buf *b, const struct settings *s)
{
    st_d(b, "maxbytes", (long long)s->maxbytes);
    st_d(b, "maxconns", s->maxconns);
    st_d(b, "tcpport", s->port);
    st_d(b, "udpport", s->udpport);
    st_s(b, "inter", or_null(s->inter, "NULL"));
    st_d(b, "verbosity", s->verbose);
    st_d(b, "oldest", s->oldest_live);
    st_s(b, "evictions", s->evict_to_free ? "on" : "off");
    st_s(b, "domain_socket", or_null(s->socketpath, "NULL"));
    buf_printf(b, "STAT umask %o\r\n", (unsigned)s->access);
    st_yn(b, "shutdown_command", s->shutdown_command);
    st_f(b, "growth_factor", 2, s->factor);
    st_d(b, "chunk_size", s->chunk_size);
    st_d(b, "num_threads", s->num_threads);
    st_d(b, "num_threads_per_udp", s->num_threads_per_udp);
    buf_printf(b, "STAT stat_key_prefix %c\r\n", s->prefix_delimiter);
    st_yn(b, "detail_enabled", s->detail_enabled);
    st_d(b, "reqs_per_event", s->reqs_per_event);
    st_yn(b, "cas_enabled", s->use_cas);
    st_d(b, "tcp_backlog", s->backlog);
    st_s(b, "binding_protocol", protocol_name(s->binding_protocol));
    st_yn(b, "auth_enabled_sasl", s->sasl);
    st_s(b, "auth_enabled_ascii", or_null(s->auth_file, "no"));
    st_d(b, "item_size_max", s->item_size_max);
    st_yn(b, "maxconns_fast", s->maxconns_fast);
    st_d(b, "hashpower_init", s->hashpower_init);
}

static void write_lru(struct buf *b, const struct settings *s)
{
    st_yn(b, "slab_reassign", s->slab_reassign);
    st_d(b, "slab_automove", s->slab_automove);
    st_f(b, "slab_automove_ratio", 2, s->slab_automove_ratio);
    st_d(b, "slab_automove_window", s->slab_automove_window);
    st_d(b, "slab_chunk_max", s->slab_chunk_size_max);
    st_yn(b, "lru_crawler", s->lru_crawler);
    st_d(b, "lru_crawler_sleep", s->lru_crawler_sleep);
    st_d(b, "lru_crawler_tocrawl", s->lru_crawler_tocrawl);
    st_d(b, "tail_repair_time", s->tail_repair_time);
    st_yn(b, "flush_enabled", s->flush_enabled);
    st_yn(b, "dump_enabled", s->dump_enabled);
    st_s(b, "hash_algorithm", settings_hash_name(s->hash_algorithm));
    st_yn(b, "lru_maintainer_thread", s->lru_maintainer_thread);
    st_yn(b, "lru_segmented", s->lru_segmented);
    st_d(b, "hot_lru_pct", s->hot_lru_pct);
    st_d(b, "warm_lru_pct", s->warm_lru_pct);
    st_f(b, "hot_max_factor", 2, s->hot_max_factor);
    st_f(b, "warm_max_factor", 2, s->warm_max_factor);
    st_yn(b, "temp_lru", s->temp_lru);
    st_d(b, "temporary_ttl", s->temporary_ttl);
    st_d(b, "idle_timeout", s->idle_timeout);
    st_d(b, "watcher_logbuf_size", (long long)s->logger_watcher_buf_size);
    st_d(b, "worker_logbuf_size", (long long)s->logger_buf_size);
    st_d(b, "read_buf_mem_limit", (long long)s->read_buf_mem_limit);
    st_yn(b, "track_sizes", s->track_sizes);
    st_yn(b, "inline_ascii_response", s->inline_ascii_response);
}

static void write_ext(struct buf *b, const struct settings *s)
{
    st_d(b, "ext_item_size", s->ext_item_size);
    st_d(b, "ext_item_age", s->ext_item_age);
    st_d(b, "ext_low_ttl", s->ext_low_ttl);
    st_d(b, "ext_recache_rate", s->ext_recache_rate);
    st_d(b, "ext_wbuf_size", (long long)s->ext_wbuf_size);
    st_d(b, "ext_compact_under", s->ext_compact_under);
    st_d(b, "ext_drop_under", s->ext_drop_under);
    st_d(b, "ext_max_sleep", s->ext_max_sleep);
    st_f(b, "ext_max_frag", 2, s->ext_max_frag);
    st_f(b, "slab_automove_freeratio", 3, s->slab_automove_freeratio);
    st_yn(b, "ext_drop_unread", s->ext_drop_unread);
}

static void write_ssl(struct buf *b, const struct settings *s)
{
    /* OpenSSL's SSL_VERIFY_* bits for modes 0..3: none, peer, +fail, +once */
    static const int verify_bits[] = {0, 1, 3, 7};
    static const char *const versions[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
    int vm = s->ssl_verify_mode >= 0 && s->ssl_verify_mode <= 3 ? s->ssl_verify_mode : 0;
    int mv = s->ssl_min_version >= 0 && s->ssl_min_version <= 3 ? s->ssl_min_version : 2;
    st_yn(b, "ssl_enabled", s->ssl_enabled);
    st_s(b, "ssl_chain_cert", or_null(s->ssl_chain_cert, "(null)"));
    st_s(b, "ssl_key", or_null(s->ssl_key, "(null)"));
    st_d(b, "ssl_verify_mode", verify_bits[vm]);
    st_d(b, "ssl_keyformat", s->ssl_keyformat);
    st_s(b, "ssl_ciphers", or_null(s->ssl_ciphers, "NULL"));
    st_s(b, "ssl_ca_cert", or_null(s->ssl_ca_cert, "NULL"));
    st_d(b, "ssl_wbuf_size", (long long)s->ssl_wbuf_size);
    st_yn(b, "ssl_session_cache", s->ssl_session_cache);
    st_yn(b, "ssl_kernel_tls", s->ssl_kernel_tls);
    st_s(b, "ssl_min_version", versions[mv]);
}

void settings_write_stats(struct buf *out, const struct settings *s)
{
    write_network(out, s);
    write_lru(out, s);
    write_ext(out, s);
    write_ssl(out, s);
    if (s->num_napi_ids)
        st_d(out, "num_napi_ids", s->num_napi_ids);
    else
        st_s(out, "num_napi_ids", "(null)");
    st_s(out, "memory_file", or_null(s->memory_file, "(null)"));
}

static void put_hostport(struct buf *b, const char *host, int port)
{
    bool v6 = host[0] != '[' && strchr(host, ':');
    buf_printf(b, v6 ? "[%s]" : "%s", host);
    if (port)
        buf_printf(b, ":%d", port);
}

void settings_write_stats_tandem(struct buf *out, const struct settings *s)
{
    st_s(out, "tandem_version", SETTINGS_TANDEM_VERSION);
    st_s(out, "config_file", or_null(s->config_file, "NULL"));
    st_s(out, "logfile", or_null(s->logfile, "NULL"));
    st_d(out, "node_id", s->node_id);
    st_d(out, "repl_port", s->repl_port);
    buf_puts(out, "STAT replica_of ");
    if (s->replica_of_host)
        put_hostport(out, s->replica_of_host, s->replica_of_port);
    else
        buf_puts(out, "NULL");
    buf_puts(out, "\r\nSTAT peers ");
    for (int i = 0; i < s->npeers; i++) {
        if (i)
            buf_puts(out, ",");
        put_hostport(out, s->peers[i].host, s->peers[i].port ? s->peers[i].port : s->repl_port);
    }
    buf_puts(out, s->npeers ? "\r\n" : "NULL\r\n");
    st_s(out, "repl_user", or_null(s->repl_user, "NULL"));
    st_s(out, "repl_password_file", or_null(s->repl_password_file, "NULL"));
    st_yn(out, "repl_auth", s->repl_password || s->repl_password_file);
    st_d(out, "repl_min_acks", s->repl_min_acks);
    st_d(out, "repl_ack_timeout", s->repl_ack_timeout);
    st_d(out, "replicas", s->replicas);
    st_s(out, "snapshot_dir", or_null(s->snapshot_dir, "NULL"));
    st_d(out, "snapshot_interval", s->snapshot_interval);
    st_d(out, "snapshot_keep", s->snapshot_keep);
}
