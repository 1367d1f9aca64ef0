"""Item size limits (-I, -C), memory limits (-m, -M) and eviction."""
import pytest

from harness import stats_dict

TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"


def set_cmd(key, n, flags=0, cmd=b"set", extra=b""):
    return b"%s %s %d 0 %d%s\r\n%s\r\n" % (cmd, key, flags, n, extra, b"x" * n)


def assert_max(conn, key, flags, limit):
    """`limit` bytes fit for (key, flags); limit+1 does not."""
    conn.expect(set_cmd(key, limit, flags), b"STORED\r\n")
    head = conn.call(b"get %s\r\n" % key, until=b"\r\n")
    assert head == b"VALUE %s %d %d\r\n" % (key, flags, limit)
    conn.recv_until(b"END\r\n")
    conn.expect(set_cmd(key, limit + 1, flags), TOO_LARGE)


@pytest.mark.parametrize("key,flags,limit", [
    (b"a", 0, 1048516),          # 1 MB - 48 header - 8 cas - 2 key - 2 crlf
    (b"a", 1, 1048512),          # flags != 0 take 4 more bytes
    (b"a", 4294967295, 1048512),
    (b"k" * 250, 0, 1048267),
])
def test_max_value_size_default_1m(conn, key, flags, limit):
    assert_max(conn, key, flags, limit)


def test_max_value_size_without_cas(server_factory):
    srv = server_factory("-C")
    with srv.conn() as c:
        c.expect(set_cmd(b"a", 1048524), b"STORED\r\n")
        head = c.call(b"gets a\r\n", until=b"\r\n")
        assert head == b"VALUE a 0 1048524 0\r\n"    # -C: cas is always 0
        c.recv_until(b"END\r\n")
        c.expect(set_cmd(b"a", 1048525), TOO_LARGE)


def test_max_value_size_with_I_2m(server_factory):
    srv = server_factory("-I", "2m")
    with srv.conn() as c:
        assert_max(c, b"a", 0, 2097092)


def test_small_I_needs_smaller_chunk_max(server_factory):
    srv = server_factory("-I", "1k", "-o", "slab_chunk_max=512")
    with srv.conn() as c:
        assert stats_dict(c, b"settings")["item_size_max"] == "1024"
        assert_max(c, b"a", 0, 1024 - 48 - 8 - 2 - 2)


def test_too_large_set_swallows_data_and_deletes_old_value(conn):
    conn.expect(b"set a 0 0 3\r\nold\r\n", b"STORED\r\n")
    big = 2 * 1024 * 1024
    # The value holds a command line; it must be swallowed, not executed.
    payload = (b"delete sentinel\r\n" * (big // 17 + 1))[:big]
    conn.expect(b"set sentinel 0 0 1\r\ns\r\n", b"STORED\r\n")
    conn.expect(b"set a 0 0 %d\r\n%s\r\n" % (big, payload), TOO_LARGE)
    conn.expect(b"get a sentinel\r\n", b"VALUE sentinel 0 1\r\ns\r\nEND\r\n")
    st = stats_dict(conn)
    assert st["store_too_large"] == "1"


@pytest.mark.parametrize("cmd", [b"add", b"replace", b"append", b"prepend", b"cas"])
def test_too_large_other_commands_keep_old_value(conn, cmd):
    conn.expect(b"set a 0 0 3\r\nold\r\n", b"STORED\r\n")
    n = 1048576 + 10
    extra = b" 1" if cmd == b"cas" else b""
    conn.expect(set_cmd(b"a", n, cmd=cmd, extra=extra), TOO_LARGE)
    conn.expect(b"get a\r\n", b"VALUE a 0 3\r\nold\r\nEND\r\n")


def test_too_large_noreply_is_silent_and_swallowed(conn):
    conn.expect(b"set a 0 0 2000000 noreply\r\n%s\r\n" % (b"v" * 2000000), b"")
    conn.expect(b"get a\r\n", b"END\r\n")


def test_append_growing_beyond_limit_is_not_stored(conn):
    # Each part fits, the sum does not: the append fails to allocate.
    conn.expect(set_cmd(b"a", 1048000), b"STORED\r\n")
    conn.expect(b"append a 0 0 1000\r\n%s\r\n" % (b"y" * 1000), b"NOT_STORED\r\n")
    head = conn.call(b"get a\r\n", until=b"\r\n")
    assert head == b"VALUE a 0 1048000\r\n"
    conn.recv_until(b"END\r\n")


def test_length_out_of_int_range(conn):
    for n in (b"2147483647", b"2147483646", b"99999999999999999999"):
        conn.expect(b"set k 0 0 %s\r\n" % n, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"get k\r\n", b"END\r\n")


def test_length_2_pow_32_truncates_to_zero(conn):
    # safe_strtol + (int) cast: 4294967296 becomes an empty value.
    conn.expect(b"set k 0 0 4294967296\r\n\r\n", b"STORED\r\n")
    conn.expect(b"get k\r\n", b"VALUE k 0 0\r\n\r\nEND\r\n")


def fill(conn, prefix, count, size):
    """Store `count` values of `size` bytes; return the first non-STORED reply."""
    value = b"x" * size
    for i in range(count):
        conn.send(b"set %s%d 0 0 %d\r\n%s\r\n" % (prefix, i, size, value))
        reply = conn.readline()
        if reply != b"STORED\r\n":
            return i, reply
    return count, None


def test_out_of_memory_with_M(server_factory):
    srv = server_factory("-m", "2", "-M")
    with srv.conn() as c:
        stored, reply = fill(c, b"k", 200, 100000)
        assert reply == b"SERVER_ERROR out of memory storing object\r\n"
        assert 5 <= stored < 200
        # The rejected value was swallowed: the connection is in sync.
        c.expect(b"get k0\r\n", b"VALUE k0 0 100000\r\n%s\r\nEND\r\n" % (b"x" * 100000))
        st = stats_dict(c)
        assert int(st["store_no_memory"]) >= 1
        assert st["evictions"] == "0"
        assert stats_dict(c, b"settings")["evictions"] == "off"
        # Nothing stored before was lost.
        for i in range(stored):
            head = c.call(b"get k%d\r\n" % i, until=b"\r\n")
            assert head == b"VALUE k%d 0 100000\r\n" % i
            c.recv_until(b"END\r\n")


def test_out_of_memory_noreply_and_meta(server_factory):
    srv = server_factory("-m", "2", "-M")
    with srv.conn() as c:
        stored, reply = fill(c, b"k", 200, 100000)
        assert reply is not None
        c.expect(b"set z 0 0 100000 noreply\r\n%s\r\n" % (b"x" * 100000), b"")
        c.expect(b"ms z 100000\r\n%s\r\n" % (b"x" * 100000),
                 b"SERVER_ERROR out of memory storing object\r\n")


def test_eviction_without_M(server_factory):
    srv = server_factory("-m", "2")
    with srv.conn() as c:
        stored, reply = fill(c, b"k", 60, 100000)
        assert (stored, reply) == (60, None)
        st = stats_dict(c)
        assert int(st["evictions"]) > 0
        c.expect(b"get k0\r\n", b"END\r\n")   # the oldest was evicted
        head = c.call(b"get k59\r\n", until=b"\r\n")
        assert head == b"VALUE k59 0 100000\r\n"
        c.recv_until(b"END\r\n")
