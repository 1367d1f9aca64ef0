/*
 * Unit tests for server/settings, part 2: config files (Debian's
 * /etc/memcached.conf format, read the way systemd-memcached-wrapper reads
 * it) and Tandem's replication and snapshot options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "server/settings.h"

#define ERRLEN 1024

static int parse_v(struct settings *s, char *err, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    settings_init(s);
    return settings_parse_args(s, argc, argv, err, ERRLEN);
}

#define PARSE(s, err, ...) parse_v((s), (err), (char *[]){"tandemd", __VA_ARGS__, NULL})

#define PARSE_OK(s, ...)                                                       \
    do {                                                                       \
        char err_[ERRLEN] = "";                                                \
        int rc_ = PARSE((s), err_, __VA_ARGS__);                               \
        if (rc_ != 0)                                                          \
            fail_msg("parse failed (rc %d): %s", rc_, err_);                   \
    } while (0)

static void expect_error_v(char **argv, const char *msg, int code)
{
    struct settings s;
    char err[ERRLEN] = "";
    int rc = parse_v(&s, err, argv);
    if (rc != -1)
        fail_msg("expected an error \"%s\", got rc %d", msg, rc);
    assert_string_equal(err, msg);
    assert_int_equal(s.exit_code, code);
    settings_free(&s);
}

#define EXPECT_ERROR(msg, code, ...)                                           \
    expect_error_v((char *[]){"tandemd", __VA_ARGS__, NULL}, (msg), (code))

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/tandem_conf_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* "PATH:LINE: msg" for a temp file. */
static void expect_file_error(const char *text, int line, const char *msg)
{
    char *path = write_temp(text);
    char want[ERRLEN];
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
    EXPECT_ERROR(want, 1, "--config", path);
    remove_temp(path);
}

static char *tandem_stats(const struct settings *s)
{
    struct buf b = {0};
    settings_write_stats_tandem(&b, s);
    buf_append(&b, "", 1);
    return b.data;
}

/* ------------------------------------------------------------------------ */
/* config files                                                               */

/* Debian 12's /etc/memcached.conf, as the package installs it. */
static const char debian_conf[] =
    "# memcached default config file\n"
    "# 2003 - Jay Bonci <jaybonci@debian.org>\n"
    "# This configuration file is read by the start-memcached script provided as\n"
    "# part of the Debian GNU/Linux distribution.\n"
    "\n"
    "# Run memcached as a daemon. This command is implied, and is not needed for the\n"
    "# daemon to run. See the README.Debian that comes with this package for more\n"
    "# information.\n"
    "-d\n"
    "\n"
    "# Log memcached's output to /var/log/memcached\n"
    "logfile /var/log/memcached.log\n"
    "\n"
    "# Be verbose\n"
    "# -v\n"
    "\n"
    "# Be even more verbose (print client commands as well)\n"
    "# -vv\n"
    "\n"
    "# Start with a cap of 64 megs of memory. It's reasonable, and the daemon default\n"
    "# Note that the daemon will grow to this size, but does not start out holding this much\n"
    "# memory\n"
    "-m 64\n"
    "\n"
    "# Default connection port is 11211\n"
    "-p 11211\n"
    "\n"
    "# Run the daemon as root. The start-memcached will default to running as root if no\n"
    "# -u command is present in this config file\n"
    "-u memcache\n"
    "\n"
    "# Specify which IP address to listen on. The default is to listen on all IP addresses\n"
    "# This parameter is one of the only security measures that memcached has, so make sure\n"
    "# it's listening on a firewalled interface.\n"
    "-l 127.0.0.1\n"
    "\n"
    "# Limit the number of simultaneous incoming connections. The daemon default is 1024\n"
    "# -c 1024\n"
    "\n"
    "# Lock down all paged memory. Consult with the README and homepage before you do this\n"
    "# -k\n"
    "\n"
    "# Return error when memory is exhausted (rather than removing items)\n"
    "# -M\n"
    "\n"
    "# Maximize core file limit\n"
    "# -r\n"
    "\n"
    "# Use a pidfile\n"
    "-P /var/run/memcached/memcached.pid\n";

