/*
 * ctl/ring: `tandemctl ring --servers LIST [--hash H] [--distribution D]
 *            [--replicas N] [--continuum | --shares] [KEY...]`.
 *
 * Server-side sharding without a proxy: which server owns each key under
 * the ring a libmemcached / php-memcached / twemproxy client builds over
 * the same list. Nothing is contacted; the answer is pure arithmetic
 * (cluster/ring.h), so it can be scripted and diffed.
 *
 * Output is one line per key, "KEY OWNER [NEXT...]", the format of the
 * libmemcached ground-truth files, so `tandemctl ring ... < keys` can be
 * compared with another client's placement line by line. --continuum
 * prints the ring's points as "%10u host:port" (the ground-truth continuum
 * format); --shares prints each server's points and share of the hash
 * space, to see what a weight change does before making it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/ringspec.h"

#define LINE_MAX_KEY 4096 /* longest stdin line taken as a key */

struct ring_args {
    const char *servers;
    struct ctl_ring_opts ring;
    unsigned long replicas;
    bool continuum, shares, help;
    char **keys;
    int nkeys;
};

/* --- output ------------------------------------------------------------------ */

static void print_owners(const struct ring *r, const struct ctl_ring_list *l, const char *key,
                         size_t n, size_t *out, size_t want)
{
    size_t got = ring_successors(r, key, n, out, want);
    ctl_print_key(key, n);
    for (size_t i = 0; i < got; i++)
        printf(" %s", l->addr[out[i]]);
    putchar('\n');
}

static void print_continuum(const struct ring *r, const struct ctl_ring_list *l)
{
    for (size_t i = 0; i < ring_points(r); i++) {
        uint32_t v;
        size_t s;
        ring_point(r, i, &v, &s);
        printf("%10u %s\n", v, l->addr[s]);
    }
}

/* Each point owns the arc from the previous point (exclusive) up to itself;
 * the first point also owns the wrap-around arc above the last. */
static void print_shares(const struct ring *r, const struct ctl_ring_list *l,
                         const struct ctl_ring_opts *o)
{
    size_t n = l->n, np = ring_points(r);
    double *share = calloc(n, sizeof(*share));
    size_t *points = calloc(n, sizeof(*points));
    unsigned long total_weight = 0;
    for (size_t i = 0; i < n; i++)
        total_weight += l->servers[i].weight;
    if (!share || !points) {
        fprintf(stderr, "tandemctl ring: out of memory\n");
    } else {
        uint32_t prev = 0;
        for (size_t i = 0; i < np; i++) {
            uint32_t v;
            size_t s;
            ring_point(r, i, &v, &s);
            share[s] += (double)(v - prev);
            points[s]++;
            prev = v;
        }
        if (np) { /* the wrap: above the last point, to the first point's server */
            uint32_t v;
            size_t s;
            ring_point(r, 0, &v, &s);
            share[s] += 4294967296.0 - (double)prev;
        }
        printf("%-24s %7s %7s %8s\n", "server", "weight", "points", "share");
        for (size_t i = 0; i < n; i++) {
            double pct = o->dist == RING_KETAMA ? 100.0 * share[i] / 4294967296.0
                       : o->dist == RING_MODULA ? 100.0 * l->servers[i].weight / total_weight
                                                : 100.0 / (double)n;
            printf("%-24s %7u %7zu %7.2f%%\n", l->addr[i], l->servers[i].weight, points[i], pct);
        }
    }
    free(share);
    free(points);
}

/* Keys from stdin, one a line (a trailing "\r" is dropped); false on a line
 * too long to be a key. */
static bool keys_from_stdin(const struct ring *r, const struct ctl_ring_list *l, size_t *out,
                            size_t want)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (len > LINE_MAX_KEY) {
            fprintf(stderr, "tandemctl ring: stdin line %lu is %zd bytes: not a key\n",
                    lineno, len);
            ok = false;
        } else {
            print_owners(r, l, line, (size_t)len, out, want);
        }
    }
    free(line);
    return ok;
}

/* --- the command ------------------------------------------------------------------ */

static bool parse_args(int argc, char **argv, struct ring_args *a)
{
    *a = (struct ring_args){.ring = {RING_KETAMA, RING_HASH_MD5}, .replicas = 1,
                            .keys = argv + 1};
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int rc;
        if (!options || arg[0] != '-' || arg[1] == '\0') {
            a->keys[a->nkeys++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options = false;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
        } else if (strcmp(arg, "--continuum") == 0) {
            a->continuum = true;
        } else if (strcmp(arg, "--shares") == 0) {
            a->shares = true;
        } else if ((rc = ctl_opt_value("ring", "--servers", argc, argv, &i, &v)) != 0) {
            if (rc < 0)
                return false;
            a->servers = v;
        } else if ((rc = ctl_opt_value("ring", "--replicas", argc, argv, &i, &v)) != 0) {
            char *end;
            if (rc < 0)
                return false;
            a->replicas = strtoul(v, &end, 10);
            if (*end || a->replicas < 1 || a->replicas > 1000 || v[0] == '-') {
                ctl_usage_error("ring", "--replicas needs a number from 1 up, got '%s'", v);
                return false;
            }
        } else if ((rc = ctl_ring_opt("ring", argc, argv, &i, &a->ring)) != 0) {
            if (rc < 0)
                return false;
        } else {
            ctl_usage_error("ring", "unknown option '%s'", arg);
            return false;
        }
    }
    return true;
}

