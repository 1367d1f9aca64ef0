/* Unit tests for the node ends of backup and restore against canned
 * replies: the mg requests a fetch batch sends and how it files the
 * replies (TTL to absolute exptime, version from CAS or the backup's,
 * binary keys, misses, a reply for the wrong key); the ms and apply
 * batches a restore sends and how it counts their replies; the apply
 * probe. The replies are written into a socketpair before the call, so
 * no thread is needed (everything fits the socket buffers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include "ctl/fetch.h"
#include "ctl/put.h"
#include "repl/frame.h"

struct rig {
    struct ctl_conn *c;
    int peer;
};

/* A connection whose peer has already answered `replies`. */
static void rig_start(struct rig *r, const char *replies, size_t n)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    r->c = malloc(sizeof(*r->c));
    assert_non_null(r->c);
    ctl_conn_attach(r->c, sv[0], "test-peer", 2000);
    r->peer = sv[1];
    assert_int_equal(write(r->peer, replies, n), (ssize_t)n);
}

/* What tandemctl sent, NUL-terminated (the caller frees it). */
static char *sent(struct rig *r, size_t *n)
{
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    ssize_t k = recv(r->peer, buf, (1 << 20) - 1, MSG_DONTWAIT);
    assert_true(k >= 0);
    buf[k] = '\0';
    if (n)
        *n = (size_t)k;
    return buf;
}

static void rig_stop(struct rig *r)
{
    ctl_conn_close(r->c);
    close(r->peer);
    free(r->c);
}

/* --- fetch ---------------------------------------------------------------- */

struct got {
    struct xfer_item it[8];
    char keys[8][16], values[8][16];
    int n;
};

static bool keep(void *arg, const struct xfer_item *it)
{
    struct got *g = arg;
    assert_true(g->n < 8 && it->nkey < 16 && it->nvalue < 16);
    g->it[g->n] = *it;
    memcpy(g->keys[g->n], it->key, it->nkey);
    memcpy(g->values[g->n], it->value, it->nvalue);
    g->it[g->n].key = g->keys[g->n];
    g->it[g->n].value = g->values[g->n];
    g->n++;
    return true;
}

static void test_fetch_batch(void **state)
{
    (void)state;
    static const char replies[] = "VA 3 f7 t-1 c99 kfoo\r\nabc\r\n"
                                  "EN\r\n"
                                  "VA 2 f4294967295 t100 c5 kAAE= b\r\nxy\r\n"
                                  "VA 0 f0 t0 c6 kempty\r\n\r\n";
    struct rig r;
    struct got g = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_fetch f = {.conn = r.c, .tandem = true, .fn = keep, .arg = &g};
    struct ctl_keyref keys[] = {{"foo", 3}, {"gone", 4}, {"\x00\x01", 2}, {"empty", 5}};
    uint32_t before = xfer_now();
    assert_int_equal(ctl_fetch_batch(&f, keys, 4), CTL_OK);
    char *req = sent(&r, NULL);
    assert_string_equal(req, "mg foo v f t c k\r\nmg gone v f t c k\r\n"
                             "mg AAE= b v f t c k\r\nmg empty v f t c k\r\n");
    assert_int_equal(g.n, 3);
    assert_int_equal(f.missing, 1);
    assert_memory_equal(g.it[0].key, "foo", 3);
    assert_int_equal(g.it[0].nvalue, 3);
    assert_memory_equal(g.it[0].value, "abc", 3);
    assert_int_equal(g.it[0].flags, 7);
    assert_int_equal(g.it[0].exptime, 0); /* t-1: never */
    assert_int_equal(g.it[0].version, 99);
    assert_false(g.it[0].binary_key);
    assert_int_equal(g.it[1].nkey, 2);
    assert_memory_equal(g.it[1].key, "\x00\x01", 2);
    assert_true(g.it[1].binary_key);
    assert_true(g.it[1].flags == UINT32_MAX);
    assert_true(g.it[1].exptime >= before + 100 && g.it[1].exptime <= xfer_now() + 100);
    assert_int_equal(g.it[2].nvalue, 0);
    free(req);
    ctl_fetch_free(&f);
    rig_stop(&r);
}

static void test_fetch_memcached_versions(void **state)
{
    (void)state;
    static const char replies[] = "VA 1 f0 t-1 c1 ka\r\n1\r\nVA 1 f0 t-1 c2 kb\r\n2\r\n";
    struct rig r;
    struct got g = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_fetch f = {.conn = r.c, .tandem = false, .version = 12345, .fn = keep, .arg = &g};
    struct ctl_keyref keys[] = {{"a", 1}, {"b", 1}};
    assert_int_equal(ctl_fetch_batch(&f, keys, 2), CTL_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.it[0].version, 12345); /* memcached's CAS is not a version */
    assert_int_equal(g.it[1].version, 12345);
    free(sent(&r, NULL));
    ctl_fetch_free(&f);
    rig_stop(&r);
}

