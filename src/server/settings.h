/*
 * settings: tandemd's configuration, from the command line and config files.
 *
 * Every memcached 1.6.18 flag and `-o` sub-option is accepted with memcached's
 * meaning, default, validation and error wording (probed against Debian's
 * 1.6.18 binary), and `stats settings` prints memcached's lines in memcached's
 * order. Tandem's additions are long options only (shared/DESIGN.md §1).
 *
 * Parsing is left to right, like getopt: a later option overrides an earlier
 * one, except the repeatable ones (-l, -v, -o, --peer, -x), which accumulate.
 * `--config FILE` reads FILE at the point where it appears, so options after
 * it on the command line override the file and options before it are
 * overridden by it. The file uses Debian's /etc/memcached.conf format, read
 * the way /usr/share/memcached/scripts/systemd-memcached-wrapper reads it:
 * one or more options a line exactly as on the command line (shell quoting
 * works), an unescaped '#' starts a comment anywhere, blank lines are
 * skipped, lines starting with "-d" or "-h" are dropped (systemd runs the
 * daemon in the foreground), a lone word is an option's value from the line
 * before, and any other line not starting with '-' is a directive: only
 * `logfile PATH` exists (stored in `logfile`; start-memcached sends a
 * daemon's stdout/stderr there), and others are errors.
 *
 * Deliberate differences from memcached (all are documented in -h):
 *  - the default listen address is 127.0.0.1, not every interface;
 *  - numbers must be numbers: memcached's atoi() turns "-p abc" into port 0
 *    and "-m 1g" into 1 MB, we reject them (-m also takes an "m" suffix);
 *  - a stray non-option argument is an error (memcached ignores it), so
 *    repcached's "-X 11212" is caught and pointed at --repl-port;
 *  - a value given to a valueless -o sub-option (maxconns_fast=0) is an error;
 *  - --verbose=N sets the level to N (memcached ignores N);
 *  - -l skips an address only if it is already in the list (memcached skips
 *    any -l that is a substring of the list so far);
 *  - `-o worker_logbuf_size=N` only sets the worker log buffer (1.6.18 also
 *    falls through into slab_sizes=N, so most values fail to start).
 */
#ifndef TANDEM_SERVER_SETTINGS_H
#define TANDEM_SERVER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"

#define SETTINGS_MC_VERSION "1.6.18"     /* the memcached release we mirror */
#define SETTINGS_TANDEM_VERSION "0.1.0"  /* tandemd's own release */
#define SETTINGS_DEFAULT_LISTEN "127.0.0.1"
#define SETTINGS_REPL_PORT 11212         /* repcached's replication port */
#define SETTINGS_MAX_PEERS 64
#define SETTINGS_MAX_SLAB_SIZES 62       /* memcached: MAX_NUMBER_OF_SLAB_CLASSES - 2 */
#define SETTINGS_SLAB_PAGE_SIZE (1024 * 1024)

/* -B: which protocols a connection may speak. */
enum bind_protocol { BIND_AUTO = 0, BIND_ASCII, BIND_BINARY };

/* -o hash_algorithm. */
enum settings_hash { SETTINGS_HASH_MURMUR3 = 0, SETTINGS_HASH_JENKINS, SETTINGS_HASH_XXH3 };

/* --repl-sync-wait: what a node with upstreams does until its first sync. */
enum sync_wait {
    SYNC_WAIT_BLOCK = 0, /* accept no clients until synced (or the timeout) */
    SYNC_WAIT_ERROR,     /* accept clients, answer SERVER_ERROR until synced */
    SYNC_WAIT_NONE,      /* serve at once, with whatever data there is */
};

/* A replication peer: --peer HOST:PORT or -x HOST[:PORT]. */
struct settings_peer {
    char *host; /* name or address, without brackets for IPv6 */
    int port;   /* 0: the peer's --repl-port is ours (repcached's -x HOST) */
};