static int run_ring(int argc, char **argv)
{
    struct ring_args a;
    if (!parse_args(argc, argv, &a))
        return CTL_EXIT_ERROR;
    if (a.help) {
        fputs(ctl_ring_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (!a.servers) {
        ctl_usage_error("ring", "needs --servers HOST:PORT[:WEIGHT],...");
        return CTL_EXIT_ERROR;
    }
    if ((a.continuum || a.shares) && a.nkeys) {
        ctl_usage_error("ring", "--continuum and --shares take no keys");
        return CTL_EXIT_ERROR;
    }
    if (a.continuum && a.ring.dist != RING_KETAMA) {
        ctl_usage_error("ring", "--continuum needs --distribution ketama (%s has no points)",
                        ring_dist_name(a.ring.dist));
        return CTL_EXIT_ERROR;
    }
    struct ctl_ring_list l;
    if (!ctl_ring_list_parse("ring", "--servers", a.servers, &l))
        return CTL_EXIT_ERROR;
    if (a.replicas > l.n) {
        ctl_usage_error("ring", "--replicas %lu is more than the number of servers listed (%zu)",
                        a.replicas, l.n);
        ctl_ring_list_free(&l);
        return CTL_EXIT_ERROR;
    }
    int rc = CTL_EXIT_ERROR;
    struct ring *r = ctl_ring_build("ring", &a.ring, &l);
    size_t *out = calloc(a.replicas, sizeof(*out));
    if (r && out) {
        rc = CTL_EXIT_OK;
        if (a.continuum)
            print_continuum(r, &l);
        else if (a.shares)
            print_shares(r, &l, &a.ring);
        else if (a.nkeys == 0)
            rc = keys_from_stdin(r, &l, out, a.replicas) ? CTL_EXIT_OK : CTL_EXIT_ERROR;
        for (int i = 0; i < a.nkeys; i++)
            print_owners(r, &l, a.keys[i], strlen(a.keys[i]), out, a.replicas);
    } else if (!out) {
        fprintf(stderr, "tandemctl ring: out of memory\n");
    }
    free(out);
    ring_free(r);
    ctl_ring_list_free(&l);
    return rc;
}

const struct ctl_command ctl_ring_command = {
    .name = "ring",
    .summary = "show which server owns each key (ketama or modula)",
    .help =
        "usage: tandemctl ring --servers HOST:PORT[:WEIGHT],... [--hash H]\n"
        "                      [--distribution D] [--replicas N] [KEY...]\n"
        "       tandemctl ring --servers ... --continuum | --shares\n"
        "\n"
        "Print, for each KEY (or each line of stdin when no KEY is given), the\n"
        "server that owns it: \"KEY HOST:PORT\". The default ring is weighted ketama\n"
        "with MD5, placement for placement the ring of libmemcached's\n"
        "KETAMA_WEIGHTED, php-memcached's OPT_LIBKETAMA_COMPATIBLE and twemproxy's\n"
        "`distribution: ketama` + `hash: md5` over the same list. No server is\n"
        "contacted.\n"
        "\n"
        "Servers are [NAME=]HOST[:PORT[:WEIGHT]] ([V6ADDR]:PORT for IPv6), in the\n"
        "order the clients list them; PORT defaults to 11211 and WEIGHT to 1.\n"
        "Hosts are compared as text: write them as the clients do. A server on\n"
        "port 11211 hashes as \"HOST\", others as \"HOST:PORT\"; NAME (twemproxy's\n"
        "\"host:port:weight name\") is hashed instead when given.\n"
        "\n"
        "  --hash H          key hash: one_at_a_time, md5 (default), crc16, crc32,\n"
        "                    crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh,\n"
        "                    murmur, jenkins (twemproxy's names; its default is\n"
        "                    fnv1a_64, which libmemcached clients do not use)\n"
        "  --distribution D  ketama (default), modula, random\n"
        "  --replicas N      also print the next N-1 distinct servers clockwise:\n"
        "                    where tandem-proxy's `replicas: N` keeps the copies\n"
        "  --continuum       print the ring's points, \"VALUE HOST:PORT\", ascending\n"
        "  --shares          print each server's weight, points and share of keys\n"
        "\n"
        "Keys with spaces, control or non-ASCII bytes or '%' print those bytes as\n"
        "%XX. Exit status: 0, or 1 on bad usage.\n",
    .run = run_ring,
};
