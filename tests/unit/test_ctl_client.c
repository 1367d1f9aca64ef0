/* Unit tests for the tandemctl client library against a scripted peer: a
 * socketpair whose other end a thread feeds with canned replies. Covers line
 * reading across window boundaries, stats replies and their failures, a
 * streamed metadump larger than the read window, BUSY retries, pipelined mg
 * batches with values larger than the window, timeouts and connect errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include "ctl/client.h"
#include "ctl/metadump.h"
#include "ctl/stats.h"
#include "ctl/values.h"

/* The scripted peer: writes `data` (in `chunk`-byte sends if set), then
 * shuts down its write side if `hangup`. */
struct peer {
    int fd;
    const char *data;
    size_t n, chunk;
    bool hangup;
    pthread_t th;
};

static void *feed(void *arg)
{
    struct peer *p = arg;
    for (size_t off = 0; off < p->n;) {
        size_t k = p->chunk && p->chunk < p->n - off ? p->chunk : p->n - off;
        ssize_t w = send(p->fd, p->data + off, k, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (p->hangup)
        shutdown(p->fd, SHUT_WR);
    return NULL;
}

struct rig {
    struct ctl_conn *c;
    struct peer peer;
};

static void rig_start(struct rig *r, const char *data, size_t n, size_t chunk, bool hangup,
                      int timeout_ms)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    r->c = malloc(sizeof(*r->c));
    assert_non_null(r->c);
    ctl_conn_attach(r->c, sv[0], "test-peer", timeout_ms);
    r->peer = (struct peer){.fd = sv[1], .data = data, .n = n, .chunk = chunk, .hangup = hangup};
    assert_int_equal(pthread_create(&r->peer.th, NULL, feed, &r->peer), 0);
}

static void rig_stop(struct rig *r)
{
    ctl_conn_close(r->c); /* unblocks a feeder still writing */
    pthread_join(r->peer.th, NULL);
    close(r->peer.fd);
    free(r->c);
}

static void test_readline_crlf_lf_and_tiny_chunks(void **state)
{
    (void)state;
    static const char data[] = "one\r\ntwo\nthree\r\n\r\nEND\r\n";
    struct rig r;
    rig_start(&r, data, strlen(data), 1, true, 2000);
    const char *want[] = {"one", "two", "three", "", "END"};
    for (size_t i = 0; i < 5; i++) {
        char *line;
        size_t len;
        assert_int_equal(ctl_conn_readline(r.c, &line, &len), CTL_OK);
        assert_int_equal(len, strlen(want[i]));
        assert_string_equal(line, want[i]);
    }
    char *line;
    size_t len;
    assert_int_equal(ctl_conn_readline(r.c, &line, &len), CTL_ECLOSED);
    rig_stop(&r);
}

static void test_overlong_line_is_a_protocol_error(void **state)
{
    (void)state;
    size_t n = CTL_RBUF_SIZE + 100;
    char *data = malloc(n);
    memset(data, 'x', n);
    data[n - 1] = '\n';
    struct rig r;
    rig_start(&r, data, n, 0, true, 2000);
    char *line;
    size_t len;
    assert_int_equal(ctl_conn_readline(r.c, &line, &len), CTL_EPROTO);
    assert_non_null(strstr(r.c->err, "longer than"));
    rig_stop(&r);
    free(data);
}

static enum ctl_status stats_from(const char *reply, bool hangup, struct ctl_stats *st,
                                  char *err, bool *unknown)
{
    struct rig r;
    rig_start(&r, reply, strlen(reply), 0, hangup, 300);
    enum ctl_status rc = ctl_stats_fetch(r.c, "replication", st);
    snprintf(err, CTL_ERR_MAX, "%s", r.c->err);
    *unknown = r.c->unknown_cmd;
    rig_stop(&r);
    return rc;
}

static void test_stats_replies(void **state)
{
    (void)state;
    struct ctl_stats st = {0};
    char err[CTL_ERR_MAX];
    bool unknown;
    assert_int_equal(stats_from("STAT role peer\r\nSTAT upstream_0:last_error a b c\r\nEND\r\n",
                                false, &st, err, &unknown), CTL_OK);
    assert_string_equal(ctl_stats_get(&st, "role"), "peer");
    assert_string_equal(ctl_stats_get(&st, "upstream_0:last_error"), "a b c");
    ctl_stats_free(&st);

    /* stock memcached: the group does not exist */
    assert_int_equal(stats_from("ERROR\r\n", false, &st, err, &unknown), CTL_EREFUSED);
    assert_true(unknown);
    assert_non_null(strstr(err, "'stats replication'"));
    assert_int_equal(stats_from("CLIENT_ERROR unauthenticated\r\n", false, &st, err, &unknown),
                     CTL_EREFUSED);
    assert_false(unknown);
    /* -Y: say what to do, not only what the node said */
    assert_non_null(strstr(err, "asks for a login (it was started with -Y)"));
    assert_non_null(strstr(err, "TANDEM_AUTH_FILE"));

    assert_int_equal(stats_from("HTTP/1.1 400 Bad Request\r\n\r\n", false, &st, err, &unknown),
                     CTL_EPROTO);
    assert_non_null(strstr(err, "not a memcached protocol reply"));
    assert_non_null(strstr(err, "HTTP/1.1 400"));
    ctl_stats_free(&st);

    assert_int_equal(stats_from("STAT a 1\r\nSTAT b", true, &st, err, &unknown), CTL_ECLOSED);
    ctl_stats_free(&st);
    assert_int_equal(stats_from("STAT a 1\r\n", false, &st, err, &unknown), CTL_ETIMEOUT);
    assert_non_null(strstr(err, "no reply within 0.3 s"));
    ctl_stats_free(&st);
}

struct dumped {
    size_t n;
    uint64_t cas_sum;
    bool saw_binary;
    size_t stop_at; /* 0: never stop */
};

static bool count_item(void *arg, const struct ctl_meta *m)
{
    struct dumped *d = arg;
    d->n++;
    d->cas_sum += m->cas;
    if (m->nkey == 4 && memcmp(m->key, "a b\x01", 4) == 0)
        d->saw_binary = true;
    return d->stop_at == 0 || d->n < d->stop_at;
}

/* A dump of n items whose cas values are 1..n, plus one binary key. */
static char *make_dump(size_t n, const char *prefix, size_t *len)
{
    size_t cap = strlen(prefix) + (n + 2) * 120;
    char *s = malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "%s", prefix);
    for (size_t i = 1; i <= n; i++)
        o += (size_t)snprintf(s + o, cap - o,
                              "key=item%%3A%zu exp=-1 la=1700000000 cas=%zu fetch=no cls=1 "
                              "size=70\n", i, i);
    o += (size_t)snprintf(s + o, cap - o, "key=a%%20b%%01 exp=-1 la=1 cas=0 fetch=no cls=1 "
                                          "size=1\nEND\r\n");
    *len = o;
    return s;
}