static void test_debian_default_conf(void **state)
{
    (void)state;
    char *path = write_temp(debian_conf);
    struct settings s;
    PARSE_OK(&s, "--config", path);
    assert_false(s.daemonize); /* "-d" lines are dropped, as the systemd wrapper does */
    assert_string_equal(s.logfile, "/var/log/memcached.log");
    assert_true(s.maxbytes == (size_t)64 << 20);
    assert_int_equal(s.port, 11211);
    assert_string_equal(s.username, "memcache");
    assert_string_equal(s.inter, "127.0.0.1");
    assert_string_equal(s.pid_file, "/var/run/memcached/memcached.pid");
    assert_string_equal(s.config_file, path);
    assert_int_equal(s.verbose, 0); /* "# -v" is a comment */
    settings_free(&s);
    remove_temp(path);
}

/* The file applies where --config stands; -l adds up. */
static void test_conf_order(void **state)
{
    (void)state;
    char *path = write_temp("-p 11300\n-t 8\n-l 10.0.0.1\n-o track_sizes\n");
    struct settings s;
    PARSE_OK(&s, "-p", "1", "-l", "10.0.0.9", "--config", path, "-t", "2", "-l", "10.0.0.2");
    assert_int_equal(s.port, 11300);  /* the file overrides what came before */
    assert_int_equal(s.num_threads, 2); /* what comes after overrides the file */
    assert_string_equal(s.inter, "10.0.0.9,10.0.0.1,10.0.0.2");
    assert_true(s.track_sizes);
    settings_free(&s);
    remove_temp(path);
}

static void test_conf_syntax(void **state)
{
    (void)state;
    char *path = write_temp("   -m 128   # trailing comment\n"
                            "\t-c 100 -t 3\n"
                            "-D \\#\n"
                            "-o \"ssl_ciphers=HIGH:!aNULL\" -l '10.0.0.5'\n"
                            "-P\n"
                            "/run/x.pid\n"
                            "-h\n"
                            "-dvvv\n"
                            "\n"
                            "# -A\n"
                            "-u \"mem cache\"\n"
                            "--repl-user=\"a\\\"b\"\n");
    struct settings s;
    PARSE_OK(&s, "--config", path);
    assert_true(s.maxbytes == (size_t)128 << 20);
    assert_int_equal(s.maxconns, 100);
    assert_int_equal(s.num_threads, 3);
    assert_int_equal(s.prefix_delimiter, '#');
    assert_string_equal(s.ssl_ciphers, "HIGH:!aNULL");
    assert_string_equal(s.inter, "10.0.0.5");
    assert_string_equal(s.pid_file, "/run/x.pid"); /* a value may sit on the next line */
    assert_int_equal(s.verbose, 0);                /* the -dvvv line starts with -d */
    assert_false(s.daemonize);
    assert_false(s.shutdown_command);
    assert_string_equal(s.username, "mem cache");
    assert_string_equal(s.repl_user, "a\"b");
    settings_free(&s);
    remove_temp(path);

    /* an empty file is fine, and so is settings_parse_file on its own */
    path = write_temp("");
    PARSE_OK(&s, "--config", path);
    settings_free(&s);
    remove_temp(path);
    path = write_temp("-p 1234 -o slab_sizes=100-200 -l 10.0.0.1,10.0.0.2\n");
    char err[ERRLEN];
    settings_init(&s);
    assert_int_equal(settings_parse_file(&s, path, err, sizeof(err)), 0);
    assert_int_equal(s.port, 1234);
    assert_int_equal(s.nslab_sizes, 2);           /* the final checks ran */
    assert_int_equal(s.num_threads_per_udp, 1);   /* and the derived fields */
    assert_string_equal(s.config_file, path);
    settings_free(&s);
    remove_temp(path);
}