static void test_fetch_reply_for_another_key(void **state)
{
    (void)state;
    static const char replies[] = "VA 1 f0 t-1 c1 kb\r\n1\r\n";
    struct rig r;
    struct got g = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_fetch f = {.conn = r.c, .tandem = true, .fn = keep, .arg = &g};
    struct ctl_keyref keys[] = {{"a", 1}};
    assert_int_equal(ctl_fetch_batch(&f, keys, 1), CTL_EPROTO);
    assert_non_null(strstr(r.c->err, "out of step"));
    assert_int_equal(g.n, 0);
    free(sent(&r, NULL));
    ctl_fetch_free(&f);
    rig_stop(&r);
}

/* --- put: memcached ---------------------------------------------------------- */

static void test_put_ms_add(void **state)
{
    (void)state;
    static const char replies[] = "HD\r\nNS\r\nSERVER_ERROR object too large for cache\r\n";
    struct rig r;
    struct ctl_counts counts = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_put p = {.conn = r.c, .mode = CTL_PUT_ADD, .counts = &counts};
    uint32_t now = 1800000000u;
    struct xfer_item a = {.key = "foo", .nkey = 3, .value = "abc", .nvalue = 3, .flags = 7,
                          .exptime = now + 100};
    struct xfer_item b = {.key = "a b", .nkey = 3, .value = "", .nvalue = 0,
                          .exptime = now + 40 * 86400}; /* beyond 30 days: absolute */
    struct xfer_item c = {.key = "plain", .nkey = 5, .value = "x", .nvalue = 1,
                          .binary_key = true};
    assert_int_equal(ctl_put_item(&p, &a, now), CTL_OK);
    assert_int_equal(ctl_put_item(&p, &b, now), CTL_OK);
    assert_int_equal(ctl_put_item(&p, &c, now), CTL_OK);
    assert_int_equal(ctl_put_flush(&p), CTL_OK);
    char *req = sent(&r, NULL);
    char want[300];
    snprintf(want, sizeof(want), "ms foo 3 F7 T100 ME\r\nabc\r\nms YSBi 0 b F0 T%u ME\r\n\r\n"
             "ms cGxhaW4= 1 b F0 ME\r\nx\r\n", now + 40 * 86400);
    assert_string_equal(req, want);
    assert_int_equal(counts.items, 1);
    assert_int_equal(counts.kept, 1);
    assert_int_equal(counts.refused, 1);
    assert_string_equal(p.refusal, "SERVER_ERROR object too large for cache");
    free(req);
    ctl_put_free(&p);
    rig_stop(&r);
}

/* --- put: apply ------------------------------------------------------------------ */

static void test_put_apply(void **state)
{
    (void)state;
    static const char replies[] = "APPLIED 1 1\r\nSERVER_ERROR 1 records not stored (too large "
                                  "or out of memory); the others were applied\r\n";
    struct rig r;
    struct ctl_counts counts = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_put p = {.conn = r.c, .mode = CTL_PUT_APPLY, .counts = &counts};
    struct xfer_item a = {.key = "k1", .nkey = 2, .value = "v1", .nvalue = 2, .flags = 9,
                          .exptime = 1900000000u, .version = (5ull << 22) | 3};
    struct xfer_item t = {.kind = XFER_TOMB, .key = "\xff", .nkey = 1, .version = 77,
                          .binary_key = true};
    assert_int_equal(ctl_put_item(&p, &a, 0), CTL_OK);
    assert_int_equal(ctl_put_item(&p, &t, 0), CTL_OK);
    assert_int_equal(ctl_put_flush(&p), CTL_OK);
    assert_int_equal(counts.items, 1);
    assert_int_equal(counts.ignored, 1);

    size_t n;
    char *req = sent(&r, &n);
    unsigned len;
    int head;
    assert_int_equal(sscanf(req, "apply %u\r\n%n", &len, &head), 1);
    assert_int_equal((size_t)head + len + 2, n);
    assert_memory_equal(req + head + len, "\r\n", 2);
    struct frame f;
    assert_int_equal(frame_decode(req + head, len, &f), FRAME_OK);
    assert_int_equal(f.type, FRAME_SET);
    assert_memory_equal(f.rec.key, "k1", 2);
    assert_memory_equal(f.rec.value, "v1", 2);
    assert_int_equal(f.rec.flags, 9);
    assert_int_equal(f.rec.exptime, 1900000000u);
    assert_true(f.rec.version == ((5ull << 22) | 3));
    assert_int_equal(f.rec.origin, 3); /* the node that stamped the version */
    size_t first = f.size;
    assert_int_equal(frame_decode(req + head + first, len - first, &f), FRAME_OK);
    assert_int_equal(f.type, FRAME_TOMB);
    assert_true(f.rec.binary_key);
    assert_int_equal(f.rec.version, 77);
    assert_int_equal(first + f.size, len);
    free(req);

    /* a batch the node could only partly store */
    assert_int_equal(ctl_put_item(&p, &a, 0), CTL_OK);
    assert_int_equal(ctl_put_item(&p, &a, 0), CTL_OK);
    assert_int_equal(ctl_put_flush(&p), CTL_OK);
    assert_int_equal(counts.refused, 1);
    assert_int_equal(counts.items, 2);
    assert_non_null(strstr(p.refusal, "1 records not stored"));
    free(sent(&r, NULL));
    ctl_put_free(&p);
    rig_stop(&r);
}

