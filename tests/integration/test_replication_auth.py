"""Issue 4, point 8: a password on one side only. A node without a
password refuses a peer that challenges it, a node with a password refuses
a peer that cannot prove it; no data crosses, and the reason shows in
`stats replication` (upstream_N:last_error). Wrong passwords and garbage
are covered by test_replication.py."""
import os

import pytest

from harness import IS_MEMCACHED, free_port, wait_for
from test_replication_common import item, node_args, repl_stats

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")



def secret_file(tmp_path, secret="s3cret-shared-by-the-cluster"):
    path = tmp_path / "repl.secret"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    return str(path)


def last_error(conn, i=0):
    return repl_stats(conn).get("upstream_%d:last_error" % i)


def wait_error(conn, expected, what):
    """Poll until upstream_0:last_error is `expected` (a string), or passes
    `expected` (a predicate)."""
    got = {}
    ok = expected if callable(expected) else (lambda e: e == expected)

    def check():
        got["e"] = last_error(conn)
        return ok(got["e"])

    try:
        wait_for(check, timeout=6, interval=0.05, what=what)
    except AssertionError as e:
        raise AssertionError("%s: last_error is %r, expected %r" % (e, got.get("e"), expected)) \
            from None


def names_authentication(err):
    """Each side must say the link failed on authentication, in the peer's
    words or its own: not a protocol error such as "records before the
    handshake completed" (a node without a secret must not start streaming
    to a peer that wants to authenticate)."""
    return err is not None and "authentication" in err


def test_pair_with_a_password_on_one_side_only(server_factory, tmp_path):
    secret = secret_file(tmp_path)
    ra, rb = free_port(), free_port()
    a = server_factory(*node_args(ra, [rb], 1, "--repl-password-file", secret))
    b = server_factory(*node_args(rb, [ra], 2))    # no password
    with a.conn() as ca, b.conn() as cb:
        ca.expect(b"set from-a 0 0 1\r\na\r\n", b"STORED\r\n")
        cb.expect(b"set from-b 0 0 1\r\nb\r\n", b"STORED\r\n")
        # b, without a secret, refuses a's challenge; a hears why
        wait_error(cb, names_authentication, "b to say why it cannot link to a")
        wait_error(ca, names_authentication, "a to say b did not authenticate")
        for c in (ca, cb):
            st = repl_stats(c)
            assert st["upstream_0:synced"] == "no", st
            assert st["upstream_0:records_applied"] == "0", st
            assert st["upstream_0:state"] != "streaming", st
        assert item(cb, b"from-a") is None
        assert item(ca, b"from-b") is None


def test_replica_without_a_password_is_refused_by_a_master_with_one(server_factory, tmp_path):
    secret = secret_file(tmp_path)
    rm = free_port()
    master = server_factory("--repl-port", str(rm), "--node-id", "1",
                            "--repl-password-file", secret)
    replica = server_factory("--replica-of", "127.0.0.1:%d" % rm, "--repl-port",
                             str(free_port()), "--node-id", "2")
    with master.conn() as cm, replica.conn() as cr:
        cm.expect(b"set guarded 0 0 2\r\nno\r\n", b"STORED\r\n")
        wait_error(cr, names_authentication, "the replica to say why it cannot link")
        st = repl_stats(cr)
        assert st["upstream_0:synced"] == "no" and st["upstream_0:records_applied"] == "0", st
        assert item(cr, b"guarded") is None
        # the master published nothing to the unauthenticated link
        stm = repl_stats(cm)
        assert all(stm[k] == "0" for k in stm if k.endswith(":records_sent")), stm


def test_replica_with_a_password_refuses_a_master_without_one(server_factory, tmp_path):
    secret = secret_file(tmp_path)
    rm = free_port()
    master = server_factory("--repl-port", str(rm), "--node-id", "1")   # no password
    replica = server_factory("--replica-of", "127.0.0.1:%d" % rm, "--repl-port",
                             str(free_port()), "--node-id", "2", "--repl-password-file", secret)
    with master.conn() as cm, replica.conn() as cr:
        cm.expect(b"set unproven 0 0 2\r\nno\r\n", b"STORED\r\n")
        wait_error(cr, names_authentication, "the replica to say its master did not authenticate")
        st = repl_stats(cr)
        assert st["upstream_0:synced"] == "no" and st["upstream_0:records_applied"] == "0", st
        # a replica that wants authentication applies nothing from an
        # unauthenticated master
        assert item(cr, b"unproven") is None


def test_two_nodes_with_the_same_node_id_refuse_each_other(server_factory):
    """Versions embed the node id: two nodes sharing one would stamp equal
    versions, so the link is refused and says why."""
    ra, rb = free_port(), free_port()
    a = server_factory(*node_args(ra, [rb], 7))
    b = server_factory(*node_args(rb, [ra], 7))
    with a.conn() as ca, b.conn() as cb:
        ca.expect(b"set same 0 0 1\r\na\r\n", b"STORED\r\n")
        for c in (ca, cb):
            wait_error(c, lambda e: e is not None and "same node id" in e,
                       "the link to be refused for its node id")
        assert item(cb, b"same") is None