static void test_conf_errors(void **state)
{
    (void)state;
    expect_file_error("-m 64\n\nfoo bar\n", 3,
                      "unknown directive \"foo\" (options start with '-'; the only directive "
                      "is \"logfile PATH\")");
    expect_file_error("-m 64\n-p abc\n", 2, "Invalid value for -p: \"abc\" (expected a number)");
    expect_file_error("# x\n--foo\n", 2, "unrecognized option '--foo'");
    expect_file_error("-q\n", 1, "invalid option -- 'q'");
    expect_file_error("-m 64\nfoo\n", 2,
                      "unexpected argument \"foo\" (options start with '-'; see tandemd -h)");
    expect_file_error("-o 'track_sizes\n", 1, "unterminated quote");
    expect_file_error("-o bogus\n", 1, "Illegal suboption \"bogus\"");
    expect_file_error("logfile\n", 1, "logfile needs a path");
    expect_file_error("--config /etc/memcached.conf\n", 1,
                      "--config cannot be used inside a config file");
    expect_file_error("-m 64\n-p\n", 2, "option requires an argument -- 'p'");
    EXPECT_ERROR("cannot read config file /nonexistent/tandem.conf: No such file or directory",
                 1, "--config", "/nonexistent/tandem.conf");

    /* cross-option errors are reported without a file:line */
    char *path = write_temp("-Y /etc/auth\n");
    EXPECT_ERROR("ERROR: You cannot allow the BINARY protocol while using ascii authentication "
                 "tokens.",
                 64, "--config", path, "-B", "binary");
    remove_temp(path);
}

/* --repl-password only from a file, and never printed. */
static void test_conf_secret(void **state)
{
    (void)state;
    char *path = write_temp("--replica-of 10.0.0.1:11212\n"
                            "--repl-user tandem\n"
                            "--repl-password s3cr3t-value\n");
    struct settings s;
    PARSE_OK(&s, "--config", path);
    assert_string_equal(s.repl_password, "s3cr3t-value");
    char *st = tandem_stats(&s);
    assert_null(strstr(st, "s3cr3t"));
    assert_non_null(strstr(st, "STAT repl_auth yes\r\n"));
    assert_non_null(strstr(st, "STAT replica_of 10.0.0.1:11212\r\n"));
    free(st);
    settings_free(&s);
    remove_temp(path);

    EXPECT_ERROR("--repl-password is only accepted in a config file (a command line is visible "
                 "to every user); use --repl-password-file FILE",
                 1, "--repl-password", "x");
    path = write_temp("--repl-password x\n");
    EXPECT_ERROR("use either --repl-password or --repl-password-file, not both", 1, "--config",
                 path, "--repl-password-file", "/etc/tandem.secret");
    remove_temp(path);
}

/* ------------------------------------------------------------------------ */
/* Tandem's options                                                           */

static void test_tandem_options(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "--peer", "10.0.0.2:11212", "--peer=[::1]:11300", "-x", "node3", "-x",
             "node4:7000", "--repl-port", "11400", "--repl-user", "rep",
             "--repl-password-file", "/etc/tandem.secret", "--repl-min-acks", "1",
             "--replicas", "2", "--snapshot-dir", "/var/lib/tandem", "--snapshot-interval", "60",
             "--node-id", "1023");
    assert_int_equal(s.npeers, 4);
    assert_string_equal(s.peers[0].host, "10.0.0.2");
    assert_int_equal(s.peers[0].port, 11212);
    assert_string_equal(s.peers[1].host, "::1");
    assert_int_equal(s.peers[1].port, 11300);
    assert_string_equal(s.peers[2].host, "node3");
    assert_int_equal(s.peers[2].port, 0); /* repcached: the peer uses our --repl-port */
    assert_int_equal(s.peers[3].port, 7000);
    assert_int_equal(s.repl_port, 11400);
    assert_string_equal(s.repl_user, "rep");
    assert_string_equal(s.repl_password_file, "/etc/tandem.secret");
    assert_int_equal(s.repl_min_acks, 1);
    assert_int_equal(s.replicas, 2);
    assert_string_equal(s.snapshot_dir, "/var/lib/tandem");
    assert_int_equal(s.snapshot_interval, 60);
    assert_int_equal(s.node_id, 1023);
    char *st = tandem_stats(&s);
    assert_non_null(
        strstr(st, "STAT peers 10.0.0.2:11212,[::1]:11300,node3:11400,node4:7000\r\n"));
    assert_non_null(strstr(st, "STAT node_id 1023\r\n"));
    assert_non_null(strstr(st, "STAT replica_of NULL\r\n"));
    free(st);
    settings_free(&s);
}

