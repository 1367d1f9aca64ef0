"""Issue 4, points 3-6: a 3-node full mesh under concurrent conflicting
writes converges (last writer wins by version); a partitioned pair heals by
partial resync; a replica kill -9'd under load catches up by full sync; a
chain master -> replica1 -> replica2 carries every write to the end.

Convergence is checked on whole contents: `lru_crawler metadump all` gives
key -> CAS (the CAS is the item's cluster-wide version), compared across
nodes until equal, then values of a sample through `mg v f c`."""
import random
import signal
import time

import pytest

from harness import IS_MEMCACHED, free_port, stats_dict, wait_for
from test_replication import Pair
from test_replication_common import (Mesh, Workers, item, repl_stats, ttl_near, wait_converged,
                                     wait_item_everywhere, wait_linked)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")

OK_REPLIES = (b"STORED\r\n", b"NOT_STORED\r\n", b"DELETED\r\n", b"NOT_FOUND\r\n", b"TOUCHED\r\n",
              b"HD\r\n", b"NF\r\n", b"NS\r\n", b"EX\r\n")


def random_writer(node, seed, ops, keys, counters, stop):
    """A bounded stream of conflicting writes on shared keys, each reply checked."""
    rnd = random.Random(seed)
    with node.conn() as c:
        for n in range(ops):
            if stop.is_set():
                return
            key = rnd.choice(keys)
            op = rnd.random()
            if op < 0.40:
                v = b"s%d-%d" % (seed, n)
                got = c.call(b"set %s %d 0 %d\r\n%s\r\n" % (key, seed, len(v), v))
            elif op < 0.55:
                got = c.call(b"delete %s\r\n" % key)
            elif op < 0.65:
                got = c.call(b"append %s 0 0 2\r\n+%d\r\n" % (key, seed % 10))
            elif op < 0.72:
                got = c.call(b"add %s 7 0 3\r\nadd\r\n" % key)
            elif op < 0.80:
                got = c.call(b"touch %s %d\r\n" % (key, rnd.choice((0, 300, 600))))
            elif op < 0.88:
                v = b"m%d" % n
                got = c.call(b"ms %s %d F%d\r\n%s\r\n" % (key, len(v), seed, v))
            else:
                ckey = rnd.choice(counters)
                got = c.call(b"ma %s N0 J100 D%d\r\n" % (ckey, rnd.randint(1, 5)))
            assert got in OK_REPLIES, "%r for op %d on %r" % (got, n, key)


def check_sample(conns, keys):
    for k in keys:
        items = [item(c, k) for c in conns]
        assert all(it == items[0] or (it and items[0] and it[:3] == items[0][:3]
                                      and abs(it[3] - items[0][3]) <= 2)
                   for it in items), "%r differs: %r" % (k, items)


def test_three_node_mesh_converges_under_conflicting_writes(server_factory):
    mesh = Mesh(server_factory, 3)
    conns = [n.conn() for n in mesh.nodes]
    try:
        wait_linked(conns)
        keys = [b"c:%d" % i for i in range(12)]
        counters = [b"n:%d" % i for i in range(3)]
        w = Workers()
        for i in range(6):   # two writers per node, all on the same keys
            w.spawn(random_writer, mesh.nodes[i % 3], 100 + i, 400, keys, counters, w.stop)
        w.join(timeout=90)
        final = wait_converged(conns, timeout=30)
        assert len(final) >= 3, "the writes left almost nothing to compare: %r" % final
        check_sample(conns, keys + counters)
    finally:
        for c in conns:
            c.close()


