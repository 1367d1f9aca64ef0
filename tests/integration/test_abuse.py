"""Bad input. After every abuse the server still serves a second client, and
a sentinel key stored before the abuse is intact (conftest.Sentinel).
Random input is seeded and every loop is bounded in count and time."""
import random
import socket
import struct
import time

import pytest

from harness import OP_GET, OP_NOOP, OP_SET, bin_request, bin_store_extras, stats_dict

DEADLINE = 30.0   # seconds any single abuse loop may run


def quiet_close(c):
    try:
        c.close()
    except OSError:
        pass


def drain(c, timeout=3.0):
    """Half-close and read until the server closes: it has then processed
    everything we sent. Returns what it said (errors are fine)."""
    out = b""
    deadline = time.monotonic() + timeout
    try:
        c.sock.shutdown(socket.SHUT_WR)
        while time.monotonic() < deadline:
            c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, OSError):
        pass
    return out


MALFORMED = [
    b"\r\n", b"\x00\x00\x00\r\n", b"get\r\n", b"set\r\n", b"set k\r\n", b"set k 0 0\r\n",
    b"set k 0 0 -5\r\n", b"set k -1 -1 -1\r\n", b"set k 0 0 99999999999999999999999\r\n",
    b"incr k\r\n", b"incr k -1\r\n", b"decr k 99999999999999999999999\r\n",
    b"delete k k k k\r\n", b"touch\r\n", b"gat\r\n", b"gats x y z\r\n", b"cas k 0 0 1 -1\r\n",
    b"verbosity x y z\r\n", b"flush_all x y z\r\n", b"stats cachedump -1 -1\r\n",
    b"stats detail dump dump\r\n", b"lru_crawler metadump -1\r\n", b"lru_crawler crawl -1\r\n",
    b"slabs reassign -1 -1\r\n", b"slabs automove -1\r\n", b"lru tune -1 -1 -1 -1\r\n",
    b"cache_memlimit -99999999999999\r\n", b"mg\r\n", b"mg k O" + b"x" * 300 + b"\r\n",
    b"ms k -1\r\n", b"ms k 1 " + b"T" * 100 + b"\r\nx\r\n", b"md k C-1\r\n", b"ma k D-1 J-1 N-1\r\n",
    b"me\r\n", b"mn mn mn\r\n", b"mg " + b"=" * 200 + b" b\r\n", b"ms %%% 1 b\r\nx\r\n",
    b"get " + b" " * 5000 + b"\r\n", b"\xff\xfe\xfd\r\n", b"GET / HTTP/1.0\r\n",
    b"set sentinel 0 0 1 noreply extra\r\nX\r\n",
]