static void test_tandem_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("Invalid value for --replica-of: \"10.0.0.1\" (expected HOST:PORT of the "
                 "master's replication port)",
                 1, "--replica-of", "10.0.0.1");
    EXPECT_ERROR("Invalid value for --peer: \"h:0\" (expected HOST:PORT)", 1, "--peer", "h:0");
    EXPECT_ERROR("Invalid value for --peer: \":11212\" (expected HOST:PORT)", 1, "--peer",
                 ":11212");
    EXPECT_ERROR("Invalid value for -x: \"h:99999\" (expected HOST or HOST:PORT)", 1, "-x",
                 "h:99999");
    EXPECT_ERROR("peer a:1 is given twice", 1, "--peer", "a:1", "--peer", "a:1");
    EXPECT_ERROR("--replica-of (a read-only replica) cannot be combined with --peer or -x "
                 "(multi-master peers)",
                 1, "--replica-of", "m:11212", "-x", "p");
    EXPECT_ERROR("--replicas (sharded mode) cannot be combined with --replica-of", 1,
                 "--replica-of", "m:11212", "--replicas", "1");
    EXPECT_ERROR("--replicas 3 needs at least 3 nodes: this one and 2 --peer (only 1 given)", 1,
                 "--replicas", "3", "--peer", "a:1");
    EXPECT_ERROR("--replicas must be between 1 and 65", 1, "--replicas", "0");
    EXPECT_ERROR("--snapshot-interval needs --snapshot-dir DIR", 1, "--snapshot-interval", "5");
    EXPECT_ERROR("Invalid value for --snapshot-interval: \"-1\" (expected a number of 0 or "
                 "more)",
                 1, "--snapshot-dir", "/d", "--snapshot-interval", "-1");
    EXPECT_ERROR("--node-id must be between 0 and 1023", 1, "--node-id", "1024");
    EXPECT_ERROR("ERROR: Invalid port number 70000.", 64, "--repl-port", "70000");
    EXPECT_ERROR("Invalid value for --repl-user: \"\" (expected a non-empty value)", 1,
                 "--repl-user", "");
    EXPECT_ERROR("the replication port (--repl-port 11300) is also the client port (-p); "
                 "choose another --repl-port",
                 1, "-p", "11300", "--repl-port", "11300");
    EXPECT_ERROR("the replication port (--repl-port 11212) is also the client port (-p); "
                 "choose another --repl-port",
                 1, "-p", "11212", "--peer", "b:11212");
}

/* A plain memcached setup on port 11212 must keep working. */
static void test_repl_port_default_yields(void **state)
{
    (void)state;
    struct settings s;
    PARSE_OK(&s, "-p", "11212");
    assert_int_equal(s.port, 11212);
    assert_int_equal(s.repl_port, 0);
    settings_free(&s);
    PARSE_OK(&s, "-s", "/tmp/x.sock", "--repl-port", "11211");
    assert_int_equal(s.repl_port, 11211); /* no TCP clients, no clash */
    settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debian_default_conf),
        cmocka_unit_test(test_conf_order),
        cmocka_unit_test(test_conf_syntax),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_conf_secret),
        cmocka_unit_test(test_tandem_options),
        cmocka_unit_test(test_tandem_errors),
        cmocka_unit_test(test_repl_port_default_yields),
    };
    return cmocka_run_group_tests_name("server_settings_conf", tests, NULL, NULL);
}