def test_mesh_delete_racing_a_write_ends_the_same_everywhere(server_factory):
    mesh = Mesh(server_factory, 3)
    conns = [n.conn() for n in mesh.nodes]
    try:
        wait_linked(conns)
        a, b, c = conns
        # in order: a later delete wins over an earlier set, a later set over
        # an earlier delete, whichever node each was made on
        a.expect(b"set d:seq 1 0 2\r\nv1\r\n", b"STORED\r\n")
        wait_item_everywhere(conns, b"d:seq", (b"v1", 1))
        c.expect(b"delete d:seq\r\n", b"DELETED\r\n")
        wait_item_everywhere(conns, b"d:seq", None)
        b.expect(b"set d:seq 2 0 2\r\nv2\r\n", b"STORED\r\n")
        wait_item_everywhere(conns, b"d:seq", (b"v2", 2))

        # at the same time: node a keeps writing keys that node b deletes
        keys = [b"d:%d" % i for i in range(150)]

        def setter(node):
            with node.conn() as cc:
                for rnd_round in range(2):
                    for k in keys:
                        cc.expect(b"set %s 0 0 4\r\nlive\r\n" % k, b"STORED\r\n")

        def deleter(node):
            with node.conn() as cc:
                for rnd_round in range(2):
                    for k in keys:
                        got = cc.roundtrip(b"delete %s\r\n" % k)
                        assert got in (b"DELETED\r\n", b"NOT_FOUND\r\n"), got

        w = Workers()
        w.spawn(setter, mesh.nodes[0])
        w.spawn(deleter, mesh.nodes[1])
        w.join(timeout=60)
        wait_converged(conns, timeout=20)
        for k in keys[::5]:
            wait_item_everywhere(conns, k, timeout=5)
    finally:
        for x in conns:
            x.close()


def test_partition_heals_by_partial_resync(server_factory):
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca, b.conn() as cb:
        wait_linked((ca, cb))
        for i in range(100):
            ca.send(b"set p:%d 0 0 6 noreply\r\nbefore\r\n" % i)
        ca.expect(b"", b"")
        wait_converged((ca, cb), min_keys=100)
        st = repl_stats(cb)
        partial0, full0 = int(st["upstream_0:partial_syncs"]), int(st["upstream_0:full_syncs"])

        b.proc.send_signal(signal.SIGSTOP)
        try:
            # a keeps serving and writing while b is silent, until a's links
            # to b time out (5 s without traffic)
            t0 = time.monotonic()
            n = 0

            def b_dropped():
                nonlocal n
                for _ in range(20):
                    ca.expect(b"set p:%d 0 0 6\r\nduring\r\n" % (n % 300), b"STORED\r\n")
                    n += 1
                got = ca.roundtrip(b"delete p:%d\r\n" % (n % 100))
                assert got in (b"DELETED\r\n", b"NOT_FOUND\r\n"), got
                return not any(k.startswith("downstream_") for k in repl_stats(ca))

            wait_for(b_dropped, timeout=12, interval=0.05, what="a to drop its silent peer")
            assert time.monotonic() - t0 >= 3.5, "the link died well before 5 s of silence"
            for i in range(20):
                ca.expect(b"set q:%d 0 0 5\r\nafter\r\n" % i, b"STORED\r\n")
        finally:
            b.proc.send_signal(signal.SIGCONT)

        wait_converged((ca, cb), timeout=20)
        wait_linked((ca, cb))
        st = repl_stats(cb)
        assert int(st["upstream_0:partial_syncs"]) > partial0, st
        assert int(st["upstream_0:full_syncs"]) == full0, \
            "the write log covered the gap, yet b synced in full: %r" % st
        assert item(cb, b"q:19")[0] == b"after"


