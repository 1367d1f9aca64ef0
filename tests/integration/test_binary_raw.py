"""Binary protocol with hand-built packets (struct.pack), byte for byte."""
import struct

import pytest

from harness import (
    OP_ADD, OP_ADDQ, OP_APPEND, OP_APPENDQ, OP_DECR, OP_DECRQ, OP_DELETE, OP_DELETEQ,
    OP_FLUSH, OP_FLUSHQ, OP_GAT, OP_GATK, OP_GATKQ, OP_GATQ, OP_GET, OP_GETK, OP_GETKQ,
    OP_GETQ, OP_INCR, OP_INCRQ, OP_NOOP, OP_PREPEND, OP_PREPENDQ, OP_QUIT, OP_QUITQ,
    OP_REPLACE, OP_REPLACEQ, OP_SET, OP_SETQ, OP_STAT, OP_TOUCH, OP_VERSION, RES_MAGIC,
    ST_DELTA_BADVAL, ST_E2BIG, ST_EEXISTS, ST_EINVAL, ST_ENOENT, ST_ENOMEM, ST_NOT_STORED,
    ST_OK, ST_UNKNOWN_COMMAND, HEADER, bin_call, bin_incr_extras, bin_read, bin_request,
    bin_store_extras, stats_dict,
)

NOT_FOUND = b"Not found"
EXISTS = b"Data exists for key."
NOT_STORED = b"Not stored."
EINVAL = b"Invalid arguments"
NON_NUMERIC = b"Non-numeric server-side value for incr or decr"


def bset(conn, key, value, flags=0, exptime=0, cas=0, op=OP_SET, opaque=0):
    return bin_call(conn, op, key=key, extras=bin_store_extras(flags, exptime), value=value,
                    cas=cas, opaque=opaque)


def counter(value):
    return struct.pack(">Q", value)


def assert_error(r, opcode, status, message, key=b""):
    assert (r.magic, r.opcode, r.status, r.extras, r.key, r.value, r.cas) == \
        (RES_MAGIC, opcode, status, b"", key, message, 0)


@pytest.fixture
def text(server):
    """A second, text-protocol connection: a connection that spoke binary
    first stays binary."""
    c = server.conn()
    yield c
    c.close()


def test_response_header_layout_is_exact(conn):
    conn.send(bin_request(OP_VERSION, opaque=0x01020304))
    raw = conn.recv_exact(24 + 6)
    assert raw == HEADER.pack(RES_MAGIC, OP_VERSION, 0, 0, 0, 0, 6, 0x01020304, 0) + b"1.6.18"


def test_noop_and_version(conn):
    r = bin_call(conn, OP_NOOP, opaque=7)
    assert (r.magic, r.opcode, r.status, r.bodylen, r.opaque, r.cas) == (RES_MAGIC, OP_NOOP, 0, 0, 7, 0)
    r = bin_call(conn, OP_VERSION)
    assert (r.status, r.value) == (ST_OK, b"1.6.18")


def test_set_get_getk(conn):
    r = bset(conn, b"a", b"hello", flags=5)
    assert (r.opcode, r.status, r.bodylen) == (OP_SET, ST_OK, 0)
    assert r.cas > 0
    cas = r.cas
    r = bin_call(conn, OP_GET, key=b"a", opaque=0xdeadbeef)
    assert (r.status, r.extras, r.key, r.value, r.cas, r.opaque) == \
        (ST_OK, struct.pack(">I", 5), b"", b"hello", cas, 0xdeadbeef)
    r = bin_call(conn, OP_GETK, key=b"a")
    assert (r.status, r.extras, r.key, r.value, r.cas) == (ST_OK, struct.pack(">I", 5), b"a", b"hello", cas)


def test_binary_and_text_share_data(conn, text):
    bset(conn, b"shared", b"from-binary", flags=3)
    text.expect(b"get shared\r\n", b"VALUE shared 3 11\r\nfrom-binary\r\nEND\r\n")
    text.expect(b"set t 9 0 4\r\ntext\r\n", b"STORED\r\n")
    r = bin_call(conn, OP_GET, key=b"t")
    assert (r.extras, r.value) == (struct.pack(">I", 9), b"text")


def test_get_miss(conn):
    assert_error(bin_call(conn, OP_GET, key=b"nope"), OP_GET, ST_ENOENT, NOT_FOUND)
    # GETK echoes the key on a miss, instead of the message.
    assert_error(bin_call(conn, OP_GETK, key=b"nope"), OP_GETK, ST_ENOENT, b"", key=b"nope")