@pytest.mark.parametrize("line", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_commands(server, sentinel, line):
    with server.conn() as c:
        c.send(line)
        c.send(b"version\r\n")
        drain(c)
    sentinel.check()


def test_malformed_commands_keep_the_connection_usable(conn, sentinel):
    # Each of these gets an error reply and the same connection goes on.
    for line in (b"get\r\n", b"incr k -1\r\n", b"mg k zz\r\n", b"delete k 5\r\n",
                 b"set k 0 0 -1\r\n", b"cas k 0 0 1 x\r\n"):
        reply = conn.roundtrip(line)
        assert reply.startswith((b"ERROR", b"CLIENT_ERROR")), (line, reply)
    conn.expect(b"get sentinel\r\n",
                b"VALUE sentinel 77 %d\r\n%s\r\nEND\r\n" % (len(sentinel.VALUE), sentinel.VALUE))


def test_oversized_keys_everywhere(conn, sentinel):
    k = b"k" * 300
    conn.expect(b"get %s\r\n" % k, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"set %s 0 0 1\r\nx\r\n" % k, b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    conn.expect(b"mg %s v\r\n" % k, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"ms %s 1\r\nx\r\n" % k, b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    sentinel.check()


def test_oversized_values_in_a_row(conn, sentinel):
    big = b"v" * (1024 * 1024 + 100)
    for i in range(5):
        conn.expect(b"set big%d 0 0 %d\r\n%s\r\n" % (i, len(big), big),
                    b"SERVER_ERROR object too large for cache\r\n")
    sentinel.check()


def test_negative_lengths(conn, sentinel):
    for cmd in (b"set", b"add", b"replace", b"append", b"prepend"):
        conn.expect(b"%s sentinel 0 0 -1\r\n" % cmd, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"cas sentinel 0 0 -1 1\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"ms sentinel -1\r\n", b"CLIENT_ERROR bad command line format\r\n")
    sentinel.check()


def test_random_garbage_text(server, sentinel):
    rng = random.Random(1618)
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 \r\n\t\x00\xff-"
    start = time.monotonic()
    for i in range(150):
        assert time.monotonic() - start < DEADLINE
        n = rng.randint(1, 3000)
        if i % 3 == 0:
            data = bytes(rng.getrandbits(8) for _ in range(n))
        else:
            data = bytes(rng.choice(alphabet) for _ in range(n))
        if data[:1] == b"\x80":
            data = b"x" + data           # binary garbage has its own test
        # Never let garbage touch the sentinel (it is a valid command prefix).
        data = data.replace(b"sentinel", b"sentinal")
        with server.conn() as c:
            c.send(data)
            drain(c)
    sentinel.check()


def test_random_garbage_binary(server, sentinel):
    rng = random.Random(2718)
    start = time.monotonic()
    for i in range(150):
        assert time.monotonic() - start < DEADLINE
        header = bytearray(rng.getrandbits(8) for _ in range(24))
        header[0] = 0x80
        if i % 2:
            # Keep the body length small so the server is not left waiting.
            struct.pack_into(">I", header, 8, rng.randint(0, 64))
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        with server.conn() as c:
            try:
                c.send(bytes(header) + body)
            except OSError:
                pass
            drain(c)
    sentinel.check()


def test_binary_huge_declared_body_then_close(server, sentinel):
    with server.conn() as c:
        c.send(bin_request(OP_SET, key=b"x", extras=bin_store_extras(), value=b"")[:8]
               + struct.pack(">I", 0xFFFFFFF0) + b"\x00" * 12 + b"partial")
    sentinel.check()


def test_half_sent_requests_then_close(server, sentinel):
    partials = [
        b"set sentinel 0 0 10\r\nabc",      # would overwrite the sentinel if completed
        b"set half 0 0 10\r\n",
        b"get sentinel",
        b"get sentinel sentinel sent",
        b"ms sentinel 5 T0\r\nab",
        b"cas sentinel 0 0 3 1",
        bin_request(OP_SET, key=b"sentinel", extras=bin_store_extras(), value=b"new")[:30],
        bin_request(OP_GET, key=b"sentinel")[:10],
        b"\x80",
    ]
    for data in partials:
        with server.conn() as c:
            c.send(data)
    sentinel.check()
    with server.conn() as c:
        c.expect(b"get half\r\n", b"END\r\n")


def test_disconnect_mid_value(server, sentinel):
    with server.conn() as c:
        c.expect(b"set mid 0 0 3\r\nold\r\n", b"STORED\r\n")
    with server.conn() as c:
        c.send(b"set mid 0 0 100000\r\n" + b"n" * 50000)
    with server.conn() as c:
        c.send(b"set sentinel 0 0 200000\r\n" + b"n" * 100000)
    with server.conn() as c:
        c.expect(b"get mid\r\n", b"VALUE mid 0 3\r\nold\r\nEND\r\n")
    sentinel.check()


def test_disconnect_while_reading_big_reply(server, sentinel):
    value = b"r" * 500000
    with server.conn() as c:
        c.expect(b"set bigr 0 0 %d\r\n%s\r\n" % (len(value), value), b"STORED\r\n")
    for _ in range(20):
        with server.conn() as c:
            c.send(b"get bigr bigr bigr bigr\r\n")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sentinel.check()


def test_thousands_of_connect_close_cycles(server, sentinel):
    start = time.monotonic()
    n = 2000
    for i in range(n):
        assert time.monotonic() - start < DEADLINE, "only %d cycles in %d s" % (i, DEADLINE)
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        if i % 10 == 0:
            s.sendall(b"version\r\n")
            assert s.recv(100) == b"VERSION 1.6.18\r\n"
        s.close()
    sentinel.check()
    with server.conn() as c:
        # Closing is asynchronous on the server side: poll until it caught up.
        deadline = time.monotonic() + 5
        while True:
            st = stats_dict(c)
            if st["curr_connections"] == "1" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert st["curr_connections"] == "1"
        assert int(st["total_connections"]) >= n


def test_many_concurrent_idle_connections(server, sentinel):
    conns = [server.conn() for _ in range(200)]
    try:
        for i, c in enumerate(conns[::20]):
            c.expect(b"set c%d 0 0 1\r\nx\r\n" % i, b"STORED\r\n")
    finally:
        for c in conns:
            quiet_close(c)
    sentinel.check()


def test_big_pipeline_in_one_send(conn, sentinel):
    parts, expected = [], []
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            parts.append(b"set p%d 0 0 %d\r\n%d\r\n" % (i, len(b"%d" % i), i))
            expected.append(b"STORED\r\n")
        elif kind == 1:
            parts.append(b"get p%d\r\n" % (i - 1))
            expected.append(b"VALUE p%d 0 %d\r\n%d\r\nEND\r\n" % (i - 1, len(b"%d" % (i - 1)), i - 1))
        elif kind == 2:
            parts.append(b"incr p%d 1\r\n" % (i - 2))
            expected.append(b"%d\r\n" % (i - 1))
        elif kind == 3:
            parts.append(b"mg p%d s v\r\n" % (i - 3))
            v = b"%d" % (i - 2)
            pad = len(b"%d" % (i - 3)) - len(v)
            v = v + b" " * max(0, pad)
            expected.append(b"VA %d s%d\r\n%s\r\n" % (len(v), len(v), v))
        else:
            parts.append(b"bogus\r\n")
            expected.append(b"ERROR\r\n")
    conn.expect(b"".join(parts), b"".join(expected), timeout=20)
    sentinel.check()


def test_client_that_never_reads(server, sentinel):
    """A client pipelines many big gets and never reads; others are unaffected."""
    value = b"s" * 100000
    with server.conn() as c:
        c.expect(b"set slow 0 0 %d\r\n%s\r\n" % (len(value), value), b"STORED\r\n")
    hog = server.conn()
    try:
        hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            hog.sock.settimeout(2)
            for _ in range(200):
                hog.sock.sendall(b"get slow\r\n" * 10)
        except (socket.timeout, OSError):
            pass
        sentinel.check()
    finally:
        quiet_close(hog)
    sentinel.check()


def test_slow_byte_by_byte_client_does_not_block_others(server, sentinel):
    slow = server.conn()
    try:
        for b in b"set slowkey 0 0 5\r\nhel":
            slow.send(bytes([b]))
        sentinel.check()      # another client is served meanwhile
        slow.send(b"lo\r\n")
        assert slow.readline() == b"STORED\r\n"
    finally:
        slow.close()
    sentinel.check()