def test_partition_longer_than_the_write_log_heals_by_full_sync(server_factory):
    """While b is stopped, a deletes and updates keys b holds, then writes
    more than its 64 MB write log holds: b's resume position is gone, so the
    reconnect is a full sync (a table walk), which must carry a's deletes
    (tombstones) and updates and end with both nodes equal."""
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca, b.conn() as cb:
        wait_linked((ca, cb))
        for i in range(20):
            ca.expect(b"set o:%d 1 0 3\r\nold\r\n" % i, b"STORED\r\n")
        wait_converged((ca, cb), min_keys=20)
        full0 = int(repl_stats(cb)["upstream_0:full_syncs"])

        b.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(10):
                ca.expect(b"delete o:%d\r\n" % i, b"DELETED\r\n")
            for i in range(10, 20):
                ca.expect(b"set o:%d 2 0 3\r\nnew\r\n" % i, b"STORED\r\n")
            big = b"B" * 1000000
            for i in range(80):     # 80 MB through a 64 MB log
                ca.send(b"set big:%d 0 0 %d noreply\r\n%s\r\n" % (i, len(big), big))
            ca.expect(b"", b"")
            assert int(repl_stats(ca)["log_first"]) > 30, repl_stats(ca)
            wait_for(lambda: not any(k.startswith("downstream_") for k in repl_stats(ca)),
                     timeout=12, interval=0.1, what="a to drop its silent peer")
        finally:
            b.proc.send_signal(signal.SIGCONT)

        wait_for(lambda: int(repl_stats(cb)["upstream_0:full_syncs"]) > full0, timeout=20,
                 what="b to reconnect with a full sync")
        wait_converged((ca, cb), timeout=30)
        for i in range(10):
            assert item(cb, b"o:%d" % i) is None, "the delete of o:%d did not survive a full sync" % i
        for i in range(10, 20):
            assert item(cb, b"o:%d" % i)[:2] == (b"new", 2)


def test_a_subscriber_that_falls_behind_the_log_is_resynced_not_dropped(server_factory):
    """b stops reading for a moment (SIGSTOP, well under the 5 s dead-link
    limit) while a writes more than its 64 MB write log holds: the link's
    log cursor falls behind, and a must fall back to walking its table on
    the same link (docs: bounded buffers fall back to the log, then to the
    cursor), so b ends equal, deletes included, without a reconnect."""
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca, b.conn() as cb:
        wait_linked((ca, cb))
        for i in range(10):
            ca.expect(b"set s:%d 0 0 3\r\nold\r\n" % i, b"STORED\r\n")
        wait_converged((ca, cb), min_keys=10)
        connects0 = repl_stats(cb)["upstream_0:connects"]
        big = b"S" * 1000000
        b.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            for i in range(5):
                ca.expect(b"delete s:%d\r\n" % i, b"DELETED\r\n")
            for i in range(80):
                ca.send(b"set sb:%d 0 0 %d noreply\r\n%s\r\n" % (i, len(big), big))
            ca.expect(b"", b"")
        finally:
            b.proc.send_signal(signal.SIGCONT)
        stopped = time.monotonic() - t0
        wait_converged((ca, cb), timeout=30)
        for i in range(5):
            assert item(cb, b"s:%d" % i) is None
        st = repl_stats(ca)
        assert int(st["downstream_0:full_syncs"]) >= 2, \
            "a's log overflowed under the link, yet it never walked again: %r" % st
        if stopped < 3.5:     # the link was never silent for 5 s: it must have survived
            assert repl_stats(cb)["upstream_0:connects"] == connects0, repl_stats(cb)


def test_replica_killed_under_load_catches_up(server_factory):
    rm, rr = free_port(), free_port()
    master = server_factory("--repl-port", str(rm), "--node-id", "1")
    replica_args = ("--replica-of", "127.0.0.1:%d" % rm, "--repl-port", str(rr), "--node-id", "2")
    replica = server_factory(*replica_args)
    cm = master.conn()
    try:
        progress = {"n": 0}

        def writer():
            with master.conn() as c:
                deadline = time.monotonic() + 40
                i = 0
                while not w.stop.is_set() and time.monotonic() < deadline and i < 30000:
                    got = c.call(b"set w:%d 0 0 8\r\n%08d\r\n" % (i % 3000, i))
                    assert got == b"STORED\r\n", got
                    if i % 7 == 0:
                        got = c.call(b"delete w:%d\r\n" % ((i * 13) % 3000))
                        assert got in (b"DELETED\r\n", b"NOT_FOUND\r\n"), got
                    i += 1
                    progress["n"] = i

        w = Workers()
        w.spawn(writer)
        with replica.conn() as cr:
            wait_for(lambda: int(stats_dict(cr)["curr_items"]) >= 1000, timeout=20,
                     what="the replica to follow the load")
        port = replica.port
        replica.proc.send_signal(signal.SIGKILL)
        assert replica.wait_exit(10) is not None
        killed_at = progress["n"]
        replica = server_factory(*replica_args, port=port)
        with replica.conn() as cr:
            wait_linked([cr], timeout=30)
            assert int(repl_stats(cr)["upstream_0:full_syncs"]) >= 1
            # the load goes on across the restart, then stops
            wait_for(lambda: progress["n"] >= killed_at + 3000 or w.errors, timeout=30,
                     what="the writer to make progress after the restart")
            w.stop.set()
            w.join(timeout=30)
            final = wait_converged((cm, cr), timeout=30, min_keys=100)
            check_sample((cm, cr), sorted(final)[:50])
            assert stats_dict(cr)["curr_items"] == stats_dict(cm)["curr_items"]
    finally:
        cm.close()