/* All strings are heap copies owned by the struct; release with settings_free(). */
struct settings {
    /* --- network (memcached) --- */
    int port;                  /* -p: TCP port, 0 = no TCP (11211) */
    int udpport;               /* -U: UDP port, 0 = off (0) */
    char *inter;               /* -l: comma-separated listen list ("127.0.0.1"; memcached: all) */
    char *socketpath;          /* -s: UNIX socket path; disables TCP/UDP (NULL) */
    int access;                /* -a: UNIX socket mode, octal (0700) */
    int backlog;               /* -b: listen() backlog (1024) */
    int maxconns;              /* -c: max simultaneous connections (1024) */
    bool maxconns_fast;        /* -o [no_]maxconns_fast: refuse conns over -c at once (on) */
    int num_threads;           /* -t: worker threads (4) */
    int num_threads_per_udp;   /* derived: 1 if -l lists several addresses, else num_threads */
    int reqs_per_event;        /* -R: requests per connection per event (20) */
    enum bind_protocol binding_protocol; /* -B ascii|binary|auto; -S forces binary, -Y ascii */
    int idle_timeout;          /* -o idle_timeout: close idle conns after N s, 0 = never */
    uint64_t read_buf_mem_limit; /* -o read_buf_mem_limit (MB, stored in bytes), 0 = unlimited */
    uint32_t sock_cookie_id;   /* -o sock_cookie_id: SO_MARK for listeners, 0 = none */
    int num_napi_ids;          /* -N: NAPI ids for thread steering, 0 = off */

    /* --- process (memcached) --- */
    bool daemonize;            /* -d: detach (dropped from config files, as Debian does) */
    char *pid_file;            /* -P: pid file (memcached writes it even without -d) */
    char *username;            /* -u: user to switch to when started as root */
    bool lock_memory;          /* -k: mlockall() */
    bool maxcore;              /* -r: raise the core file limit */
    bool large_pages;          /* -L: try large memory pages and preallocate */
    int verbose;               /* -v count (0); `verbosity N` changes it at run time */
    bool drop_privileges;      /* -o [no_]drop_privileges (off) */

    /* --- memory and items (memcached) --- */
    size_t maxbytes;           /* -m: item memory in bytes (64 MB); cache_memlimit changes it */
    bool evict_to_free;        /* !-M: evict instead of failing on a full cache (on) */
    int item_size_max;         /* -I: largest item in bytes (1 MB; 1k..1024m) */
    double factor;             /* -f: slab chunk growth factor (1.25) */
    int chunk_size;            /* -n: minimum key+value+flags space (48) */
    int slab_page_size;        /* fixed 1 MB slab page */
    int slab_chunk_size_max;   /* -o slab_chunk_max: largest chunk in bytes (page/2) */
    uint32_t slab_sizes[SETTINGS_MAX_SLAB_SIZES]; /* -o slab_sizes=a-b-c, ascending */
    int nslab_sizes;           /* entries used in slab_sizes, 0 = computed from -f/-n */
    bool use_cas;              /* !-C: CAS values on (on) */
    char *memory_file;         /* -e: mmap'ed item memory for warm restart (NULL) */

    /* --- hash table, LRU and background threads (memcached) --- */
    int hashpower_init;        /* -o hashpower: initial 2^N buckets, 0 = default (16) */
    bool hash_expand;          /* !-o no_hashexpand: grow the table (on) */
    enum settings_hash hash_algorithm; /* -o hash_algorithm (murmur3) */
    bool slab_reassign;        /* -o [no_]slab_reassign (on) */
    int slab_automove;         /* -o slab_automove[=0|1|2] (1) */
    double slab_automove_ratio;   /* -o slab_automove_ratio (0.8) */
    unsigned slab_automove_window; /* -o slab_automove_window (30) */
    double slab_automove_freeratio; /* -o slab_automove_freeratio (0.01) */
    bool lru_crawler;          /* -o [no_]lru_crawler (on) */
    int lru_crawler_sleep;     /* -o lru_crawler_sleep: microseconds (100) */
    uint32_t lru_crawler_tocrawl; /* -o lru_crawler_tocrawl: 0 = unlimited (0) */
    bool lru_maintainer_thread; /* -o [no_]lru_maintainer (on) */
    bool lru_segmented;        /* hot/warm/cold LRU; off with no_lru_maintainer (on) */
    int hot_lru_pct;           /* -o hot_lru_pct (20) */
    int warm_lru_pct;          /* -o warm_lru_pct (40) */
    double hot_max_factor;     /* -o hot_max_factor (0.2) */
    double warm_max_factor;    /* -o warm_max_factor (2.0) */
    bool temp_lru;             /* set by -o temporary_ttl (off) */
    uint32_t temporary_ttl;    /* -o temporary_ttl: TTLs below get the temp LRU (61) */
    int tail_repair_time;      /* -o tail_repair_time: seconds, 0 = off (0) */
    bool track_sizes;          /* -o track_sizes: `stats sizes` data (off) */
    bool inline_ascii_response; /* always off in 1.6 ([no_]inline_ascii_resp are no-ops) */
    uint32_t oldest_live;      /* `stats settings oldest`: rel. time of the last flush_all (0) */

