"""Issue 4, point 1: every write replicates, through every protocol (text,
meta, binary), as its resulting item: the same value, flags and CAS (the CAS
is the cluster-wide version) on both nodes, and the same remaining TTL
within a second or two. Each step is checked on both nodes of a
multi-master pair before the next one runs."""
import base64
import signal
import struct
import time

import pytest

from harness import (IS_MEMCACHED, OP_DELETE, OP_GAT, OP_INCR, OP_SET, OP_TOUCH, ST_OK, bin_call,
                     bin_incr_extras, bin_store_extras, free_port, wait_for)
from test_replication import Pair
from test_replication_common import (item, node_args, repl_stats, ttl_near,
                                     wait_item_everywhere, wait_linked, wait_stable)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")


@pytest.fixture
def pair(server_factory):
    p = Pair(server_factory)
    a, b = p.nodes
    ca, cb = a.conn(), b.conn()
    wait_linked((ca, cb))
    yield p, ca, cb
    ca.close()
    cb.close()


def gets_cas(conn, key):
    reply = conn.call(b"gets %s\r\n" % key, until=b"END\r\n")
    return int(reply.split(b"\r\n")[0].split()[4])


def test_text_storage_commands_replicate_value_flags_cas_ttl(pair):
    _, ca, cb = pair
    both = (ca, cb)
    ca.expect(b"set t:set 5 100 5\r\nhello\r\n", b"STORED\r\n")
    it = wait_item_everywhere(both, b"t:set", (b"hello", 5))
    assert ttl_near(it[3], 100, 2)
    assert it[2] == gets_cas(ca, b"t:set") == gets_cas(cb, b"t:set")

    cb.expect(b"add t:add 6 0 3\r\nnew\r\n", b"STORED\r\n")
    it = wait_item_everywhere(both, b"t:add", (b"new", 6))
    assert it[3] == -1

    ca.expect(b"replace t:set 7 200 7\r\nreplace\r\n", b"STORED\r\n")
    it = wait_item_everywhere(both, b"t:set", (b"replace", 7))
    assert ttl_near(it[3], 200, 2)

    cb.expect(b"append t:set 0 0 4\r\n-end\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"t:set", (b"replace-end", 7))
    ca.expect(b"prepend t:set 0 0 6\r\nstart-\r\n", b"STORED\r\n")
    it = wait_item_everywhere(both, b"t:set", (b"start-replace-end", 7))
    assert ttl_near(it[3], 200, 3), "append/prepend keep the TTL on both nodes"

    cas = gets_cas(cb, b"t:set")
    cb.expect(b"cas t:set 8 300 3 %d\r\ncas\r\n" % cas, b"STORED\r\n")
    it = wait_item_everywhere(both, b"t:set", (b"cas", 8))
    assert it[2] != cas and ttl_near(it[3], 300, 2)
    # the replicated CAS works as a CAS token on the other node
    ca.expect(b"cas t:set 9 0 4 %d\r\nviaA\r\n" % it[2], b"STORED\r\n")
    wait_item_everywhere(both, b"t:set", (b"viaA", 9))
    cb.expect(b"cas t:set 9 0 4 %d\r\nlate\r\n" % it[2], b"EXISTS\r\n")


def test_text_arith_touch_gat_delete_replicate(pair):
    _, ca, cb = pair
    both = (ca, cb)
    ca.expect(b"set t:n 3 500 2\r\n10\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"t:n", (b"10", 3))
    ca.expect(b"incr t:n 5\r\n", b"15\r\n")
    wait_item_everywhere(both, b"t:n", (b"15", 3))
    cb.expect(b"decr t:n 7\r\n", b"8\r\n")
    # memcached's decr shrinks in place and pads with a space
    it = wait_item_everywhere(both, b"t:n", (b"8 ", 3))
    assert ttl_near(it[3], 500, 5), "incr/decr keep the TTL"

    ca.expect(b"set t:touch 0 100 1\r\nx\r\n", b"STORED\r\n")
    before = wait_item_everywhere(both, b"t:touch", (b"x", 0))
    ca.expect(b"touch t:touch 1000\r\n", b"TOUCHED\r\n")
    it = wait_item_everywhere(both, b"t:touch", (b"x", 0))
    assert ttl_near(it[3], 1000, 2), "touch must move the TTL on the other node too: %r" % (it,)
    assert it[2] != before[2], "a replicated touch carries a new version"

    cb.expect(b"set t:gat 4 100 1\r\ny\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"t:gat", (b"y", 4))
    got = cb.call(b"gat 2000 t:gat\r\n", until=b"END\r\n")
    assert got == b"VALUE t:gat 4 1\r\ny\r\nEND\r\n"
    it = wait_item_everywhere(both, b"t:gat", (b"y", 4))
    assert ttl_near(it[3], 2000, 2)
    got = ca.call(b"gats 0 t:gat\r\n", until=b"END\r\n")
    assert got.startswith(b"VALUE t:gat 4 1 %d\r\n" % item(ca, b"t:gat")[2])
    it = wait_item_everywhere(both, b"t:gat", (b"y", 4))
    assert it[3] == -1, "gats 0 made the item permanent on both nodes: %r" % (it,)

    ca.expect(b"delete t:n\r\n", b"DELETED\r\n")
    wait_item_everywhere(both, b"t:n", None)
    cb.expect(b"delete t:gat\r\n", b"DELETED\r\n")
    wait_item_everywhere(both, b"t:gat", None)
    # a delete leaves a tombstone on both nodes, not a hole a late set could fill
    assert int(repl_stats(ca)["tombstones"]) >= 2
    assert int(repl_stats(cb)["tombstones"]) >= 2


def test_flush_all_replicates_as_a_cutoff(pair):
    _, ca, cb = pair
    both = (ca, cb)
    for i in range(5):
        ca.expect(b"set f:%d 0 0 1\r\n%d\r\n" % (i, i), b"STORED\r\n")
    wait_item_everywhere(both, b"f:4", (b"4", 0))
    cb.expect(b"flush_all\r\n", b"OK\r\n")
    for i in range(5):
        wait_item_everywhere(both, b"f:%d" % i, None)
    # a write after the flush lives on both nodes
    ca.expect(b"set f:after 0 0 5\r\nlives\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"f:after", (b"lives", 0))


def test_flush_all_does_not_echo_between_peers(pair):
    """A replicated flush must not bounce back and forth: once the flush has
    reached the peer, both write logs stop growing."""
    _, ca, cb = pair
    ca.expect(b"set e:1 0 0 1\r\n1\r\n", b"STORED\r\n")
    wait_item_everywhere((ca, cb), b"e:1", (b"1", 0))
    before = [int(repl_stats(c)["log_last"]) for c in (ca, cb)]
    ca.expect(b"flush_all\r\n", b"OK\r\n")
    wait_item_everywhere((ca, cb), b"e:1", None)
    after = wait_stable(lambda: [int(repl_stats(c)["log_last"]) for c in (ca, cb)],
                        window=1.0, timeout=4, what="the write logs to stop growing")
    grown = [x - y for x, y in zip(after, before)]
    assert grown[0] <= 2 and grown[1] <= 2, \
        "one flush_all made the logs grow by %r records (before %r, after %r)" % (grown, before, after)


def test_full_sync_carries_the_flush_cutoff(server_factory):
    """docs/replication.md, handshake step 4: a full sync sends "SET/TOMB
    records plus its flush cutoff". Node a holds k and subscribes to b; b
    runs flush_all before a's link to it is up (a is stopped meanwhile, so
    the order is certain). When a's link comes up and syncs in full, k,
    older than b's cutoff, must be gone on a too."""
    ra, rb = free_port(), free_port()
    a = server_factory(*node_args(ra, [rb], 1))
    with a.conn() as ca:
        ca.expect(b"set k 0 0 3\r\nold\r\n", b"STORED\r\n")
        a.proc.send_signal(signal.SIGSTOP)
        try:
            b = server_factory(*node_args(rb, [], 2))
            with b.conn() as cb:
                cb.expect(b"flush_all\r\n", b"OK\r\n")
        finally:
            a.proc.send_signal(signal.SIGCONT)
        wait_linked([ca])
        st = repl_stats(ca)
        assert st["upstream_0:full_syncs"] == "1", st
        # the sync is over (SYNC_END applied): k must have gone with it
        assert item(ca, b"k") is None, \
            "a full sync from b did not carry b's flush cutoff: k survives on a"


def test_delayed_flush_all_replicates(pair):
    _, ca, cb = pair
    both = (ca, cb)
    ca.expect(b"set d:old 0 0 3\r\nold\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"d:old", (b"old", 0))
    ca.expect(b"flush_all 2\r\n", b"OK\r\n")
    t0 = time.monotonic()
    # a marker written after the flush command proves the flush record has
    # been streamed to b; d:old is still alive on both until the deadline
    ca.expect(b"set d:marker 0 0 1\r\nm\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"d:marker", (b"m", 0))
    if time.monotonic() - t0 < 0.9:
        assert item(cb, b"d:old") is not None, "the delayed flush acted at once on b"
    wait_item_everywhere(both, b"d:old", None, timeout=6)
    # after the deadline, new writes live on both
    cb.expect(b"set d:new 0 0 3\r\nnew\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"d:new", (b"new", 0))


def test_delayed_flush_kills_what_any_node_wrote_before_its_deadline(pair):
    """`flush_all N`: from T = now + N on, everything written before T is
    gone (store/flush.c: "an item written before T dies at T and one written
    after lives"), on every node, whichever node took the write. Applying
    the replicated cutoff must not push the receiver's clock to T, or the
    receiver stamps its writes made before T as newer than the cutoff and
    they survive the flush."""
    _, ca, cb = pair
    both = (ca, cb)
    ca.expect(b"flush_all 3\r\n", b"OK\r\n")
    deadline = time.time() + 4.5      # past T, whatever the clock phase
    ca.expect(b"set ka 0 0 1\r\na\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"ka", (b"a", 0))      # b has the flush record too
    cb.expect(b"set kb 0 0 1\r\nb\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"kb", (b"b", 0))
    assert time.time() < deadline - 2, "too slow to write before the deadline"
    wait_for(lambda: time.time() > deadline, timeout=8, interval=0.1,
             what="the delayed flush's deadline to pass")
    left = {(name, k): item(c, k) for name, c in (("a", ca), ("b", cb)) for k in (b"ka", b"kb")}
    assert all(v is None for v in left.values()), \
        "written before the deadline, still there after it: %r" % left
    cb.expect(b"set kc 0 0 1\r\nc\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"kc", (b"c", 0))


def test_immediate_flush_cancels_a_pending_delayed_flush_everywhere(pair):
    """memcached (and tandemd alone): `flush_all N` then `flush_all` leaves
    only the immediate flush; the delayed one is cancelled (store/flush.c).
    Replicated, the peer must cancel it too, or at the deadline it flushes
    what was written after the immediate flush while the origin keeps it."""
    _, ca, cb = pair
    both = (ca, cb)
    ca.expect(b"flush_all 3\r\n", b"OK\r\n")
    deadline = time.time() + 4.5      # past the delayed flush, whatever the clock phase
    ca.expect(b"flush_all\r\n", b"OK\r\n")
    ca.expect(b"set y 0 0 5\r\nlives\r\n", b"STORED\r\n")
    wait_item_everywhere(both, b"y", (b"lives", 0))
    # poll until b loses y or the cancelled deadline is well past
    wait_for(lambda: item(cb, b"y") is None or item(ca, b"y") is None or time.time() > deadline,
             timeout=8, interval=0.1, what="the cancelled deadline to pass")
    assert item(ca, b"y") is not None, "the origin flushed y: its own cancel did not hold"
    assert item(cb, b"y") is not None, \
        "b ran the delayed flush that a's immediate flush_all cancelled: y lives on a only"


def test_meta_commands_replicate(pair):
    _, ca, cb = pair
    both = (ca, cb)
    reply = ca.roundtrip(b"ms m:a 3 T100 F9 c\r\nabc\r\n")
    assert reply.startswith(b"HD c"), reply
    cas = int(reply.split()[1][1:])
    it = wait_item_everywhere(both, b"m:a", (b"abc", 9))
    assert it[2] == cas and ttl_near(it[3], 100, 2)

    # ms append mode and compare-and-swap with the replicated CAS, from b
    cb.expect(b"ms m:a 3 MA\r\ndef\r\n", b"HD\r\n")
    it = wait_item_everywhere(both, b"m:a", (b"abcdef", 9))
    cb.expect(b"ms m:a 2 C%d F1 T0\r\nok\r\n" % it[2], b"HD\r\n")
    it = wait_item_everywhere(both, b"m:a", (b"ok", 1))
    assert it[3] == -1
    ca.expect(b"ms m:a 2 C%d\r\nno\r\n" % (it[2] - 1), b"EX\r\n")

    # ma: auto-vivify, incr, decr
    ca.expect(b"ma m:n N300 J13 v\r\n", b"VA 2\r\n13\r\n")
    it = wait_item_everywhere(both, b"m:n", (b"13", 0))
    assert ttl_near(it[3], 300, 5)
    cb.expect(b"ma m:n D7 v\r\n", b"VA 2\r\n20\r\n")
    wait_item_everywhere(both, b"m:n", (b"20", 0))
    ca.expect(b"ma m:n MD D5 v\r\n", b"VA 2\r\n15\r\n")
    wait_item_everywhere(both, b"m:n", (b"15", 0))

    # mg with T is a touch: the new TTL and its version replicate
    before = item(ca, b"m:a")
    reply = cb.roundtrip(b"mg m:a T500 v c\r\n")
    assert reply.startswith(b"VA 2 c"), reply
    it = wait_item_everywhere(both, b"m:a", (b"ok", 1))
    assert ttl_near(it[3], 500, 2), "mg T must move the TTL on the other node too: %r" % (it,)
    assert it[2] != before[2]

    # md deletes everywhere
    ca.expect(b"md m:a\r\n", b"HD\r\n")
    wait_item_everywhere(both, b"m:a", None)
    cb.expect(b"md m:n q\r\n", b"")
    wait_item_everywhere(both, b"m:n", None)


def test_binary_set_delete_incr_replicate(pair):
    _, ca, cb = pair
    both = (ca, cb)
    # a binary connection stays binary: use separate connections for it
    node_a, node_b = pair[0].nodes
    with node_a.conn() as ba, node_b.conn() as bb:
        r = bin_call(ba, OP_SET, key=b"b:k", extras=bin_store_extras(0xdead, 100), value=b"binval")
        assert r.status == ST_OK, r
        cas = r.cas
        it = wait_item_everywhere(both, b"b:k", (b"binval", 0xdead))
        assert it[2] == cas and ttl_near(it[3], 100, 2)

        # incr with an initial value creates the counter, then counts
        r = bin_call(bb, OP_INCR, key=b"b:n", extras=bin_incr_extras(1, initial=40, exptime=200))
        assert r.status == ST_OK and struct.unpack(">Q", r.value)[0] == 40
        it = wait_item_everywhere(both, b"b:n", (b"40", 0))
        assert it[2] == r.cas and ttl_near(it[3], 200, 5)
        r = bin_call(ba, OP_INCR, key=b"b:n", extras=bin_incr_extras(2, initial=0, exptime=200))
        assert r.status == ST_OK and struct.unpack(">Q", r.value)[0] == 42
        it = wait_item_everywhere(both, b"b:n", (b"42", 0))
        assert it[2] == r.cas

        # binary touch and gat move the TTL on both nodes, with a new version
        r = bin_call(bb, OP_TOUCH, key=b"b:k", extras=struct.pack(">I", 1000))
        assert r.status == ST_OK
        it = wait_item_everywhere(both, b"b:k", (b"binval", 0xdead))
        assert ttl_near(it[3], 1000, 2) and it[2] != cas, it
        r = bin_call(ba, OP_GAT, key=b"b:k", extras=struct.pack(">I", 2000))
        assert r.status == ST_OK and r.value == b"binval"
        it = wait_item_everywhere(both, b"b:k", (b"binval", 0xdead))
        assert ttl_near(it[3], 2000, 2) and it[2] == r.cas, (it, r.cas)

        r = bin_call(bb, OP_DELETE, key=b"b:k")
        assert r.status == ST_OK
        wait_item_everywhere(both, b"b:k", None)


def test_binary_and_base64_keys_replicate(pair):
    """Keys with spaces (binary protocol) and base64 keys (meta b) travel
    with their binary-key bit and stay reachable on the other node."""
    p, ca, cb = pair
    with p.nodes[0].conn() as ba:
        r = bin_call(ba, OP_SET, key=b"sp ace", extras=bin_store_extras(3, 0), value=b"spaced")
        assert r.status == ST_OK
    key64 = base64.b64encode(b"sp ace")
    wait_for(lambda: cb.roundtrip(b"mg %s b v c f\r\n" % key64) ==
             b"VA 6 c%d f3\r\nspaced\r\n" % r.cas, timeout=10,
             what="the binary key to reach b with its CAS")
    cb.expect(b"ms %s 3 b\r\nb64\r\n" % base64.b64encode(b"\x00\xffkey"), b"HD\r\n")
    wait_for(lambda: ca.roundtrip(b"mg %s b v\r\n" % base64.b64encode(b"\x00\xffkey")) ==
             b"VA 3\r\nb64\r\n", timeout=10, what="the base64 key to reach a")
    ca.expect(b"md %s b\r\n" % key64, b"HD\r\n")
    wait_for(lambda: cb.roundtrip(b"mg %s b v\r\n" % key64) == b"EN\r\n", timeout=10,
             what="the delete of the binary key to reach b")


def test_meta_invalidate_replicates_the_stale_state(pair):
    """md with I marks the item stale instead of deleting it (new version,
    optional new TTL): clients then see X (and one of them W, to recompute
    it). That state is the item's state; it must replicate like the rest,
    or a client of the other node keeps serving the invalidated value as
    fresh."""
    _, ca, cb = pair
    ca.expect(b"set st 3 0 5\r\nfresh\r\n", b"STORED\r\n")
    wait_item_everywhere((ca, cb), b"st", (b"fresh", 3))
    ca.expect(b"md st I T30\r\n", b"HD\r\n")
    on_a = ca.roundtrip(b"mg st c t\r\n")
    assert b" X" in on_a, on_a
    cas = on_a.split()[1]
    # wait until b has the invalidation's version, then look at its flags
    wait_for(lambda: cb.roundtrip(b"mg st c\r\n").split()[1:2] == [cas], timeout=10,
             what="the invalidation to reach b")
    on_b = cb.roundtrip(b"mg st c t\r\n")
    assert b" X" in on_b, "a stale item on a is served as fresh on b: a %r, b %r" % (on_a, on_b)
