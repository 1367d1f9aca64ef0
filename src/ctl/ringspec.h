/*
 * ctl/ringspec: the server lists and ring options that `tandemctl ring` and
 * `tandemctl rebalance` share.
 *
 * A server list is comma-separated entries, each
 *
 *     [NAME=]HOST[:PORT[:WEIGHT]]      or   [NAME=][V6ADDR]:PORT[:WEIGHT]
 *
 * PORT defaults to 11211 and WEIGHT to 1, as in twemproxy's `servers:` lines
 * ("host:port:weight name"); NAME is twemproxy's optional server name, which
 * ketama then hashes instead of "host" / "host:port". Hosts are kept as
 * typed, never resolved: the ring hashes the text, so "localhost" and
 * "127.0.0.1" are different servers to it, exactly as to libmemcached.
 */
#ifndef TANDEM_CTL_RINGSPEC_H
#define TANDEM_CTL_RINGSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/ring.h"
#include "ctl/client.h"

struct ctl_ring_list {
    struct ring_server *servers; /* host and name point into storage below */
    char (*addr)[CTL_ADDR_MAX];  /* "host:port" ("[v6]:port"): to connect and print */
    size_t n;
    char *storage;
};

/* The ring choice; defaults: ketama, md5 (libmemcached-compatible). */
struct ctl_ring_opts {
    enum ring_dist dist;
    enum ring_hash hash;
};

/* Parse a server list given to option `opt` of command `cmd`; on an error
 * print a message naming the bad entry and return false. */
bool ctl_ring_list_parse(const char *cmd, const char *opt, const char *s,
                         struct ctl_ring_list *l);
void ctl_ring_list_free(struct ctl_ring_list *l);

/* Build the ring for a list (NULL, reported, when out of memory). */
struct ring *ctl_ring_build(const char *cmd, const struct ctl_ring_opts *o,
                            const struct ctl_ring_list *l);

/* If argv[*i] is `--name VALUE` or `--name=VALUE`: 1 with *value set (and
 * *i past a separate value), -1 (reported) if the value is missing, 0 if
 * argv[*i] is another argument. */
int ctl_opt_value(const char *cmd, const char *name, int argc, char **argv, int *i,
                  const char **value);

/* --hash NAME / --distribution NAME at argv[*i]: as ctl_opt_value, and -1
 * (reported with the valid names) for an unknown name. */
int ctl_ring_opt(const char *cmd, int argc, char **argv, int *i, struct ctl_ring_opts *o);

#endif
