/*
 * proxy/conf: twemproxy's YAML pool file, plus Tandem's replica keys.
 *
 * A file is a mapping of pool names to pools; a nutcracker.yml runs
 * unchanged. Each pool listens on its own address and routes by key to its
 * servers:
 *
 *     alpha:
 *       listen: 127.0.0.1:22121
 *       hash: md5                  # twemproxy's names (ring_hash_parse)
 *       distribution: ketama       # ketama | modula | random
 *       servers:
 *        - 127.0.0.1:11211:1         # host:port:weight [name]
 *        - 127.0.0.1:11212:1 cache2
 *       replicas: 2                # Tandem: copies of each key (ring successors)
 *       balance: round-robin       # Tandem: which copy serves a read
 *       read_from: any             # Tandem: any | primary
 *
 * conf_parse() checks everything a running proxy would trip over later and
 * names the line (libyaml's marks are 0-based; messages are 1-based), the
 * key and what was expected. It never exits: the caller prints the error.
 */
#ifndef TANDEM_PROXY_CONF_H
#define TANDEM_PROXY_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/ring.h"

enum conf_status {
    CONF_OK,
    CONF_EIO,     /* the file could not be read */
    CONF_ESYNTAX, /* not YAML, or not the shape of a pool file */
    CONF_EVALUE,  /* a key has a value out of range or of the wrong kind */
    CONF_ENOMEM,
};

enum conf_balance { BALANCE_ROUND_ROBIN, BALANCE_LEAST_CONN, BALANCE_HASH };
enum conf_read_from { READ_FROM_ANY, READ_FROM_PRIMARY };

struct conf_server {
    char *host;       /* TCP host, or NULL for a UNIX socket */
    int port;
    char *path;       /* UNIX socket path, or NULL */
    unsigned weight;
    char *name;       /* optional name (hashed instead of host[:port]), or NULL */
    char *label;      /* "host:port" or the path: how messages and stats name it */
    int line;
};

struct conf_pool {
    char *name;
    int line;
    char *listen_host;    /* NULL with a UNIX listener */
    int listen_port;
    char *listen_path;
    int listen_perm;      /* octal permission of the UNIX socket, -1 = default */
    enum ring_hash hash;
    enum ring_dist dist;
    char hash_tag[2];     /* opening and closing bytes; 0 = none */
    int timeout_ms;       /* -1 = wait for ever (twemproxy's default) */
    int backlog;
    int client_connections; /* 0 = unlimited */
    int server_connections;
    bool preconnect;
    bool auto_eject_hosts;
    int server_retry_timeout_ms;
    int server_failure_limit;
    bool tcpkeepalive;
    unsigned replicas;
    enum conf_balance balance;
    enum conf_read_from read_from;
    bool failover_on_miss;
    struct conf_server *servers;
    size_t nservers;
};

struct conf {
    struct conf_pool *pools;
    size_t npools;
};

/* Parse a pool file held in memory. On failure, err holds "line N: ...". */
enum conf_status conf_parse(const char *text, size_t len, struct conf *out, char *err,
                            size_t errlen);

/* Read and parse a file; errors are prefixed with its path. */
enum conf_status conf_load(const char *path, struct conf *out, char *err, size_t errlen);

void conf_free(struct conf *c);

const char *conf_balance_name(enum conf_balance b);

#endif
