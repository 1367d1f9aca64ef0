/*
 * Unit tests for server/settings, part 3: every error a user can cause on the
 * command line. Where memcached 1.6.18 has a message, the expected text and
 * exit status are the ones Debian's binary printed for the same arguments;
 * where memcached would silently misread the value (its atoi()), the
 * message is ours and names the option and the value.
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

static void test_subopt_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("Illegal suboption \"foo\"", 1, "-o", "foo");
    EXPECT_ERROR("Illegal suboption \"foo=1\"", 1, "-o", "hashpower=20,foo=1");
    EXPECT_ERROR("Illegal suboption \"\"", 1, "-o", ",hashpower=20");
    EXPECT_ERROR("Illegal suboption \"relaxed_privileges\"", 1, "-o", "relaxed_privileges");
    EXPECT_ERROR("Illegal suboption \"proxy_config=x\"", 1, "-o", "proxy_config=x");
    EXPECT_ERROR("Missing numeric argument for hashpower", 1, "-o", "hashpower");
    EXPECT_ERROR("Initial hashtable multiplier of 5 is too low", 1, "-o", "hashpower=5");
    EXPECT_ERROR("Initial hashtable multiplier of 99 is too high\n"
                 "Choose a value based on \"STAT hash_power_level\" from a running instance",
                 1, "-o", "hashpower=99");
    EXPECT_ERROR("could not parse argument to hashpower", 1, "-o", "hashpower=1.5");
    EXPECT_ERROR("slab_automove must be between 0 and 2", 1, "-o", "slab_automove=3");
    EXPECT_ERROR("slab_automove_ratio must be > 0 and < 1", 1, "-o", "slab_automove_ratio=2");
    EXPECT_ERROR("Missing slab_automove_ratio argument", 1, "-o", "slab_automove_ratio");
    EXPECT_ERROR("slab_automove_window must be > 2", 1, "-o", "slab_automove_window=-1");
    EXPECT_ERROR("Cannot set tail_repair_time to less than 10 seconds", 1, "-o",
                 "tail_repair_time=5");
    EXPECT_ERROR("Unknown hash_algorithm option (jenkins, murmur3, xxh3)", 1, "-o",
                 "hash_algorithm=md5");
    EXPECT_ERROR("Missing hash_algorithm argument", 1, "-o", "hash_algorithm");
    EXPECT_ERROR("Missing lru_crawler_sleep value", 1, "-o", "lru_crawler_sleep");
    EXPECT_ERROR("LRU crawler sleep must be between 0 and 1 second", 1, "-o",
                 "lru_crawler_sleep=2000000");
    EXPECT_ERROR("lru_crawler_tocrawl takes a numeric 32bit value", 1, "-o",
                 "lru_crawler_tocrawl=-1");
    EXPECT_ERROR("hot_lru_pct must be > 1 and < 80", 1, "-o", "hot_lru_pct=80");
    EXPECT_ERROR("warm_lru_pct must be > 1 and < 80", 1, "-o", "warm_lru_pct=0");
    EXPECT_ERROR("hot_max_factor must be > 0", 1, "-o", "hot_max_factor=0");
    EXPECT_ERROR("warm_max_factor must be > 0", 1, "-o", "warm_max_factor=-1");
    EXPECT_ERROR("Missing temporary_ttl argument", 1, "-o", "temporary_ttl");
    EXPECT_ERROR("Missing numeric argument for idle_timeout", 1, "-o", "idle_timeout");
    EXPECT_ERROR("could not parse argument to watcher_logbuf_size", 1, "-o",
                 "watcher_logbuf_size=abc");
    EXPECT_ERROR("could not parse argument to read_buf_mem_limit", 1, "-o",
                 "read_buf_mem_limit=-1");
    EXPECT_ERROR("Missing slab_chunk_max argument", 1, "-o", "slab_chunk_max");
    EXPECT_ERROR("Missing slab_sizes argument", 1, "-o", "slab_sizes");
    EXPECT_ERROR("Missing sock_cookie_id argument", 1, "-o", "sock_cookie_id");
    EXPECT_ERROR("Missing ssl_chain_cert argument", 1, "-o", "ssl_chain_cert");
    EXPECT_ERROR("Invalid ssl_verify_mode. Use help to see valid options.", 1, "-o",
                 "ssl_verify_mode=9");
    EXPECT_ERROR("could not parse argument to ssl_min_version", 1, "-o", "ssl_min_version=abc");
    EXPECT_ERROR("Invalid ssl_min_version. Use help to see valid options.", 1, "-o",
                 "ssl_min_version=-1");
    EXPECT_ERROR("could not parse argument to ext_max_frag", 1, "-o", "ext_max_frag=x");
    EXPECT_ERROR("Missing ext_threads argument", 1, "-o", "ext_threads");
    EXPECT_ERROR("missing argument to ext_path, ie: ext_path=/d/file:5G", 1, "-o", "ext_path");
    EXPECT_ERROR("must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P supported)\n"
                 "failed to parse ext_path argument",
                 1, "-o", "ext_path=/tmp/e");
    EXPECT_ERROR("ext_path only presently supports the default bucket\n"
                 "failed to parse ext_path argument",
                 1, "-o", "ext_path=/tmp/e:64m:compact");
    EXPECT_ERROR("Unknown extstore bucket: archive\nfailed to parse ext_path argument", 1, "-o",
                 "ext_path=/tmp/e:64m:archive");
    /* ours: memcached silently ignores a value given to a flag */
    EXPECT_ERROR("suboption \"maxconns_fast\" takes no value (got \"maxconns_fast=0\")", 1,
                 "-o", "maxconns_fast=0");
}

