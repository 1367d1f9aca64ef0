"""Issue 4, point 2: expiry and eviction stay local (DESIGN §3).

Evictions are never replicated as deletes: a small node that evicts under
memory pressure must not delete data on its big peer. Expiry travels as an
absolute time with the item, and each node expires it on its own, with no
delete records on the links."""
import time

import pytest

from harness import IS_MEMCACHED, stats_dict, wait_for
from test_replication import Pair
from test_replication_common import (Mesh, item, metadump, repl_stats, ttl_near,
                                     wait_item_everywhere, wait_linked)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")

VALUE = b"v" * 10000


def fill(conn, keys):
    for k in keys:
        conn.send(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(VALUE), VALUE))
    conn.expect(b"", b"")   # mn fence: every set above has been processed


def test_evictions_on_a_small_node_do_not_delete_on_its_peer(server_factory):
    # node a is small (-m 8), node b big (-m 64)
    p = Mesh(server_factory, 2, per_node={0: ("-m", "8"), 1: ("-m", "64")})
    a, b = p.nodes
    with a.conn() as ca, b.conn() as cb:
        wait_linked((ca, cb))
        via_a = [b"ev:a:%d" % i for i in range(750)]
        via_b = [b"ev:b:%d" % i for i in range(750)]
        fill(ca, via_a)
        fill(cb, via_b)
        everything = set(via_a + via_b)
        # the big node ends with every key: its own and all of a's, even
        # those a has evicted meanwhile
        wait_for(lambda: int(stats_dict(cb)["curr_items"]) >= len(everything), timeout=20,
                 what="the big node to hold all %d keys" % len(everything))
        wait_for(lambda: int(repl_stats(cb)["upstream_0:records_applied"]) >= len(via_a),
                 timeout=20, what="b to apply all of a's writes")
        wait_for(lambda: int(repl_stats(ca)["upstream_0:records_applied"]) >= len(via_b),
                 timeout=20, what="a to apply all of b's writes")
        on_b = set(metadump(cb))
        on_a = set(metadump(ca))
        evictions = int(stats_dict(ca)["evictions"])
        assert evictions > 0, "the small node should have evicted (-m 8, 15 MB written)"
        assert everything <= on_b, "%d keys missing on the big node" % len(everything - on_b)
        evicted = everything - on_a
        assert evicted, "the small node holds everything: no eviction to check"
        assert any(k in evicted for k in via_a), "none of a's own writes was evicted on a"
        for k in sorted(evicted)[:20]:
            assert item(cb, k) == (VALUE, 0, item(cb, k)[2], -1)
        # nothing but the writes crossed the links: no delete records, no tombstones
        sa, sb = repl_stats(ca), repl_stats(cb)
        assert sb["upstream_0:records_applied"] == str(len(via_a)), sb
        assert sa["upstream_0:records_applied"] == str(len(via_b)), sa
        assert sa["tombstones"] == sb["tombstones"] == "0"
        assert int(stats_dict(cb)["evictions"]) == 0
        assert int(stats_dict(cb)["curr_items"]) == len(everything)


def test_expiry_is_local_and_absolute(server_factory):
    p = Pair(server_factory)
    a, b = p.nodes
    with a.conn() as ca, b.conn() as cb:
        wait_linked((ca, cb))
        both = (ca, cb)
        ca.expect(b"set x:rel 1 2 3\r\nrel\r\n", b"STORED\r\n")
        absolute = int(time.time()) + 3
        cb.expect(b"set x:abs 2 %d 3\r\nabs\r\n" % absolute, b"STORED\r\n")
        ca.expect(b"set x:keep 3 0 4\r\nkeep\r\n", b"STORED\r\n")
        it = wait_item_everywhere(both, b"x:rel", (b"rel", 1), ttl_slack=1)
        assert ttl_near(it[3], 2, 2)
        it = wait_item_everywhere(both, b"x:abs", (b"abs", 2), ttl_slack=1)
        assert ttl_near(it[3], 3, 3)
        wait_item_everywhere(both, b"x:keep", (b"keep", 3))
        before = [repl_stats(c) for c in both]
        # both nodes drop them by the clock (polled reads also run the lazy
        # expiry path on each node)
        wait_for(lambda: all(item(c, k) is None for c in both for k in (b"x:rel", b"x:abs")),
                 timeout=8, interval=0.1, what="both items to expire on both nodes")
        wait_item_everywhere(both, b"x:keep", (b"keep", 3))
        after = [repl_stats(c) for c in both]
        for s0, s1 in zip(before, after):
            for name in ("log_last", "upstream_0:records_applied", "tombstones"):
                assert s0[name] == s1[name], "%s changed by expiry: %s -> %s" % (
                    name, s0[name], s1[name])
            assert s1["tombstones"] == "0"