static void test_put_apply_refused(void **state)
{
    (void)state;
    static const char replies[] = "CLIENT_ERROR bad frame at offset 10: CRC32C mismatch\r\n";
    struct rig r;
    struct ctl_counts counts = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_put p = {.conn = r.c, .mode = CTL_PUT_APPLY, .counts = &counts};
    struct xfer_item a = {.key = "k", .nkey = 1, .value = "v", .nvalue = 1, .version = 1};
    assert_int_equal(ctl_put_item(&p, &a, 0), CTL_OK);
    assert_int_equal(ctl_put_flush(&p), CTL_EREFUSED);
    assert_non_null(strstr(r.c->err, "the server answered 'apply "));
    assert_non_null(strstr(r.c->err, "bad frame at offset 10"));
    free(sent(&r, NULL));
    ctl_put_free(&p);
    rig_stop(&r);
}

/* Records the node could not store are counted as refused; the rest of the
 * batch as the node split it into newer (applied) and ignored. */
static void test_put_apply_partly_stored(void **state)
{
    (void)state;
    static const char replies[] = "SERVER_ERROR 1 records not stored (too large or out of "
                                  "memory); 1 newer applied, 2 older ignored\r\n";
    struct rig r;
    struct ctl_counts counts = {0};
    rig_start(&r, replies, strlen(replies));
    struct ctl_put p = {.conn = r.c, .mode = CTL_PUT_APPLY, .counts = &counts};
    const char *keys[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        struct xfer_item it = {.key = keys[i], .nkey = 1, .value = "v", .nvalue = 1, .version = 1};
        assert_int_equal(ctl_put_item(&p, &it, 0), CTL_OK);
    }
    assert_int_equal(ctl_put_flush(&p), CTL_OK);
    assert_int_equal(counts.refused, 1);
    assert_int_equal(counts.items, 1);
    assert_int_equal(counts.ignored, 2);
    free(sent(&r, NULL));
    ctl_put_free(&p);
    rig_stop(&r);
}

static void test_apply_probe(void **state)
{
    (void)state;
    static const struct {
        const char *replies;
        bool yes;
    } cases[] = {
        {"APPLIED 0 0\r\nMN\r\n", true},
        {"ERROR\r\nERROR\r\nMN\r\n", false}, /* a server without apply */
        {"CLIENT_ERROR bad data chunk\r\nMN\r\n", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rig r;
        bool yes = !cases[i].yes;
        rig_start(&r, cases[i].replies, strlen(cases[i].replies));
        assert_int_equal(ctl_put_has_apply(r.c, &yes), CTL_OK);
        assert_int_equal(yes, cases[i].yes);
        char *req = sent(&r, NULL);
        assert_string_equal(req, "apply 0\r\n\r\nmn\r\n");
        free(req);
        rig_stop(&r);
    }
}

static void test_parse_applied(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_true(ctl_put_parse_applied("APPLIED 3 4", 11, &a, &b));
    assert_int_equal(a, 3);
    assert_int_equal(b, 4);
    assert_false(ctl_put_parse_applied("APPLIED 3", 9, &a, &b));
    assert_false(ctl_put_parse_applied("APPLIED 3 4 5", 13, &a, &b));
    assert_false(ctl_put_parse_applied("APPLIEDX 3 4", 12, &a, &b));
    assert_false(ctl_put_parse_applied("STORED", 6, &a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_batch),
        cmocka_unit_test(test_fetch_memcached_versions),
        cmocka_unit_test(test_fetch_reply_for_another_key),
        cmocka_unit_test(test_put_ms_add),
        cmocka_unit_test(test_put_apply),
        cmocka_unit_test(test_put_apply_refused),
        cmocka_unit_test(test_put_apply_partly_stored),
        cmocka_unit_test(test_apply_probe),
        cmocka_unit_test(test_parse_applied),
    };
    return cmocka_run_group_tests_name("ctl_backup", tests, NULL, NULL);
}
