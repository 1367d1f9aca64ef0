"""Classic text protocol: delete, incr/decr, touch."""
import re

import pytest

from harness import stats_dict


def store(conn, key, value, flags=0, exptime=0):
    conn.expect(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, exptime, len(value), value),
                b"STORED\r\n")


def cas_of(conn, key):
    return re.match(rb"VALUE \S+ \d+ \d+ (\d+)", conn.roundtrip(b"gets %s\r\n" % key)).group(1)


# -- delete ----------------------------------------------------------------------

def test_delete(conn):
    store(conn, b"d", b"1")
    conn.expect(b"delete d\r\n", b"DELETED\r\n")
    conn.expect(b"delete d\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"get d\r\n", b"END\r\n")


def test_delete_with_zero_time_argument(conn):
    store(conn, b"d", b"1")
    conn.expect(b"delete d 0\r\n", b"DELETED\r\n")
    store(conn, b"d", b"1")
    conn.expect(b"delete d 0 noreply\r\n", b"")
    conn.expect(b"get d\r\n", b"END\r\n")


@pytest.mark.parametrize("arg", [b"1", b"10", b"-1", b"abc", b"00"])
def test_delete_usage_error(conn, arg):
    store(conn, b"d", b"1")
    conn.expect(b"delete d %s\r\n" % arg,
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
    conn.expect(b"get d\r\n", b"VALUE d 0 1\r\n1\r\nEND\r\n")


def test_delete_noreply(conn):
    store(conn, b"d", b"1")
    conn.expect(b"delete d noreply\r\n", b"")
    conn.expect(b"delete d noreply\r\n", b"")
    conn.expect(b"get d\r\n", b"END\r\n")


def test_delete_token_count_errors(conn):
    conn.expect(b"delete\r\n", b"ERROR\r\n")
    conn.expect(b"delete a 0 noreply extra\r\n", b"ERROR\r\n")


def test_delete_stats(conn):
    store(conn, b"d", b"1")
    conn.expect(b"delete d\r\ndelete d\r\n", b"DELETED\r\nNOT_FOUND\r\n")
    st = stats_dict(conn)
    assert (st["delete_hits"], st["delete_misses"]) == ("1", "1")


# -- incr / decr -------------------------------------------------------------------

def test_incr_decr_basic(conn):
    store(conn, b"n", b"10", flags=5, exptime=1000)
    conn.expect(b"incr n 5\r\n", b"15\r\n")
    conn.expect(b"decr n 3\r\n", b"12\r\n")
    conn.expect(b"get n\r\n", b"VALUE n 5 2\r\n12\r\nEND\r\n")
    ttl = int(re.fullmatch(rb"HD t(\d+)\r\n", conn.roundtrip(b"mg n t\r\n")).group(1))
    assert 990 <= ttl <= 1000


def test_incr_decr_missing_key(conn):
    conn.expect(b"incr nokey 1\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"decr nokey 1\r\n", b"NOT_FOUND\r\n")
    st = stats_dict(conn)
    assert (st["incr_misses"], st["decr_misses"], st["incr_hits"], st["decr_hits"]) == \
        ("1", "1", "0", "0")


def test_incr_wraps_at_2_pow_64(conn):
    store(conn, b"w", b"18446744073709551615")
    conn.expect(b"incr w 2\r\n", b"1\r\n")
    store(conn, b"w", b"18446744073709551615")
    conn.expect(b"incr w 18446744073709551615\r\n", b"18446744073709551614\r\n")


def test_decr_floors_at_zero(conn):
    store(conn, b"f", b"5")
    conn.expect(b"decr f 6\r\n", b"0\r\n")
    conn.expect(b"decr f 1\r\n", b"0\r\n")
    conn.expect(b"decr f 18446744073709551615\r\n", b"0\r\n")


def test_decr_pads_shorter_number_with_spaces(conn):
    # memcached rewrites in place and right-pads to the old length.
    store(conn, b"p", b"100")
    conn.expect(b"decr p 1\r\n", b"99\r\n")
    conn.expect(b"get p\r\n", b"VALUE p 0 3\r\n99 \r\nEND\r\n")
    conn.expect(b"incr p 1\r\n", b"100\r\n")
    conn.expect(b"get p\r\n", b"VALUE p 0 3\r\n100\r\nEND\r\n")
    conn.expect(b"incr p 900\r\n", b"1000\r\n")
    conn.expect(b"get p\r\n", b"VALUE p 0 4\r\n1000\r\nEND\r\n")


def test_incr_leading_zeros_padding(conn):
    store(conn, b"z", b"00012")
    conn.expect(b"incr z 1\r\n", b"13\r\n")
    conn.expect(b"get z\r\n", b"VALUE z 0 5\r\n13   \r\nEND\r\n")


def test_incr_accepts_leading_space_in_value(conn):
    store(conn, b"s", b" 12")
    conn.expect(b"incr s 1\r\n", b"13\r\n")


def test_incr_changes_cas_keeps_flags(conn):
    store(conn, b"c", b"1", flags=77)
    before = cas_of(conn, b"c")
    conn.expect(b"incr c 1\r\n", b"2\r\n")
    after = cas_of(conn, b"c")
    assert int(after) > int(before)
    conn.expect(b"get c\r\n", b"VALUE c 77 1\r\n2\r\nEND\r\n")


@pytest.mark.parametrize("value", [b"", b"abc", b"-5", b"1.5", b"123456789012345678901",
                                   b"18446744073709551616", b"12abc"])
def test_incr_non_numeric_value(conn, value):
    store(conn, b"v", value)
    conn.expect(b"incr v 1\r\n", b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
    conn.expect(b"decr v 1\r\n", b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
    conn.expect(b"get v\r\n", b"VALUE v 0 %d\r\n%s\r\nEND\r\n" % (len(value), value))


@pytest.mark.parametrize("delta", [b"-1", b"abc", b"18446744073709551616", b"1x", b"1.0"])
def test_incr_bad_delta(conn, delta):
    store(conn, b"v", b"1")
    conn.expect(b"incr v %s\r\n" % delta, b"CLIENT_ERROR invalid numeric delta argument\r\n")
    conn.expect(b"decr v %s\r\n" % delta, b"CLIENT_ERROR invalid numeric delta argument\r\n")
    conn.expect(b"incr nokey %s\r\n" % delta, b"CLIENT_ERROR invalid numeric delta argument\r\n")


def test_incr_token_count_errors(conn):
    for line in (b"incr\r\n", b"incr a\r\n", b"decr a 1 noreply x\r\n"):
        conn.expect(line, b"ERROR\r\n")


def test_incr_decr_noreply(conn):
    store(conn, b"n", b"10")
    conn.expect(b"incr n 5 noreply\r\n", b"")
    conn.expect(b"decr n 2 noreply\r\n", b"")
    conn.expect(b"incr nokey 1 noreply\r\n", b"")
    conn.expect(b"get n\r\n", b"VALUE n 0 2\r\n13\r\nEND\r\n")


def test_incr_decr_hit_stats(conn):
    store(conn, b"n", b"10")
    conn.expect(b"incr n 1\r\nincr n 1\r\ndecr n 1\r\n", b"11\r\n12\r\n11\r\n")
    st = stats_dict(conn)
    assert (st["incr_hits"], st["decr_hits"]) == ("2", "1")


# -- touch ---------------------------------------------------------------------------

def test_touch(conn):
    store(conn, b"t", b"1")
    conn.expect(b"touch t 500\r\n", b"TOUCHED\r\n")
    ttl = int(re.fullmatch(rb"HD t(\d+)\r\n", conn.roundtrip(b"mg t t\r\n")).group(1))
    assert 498 <= ttl <= 500
    conn.expect(b"touch nokey 10\r\n", b"NOT_FOUND\r\n")
    st = stats_dict(conn)
    assert (st["cmd_touch"], st["touch_hits"], st["touch_misses"]) == ("2", "1", "1")


def test_touch_does_not_change_cas(conn):
    store(conn, b"t", b"1")
    before = cas_of(conn, b"t")
    conn.expect(b"touch t 100\r\n", b"TOUCHED\r\n")
    assert cas_of(conn, b"t") == before


def test_touch_errors_and_noreply(conn):
    store(conn, b"t", b"1")
    conn.expect(b"touch t\r\n", b"ERROR\r\n")
    conn.expect(b"touch\r\n", b"ERROR\r\n")
    conn.expect(b"touch t abc\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
    conn.expect(b"touch t 10 noreply\r\n", b"")
    conn.expect(b"touch nokey 10 noreply\r\n", b"")


def test_touch_negative_expires_item(conn):
    store(conn, b"t", b"1")
    conn.expect(b"touch t -1\r\n", b"TOUCHED\r\n")
    conn.expect(b"get t\r\n", b"END\r\n")