def test_mesh_node_killed_under_load_rejoins_without_erasing_anything(server_factory):
    mesh = Mesh(server_factory, 3)
    conns = [n.conn() for n in mesh.nodes[:2]]
    try:
        for c in conns:
            wait_linked([c])
        keys = [b"r:%d" % i for i in range(40)]
        counters = [b"rn:%d" % i for i in range(2)]
        w = Workers()
        for i in range(2):   # writers on nodes 1 and 2 only
            w.spawn(random_writer, mesh.nodes[i], 200 + i, 1500, keys, counters, w.stop)
        with mesh.nodes[2].conn() as c3:
            wait_for(lambda: int(stats_dict(c3)["curr_items"]) >= 10, timeout=20,
                     what="node 3 to follow the load")
        port = mesh.nodes[2].port
        mesh.nodes[2].proc.send_signal(signal.SIGKILL)
        assert mesh.nodes[2].wait_exit(10) is not None
        mesh.start(2, port=port)
        w.join(timeout=90)
        with mesh.nodes[2].conn() as c3:
            all3 = conns + [c3]
            final = wait_converged(all3, timeout=30)
            assert len(final) >= 10, final
            check_sample(all3, keys + counters)
    finally:
        for c in conns:
            c.close()


def test_chained_replicas_receive_the_masters_writes(server_factory):
    rm, r1, r2 = free_port(), free_port(), free_port()
    master = server_factory("--repl-port", str(rm), "--node-id", "1")
    rep1 = server_factory("--replica-of", "127.0.0.1:%d" % rm, "--repl-port", str(r1),
                          "--node-id", "2")
    rep2 = server_factory("--replica-of", "127.0.0.1:%d" % r1, "--repl-port", str(r2),
                          "--node-id", "3")
    with master.conn() as cm, rep1.conn() as c1, rep2.conn() as c2:
        conns = (cm, c1, c2)
        wait_linked(conns)
        cm.expect(b"set ch:a 5 300 5\r\nhello\r\n", b"STORED\r\n")
        it = wait_item_everywhere(conns, b"ch:a", (b"hello", 5))
        assert ttl_near(it[3], 300, 5)
        cm.expect(b"set ch:n 0 0 1\r\n1\r\nincr ch:n 41\r\n", b"STORED\r\n42\r\n")
        wait_item_everywhere(conns, b"ch:n", (b"42", 0))
        cm.expect(b"touch ch:n 100\r\n", b"TOUCHED\r\n")
        it = wait_item_everywhere(conns, b"ch:n", (b"42", 0))
        assert ttl_near(it[3], 100, 2)
        cm.expect(b"delete ch:a\r\n", b"DELETED\r\n")
        wait_item_everywhere(conns, b"ch:a", None)
        for i in range(200):
            cm.send(b"set ch:%d 0 0 3 noreply\r\nv%02d\r\n" % (i, i % 100))
        cm.expect(b"", b"")
        wait_converged(conns, min_keys=201)
        cm.expect(b"flush_all\r\n", b"OK\r\n")
        wait_item_everywhere(conns, b"ch:199", None)
        wait_item_everywhere(conns, b"ch:n", None)
        # the end of the chain is read-only and names its own master
        c2.expect(b"set ch:x 0 0 1\r\nx\r\n",
                  b"SERVER_ERROR read-only replica of 127.0.0.1:%d\r\n" % r1)
        assert repl_stats(c2)["role"] == "replica"
        assert repl_stats(c1)["downstream_0:kind"] == "replica"
