"""--repl-min-acks: a write is answered only once enough replicas or peers
applied it, or with a SERVER_ERROR that says so when they do not in time."""
import signal
import subprocess
import time

import pytest

from harness import BINARY, IS_MEMCACHED, free_port, stats_dict, wait_for

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")

TIMEOUT_MS = 400


def synced(conn):
    return stats_dict(conn, b"replication").get("upstream_0:synced") == "yes"


def master_and_replica(server_factory, *extra):
    mport = free_port()
    master = server_factory("--repl-port", str(mport), "--node-id", "1", "--repl-min-acks", "1",
                            "--repl-ack-timeout", str(TIMEOUT_MS), *extra)
    replica = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--repl-port",
                             str(free_port()), "--node-id", "2")
    with replica.conn() as cr:
        wait_for(lambda: synced(cr), timeout=15, what="the replica's first sync")
    with master.conn() as cm:  # and the master sees the replica streaming
        wait_for(lambda: stats_dict(cm, b"replication").get("downstream_0:state") == "streaming",
                 timeout=15, what="the master to stream to its replica")
    return master, replica


def test_a_write_is_on_the_replica_when_the_master_answers(server_factory):
    master, replica = master_and_replica(server_factory)
    with master.conn() as cm, replica.conn() as cr:
        for i in range(50):
            cm.expect(b"set k%d 0 0 2\r\nv%d\r\n" % (i, i % 10), b"STORED\r\n")
            # no polling: the reply promised the replica has it
            assert cr.call(b"get k%d\r\n" % i, until=b"END\r\n") == \
                b"VALUE k%d 0 2\r\nv%d\r\nEND\r\n" % (i, i % 10)
        cm.expect(b"ms m 2 T0\r\nhi\r\n", b"HD\r\n")
        assert cr.call(b"mg m v\r\n", until=b"\r\n").startswith(b"VA 2")
        st = stats_dict(cm, b"replication")
        assert st["min_acks"] == "1" and int(st["acks_waited"]) >= 51
        assert st["acks_timed_out"] == "0"


def test_an_unconfirmed_write_answers_server_error_in_order(server_factory):
    master, replica = master_and_replica(server_factory)
    with master.conn() as cm:
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            # a pipeline: the write's reply is replaced, the get behind it waits its turn
            reply = cm.call(b"set a 0 0 1\r\n1\r\nget a\r\n", until=b"END\r\n", timeout=10)
            took = time.monotonic() - t0
            assert reply == (b"SERVER_ERROR written here but confirmed by 0 of 1 replicas "
                             b"within %d ms\r\nVALUE a 0 1\r\n1\r\nEND\r\n" % TIMEOUT_MS)
            assert took >= TIMEOUT_MS / 1000 * 0.9
            # reads do not wait
            t0 = time.monotonic()
            cm.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
            assert time.monotonic() - t0 < TIMEOUT_MS / 1000
            # noreply writes wait too, silently, and keep the order
            cm.expect(b"set b 0 0 1 noreply\r\n2\r\nget b\r\n", b"VALUE b 0 1\r\n2\r\nEND\r\n")
        finally:
            replica.proc.send_signal(signal.SIGCONT)
        assert int(stats_dict(cm, b"replication")["acks_timed_out"]) >= 2
        # once the replica is back, writes are confirmed again
        with replica.conn() as cr:
            wait_for(lambda: cr.call(b"get b\r\n", until=b"END\r\n") != b"END\r\n", timeout=15,
                     what="the replica to catch up")
        cm.expect(b"set c 0 0 1\r\n3\r\n", b"STORED\r\n")


def test_peers_confirm_each_others_writes(server_factory):
    rp = [free_port(), free_port()]
    nodes = [server_factory("--repl-port", str(rp[i]), "--peer", "127.0.0.1:%d" % rp[1 - i],
                            "--node-id", str(i + 1), "--repl-min-acks", "1",
                            "--repl-ack-timeout", "5000") for i in (0, 1)]
    with nodes[0].conn() as ca, nodes[1].conn() as cb:
        for c in (ca, cb):
            wait_for(lambda c=c: synced(c), timeout=15, what="both peers to sync")
        for i in range(20):
            ca.expect(b"set x%d 0 0 1\r\na\r\n" % i, b"STORED\r\n")
            assert cb.call(b"get x%d\r\n" % i, until=b"END\r\n") == \
                b"VALUE x%d 0 1\r\na\r\nEND\r\n" % i
            cb.expect(b"incr n 1\r\n" if i else b"set n 0 0 1\r\n0\r\n",
                      b"%d\r\n" % i if i else b"STORED\r\n")
            assert ca.call(b"get n\r\n", until=b"END\r\n").split(b"\r\n")[1] == b"%d" % i


def test_min_acks_needs_replication():
    out = subprocess.run([BINARY, "-p", str(free_port()), "--repl-min-acks", "1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "--repl-min-acks 1 needs replication" in out.stderr
