/*
 * detail: `stats detail` per-prefix counters (memcached's -D option).
 *
 * When enabled, every get/set/delete is counted under the key's prefix: the
 * part before the first delimiter character (-D, default ':'). Keys without
 * the delimiter are not counted, as in memcached. This is a debugging aid
 * and off by default, so a mutex-protected list is good enough.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/settings.h"

#define DETAIL_MAX_PREFIXES 4096

struct prefix {
    struct prefix *next;
    uint64_t get, hit, set, del;
    size_t n;
    char name[];
};

/* Shared by all workers while `stats detail on`; guarded by `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix *prefixes;
static size_t nprefixes;

static struct prefix *find(const char *p, size_t n)
{
    for (struct prefix *x = prefixes; x; x = x->next)
        if (x->n == n && memcmp(x->name, p, n) == 0)
            return x;
    if (nprefixes >= DETAIL_MAX_PREFIXES)
        return NULL;
    struct prefix *x = calloc(1, sizeof(*x) + n + 1);
    if (!x)
        return NULL;
    memcpy(x->name, p, n);
    x->n = n;
    x->next = prefixes;
    prefixes = x;
    nprefixes++;
    return x;
}

void cmd_detail_record(struct server *srv, const char *key, size_t nkey, enum cmd_detail_op op,
                       bool hit)
{
    if (!atomic_load_explicit(&srv->detail_enabled, memory_order_relaxed))
        return;
    const char *d = memchr(key, srv->settings->prefix_delimiter, nkey);
    if (!d)
        return;
    pthread_mutex_lock(&lock);
    struct prefix *x = find(key, (size_t)(d - key));
    if (x) {
        if (op == CMD_DETAIL_GET) {
            x->get++;
            x->hit += hit;
        } else if (op == CMD_DETAIL_SET) {
            x->set++;
        } else {
            x->del++;
        }
    }
    pthread_mutex_unlock(&lock);
}

void cmd_detail_dump(struct server *srv, struct buf *out)
{
    (void)srv;
    pthread_mutex_lock(&lock);
    for (struct prefix *x = prefixes; x; x = x->next)
        buf_printf(out, "PREFIX %s get %llu hit %llu set %llu del %llu\r\n", x->name,
                   (unsigned long long)x->get, (unsigned long long)x->hit,
                   (unsigned long long)x->set, (unsigned long long)x->del);
    pthread_mutex_unlock(&lock);
    buf_append(out, "END\r\n", 5);
}