/* ------------------------------------------------------------------------ */
/* errors: memcached's wording and exit status where it has one              */

static void test_flag_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("Number of threads must be greater than 0", 1, "-t", "0");
    EXPECT_ERROR("Maximum connections must be greater than 0", 1, "-c", "0");
    EXPECT_ERROR("Maximum connections must be greater than 0", 1, "-c", "-5");
    EXPECT_ERROR("Number of requests per event must be greater than 0", 1, "-R", "0");
    EXPECT_ERROR("Factor must be greater than 1", 1, "-f", "1");
    EXPECT_ERROR("Chunk size must be greater than 0", 1, "-n", "0");
    EXPECT_ERROR("Maximum number of NAPI IDs must be greater than 0", 1, "-N", "0");
    EXPECT_ERROR("No delimiter specified", 1, "-D", "");
    EXPECT_ERROR("ERROR: Invalid port number 70000.", 64, "-p", "70000");
    EXPECT_ERROR("Invalid value for binding protocol: foo\n"
                 " -- should be one of auto, binary, or ascii",
                 64, "-B", "foo");
    /* where memcached's atoi() would have taken garbage as 0 */
    EXPECT_ERROR("Invalid value for -p: \"abc\" (expected a number)", 1, "-p", "abc");
    EXPECT_ERROR("Invalid value for --port: \"1x\" (expected a number)", 1, "--port=1x");
    EXPECT_ERROR("Invalid value for -m: \"abc\" (expected megabytes, e.g. 64)", 1, "-m", "abc");
    EXPECT_ERROR("Invalid value for -m: \"1g\" (expected megabytes, e.g. 64)", 1, "-m", "1g");
    EXPECT_ERROR("Invalid value for -I: \"1.5m\" (expected a size such as 512k or 2m)", 1, "-I",
                 "1.5m");
    EXPECT_ERROR("Invalid value for -t: \"4x\" (expected a number)", 1, "-t", "4x");
    EXPECT_ERROR("Invalid value for -a: \"999\" (expected an octal mode such as 700)", 1, "-a",
                 "999");
    EXPECT_ERROR("Invalid value for -f: \"abc\" (expected a number such as 1.25)", 1, "-f",
                 "abc");
    EXPECT_ERROR("Invalid value for -b: \"-5\" (expected a number of 0 or more)", 1, "-b", "-5");
}

static void test_getopt_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("tandemd: invalid option -- 'q'", 1, "-q");
    EXPECT_ERROR("tandemd: invalid option -- 'j'", 1, "-vj");
    EXPECT_ERROR("tandemd: unrecognized option '--foo'", 1, "--foo");
    EXPECT_ERROR("tandemd: unrecognized option '--foo=1'", 1, "-v", "--foo=1");
    EXPECT_ERROR("tandemd: option '--mem=64' is ambiguous; possibilities: '--memory-limit' "
                 "'--memory-file'",
                 1, "--mem=64");
    EXPECT_ERROR("tandemd: option requires an argument -- 'p'", 1, "-p");
    EXPECT_ERROR("tandemd: option '--port' requires an argument", 1, "--port");
    EXPECT_ERROR("tandemd: option '--help' doesn't allow an argument", 1, "--help=3");
    EXPECT_ERROR("tandemd: option '--disable-cas' doesn't allow an argument", 1,
                 "--disable-cas=1");
    EXPECT_ERROR("unexpected argument \"stray\" (options start with '-'; see tandemd -h)", 1,
                 "-p", "1", "stray");
    EXPECT_ERROR("unexpected argument \"x\" (options start with '-'; see tandemd -h)", 1, "--",
                 "x");
    /* repcached's "-X 11212" would silently mean -X (disable dumping) to memcached */
    EXPECT_ERROR("unexpected argument \"11212\": -X takes no value in memcached 1.6 (it "
                 "disables cachedump); for repcached's replication port use --repl-port 11212",
                 1, "-d", "-X", "11212");
}

