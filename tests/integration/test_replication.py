"""Replication between real tandemd processes (issue 4): multi-master pairs,
read-only replicas, recovery after kill -9, authentication, bad input on the
replication port."""
import os
import signal
import socket
import struct

import pytest

from harness import (IS_MEMCACHED, OP_GET, OP_SET, OP_VERSION, bin_call, bin_store_extras,
                     free_port, stats_dict, wait_for)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")


def repl_stats(conn):
    return stats_dict(conn, b"replication")


def value_of(conn, key):
    reply = conn.call(b"get %s\r\n" % key, until=b"END\r\n")
    if reply == b"END\r\n":
        return None
    return reply.split(b"\r\n")[1]


def eventually_equal(conn, key, expected, timeout=10):
    wait_for(lambda: value_of(conn, key) == expected, timeout=timeout,
             what="%r to read %r" % (key, expected))


class Pair:
    """Two multi-master nodes, as repcached's `-x` pair."""

    def __init__(self, factory, *extra):
        self.factory = factory
        self.extra = extra
        self.rport = [free_port(), free_port()]
        self.nodes = [None, None]
        for i in (0, 1):
            self.start(i)

    def args(self, i):
        return ("--repl-port", str(self.rport[i]), "--peer", "127.0.0.1:%d" % self.rport[1 - i],
                "--node-id", str(i + 1)) + self.extra

    def start(self, i, port=None):
        self.nodes[i] = self.factory(*self.args(i), port=port)
        return self.nodes[i]


def test_seed_003_set_on_one_node_get_on_the_other(server_factory):
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca, b.conn() as cb:
        ca.expect(b"set foo 0 0 3\r\nbar\r\n", b"STORED\r\n")
        eventually_equal(cb, b"foo", b"bar")
        cb.expect(b"set back 5 0 2\r\nhi\r\n", b"STORED\r\n")
        eventually_equal(ca, b"back", b"hi")
        # every write replicates as its result: append, incr, delete, flush
        ca.expect(b"append foo 0 0 1\r\n!\r\n", b"STORED\r\n")
        eventually_equal(cb, b"foo", b"bar!")
        cb.expect(b"set n 0 0 2\r\n10\r\nincr n 5\r\n", b"STORED\r\n15\r\n")
        eventually_equal(ca, b"n", b"15")
        ca.expect(b"delete back\r\n", b"DELETED\r\n")
        eventually_equal(cb, b"back", None)
        st = repl_stats(ca)
        assert st["role"] == "peer"
        assert st["upstream_0:state"] in ("streaming", "syncing")


def test_restarted_node_gets_its_data_back(server_factory):
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca:
        for i in range(200):
            ca.send(b"set k%d 0 0 5 noreply\r\nv%04d\r\n" % (i, i))
        ca.expect(b"", b"")
    with b.conn() as cb:
        eventually_equal(cb, b"k199", b"v0199")
    # kill -9 b and start it again on the same ports: it must sync from a
    port = b.port
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(timeout=10)
    b = pair.start(1, port=port)
    with b.conn() as cb:
        wait_for(lambda: repl_stats(cb)["upstream_0:synced"] == "yes", timeout=15,
                 what="the restarted node to sync")
        assert all(value_of(cb, b"k%d" % i) == b"v%04d" % i for i in range(0, 200, 7))
        assert stats_dict(cb)["curr_items"] == "200"


def test_replica_is_read_only_and_follows_its_master(server_factory):
    mport = free_port()
    master = server_factory("--repl-port", str(mport), "--node-id", "1")
    replica = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--repl-port",
                             str(free_port()), "--node-id", "2")
    with master.conn() as cm, replica.conn() as cr:
        cm.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
        eventually_equal(cr, b"a", b"1")
        refusal = b"SERVER_ERROR read-only replica of 127.0.0.1:%d\r\n" % mport
        cr.expect(b"set a 0 0 1\r\n2\r\n", refusal)
        cr.expect(b"delete a\r\n", refusal)
        cr.expect(b"ms a 1\r\n3\r\n", refusal)
        assert value_of(cr, b"a") == b"1"
        assert repl_stats(cr)["role"] == "replica"
        assert repl_stats(cm)["downstream_0:kind"] == "replica"


def secret_file(tmp_path, name, secret):
    path = tmp_path / name
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    return str(path)


def test_links_authenticate_and_refuse_a_wrong_password(server_factory, tmp_path):
    good = secret_file(tmp_path, "good", "correct horse battery staple")
    bad = secret_file(tmp_path, "bad", "wrong")
    mport = free_port()
    master = server_factory("--repl-port", str(mport), "--node-id", "1",
                            "--repl-password-file", good)
    ok = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--node-id", "2",
                        "--repl-port", str(free_port()), "--repl-password-file", good)
    intruder = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--node-id", "3",
                              "--repl-port", str(free_port()), "--repl-password-file", bad)
    with master.conn() as cm, ok.conn() as co, intruder.conn() as ci:
        cm.expect(b"set secret 0 0 2\r\nok\r\n", b"STORED\r\n")
        eventually_equal(co, b"secret", b"ok")
        wait_for(lambda: int(repl_stats(cm)["auth_failures"]) >= 1, timeout=10,
                 what="the wrong password to be refused")
        assert value_of(ci, b"secret") is None
    assert "authentication failed" in master.stderr_text()   # refused and logged ...
    assert "correct horse" not in master.stderr_text() + ok.stderr_text()   # ... without the secret