    /* --- features and limits (memcached) --- */
    bool shutdown_command;     /* -A: allow `shutdown` (off) */
    bool flush_enabled;        /* !-F: allow flush_all (on) */
    bool dump_enabled;         /* !-X: allow cachedump / metadump (on) */
    bool watch_enabled;        /* !-W: allow `watch` (on) */
    char prefix_delimiter;     /* -D: key prefix delimiter for stats detail (':') */
    bool detail_enabled;       /* set by -D; `stats detail on|off` toggles it (off) */
    bool sasl;                 /* -S: SASL auth, binary protocol only (off) */
    char *auth_file;           /* -Y: ASCII auth file user:pass lines (NULL) */
    uint64_t logger_watcher_buf_size; /* -o watcher_logbuf_size (KB, stored in bytes; 256 KB) */
    uint64_t logger_buf_size;  /* -o worker_logbuf_size (KB, stored in bytes; 64 KB) */

    /* --- TLS (-Z, -o ssl_*) --- */
    bool ssl_enabled;          /* -Z (off) */
    char *ssl_chain_cert;      /* -o ssl_chain_cert: PEM chain file */
    char *ssl_key;             /* -o ssl_key: private key file */
    int ssl_verify_mode;       /* -o ssl_verify_mode: 0 none, 1 request, 2 require, 3 once */
    int ssl_keyformat;         /* -o ssl_keyformat: OpenSSL SSL_FILETYPE_* (1 = PEM) */
    char *ssl_ciphers;         /* -o ssl_ciphers */
    char *ssl_ca_cert;         /* -o ssl_ca_cert: acceptable client CAs */
    uint64_t ssl_wbuf_size;    /* -o ssl_wbuf_size (KB, stored in bytes; 16 KB) */
    bool ssl_session_cache;    /* -o ssl_session_cache */
    bool ssl_kernel_tls;       /* -o ssl_kernel_tls */
    int ssl_min_version;       /* -o ssl_min_version: 0..3 = TLS 1.0..1.3 (2) */

    /* --- extstore (-o ext_*; parsed and shown, not implemented by Tandem) --- */
    char *ext_path;            /* -o ext_path=FILE:SIZE[:default], comma-joined if repeated */
    uint64_t ext_page_size;    /* -o ext_page_size (MB, stored in bytes; 64 MB) */
    uint64_t ext_wbuf_size;    /* -o ext_wbuf_size (MB, stored in bytes; 4 MB) */
    uint32_t ext_threads;      /* -o ext_threads (1) */
    uint32_t ext_io_depth;     /* -o ext_io_depth (1) */
    uint32_t ext_item_size;    /* -o ext_item_size (512) */
    uint32_t ext_item_age;     /* -o ext_item_age (UINT32_MAX = no limit) */
    uint32_t ext_low_ttl;      /* -o ext_low_ttl (0) */
    uint32_t ext_recache_rate; /* -o ext_recache_rate (2000) */
    uint32_t ext_compact_under; /* -o ext_compact_under (0 = 1/4 of storage) */
    uint32_t ext_drop_under;   /* -o ext_drop_under (0 = 1/4 of storage) */
    uint32_t ext_max_sleep;    /* -o ext_max_sleep: microseconds (1000000) */
    double ext_max_frag;       /* -o ext_max_frag (0.8) */
    bool ext_drop_unread;      /* -o ext_drop_unread (off) */