static void test_metadump_streams_past_the_window(void **state)
{
    (void)state;
    size_t len, n = 30000; /* ~2 MB: thirty times the read window */
    char *dump = make_dump(n, "", &len);
    assert_true(len > 20 * CTL_RBUF_SIZE);
    struct rig r;
    rig_start(&r, dump, len, 0, false, 2000);
    struct dumped d = {0};
    assert_int_equal(ctl_metadump(r.c, count_item, &d), CTL_OK);
    assert_int_equal(d.n, n + 1);
    assert_true(d.cas_sum == (uint64_t)n * (n + 1) / 2);
    assert_true(d.saw_binary);
    rig_stop(&r);
    free(dump);
}

static void test_metadump_busy_is_retried(void **state)
{
    (void)state;
    size_t len;
    char *dump = make_dump(3, "BUSY currently processing crawler request\r\n", &len);
    struct rig r;
    rig_start(&r, dump, len, 0, false, 2000);
    struct dumped d = {0};
    assert_int_equal(ctl_metadump(r.c, count_item, &d), CTL_OK);
    assert_int_equal(d.n, 4);
    rig_stop(&r);
    free(dump);
}

static enum ctl_status dump_from(const char *reply, bool hangup, int timeout_ms, char *err,
                                 struct dumped *d)
{
    struct rig r;
    rig_start(&r, reply, strlen(reply), 0, hangup, timeout_ms);
    enum ctl_status rc = ctl_metadump(r.c, count_item, d);
    snprintf(err, CTL_ERR_MAX, "%s", r.c->err);
    rig_stop(&r);
    return rc;
}