def test_garbage_on_the_replication_port_is_refused(server_factory):
    rport = free_port()
    node = server_factory("--repl-port", str(rport), "--node-id", "1")
    with node.conn() as c:
        c.expect(b"set keep 0 0 4\r\nsafe\r\n", b"STORED\r\n")
        for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x00" * 64, os.urandom(4096),
                     struct.pack("<IBB", 12, 10, 0) + b"x" * 12):
            s = socket.create_connection(("127.0.0.1", rport), timeout=5)
            try:
                s.sendall(junk)
                s.settimeout(5)
                while s.recv(4096):
                    pass     # the server answers ERROR and closes
            except (ConnectionResetError, socket.timeout):
                pass
            finally:
                s.close()
        assert value_of(c, b"keep") == b"safe"
        st = repl_stats(c)
        assert int(st["bad_frames"]) >= 3


def test_sync_wait_error_answers_until_the_first_sync(server_factory):
    ra, rb = free_port(), free_port()
    busy = b"SERVER_ERROR syncing with peers; try again shortly\r\n"
    # b's peer is silent (a port that accepts nothing yet is not "down": it is
    # a listener we control), so b keeps refusing data commands
    hold = socket.socket()
    hold.bind(("127.0.0.1", ra))
    hold.listen(1)
    try:
        b = server_factory("--repl-port", str(rb), "--peer", "127.0.0.1:%d" % ra, "--node-id", "2",
                           "--repl-sync-wait", "error")
        with b.conn() as cb:
            cb.expect(b"get k\r\n", busy)
            cb.expect(b"set k 0 0 1\r\nx\r\n", busy)      # the data block is skipped too
            cb.expect(b"version\r\n", b"VERSION 1.6.18\r\n")  # admin commands still work
        with b.conn() as cbin:  # binary requests get a temporary failure (0x86)
            for op, kw in ((OP_GET, {}), (OP_SET, {"extras": bin_store_extras(),
                                                   "value": b"x"})):
                r = bin_call(cbin, op, key=b"k", **kw)
                assert (r.status, r.value) == (0x86, b"syncing with peers; try again shortly")
            assert bin_call(cbin, OP_VERSION).status == 0
    finally:
        hold.close()
    a = server_factory("--repl-port", str(ra), "--peer", "127.0.0.1:%d" % rb, "--node-id", "1")
    with a.conn() as ca:
        ca.expect(b"set k 0 0 2\r\nok\r\n", b"STORED\r\n")
    with b.conn() as cb:
        wait_for(lambda: cb.call(b"get k\r\n", until=b"\r\n") != busy, timeout=15,
                 what="b to finish its first sync")
        eventually_equal(cb, b"k", b"ok")


def test_restart_blocks_clients_until_synced(server_factory):
    pair = Pair(server_factory)
    a, b = pair.nodes
    with a.conn() as ca:
        ca.send(b"".join(b"set r%d 0 0 4 noreply\r\nr%03d\r\n" % (i, i) for i in range(300)))
        ca.expect(b"", b"")
    port = b.port
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(timeout=10)
    b = pair.start(1, port=port)   # ready = answering clients, which it does only once synced
    with b.conn() as cb:
        assert stats_dict(cb)["curr_items"] == "300"


def test_a_full_sync_is_paced_by_the_link_not_by_heartbeats(server_factory):
    """100k items reach an empty replica in well under the ~30 s they took
    when the publisher sent 256 KiB per frame received (one PING a second)."""
    mport = free_port()
    master = server_factory("--repl-port", str(mport), "--node-id", "1", "-m", "256")
    n = 100_000
    with master.conn() as cm:
        for start in range(0, n, 2000):
            cm.send(b"".join(b"set k%d 0 0 20 noreply\r\n%s\r\n" % (i, b"v" * 20)
                             for i in range(start, start + 2000)))
        wait_for(lambda: stats_dict(cm)["curr_items"] == str(n), timeout=60,
                 what="the master to hold every item")
    replica = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--repl-port",
                             str(free_port()), "--node-id", "2", "-m", "256",
                             "--repl-sync-wait", "none")
    with replica.conn() as cr:
        wait_for(lambda: stats_dict(cr)["curr_items"] == str(n), timeout=15,
                 what="the full sync of %d items" % n)
        assert repl_stats(cr)["upstream_0:full_syncs"] == "1"
