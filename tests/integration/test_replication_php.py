"""Issue 4, point 7: PHP sessions on a replicated pair (repcached's use).

A session written through node 1 (php-memcached's session handler, which
speaks the binary protocol, and php-memcache's, which speaks ASCII) is read
through node 2; node 2 is then kill -9'd, restarted on the same ports, and
serves the session again once it has synced from node 1. The pair is
configured repcached-style with -x."""
import json
import signal
import subprocess

import pytest

from harness import IS_MEMCACHED, free_port, wait_for
from test_replication_common import repl_stats, wait_linked

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="replication is Tandem's; TARGET=memcached")

SESSION_SCRIPT = r"""<?php
ini_set('session.use_cookies', '0');
ini_set('session.use_strict_mode', '0');
ini_set('session.save_handler', $argv[1]);
ini_set('session.save_path', $argv[2]);
session_id($argv[3]);
if (!session_start()) { fwrite(STDERR, "session_start failed\n"); exit(2); }
if ($argv[4] === 'write') {
    $_SESSION['user'] = 'alice';
    $_SESSION['cart'] = [1, 2, 3];
    $_SESSION['blob'] = str_repeat('x', 3000);
}
echo json_encode(['user' => $_SESSION['user'] ?? null, 'cart' => $_SESSION['cart'] ?? null,
                  'blob' => strlen($_SESSION['blob'] ?? '')]), "\n";
session_write_close();
"""

CLASS_SCRIPT = r"""<?php
$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, $argv[2] === 'binary');
$m->addServer('127.0.0.1', (int)$argv[1]);
if ($argv[3] === 'write') {
    $ok = $m->set('sess:class', serialize(['user' => 'bob', 'ts' => 1234]), 600);
    echo json_encode($ok), "\n";
} else {
    $v = $m->get('sess:class');
    echo json_encode($v === false ? null : unserialize($v)), "\n";
}
"""

EXPECTED = {"user": "alice", "cart": [1, 2, 3], "blob": 3000}


def php(script_path, *args):
    proc = subprocess.run(["php", "-d", "display_errors=stderr", str(script_path)] + [str(a) for a in args],
                          capture_output=True, timeout=30, text=True)
    assert proc.returncode == 0, "php failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout,
                                                              proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_php_sessions_survive_on_the_other_node_and_its_restart(server_factory, tmp_path):
    sess = tmp_path / "session.php"
    sess.write_text(SESSION_SCRIPT)
    cls = tmp_path / "class.php"
    cls.write_text(CLASS_SCRIPT)
    r1, r2 = free_port(), free_port()
    args1 = ("--repl-port", str(r1), "-x", "127.0.0.1:%d" % r2, "--node-id", "1")
    args2 = ("--repl-port", str(r2), "-x", "127.0.0.1:%d" % r1, "--node-id", "2")
    n1 = server_factory(*args1)
    n2 = server_factory(*args2)
    with n1.conn() as c1, n2.conn() as c2:
        wait_linked((c1, c2))

    handlers = [("memcached", "127.0.0.1:%d", "php-memcached-sess-0001"),
                ("memcache", "tcp://127.0.0.1:%d", "php-memcache-sess-0002")]
    for handler, path, sid in handlers:
        assert php(sess, handler, path % n1.port, sid, "write") == EXPECTED
    assert php(cls, n1.port, "ascii", "write") is True

    def readable_on_node2():
        for handler, path, sid in handlers:
            got = php(sess, handler, path % n2.port, sid, "read")
            assert got in (EXPECTED, {"user": None, "cart": None, "blob": 0}), got
            if got != EXPECTED:
                return False
        return php(cls, n2.port, "binary", "read") == {"user": "bob", "ts": 1234}

    wait_for(readable_on_node2, timeout=15, interval=0.1,
             what="the sessions written on node 1 to be read on node 2")

    # kill -9 node 2 and restart it empty on the same ports: it syncs from node 1
    port = n2.port
    n2.proc.send_signal(signal.SIGKILL)
    assert n2.wait_exit(10) is not None
    n2 = server_factory(*args2, port=port)
    with n2.conn() as c2:
        wait_linked([c2])
        assert int(repl_stats(c2)["upstream_0:full_syncs"]) >= 1
    assert readable_on_node2(), "node 2 lost the sessions across its restart"
    # an empty node syncing back to node 1 must not have erased anything there
    for handler, path, sid in handlers:
        assert php(sess, handler, path % n1.port, sid, "read") == EXPECTED
    # and a session written on the restarted node 2 reaches node 1
    assert php(sess, "memcached", "127.0.0.1:%d" % n2.port, "after-restart-0003", "write") == EXPECTED
    wait_for(lambda: php(sess, "memcached", "127.0.0.1:%d" % n1.port, "after-restart-0003",
                         "read") == EXPECTED,
             timeout=15, interval=0.1, what="node 2's session to reach node 1")