def test_add_replace(conn):
    assert bset(conn, b"a", b"1", op=OP_ADD).status == ST_OK
    assert_error(bset(conn, b"a", b"2", op=OP_ADD), OP_ADD, ST_EEXISTS, EXISTS)
    assert_error(bset(conn, b"zz", b"2", op=OP_REPLACE), OP_REPLACE, ST_ENOENT, NOT_FOUND)
    assert bset(conn, b"a", b"3", op=OP_REPLACE).status == ST_OK
    assert bin_call(conn, OP_GET, key=b"a").value == b"3"


def test_cas(conn):
    cas = bset(conn, b"a", b"1").cas
    assert_error(bset(conn, b"a", b"2", cas=cas + 1), OP_SET, ST_EEXISTS, EXISTS)
    r = bset(conn, b"a", b"2", cas=cas)
    assert r.status == ST_OK and r.cas > cas
    assert_error(bset(conn, b"zz", b"2", cas=5, op=OP_REPLACE), OP_REPLACE, ST_ENOENT, NOT_FOUND)
    assert_error(bin_call(conn, OP_DELETE, key=b"a", cas=999), OP_DELETE, ST_EEXISTS, EXISTS)


def test_delete(conn):
    bset(conn, b"a", b"1")
    r = bin_call(conn, OP_DELETE, key=b"a")
    assert (r.status, r.bodylen) == (ST_OK, 0)
    assert_error(bin_call(conn, OP_DELETE, key=b"a"), OP_DELETE, ST_ENOENT, NOT_FOUND)


def test_incr_decr(conn):
    bset(conn, b"n", b"100")
    r = bin_call(conn, OP_DECR, key=b"n", extras=bin_incr_extras(1))
    assert (r.status, r.value) == (ST_OK, counter(99))
    # Shorter results are padded in place, as with the text protocol.
    assert bin_call(conn, OP_GET, key=b"n").value == b"99 "
    r = bin_call(conn, OP_INCR, key=b"n", extras=bin_incr_extras(5))
    assert (r.status, r.value) == (ST_OK, counter(104))
    r = bin_call(conn, OP_DECR, key=b"n", extras=bin_incr_extras(1000))
    assert r.value == counter(0)


def test_incr_auto_create(conn, text):
    # exptime 0xffffffff: do not create.
    assert_error(bin_call(conn, OP_INCR, key=b"c", extras=bin_incr_extras(1, 10, 0xffffffff)),
                 OP_INCR, ST_ENOENT, NOT_FOUND)
    r = bin_call(conn, OP_INCR, key=b"c", extras=bin_incr_extras(1, 10, 0))
    assert (r.status, r.value) == (ST_OK, counter(10))        # initial, delta not applied
    r = bin_call(conn, OP_INCR, key=b"c", extras=bin_incr_extras(5, 10, 0))
    assert r.value == counter(15)
    r = bin_call(conn, OP_DECR, key=b"d", extras=bin_incr_extras(5, 3, 0))
    assert r.value == counter(3)
    text.expect(b"get c d\r\n", b"VALUE c 0 2\r\n15\r\nVALUE d 0 1\r\n3\r\nEND\r\n")


def test_incr_wraps(conn):
    r = bin_call(conn, OP_INCR, key=b"w", extras=bin_incr_extras(0, 2 ** 64 - 1, 0))
    assert r.value == counter(2 ** 64 - 1)
    r = bin_call(conn, OP_INCR, key=b"w", extras=bin_incr_extras(2))
    assert r.value == counter(1)
    assert bin_call(conn, OP_GET, key=b"w").value == b"1" + b" " * 19


def test_incr_non_numeric_and_bad_extras(conn):
    bset(conn, b"a", b"x")
    assert_error(bin_call(conn, OP_INCR, key=b"a", extras=bin_incr_extras(1)),
                 OP_INCR, ST_DELTA_BADVAL, NON_NUMERIC)
    assert_error(bin_call(conn, OP_INCR, key=b"a", extras=b""), OP_INCR, ST_EINVAL, EINVAL)


def test_append_prepend(conn):
    bset(conn, b"a", b"mid", flags=4)
    assert bin_call(conn, OP_APPEND, key=b"a", value=b"-end").status == ST_OK
    assert bin_call(conn, OP_PREPEND, key=b"a", value=b"start-").status == ST_OK
    r = bin_call(conn, OP_GET, key=b"a")
    assert (r.extras, r.value) == (struct.pack(">I", 4), b"start-mid-end")
    assert_error(bin_call(conn, OP_APPEND, key=b"zz", value=b"!"), OP_APPEND, ST_NOT_STORED, NOT_STORED)
    assert_error(bin_call(conn, OP_PREPEND, key=b"zz", value=b"!"), OP_PREPEND, ST_NOT_STORED, NOT_STORED)