static void test_metadump_failures(void **state)
{
    (void)state;
    char err[CTL_ERR_MAX];
    struct dumped d = {0};
    assert_int_equal(dump_from("ERROR metadump not allowed\r\n", false, 500, err, &d),
                     CTL_EREFUSED);
    assert_non_null(strstr(err, "metadump not allowed"));
    assert_int_equal(dump_from("key=a cas=1\nVALUE x 0 1\r\n", false, 500, err, &d), CTL_EPROTO);
    assert_non_null(strstr(err, "VALUE x 0 1"));
    assert_int_equal(dump_from("key=a cas=1\nkey=b cas=2\n", true, 500, err, &d), CTL_ECLOSED);
    assert_int_equal(dump_from("key=a cas=1\n", false, 100, err, &d), CTL_ETIMEOUT);
    char busy[400] = "";
    for (int i = 0; i < 40; i++) /* busy at every retry: give up after the timeout */
        strcat(busy, "BUSY\r\n");
    assert_int_equal(dump_from(busy, false, 100, err, &d), CTL_ETIMEOUT);
    assert_non_null(strstr(err, "crawler stayed busy"));
    struct dumped stop = {.stop_at = 1};
    assert_int_equal(dump_from("key=a cas=1\nEND\r\n", false, 500, err, &stop), CTL_ENOMEM);
}

static void test_values_batch(void **state)
{
    (void)state;
    size_t big = 3 * CTL_RBUF_SIZE + 17;
    char *blob = malloc(big);
    for (size_t i = 0; i < big; i++)
        blob[i] = (char)(i * 7);
    char *reply = malloc(big + 200);
    size_t o = (size_t)sprintf(reply, "VA 5 c9\r\nhello\r\nEN\r\nVA %zu f0 c3\r\n", big);
    memcpy(reply + o, blob, big);
    o += big;
    o += (size_t)sprintf(reply + o, "\r\nVA 0 c4\r\n\r\n");
    struct rig r;
    rig_start(&r, reply, o, 4096, false, 2000);
    struct ctl_keyref keys[] = {{"a", 1}, {"gone", 4}, {"big", 3}, {"empty", 5}};
    struct ctl_value v[4];
    assert_int_equal(ctl_values_fetch(r.c, keys, 4, v), CTL_OK);
    XXH128_hash_t h = XXH3_128bits("hello", 5);
    assert_true(v[0].found && v[0].len == 5 && v[0].cas == 9);
    assert_true(v[0].hash[0] == h.high64 && v[0].hash[1] == h.low64);
    assert_false(v[1].found);
    h = XXH3_128bits(blob, big);
    assert_true(v[2].found && v[2].len == big && v[2].cas == 3);
    assert_true(v[2].hash[0] == h.high64 && v[2].hash[1] == h.low64);
    assert_true(v[3].found && v[3].len == 0 && v[3].cas == 4);
    rig_stop(&r);
    free(reply);
    free(blob);
}

static void test_values_bad_replies(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "VA 3 c1\r\nabcX\r\n",       /* data not followed by CRLF */
        "CLIENT_ERROR bad key\r\n", /* refused */
        "VALUE a 0 1\r\na\r\n",     /* not a meta reply */
    };
    static const enum ctl_status want[] = {CTL_EPROTO, CTL_EREFUSED, CTL_EPROTO};
    for (size_t i = 0; i < 3; i++) {
        struct rig r;
        rig_start(&r, replies[i], strlen(replies[i]), 0, false, 500);
        struct ctl_keyref key = {"a", 1};
        struct ctl_value v;
        assert_int_equal(ctl_values_fetch(r.c, &key, 1, &v), want[i]);
        rig_stop(&r);
    }
}

static void test_open_errors(void **state)
{
    (void)state;
    struct ctl_conn *c = malloc(sizeof(*c));
    /* a listening socket: connect succeeds */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 4), 0);
    socklen_t sl = sizeof(sa);
    getsockname(l, (struct sockaddr *)&sa, &sl);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
    assert_int_equal(ctl_conn_open(c, addr, 1000), CTL_OK);
    ctl_conn_close(c);
    close(l); /* now nothing listens there */
    assert_int_equal(ctl_conn_open(c, addr, 1000), CTL_ECONNECT);
    assert_non_null(strstr(c->err, "connection refused"));
    assert_string_equal(c->addr, addr);
    assert_int_equal(ctl_conn_open(c, "127.0.0.1:99999", 1000), CTL_EADDR);
    assert_non_null(strstr(c->err, "HOST:PORT"));
    assert_int_equal(ctl_conn_open(c, "no-such-host.invalid:11211", 1000), CTL_EADDR);
    assert_non_null(strstr(c->err, "cannot resolve"));
    ctl_conn_close(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readline_crlf_lf_and_tiny_chunks),
        cmocka_unit_test(test_overlong_line_is_a_protocol_error),
        cmocka_unit_test(test_stats_replies),
        cmocka_unit_test(test_metadump_streams_past_the_window),
        cmocka_unit_test(test_metadump_busy_is_retried),
        cmocka_unit_test(test_metadump_failures),
        cmocka_unit_test(test_values_batch),
        cmocka_unit_test(test_values_bad_replies),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests_name("ctl_client", tests, NULL, NULL);
}
