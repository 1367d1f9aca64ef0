"""Expiration times: relative, absolute, the 30-day rule, negatives, truncation.

The server clock ticks in whole seconds, so waits poll for the expected
state with a deadline instead of sleeping a fixed time.
"""
import re
import time

from harness import stats_dict, wait_for

THIRTY_DAYS = 60 * 60 * 24 * 30


def ttl(conn, key):
    reply = conn.roundtrip(b"mg %s t\r\n" % key)
    m = re.fullmatch(rb"HD t(-?\d+)\r\n", reply)
    assert m, reply
    return int(m.group(1))


def test_relative_ttl_expires(conn):
    conn.expect(b"set short 0 2 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"get short\r\n", b"VALUE short 0 1\r\nx\r\nEND\r\n")
    wait_for(lambda: conn.roundtrip(b"get short\r\n") == b"END\r\n", timeout=5,
             what="a 2 s item to expire")


def test_get_of_expired_item_counts_get_expired(server_factory):
    # Background reaping would turn the expired hit into a plain miss.
    srv = server_factory("-o", "no_lru_crawler,no_lru_maintainer")
    with srv.conn() as c:
        t0 = int(stats_dict(c)["time"])
        c.expect(b"set short 0 2 1\r\nx\r\n", b"STORED\r\n")
        # Watch the server clock (not the item: looking would reap it).
        wait_for(lambda: int(stats_dict(c)["time"]) >= t0 + 3, timeout=6,
                 what="the server clock to pass the expiry")
        c.expect(b"get short\r\n", b"END\r\n")
        st = stats_dict(c)
        assert (st["get_misses"], st["get_expired"]) == ("1", "1")


def test_zero_never_expires(conn):
    conn.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    assert ttl(conn, b"k") == -1


def test_negative_exptime_is_immediately_expired(conn):
    conn.expect(b"set neg 0 -1 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"get neg\r\n", b"END\r\n")
    conn.expect(b"set neg 0 -1000 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"get neg\r\n", b"END\r\n")


def test_thirty_days_is_still_relative(conn):
    conn.expect(b"set rel 0 %d 1\r\nx\r\n" % THIRTY_DAYS, b"STORED\r\n")
    assert THIRTY_DAYS - 2 <= ttl(conn, b"rel") <= THIRTY_DAYS


def test_above_thirty_days_is_absolute_and_in_the_past(conn):
    conn.expect(b"set t31 0 %d 1\r\nx\r\n" % (THIRTY_DAYS + 1), b"STORED\r\n")
    conn.expect(b"get t31\r\n", b"END\r\n")


def test_absolute_time_in_the_future(conn):
    now = int(stats_dict(conn)["time"])
    conn.expect(b"set abs 0 %d 1\r\nx\r\n" % (now + 100), b"STORED\r\n")
    assert 97 <= ttl(conn, b"abs") <= 101
    conn.expect(b"get abs\r\n", b"VALUE abs 0 1\r\nx\r\nEND\r\n")


def test_absolute_time_in_the_recent_past(conn):
    now = int(time.time())
    conn.expect(b"set past 0 %d 1\r\nx\r\n" % (now - 10), b"STORED\r\n")
    conn.expect(b"get past\r\n", b"END\r\n")


def test_exptime_2_pow_32_truncates_to_never(conn):
    conn.expect(b"set f 0 4294967296 1\r\nz\r\n", b"STORED\r\n")
    assert ttl(conn, b"f") == -1


def test_bad_exptime_token(conn):
    conn.expect(b"set k 0 abc 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    conn.expect(b"set k 0 1.5 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n")


def test_gat_negative_returns_value_once(conn):
    conn.expect(b"set g 0 0 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"gat -1 g\r\n", b"VALUE g 0 1\r\nx\r\nEND\r\n")
    conn.expect(b"get g\r\n", b"END\r\n")


def test_touch_extends_life(conn):
    conn.expect(b"set t 0 2 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"touch t 100\r\n", b"TOUCHED\r\n")
    assert 98 <= ttl(conn, b"t") <= 100


def test_touch_to_absolute_past_expires(conn):
    conn.expect(b"set t 0 0 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"touch t %d\r\n" % (THIRTY_DAYS + 1), b"TOUCHED\r\n")
    conn.expect(b"get t\r\n", b"END\r\n")


def test_expired_item_is_not_found_for_other_commands(conn):
    conn.expect(b"set e 0 -1 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"incr e 1\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"touch e 10\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"delete e\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"replace e 0 0 1\r\n2\r\n", b"NOT_STORED\r\n")
    conn.expect(b"add e 0 0 1\r\n2\r\n", b"STORED\r\n")