def test_touch_gat_gatk(conn, text):
    cas = bset(conn, b"a", b"hello", flags=5).cas
    r = bin_call(conn, OP_TOUCH, key=b"a", extras=struct.pack(">I", 100))
    assert (r.status, r.extras, r.value, r.cas) == (ST_OK, struct.pack(">I", 5), b"", cas)
    r = bin_call(conn, OP_GAT, key=b"a", extras=struct.pack(">I", 200))
    assert (r.status, r.extras, r.key, r.value, r.cas) == (ST_OK, struct.pack(">I", 5), b"", b"hello", cas)
    r = bin_call(conn, OP_GATK, key=b"a", extras=struct.pack(">I", 200))
    assert (r.key, r.value) == (b"a", b"hello")
    ttl = int(text.roundtrip(b"mg a t\r\n")[4:-2])
    assert 198 <= ttl <= 200
    assert_error(bin_call(conn, OP_TOUCH, key=b"zz", extras=struct.pack(">I", 1)),
                 OP_TOUCH, ST_ENOENT, NOT_FOUND)
    assert_error(bin_call(conn, OP_GAT, key=b"zz", extras=struct.pack(">I", 1)),
                 OP_GAT, ST_ENOENT, NOT_FOUND)


def test_touch_without_extras_is_invalid(conn):
    bset(conn, b"a", b"1")
    assert_error(bin_call(conn, OP_TOUCH, key=b"a", extras=b""), OP_TOUCH, ST_EINVAL, EINVAL)


def test_flush(conn):
    bset(conn, b"a", b"1")
    r = bin_call(conn, OP_FLUSH)
    assert (r.status, r.bodylen) == (ST_OK, 0)
    assert bin_call(conn, OP_GET, key=b"a").status == ST_ENOENT


def test_flush_with_delay(conn):
    bset(conn, b"a", b"1")
    assert bin_call(conn, OP_FLUSH, extras=struct.pack(">I", 3)).status == ST_OK
    assert bin_call(conn, OP_GET, key=b"a").status == ST_OK


def test_stat(conn):
    from test_stats import GENERAL
    conn.send(bin_request(OP_STAT, opaque=9))
    names = []
    for _ in range(500):
        r = bin_read(conn)
        assert (r.opcode, r.status, r.opaque) == (OP_STAT, ST_OK, 9)
        if not r.key:
            assert r.bodylen == 0
            break
        names.append(r.key.decode())
    assert names == GENERAL


def test_stat_settings_and_unknown_group(conn):
    conn.send(bin_request(OP_STAT, key=b"settings"))
    first = bin_read(conn)
    assert (first.key, first.value) == (b"maxbytes", b"67108864")
    for _ in range(500):
        if not bin_read(conn).key:
            break
    assert_error(bin_call(conn, OP_STAT, key=b"foo"), OP_STAT, ST_ENOENT, NOT_FOUND)


def test_quiet_variants(conn, text):
    E = bin_store_extras()
    conn.send(
        bin_request(OP_GETQ, key=b"nope", opaque=1)                      # miss: silent
        + bin_request(OP_SETQ, key=b"q", extras=E, value=b"v", opaque=2)  # ok: silent
        + bin_request(OP_ADDQ, key=b"q", extras=E, value=b"v", opaque=3)  # error: sent
        + bin_request(OP_GETKQ, key=b"q", opaque=4)                       # hit: sent
        + bin_request(OP_GETQ, key=b"q", opaque=44)                       # hit: sent
        + bin_request(OP_DELETEQ, key=b"nope", opaque=5)                  # error: sent
        + bin_request(OP_INCRQ, key=b"c", extras=bin_incr_extras(1, 5, 0), opaque=6)
        + bin_request(OP_GATQ, key=b"q", extras=struct.pack(">I", 0), opaque=7)
        + bin_request(OP_GATKQ, key=b"q", extras=struct.pack(">I", 0), opaque=8)
        + bin_request(OP_APPENDQ, key=b"q", value=b"2", opaque=9)
        + bin_request(OP_PREPENDQ, key=b"x", value=b"2", opaque=10)
        + bin_request(OP_REPLACEQ, key=b"x", extras=E, value=b"2", opaque=11)
        + bin_request(OP_DECRQ, key=b"c", extras=bin_incr_extras(1, 5, 0), opaque=12)
        + bin_request(OP_NOOP, opaque=14))
    got = []
    for _ in range(20):
        r = bin_read(conn)
        got.append((r.opcode, r.opaque, r.status, r.key, r.value))
        if r.opcode == OP_NOOP:
            break
    assert got == [
        (OP_ADDQ, 3, ST_EEXISTS, b"", EXISTS),
        (OP_GETKQ, 4, ST_OK, b"q", b"v"),
        (OP_GETQ, 44, ST_OK, b"", b"v"),
        (OP_DELETEQ, 5, ST_ENOENT, b"", NOT_FOUND),
        (OP_GATQ, 7, ST_OK, b"", b"v"),
        (OP_GATKQ, 8, ST_OK, b"q", b"v"),
        (OP_PREPENDQ, 10, ST_NOT_STORED, b"", NOT_STORED),
        (OP_REPLACEQ, 11, ST_ENOENT, b"", NOT_FOUND),
        (OP_NOOP, 14, ST_OK, b"", b""),
    ]
    # c was created at 5 by INCRQ (initial, no delta), then DECRQ'd to 4.
    text.expect(b"get q c\r\n", b"VALUE q 0 2\r\nv2\r\nVALUE c 0 1\r\n4\r\nEND\r\n")


