/*
 * Unit tests for proxy/conf: twemproxy's pool file, our replica keys, and
 * the errors -t prints (line, key, what was expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/conf.h"

static char err[1024];

static enum conf_status parse(const char *text, struct conf *c)
{
    err[0] = 0;
    return conf_parse(text, strlen(text), c, err, sizeof(err));
}

static void expect_error(const char *text, enum conf_status st, const char *needle1,
                         const char *needle2)
{
    struct conf c;
    assert_int_equal(parse(text, &c), st);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, needle1, needle2 ? needle2 : "");
    assert_int_equal(c.npools, 0);
}

static void test_twemproxy_example_defaults(void **state)
{
    (void)state;
    struct conf c;
    assert_int_equal(parse("alpha:\n"
                           "  listen: 127.0.0.1:22121\n"
                           "  hash: fnv1a_64\n"
                           "  distribution: ketama\n"
                           "  auto_eject_hosts: true\n"
                           "  redis: false\n"
                           "  server_retry_timeout: 2000\n"
                           "  server_failure_limit: 1\n"
                           "  servers:\n"
                           "   - 127.0.0.1:11211:1\n"
                           "   - 127.0.0.1:11212:2 cache-b\n"
                           "gamma:\n"
                           "  listen: /tmp/gamma.sock 0666\n"
                           "  servers:\n"
                           "   - /tmp/mc.sock:1\n",
                           &c),
                     CONF_OK);
    assert_int_equal(c.npools, 2);
    const struct conf_pool *a = &c.pools[0];
    assert_string_equal(a->name, "alpha");
    assert_string_equal(a->listen_host, "127.0.0.1");
    assert_int_equal(a->listen_port, 22121);
    assert_int_equal(a->hash, RING_HASH_FNV1A_64);
    assert_int_equal(a->dist, RING_KETAMA);
    assert_true(a->auto_eject_hosts);
    assert_int_equal(a->server_retry_timeout_ms, 2000);
    assert_int_equal(a->server_failure_limit, 1);
    assert_int_equal(a->timeout_ms, -1);
    assert_int_equal(a->replicas, 1);
    assert_int_equal(a->balance, BALANCE_ROUND_ROBIN);
    assert_int_equal(a->nservers, 2);
    assert_string_equal(a->servers[0].host, "127.0.0.1");
    assert_int_equal(a->servers[0].port, 11211);
    assert_int_equal(a->servers[0].weight, 1);
    assert_null(a->servers[0].name);
    assert_string_equal(a->servers[1].name, "cache-b");
    assert_int_equal(a->servers[1].weight, 2);
    assert_string_equal(a->servers[1].label, "127.0.0.1:11212");
    assert_int_equal(a->servers[1].line, 11);
    const struct conf_pool *g = &c.pools[1];
    assert_string_equal(g->listen_path, "/tmp/gamma.sock");
    assert_int_equal(g->listen_perm, 0666);
    assert_string_equal(g->servers[0].path, "/tmp/mc.sock");
    assert_int_equal(g->hash, RING_HASH_FNV1A_64); /* twemproxy's default */
    conf_free(&c);
}

static void test_tandem_keys(void **state)
{
    (void)state;
    struct conf c;
    assert_int_equal(parse("p:\n"
                           "  listen: 0.0.0.0:1\n"
                           "  hash: md5\n"
                           "  hash_tag: \"{}\"\n"
                           "  replicas: 2\n"
                           "  balance: least-connections\n"
                           "  read_from: primary\n"
                           "  failover_on_miss: true\n"
                           "  timeout: 250\n"
                           "  servers: [a:1:1, b:2:1, c:3:1]\n",
                           &c),
                     CONF_OK);
    const struct conf_pool *p = &c.pools[0];
    assert_int_equal(p->replicas, 2);
    assert_int_equal(p->balance, BALANCE_LEAST_CONN);
    assert_int_equal(p->read_from, READ_FROM_PRIMARY);
    assert_true(p->failover_on_miss);
    assert_int_equal(p->timeout_ms, 250);
    assert_memory_equal(p->hash_tag, "{}", 2);
    assert_int_equal(p->nservers, 3);
    conf_free(&c);
}

static void test_errors_name_line_key_and_expectation(void **state)
{
    (void)state;
    expect_error("a:\n  listen: x:1\n  hash: sha1\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3: pool 'a': key 'hash' expects one of", "got 'sha1'");
    expect_error("a:\n  listen: x:1\n  servers:\n   - h:1:0\n", CONF_EVALUE, "line 4:",
                 "weight from 1");
    expect_error("a:\n  listen: x:1\n  servers:\n   - h:70000:1\n", CONF_EVALUE, "line 4:",
                 "port from 1 to 65535");
    expect_error("a:\n  listen: x\n  servers: [h:1:1]\n", CONF_EVALUE, "line 2:", "host:port");
    expect_error("a:\n  listen: x:1\n  preconnect: maybe\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "expects true or false, got 'maybe'");
    expect_error("a:\n  listen: x:1\n  redis: true\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "memcached protocol only");
    expect_error("a:\n  listen: x:1\n  replicas: 0\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "'replicas' expects an integer from 1 to");
    expect_error("a:\n  listen: x:1\n  replicas: 2\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 1:", "replicas: 2 but the pool has only 1 server");
    expect_error("a:\n  listen: x:1\n  servers: []\n", CONF_EVALUE, "line 3:", "is empty");
    expect_error("a:\n  listen: x:1\n  servers: [h:1:1, h:1:2]\n", CONF_EVALUE, "line 3:",
                 "listed twice");
    expect_error("a:\n  listen: x:1\n  listen: x:2\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "appears twice");
    expect_error("a:\n  listen: x:1\n  colour: blue\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "unknown key 'colour'");
    expect_error("a:\n  servers: [h:1:1]\n", CONF_EVALUE, "line 1:", "'listen' is missing");
    expect_error("a:\n  listen: x:1\n", CONF_EVALUE, "line 1:", "'servers' is missing");
    expect_error("a:\n  listen: x:1\n  servers: h:1:1\n", CONF_EVALUE, "line 3:",
                 "expects a list");
    expect_error("a: [1, 2\n", CONF_ESYNTAX, "not valid YAML", NULL);
    expect_error("- just\n- a list\n", CONF_ESYNTAX, "line 1:", "mapping of pool names");
    expect_error("", CONF_ESYNTAX, "line 1:", "no pools");
    expect_error("a:\n  listen: x:1\n  servers: [h:1:1]\nb:\n  listen: x:1\n  servers: [h:1:1]\n",
                 CONF_EVALUE, "line 4:", "same address as pool 'a'");
    expect_error("a:\n  listen: x:1\n  hash_tag: \"{\"\n  servers: [h:1:1]\n", CONF_EVALUE,
                 "line 3:", "two characters");
}

static void test_load_names_the_file(void **state)
{
    (void)state;
    struct conf c;
    assert_int_equal(conf_load("/nonexistent/pools.yml", &c, err, sizeof(err)), CONF_EIO);
    assert_non_null(strstr(err, "/nonexistent/pools.yml: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twemproxy_example_defaults),
        cmocka_unit_test(test_tandem_keys),
        cmocka_unit_test(test_errors_name_line_key_and_expectation),
        cmocka_unit_test(test_load_names_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
