/*
 * ring: which server owns a key (DESIGN §6, shared/reference/ketama.md).
 *
 * Ketama is bit-compatible with libmemcached 1.1.4's weighted ketama (and so
 * with twemproxy's `distribution: ketama` and php-memcached's
 * OPT_LIBKETAMA_COMPATIBLE); modula and random are twemproxy's. The key
 * hashes are twemproxy's set, by their YAML names.
 *
 * A ring is immutable once built: tandem-proxy builds a new one when the
 * live server set changes and swaps it in, so lookups need no lock.
 *
 * Thread safety: no state beyond the ring (random keeps a generator per
 * thread); lookups may run on any thread.
 */
#ifndef TANDEM_CLUSTER_RING_H
#define TANDEM_CLUSTER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ring_hash {
    RING_HASH_ONE_AT_A_TIME,
    RING_HASH_MD5,
    RING_HASH_CRC16,
    RING_HASH_CRC32,  /* twemproxy's crc32: the high 15 bits as libmemcached's */
    RING_HASH_CRC32A, /* plain crc32 */
    RING_HASH_FNV1_64,
    RING_HASH_FNV1A_64,
    RING_HASH_FNV1_32,
    RING_HASH_FNV1A_32,
    RING_HASH_HSIEH,
    RING_HASH_MURMUR,
    RING_HASH_JENKINS,
};

enum ring_dist { RING_KETAMA, RING_MODULA, RING_RANDOM };

/* One server as configured: "host:port:weight [name]". */
struct ring_server {
    const char *host;
    int port;
    unsigned weight;     /* >= 1 */
    const char *name;    /* twemproxy's optional name: hashed instead of host[:port]; may be NULL */
};

struct ring;

/* The port left out of a server's ketama label ("host" rather than
 * "host:11211"), as libmemcached and twemproxy do. */
#define RING_LABEL_DEFAULT_PORT 11211

/* Parse a hash or distribution name as written in a YAML pool ("fnv1a_64",
 * "ketama"); false if unknown. */
bool ring_hash_parse(const char *s, enum ring_hash *out);
bool ring_dist_parse(const char *s, enum ring_dist *out);
const char *ring_hash_name(enum ring_hash h);
const char *ring_dist_name(enum ring_dist d);
/* All hash names, comma-separated, for error messages. */
const char *ring_hash_names(void);

/* The 32-bit hash of a key (bytes >= 0x80 are read as signed char where
 * twemproxy and libmemcached do; see hash.c). */
uint32_t ring_hash_key(enum ring_hash h, const char *key, size_t nkey);

/* Build a ring over n servers (order matters, as in libmemcached). The
 * servers' strings are copied. NULL if out of memory or n == 0. */
struct ring *ring_new(enum ring_dist dist, enum ring_hash hash, const struct ring_server *s,
                      size_t n);
void ring_free(struct ring *r);

/* Index (into the array given to ring_new) of the server that owns key. An
 * empty key hashes to 0 (twemproxy); a one-server ring always answers 0. */
size_t ring_lookup(const struct ring *r, const char *key, size_t nkey);

/* The key's owner and the next distinct servers clockwise (ketama) or in
 * index order (modula): up to `want` server indexes into out, owner first.
 * Returns how many (min(want, servers)). A ketama server whose weight is
 * too small to earn a point owns no key and comes last. */
size_t ring_successors(const struct ring *r, const char *key, size_t nkey, size_t *out,
                       size_t want);

/* The continuum, for tests and `tandemctl ring --continuum`: point i's
 * value and server index; ring_points is 0 for modula and random. */
size_t ring_points(const struct ring *r);
void ring_point(const struct ring *r, size_t i, uint32_t *value, size_t *server);

/* How many servers the ring was built over. */
size_t ring_nservers(const struct ring *r);

/* Server i's label: the string its ketama points hash ("name", "host" or
 * "host:port"). */
const char *ring_label(const struct ring *r, size_t i);

/* Ketama points for a server of `weight` among `nservers` weighing
 * `total_weight` in all: a multiple of 4 (libmemcached's float32 formula). */
unsigned ring_ketama_points(unsigned weight, unsigned long total_weight, size_t nservers);

#endif