def test_flushq_is_silent(conn):
    bset(conn, b"a", b"1")
    conn.send(bin_request(OP_FLUSHQ, opaque=1) + bin_request(OP_NOOP, opaque=2))
    r = bin_read(conn)
    assert (r.opcode, r.opaque) == (OP_NOOP, 2)
    assert bin_call(conn, OP_GET, key=b"a").status == ST_ENOENT


def test_quit_and_quitq(server):
    with server.conn() as c:
        r = bin_call(c, OP_QUIT, opaque=3)
        assert (r.opcode, r.status, r.opaque, r.bodylen) == (OP_QUIT, ST_OK, 3, 0)
        assert c.expect_closed() == b""
    with server.conn() as c:
        c.send(bin_request(OP_QUITQ))
        assert c.expect_closed() == b""


@pytest.mark.parametrize("opcode", [0x1b, 0x20, 0x30, 0x3c, 0x50, 0xff])
def test_unknown_opcode(conn, opcode):
    assert_error(bin_call(conn, opcode, opaque=5), opcode, ST_UNKNOWN_COMMAND, b"Unknown command")
    assert bin_call(conn, OP_NOOP).status == ST_OK     # the connection survives


def test_bad_magic_after_binary_closes(conn):
    assert bin_call(conn, OP_NOOP).status == ST_OK
    conn.send(bin_request(OP_NOOP, magic=0x42))
    assert conn.expect_closed() == b""


def test_non_0x80_first_byte_means_text(conn):
    # Protocol auto-negotiation looks at the first byte of a connection.
    conn.send(bin_request(OP_NOOP, magic=0x42) + b"\r\nversion\r\n")
    assert conn.recv_until(b"VERSION 1.6.18\r\n").endswith(b"ERROR\r\nVERSION 1.6.18\r\n")


def test_invalid_arguments_close_the_connection(server):
    cases = [
        dict(opcode=OP_GET, key=b"k" * 251),
        dict(opcode=OP_GET, key=b""),
        dict(opcode=OP_SET, key=b"a", value=b"x"),               # no extras
        dict(opcode=OP_VERSION, key=b"x"),
    ]
    for case in cases:
        with server.conn() as c:
            r = bin_call(c, case.pop("opcode"), **case)
            assert (r.status, r.value) == (ST_EINVAL, EINVAL)
            assert c.expect_closed() == b""


def test_too_large_value(conn):
    bset(conn, b"a", b"old")
    r = bset(conn, b"a", b"x" * 2000000)
    assert_error(r, OP_SET, ST_E2BIG, b"Too large.")
    assert bin_call(conn, OP_NOOP).status == ST_OK        # the body was swallowed
    assert bin_call(conn, OP_GET, key=b"a").status == ST_ENOENT


def test_out_of_memory(server_factory):
    srv = server_factory("-m", "2", "-M")
    with srv.conn() as c:
        for i in range(100):
            r = bset(c, b"k%d" % i, b"x" * 100000)
            if r.status != ST_OK:
                break
        assert_error(r, OP_SET, ST_ENOMEM, b"Out of memory allocating item")
        assert 5 <= i < 100


def test_binary_stats_counters(conn, text):
    bset(conn, b"a", b"1")
    bin_call(conn, OP_GET, key=b"a")
    bin_call(conn, OP_GET, key=b"b")
    st = stats_dict(text)
    assert (st["cmd_set"], st["cmd_get"], st["get_hits"], st["get_misses"]) == ("1", "2", "1", "1")


def test_ascii_only_server_reads_binary_as_text(server_factory):
    srv = server_factory("-B", "ascii")
    with srv.conn() as c:
        c.send(bin_request(OP_NOOP) + b"\r\nversion\r\n")
        assert c.recv_until(b"VERSION 1.6.18\r\n").endswith(b"ERROR\r\nVERSION 1.6.18\r\n")


def test_binary_only_server(server_factory):
    srv = server_factory("-B", "binary")
    with srv.conn() as c:
        assert bin_call(c, OP_VERSION).value == b"1.6.18"
    with srv.conn() as c:
        c.send(b"version\r\n" * 3)
        assert c.expect_closed() == b""