static void test_cross_checks(void **state)
{
    (void)state;
    EXPECT_ERROR("Item max size cannot be less than 1024 bytes.", 64, "-I", "512");
    EXPECT_ERROR("Cannot set item size limit higher than 1/2 of memory max.", 64, "-m", "0");
    EXPECT_ERROR("Cannot set item size limit higher than 1/2 of memory max.", 64, "-m", "100",
                 "-I", "64m");
    EXPECT_ERROR("Cannot set item size limit higher than a gigabyte.", 64, "-m", "8192", "-I",
                 "1025m");
    EXPECT_ERROR("Cannot set item size limit higher than a gigabyte.", 64, "-m", "8192", "-I",
                 "2048m");
    EXPECT_ERROR("slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 2048)",
                 64, "-I", "2k");
    EXPECT_ERROR("-I (item_size_max: 786432) must be evenly divisible by slab_chunk_max "
                 "(bytes: 524288)",
                 64, "-I", "768k");
    EXPECT_ERROR("-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max "
                 "(bytes: 300)",
                 64, "-o", "slab_chunk_max=300");
    EXPECT_ERROR("slab_chunk_max (bytes: 3072) must divide evenly into 1048576 "
                 "(slab_page_size)",
                 64, "-I", "3m", "-o", "slab_chunk_max=3072");
    EXPECT_ERROR("slab size 10 is out of valid range", 64, "-o", "slab_sizes=10-200");
    EXPECT_ERROR("slab size 100 cannot be lower than or equal to a previous class size", 64,
                 "-o", "slab_sizes=200-100");
    EXPECT_ERROR("slab size 104 must be at least 8 bytes larger than previous class", 64, "-o",
                 "slab_sizes=100-104");
    EXPECT_ERROR("hot_lru_pct + warm_lru_pct cannot be more than 80% combined", 64, "-o",
                 "hot_lru_pct=50,warm_lru_pct=40");
    EXPECT_ERROR("temporary_ttl requires lru_maintainer to be enabled", 64, "-o",
                 "no_lru_maintainer,temporary_ttl=10");
    EXPECT_ERROR("Cannot use UDP with extstore enabled (-U 0 to disable)", 64, "-o",
                 "ext_path=/tmp/e:64m", "-U", "5");
    EXPECT_ERROR("-I (item_size_max: 1048576) cannot be larger than ext_wbuf_size: 0", 64, "-o",
                 "ext_path=/tmp/e:64m,ext_wbuf_size=0");
    EXPECT_ERROR("ERROR: You cannot allow the BINARY protocol while using ascii authentication "
                 "tokens.",
                 64, "-Y", "/tmp/x", "-B", "binary");
    EXPECT_ERROR("ERROR: You cannot allow the ASCII protocol while using SASL.", 64, "-S", "-B",
                 "ascii");
    EXPECT_ERROR("ERROR: Cannot enable UDP while using binary SASL authentication.", 64, "-S",
                 "-U", "5");
    EXPECT_ERROR("ERROR: You cannot enable SSL without a TCP port.", 64, "-Z", "-p", "0");
    EXPECT_ERROR("Hash table power size (13) cannot be equal to or less than item lock table "
                 "(13)\n"
                 "Item lock table grows with `-t N` (worker threadcount)\n"
                 "Hash table grows with `-o hashpower=N` ",
                 1, "-o", "hashpower=13", "-t", "5");
    EXPECT_ERROR("Hash table power size (12) cannot be equal to or less than item lock table "
                 "(12)\n"
                 "Item lock table grows with `-t N` (worker threadcount)\n"
                 "Hash table grows with `-o hashpower=N` ",
                 1, "-o", "hashpower=12");
}

static void test_check_user(void **state)
{
    (void)state;
    struct settings s;
    char err[ERRLEN] = "";
    settings_init(&s);
    int rc = settings_check_user(&s, err, sizeof(err));
    if (getuid() == 0 || geteuid() == 0) {
        assert_int_equal(rc, -1);
        assert_string_equal(err, "can't run as root without the -u switch");
    } else {
        assert_int_equal(rc, 0);
    }
    settings_free(&s);
    assert_int_equal(PARSE(&s, err, "-u", "nobody"), 0);
    assert_int_equal(settings_check_user(&s, err, sizeof(err)), 0);
    settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subopt_errors),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_getopt_errors),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_check_user),
    };
    return cmocka_run_group_tests_name("server_settings_errors", tests, NULL, NULL);
}
