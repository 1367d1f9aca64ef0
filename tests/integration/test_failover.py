"""Manual failover (tandemctl promote): a replica becomes the master when the
master dies, the other replicas and the returning old master follow it, and
nothing the new master holds is lost."""
import signal

import pytest

from harness import IS_MEMCACHED, free_port, stats_dict, wait_for
from test_ctl import ctl

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")


def role(conn):
    return stats_dict(conn, b"replication")["role"]


def get(conn, key):
    return conn.call(b"get %s\r\n" % key, until=b"END\r\n")


def test_promote_a_replica_when_the_master_dies(server_factory):
    mport, r1port, r2port = free_port(), free_port(), free_port()
    master = server_factory("--repl-port", str(mport), "--node-id", "1")
    r1 = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--repl-port", str(r1port),
                        "--node-id", "2")
    r2 = server_factory("--replica-of", "127.0.0.1:%d" % mport, "--repl-port", str(r2port),
                        "--node-id", "3")
    with master.conn() as cm:
        for i in range(300):
            cm.send(b"set k%d 0 0 4 noreply\r\nv%03d\r\n" % (i, i))
        cm.expect(b"set last 0 0 1\r\nx\r\n", b"STORED\r\n")
    with r1.conn() as c1, r2.conn() as c2:
        for c in (c1, c2):
            wait_for(lambda c=c: get(c, b"last") == b"VALUE last 0 1\r\nx\r\nEND\r\n",
                     timeout=15, what="the replicas to catch up")
    old_port = master.port
    master.proc.send_signal(signal.SIGKILL)
    master.proc.wait(timeout=10)
    with r1.conn() as c1:  # the replica shows it is no longer in step, but was once
        wait_for(lambda: stats_dict(c1, b"replication")["upstream_0:synced"] == "no",
                 timeout=10, what="the replica to notice its master is gone")
        assert stats_dict(c1, b"replication")["upstream_0:ever_synced"] == "yes"

    r1addr, r2addr = "127.0.0.1:%d" % r1.port, "127.0.0.1:%d" % r2.port
    rc, out, err = ctl("promote", r1addr, "--follow", r2addr, "--timeout", "10")
    assert rc == 0, err
    assert "%s: promoted to master" % r1addr in out
    assert "%s: now follows 127.0.0.1:%d" % (r2addr, r1port) in out
    with r1.conn() as c1, r2.conn() as c2:
        assert role(c1) == "master"
        assert role(c2) == "replica"
        c1.expect(b"set after 0 0 3\r\nnew\r\n", b"STORED\r\n")
        wait_for(lambda: get(c2, b"after") == b"VALUE after 0 3\r\nnew\r\nEND\r\n",
                 timeout=15, what="the other replica to follow the new master")
        c2.expect(b"set x 0 0 1\r\n1\r\n",
                  b"SERVER_ERROR read-only replica of 127.0.0.1:%d\r\n" % r1port)
        assert get(c2, b"k299") == b"VALUE k299 0 4\r\nv299\r\nEND\r\n"

    # the old master comes back empty and is demoted: it gets everything back
    old = server_factory("--repl-port", str(mport), "--node-id", "1", port=old_port)
    rc, out, err = ctl("promote", r1addr, "--follow", "127.0.0.1:%d" % old.port)
    assert rc == 0, err
    assert "already a master" in out
    with old.conn() as co:
        assert role(co) == "replica"
        wait_for(lambda: get(co, b"after") == b"VALUE after 0 3\r\nnew\r\nEND\r\n",
                 timeout=15, what="the demoted old master to sync from the new one")
        assert stats_dict(co)["curr_items"] == "302"
        co.expect(b"delete k1\r\n",
                  b"SERVER_ERROR read-only replica of 127.0.0.1:%d\r\n" % r1port)


def test_promote_refuses_what_it_cannot_do(server_factory):
    rp = [free_port(), free_port()]
    peers = [server_factory("--repl-port", str(rp[i]), "--peer", "127.0.0.1:%d" % rp[1 - i],
                            "--node-id", str(i + 1)) for i in (0, 1)]
    plain = server_factory()
    rc, out, err = ctl("promote", "127.0.0.1:%d" % peers[0].port)
    assert rc == 1 and "multi-master nodes need no failover" in err
    rc, out, err = ctl("promote", "127.0.0.1:%d" % plain.port)
    assert rc == 1 and "replication is off on this node" in err
    rc, out, err = ctl("promote")
    assert rc == 1 and "takes one address" in err
    with peers[0].conn() as c:
        c.expect(b"replication promote\r\n",
                 b"SERVER_ERROR a multi-master node has no master to be promoted from\r\n")
        c.expect(b"replication follow 127.0.0.1:1\r\n",
                 b"SERVER_ERROR a multi-master node cannot follow a master; remove its --peer "
                 b"links\r\n")
        usage = b"CLIENT_ERROR usage: replication promote | replication follow HOST:REPLPORT\r\n"
        for bad in (b"replication\r\n", b"replication follow\r\n", b"replication follow x\r\n",
                    b"replication follow x:0\r\n", b"replication follow :5\r\n",
                    b"replication demote\r\n"):
            c.expect(bad, usage)
        assert role(c) == "peer"
    with plain.conn() as c:
        c.expect(b"replication promote\r\n",
                 b"SERVER_ERROR replication is off on this node (start it with --repl-port)\r\n")