    /* --- Tandem (long options, also in config files) --- */
    char *config_file;         /* --config: the last file read (NULL) */
    char *logfile;             /* `logfile PATH` directive of a config file (NULL) */
    char *replica_of_host;     /* --replica-of HOST:PORT: follow this master, read-only (NULL) */
    int replica_of_port;       /*   its replication port */
    struct settings_peer peers[SETTINGS_MAX_PEERS]; /* --peer / -x: multi-master peers */
    int npeers;                /* entries used in peers */
    int repl_port;             /* --repl-port: replication listener, 0 = none (11212) */
    char *repl_user;           /* --repl-user: name sent on replication links (NULL) */
    char *repl_password_file;  /* --repl-password-file: file holding the shared secret (NULL) */
    char *repl_password;       /* --repl-password (config file only; never printed) (NULL) */
    int repl_min_acks;         /* --repl-min-acks: peers that must apply a write first (0) */
    int repl_ack_timeout;      /* --repl-ack-timeout: ms a write waits for them (1000) */
    int replicas;              /* --replicas: copies of each key in sharded mode, 0 = off */
#define SETTINGS_SNAPSHOT_DIR_MAX 400 /* leaves room for snapshot names in a 512-byte path */
    char *snapshot_dir;        /* --snapshot-dir: periodic snapshots, loaded at start (NULL) */
    int snapshot_interval;     /* --snapshot-interval: seconds between snapshots (300) */
    int snapshot_keep;         /* --snapshot-keep: newest snapshots kept in the directory (3) */
    int node_id;               /* --node-id: this node's id in versions, 0..HLC_MAX_NODE (0) */
    bool node_id_given;        /* --node-id was set (else derived from the addresses) */
    bool repl_enabled;         /* derived: any replication option given (else no repl port) */
    enum sync_wait repl_sync_wait; /* --repl-sync-wait block|error|none (block) */
    int repl_sync_timeout;     /* --repl-sync-timeout: seconds to wait for it, 0 = forever (30) */

    /* --- result of the last settings_parse_args() --- */
    int exit_code;             /* after -1: memcached's exit status for that error (1 or 64) */
};

/* Fill `s` with memcached 1.6.18's defaults (but -l 127.0.0.1) and ours. */
void settings_init(struct settings *s);

/* Release every string `s` owns (wiping the password) and zero the struct. */
void settings_free(struct settings *s);

/* Parse argv[1..argc-1] into `s` (which settings_init() prepared), then run
 * memcached's cross-option checks and fill the derived fields.
 * Returns 0 to start, 1 when -h/-V/-i printed to stdout and the process
 * should exit 0, -1 on error with a message in err (no trailing newline;
 * the caller prints it to stderr and exits with s->exit_code). Warnings
 * memcached prints and then carries on (-t above 64, deprecated options)
 * go to stderr. */
int settings_parse_args(struct settings *s, int argc, char **argv, char *err, size_t errlen);

/* Like settings_parse_args() for a command line of just `--config path`
 * (for reloads and tools); -h/-V/-i in the file return 1 after printing. */
int settings_parse_file(struct settings *s, const char *path, char *err, size_t errlen);

/* memcached's startup rule: a process running as root must have -u.
 * 0 if fine, -1 with "can't run as root without the -u switch" (exit 64). */
int settings_check_user(const struct settings *s, char *err, size_t errlen);

/* The -h text: memcached's option list, then Tandem's. */
void settings_usage(FILE *out);

/* The -V line: "memcached 1.6.18 (tandemd 0.1.0)". */
void settings_version(FILE *out);

/* The -i text: the licence. */
void settings_license(FILE *out);

/* The body of `stats settings`: memcached 1.6.18's lines, in its order and
 * value formats, without the final END. */
void settings_write_stats(struct buf *out, const struct settings *s);

/* Tandem's own settings as STAT lines (never the password), for the caller
 * to append where it wants them. */
void settings_write_stats_tandem(struct buf *out, const struct settings *s);

/* Name of a hash algorithm as `stats settings` prints it. */
const char *settings_hash_name(enum settings_hash h);

#endif
