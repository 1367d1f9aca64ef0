"""`apply <bytes>`: Tandem's restore path. A batch of replication frames is
merged by last-writer-wins, checked whole before anything is applied, and
replicated to peers as the receiving node's own writes."""
import time

import pytest

from frames import flush_frame, set_frame, tomb_frame, version
from harness import IS_MEMCACHED, free_port, wait_for

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="apply is Tandem's; TARGET=memcached")


def apply(conn, batch, extra=b""):
    return conn.call(b"apply %d%s\r\n%s\r\n" % (len(batch), extra, batch), until=b"\r\n")


def meta(conn, key):
    return conn.call(b"mg %s v f t c\r\n" % key, until=b"\r\n")


def test_records_keep_value_flags_version_and_ttl(conn):
    v1, v2 = version(node=7), version(logical=3, node=9)
    exp = int(time.time()) + 1000
    batch = set_frame(b"a", b"alpha", v1, flags=42) + set_frame(b"b", b"beta", v2, exptime=exp)
    assert apply(conn, batch) == b"APPLIED 2 0\r\n"
    reply = conn.call(b"mg a v f t c\r\n", until=b"alpha\r\n")
    assert reply == b"VA 5 f42 t-1 c%d\r\nalpha\r\n" % v1
    reply = conn.call(b"mg b f t c\r\n", until=b"\r\n")
    ttl = int(reply.split()[2][1:])
    assert 995 <= ttl <= 1000 and reply.split()[3] == b"c%d" % v2


def test_older_records_never_overwrite_newer_data(conn):
    old = version(ms=int(time.time() * 1000) - 60_000)
    conn.expect(b"set k 0 0 3\r\nnew\r\n", b"STORED\r\n")
    assert apply(conn, set_frame(b"k", b"old", old) + tomb_frame(b"k", old)) == b"APPLIED 0 2\r\n"
    assert conn.call(b"get k\r\n", until=b"END\r\n") == b"VALUE k 0 3\r\nnew\r\nEND\r\n"
    # and a newer tombstone deletes
    assert apply(conn, tomb_frame(b"k", version(ms=int(time.time() * 1000) + 1000))) \
        == b"APPLIED 1 0\r\n"
    assert conn.call(b"get k\r\n", until=b"END\r\n") == b"END\r\n"


def test_a_bad_frame_refuses_the_whole_batch_and_names_the_offset(conn):
    good = set_frame(b"x", b"1", version())
    bad = bytearray(set_frame(b"y", b"2", version()))
    bad[20] ^= 0x01
    reply = apply(conn, good + bytes(bad))
    # the offset is the bad frame's stored CRC, in the batch
    assert reply == b"CLIENT_ERROR bad frame at offset %d: CRC32C mismatch: the frame is " \
        b"corrupt\r\n" % (len(good) + len(bad) - 4)
    assert conn.call(b"get x\r\n", until=b"END\r\n") == b"END\r\n"  # nothing applied
    reply = apply(conn, good + set_frame(b"z", b"3", version())[:-3])
    assert reply == b"CLIENT_ERROR bad frame at offset %d: truncated frame\r\n" % len(good)
    assert conn.call(b"get x\r\n", until=b"END\r\n") == b"END\r\n"
    # the connection is still in step
    conn.expect(b"version\r\n", b"VERSION 1.6.18\r\n")


def test_refusals_are_clear(conn):
    future = version(ms=int(time.time() * 1000) + 2 * 3600 * 1000)
    reply = apply(conn, set_frame(b"f", b"v", future))
    assert reply.startswith(b"CLIENT_ERROR bad frame at offset 0: version ") and \
        b"more than an hour ahead" in reply
    conn.expect(b"apply 5\r\nabcdeXY", b"CLIENT_ERROR bad data chunk\r\n")
    conn.expect(b"apply x\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"apply 99999999999\r\n", b"CLIENT_ERROR bad command line format\r\n")
    # too large: refused at once, and the block is skipped, not parsed
    conn.send(b"apply 67108865\r\n" + b"x" * 67108865 + b"\r\n")
    conn.expect(b"version\r\n", b"CLIENT_ERROR apply batch larger than 67108864 bytes\r\n"
                b"VERSION 1.6.18\r\n")


def test_noreply_flush_and_a_large_batch(conn):
    batch = b"".join(set_frame(b"k%d" % i, b"v" * 100, version(logical=i % 4096))
                     for i in range(5000))
    conn.send(b"apply %d noreply\r\n%s\r\n" % (len(batch), batch))
    conn.expect(b"get k4999\r\n", b"VALUE k4999 0 100\r\n" + b"v" * 100 + b"\r\nEND\r\n")
    assert apply(conn, flush_frame(version(ms=int(time.time() * 1000) + 1000))) \
        == b"APPLIED 1 0\r\n"
    conn.expect(b"get k4999\r\n", b"END\r\n")


def test_a_replica_refuses_and_peers_receive_applied_records(server_factory):
    rp = [free_port(), free_port()]
    a = server_factory("--repl-port", str(rp[0]), "--peer", "127.0.0.1:%d" % rp[1],
                       "--node-id", "1")
    b = server_factory("--repl-port", str(rp[1]), "--peer", "127.0.0.1:%d" % rp[0],
                       "--node-id", "2")
    replica = server_factory("--repl-port", str(free_port()), "--replica-of",
                             "127.0.0.1:%d" % rp[0], "--node-id", "3")
    v = version(node=77)  # another cluster's version: origin is not a or b
    with a.conn() as ca, b.conn() as cb, replica.conn() as cr:
        assert apply(ca, set_frame(b"restored", b"yes", v, origin=77)) == b"APPLIED 1 0\r\n"
        wait_for(lambda: cb.call(b"mg restored c\r\n", until=b"\r\n") == b"HD c%d\r\n" % v,
                 timeout=10, what="the peer to receive the applied record")
        wait_for(lambda: cr.call(b"mg restored c\r\n", until=b"\r\n") == b"HD c%d\r\n" % v,
                 timeout=10, what="the replica to receive the applied record")
        reply = apply(cr, set_frame(b"r", b"v", version()))
        assert reply == b"SERVER_ERROR read-only replica of 127.0.0.1:%d\r\n" % rp[0]


def test_delayed_flushes_converge_whatever_their_order(server_factory):
    """Two delayed flush_alls issued on two nodes at the same moment reach the
    nodes in opposite orders; both keep the one issued last."""
    now_ms = int(time.time() * 1000)
    soon, far = int(time.time()) + 2, int(time.time()) + 3600
    first = flush_frame(version(ms=far * 1000, node=1), when=far, origin=1,
                        issued=version(ms=now_ms - 5, node=1))
    second = flush_frame(version(ms=soon * 1000, node=2), when=soon, origin=2,
                         issued=version(ms=now_ms - 4, node=2))  # issued later
    nodes = [server_factory(), server_factory()]
    conns = [n.conn() for n in nodes]
    try:
        for c in conns:
            c.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
        assert apply(conns[0], first + second) == b"APPLIED 2 0\r\n"
        assert apply(conns[1], second + first) == b"APPLIED 2 0\r\n"
        for c in conns:  # both flush at `soon`, neither waits an hour
            wait_for(lambda c=c: c.call(b"get k\r\n", until=b"END\r\n") == b"END\r\n",
                     timeout=10, what="the flush issued last to take effect")
    finally:
        for c in conns:
            c.close()
