"""Real client libraries, used the way applications use them:
pymemcache, python-memcached, php-memcached (ASCII and binary), php-memcache."""
import json
import subprocess
import time

import pytest

from harness import need_module

pymemcache = need_module("pymemcache.client.base")
memcache = need_module("memcache")


# -- pymemcache ----------------------------------------------------------------------

@pytest.fixture
def pym(server):
    client = pymemcache.Client(("127.0.0.1", server.port), connect_timeout=5, timeout=5)
    yield client
    client.close()


def test_pymemcache_set_get_delete(pym):
    assert pym.set("k", b"v1") is True
    assert pym.get("k") == b"v1"
    assert pym.get("missing") is None
    assert pym.get("missing", default=b"d") == b"d"
    assert pym.delete("k", noreply=False) is True
    assert pym.delete("k", noreply=False) is False
    assert pym.get("k") is None


def test_pymemcache_many(pym):
    failed = pym.set_many({"a": b"1", "b": b"2", "c": b"3"}, noreply=False)
    assert failed == []
    assert pym.get_many(["a", "b", "x", "c"]) == {"a": b"1", "b": b"2", "c": b"3"}
    pym.delete_many(["a", "b"], noreply=False)
    assert pym.get_many(["a", "b", "c"]) == {"c": b"3"}


def test_pymemcache_add_replace_append_prepend(pym):
    assert pym.add("k", b"1", noreply=False) is True
    assert pym.add("k", b"2", noreply=False) is False
    assert pym.replace("k", b"3", noreply=False) is True
    assert pym.replace("nokey", b"3", noreply=False) is False
    assert pym.append("k", b"-end", noreply=False) is True
    assert pym.prepend("k", b"start-", noreply=False) is True
    assert pym.get("k") == b"start-3-end"


def test_pymemcache_gets_cas(pym):
    pym.set("k", b"v1")
    value, token = pym.gets("k")
    assert value == b"v1" and int(token) > 0
    assert pym.cas("k", b"v2", token, noreply=False) is True
    assert pym.cas("k", b"v3", token, noreply=False) is False
    assert pym.cas("nokey", b"v3", token, noreply=False) is None
    assert pym.get("k") == b"v2"
    assert pym.gets("nokey") == (None, None)


def test_pymemcache_incr_decr(pym):
    pym.set("n", b"10")
    assert pym.incr("n", 5, noreply=False) == 15
    assert pym.decr("n", 20, noreply=False) == 0
    assert pym.incr("nokey", 1, noreply=False) is None
    pym.set("big", b"18446744073709551615")
    assert pym.incr("big", 1, noreply=False) == 0


def test_pymemcache_touch_and_expiry(pym):
    pym.set("t", b"v", expire=100)
    assert pym.touch("t", expire=-1, noreply=False) is True
    assert pym.get("t") is None
    assert pym.touch("nokey", expire=10, noreply=False) is False


def test_pymemcache_noreply_default(pym):
    # pymemcache defaults to noreply for set/delete; the data must still land.
    pym.set("k", b"v")
    pym.delete("nothing")
    assert pym.get("k") == b"v"


def test_pymemcache_flush_stats_version(pym):
    pym.set("k", b"v")
    assert pym.flush_all(noreply=False) is True
    assert pym.get("k") is None
    stats = pym.stats()
    assert stats[b"version"] == b"1.6.18"
    assert stats[b"cmd_flush"] == 1
    assert stats[b"curr_items"] == 0
    settings = pym.stats("settings")
    assert settings[b"maxconns"] == 1024
    assert pym.version() == b"1.6.18"


def test_pymemcache_large_value_error(pym):
    from pymemcache.exceptions import MemcacheServerError
    with pytest.raises(MemcacheServerError, match="object too large for cache"):
        pym.set("big", b"x" * (2 * 1024 * 1024), noreply=False)
    assert pym.set("small", b"ok", noreply=False) is True


def test_pymemcache_key_too_long_is_rejected_client_side(pym):
    from pymemcache.exceptions import MemcacheIllegalInputError
    with pytest.raises(MemcacheIllegalInputError):
        pym.set("k" * 251, b"v")
    assert pym.set("k" * 250, b"v", noreply=False) is True
    assert pym.get("k" * 250) == b"v"


def test_pymemcache_unix_socket(server_factory, tmp_path):
    path = str(tmp_path / "mc.sock")
    server_factory(unix=path)
    client = pymemcache.Client(path, connect_timeout=5, timeout=5)
    try:
        assert client.set("k", b"over-unix", noreply=False) is True
        assert client.get("k") == b"over-unix"
    finally:
        client.close()


# -- python-memcached --------------------------------------------------------------------

@pytest.fixture
def pmc(server):
    client = memcache.Client(["127.0.0.1:%d" % server.port], cache_cas=True, socket_timeout=5)
    yield client
    client.disconnect_all()


def test_python_memcached_basic(pmc):
    assert pmc.set("k", "v1")
    assert pmc.get("k") == "v1"
    assert not pmc.add("k", "v2")
    assert pmc.replace("k", "v3")
    assert pmc.append("k", "-end")
    assert pmc.prepend("k", "start-")
    assert pmc.get("k") == "start-v3-end"
    assert pmc.delete("k")
    assert pmc.get("k") is None


def test_python_memcached_multi(pmc):
    assert pmc.set_multi({"a": 1, "b": "two", "c": [3]}, key_prefix="p:") == []
    assert pmc.get_multi(["a", "b", "c", "d"], key_prefix="p:") == {"a": 1, "b": "two", "c": [3]}
    assert pmc.delete_multi(["a", "b"], key_prefix="p:")
    assert pmc.get_multi(["a", "b", "c"], key_prefix="p:") == {"c": [3]}


def test_python_memcached_types_use_flags(pmc, server):
    pmc.set("int", 42)
    pmc.set("obj", {"x": [1, 2]})
    assert pmc.get("int") == 42
    assert pmc.get("obj") == {"x": [1, 2]}
    with server.conn() as c:
        reply = c.roundtrip(b"get int\r\n")
        assert reply == b"VALUE int 2 2\r\n42\r\nEND\r\n"   # python-memcached's int flag


def test_python_memcached_incr_decr(pmc):
    pmc.set("n", "10")
    assert pmc.incr("n", 5) == 15
    assert pmc.decr("n", 100) == 0
    assert pmc.incr("nokey") is None


def test_python_memcached_gets_cas(pmc, server):
    pmc.set("k", "v1")
    assert pmc.gets("k") == "v1"
    assert pmc.cas("k", "v2")
    pmc.gets("k")
    other = memcache.Client(["127.0.0.1:%d" % server.port])
    other.set("k", "changed")
    other.disconnect_all()
    assert not pmc.cas("k", "v3")
    assert pmc.get("k") == "changed"


def test_python_memcached_touch_stats_flush(pmc):
    pmc.set("k", "v", time=100)
    assert pmc.touch("k", 200)
    (name, stats), = pmc.get_stats()
    assert stats["version"] == "1.6.18"
    assert int(stats["curr_items"]) == 1
    pmc.flush_all()
    assert pmc.get("k") is None


def test_python_memcached_unix_socket(server_factory, tmp_path):
    path = str(tmp_path / "mc.sock")
    server_factory(unix=path)
    client = memcache.Client(["unix:" + path], socket_timeout=5)
    try:
        assert client.set("k", "v")
        assert client.get("k") == "v"
    finally:
        client.disconnect_all()


# -- PHP ----------------------------------------------------------------------------------

def run_php(code, port, timeout=60):
    proc = subprocess.run(["php", "-d", "display_errors=stderr", "-r", code, str(port)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, "php failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout,
                                                               proc.stderr)
    return json.loads(proc.stdout)


PHP_MEMCACHED = r"""
$port = (int)$argv[1];
$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, %(binary)s);
$m->setOption(Memcached::OPT_COMPRESSION, false);
$m->addServer('127.0.0.1', $port);
$r = [];
$r['set'] = $m->set('k', 'v1', 0);
$r['get'] = $m->get('k');
$r['miss'] = $m->get('missing');
$r['miss_code'] = $m->getResultCode() == Memcached::RES_NOTFOUND;
$r['add_existing'] = $m->add('k', 'x');
// ASCII says NOT_STORED; binary says "Data exists for key."
$r['add_code'] = $m->getResultCode() == (%(binary)s ? Memcached::RES_DATA_EXISTS : Memcached::RES_NOTSTORED);
$r['replace'] = $m->replace('k', 'v2');
$r['append'] = $m->append('k', '-end');
$r['prepend'] = $m->prepend('k', 'start-');
$r['after_ap'] = $m->get('k');
$r['setMulti'] = $m->setMulti(['a' => 'A', 'b' => 'B', 'n' => 10]);
$r['getMulti'] = $m->getMulti(['a', 'b', 'zz', 'n']);
$r['incr'] = $m->increment('n', 5);
$r['decr'] = $m->decrement('n', 100);
$r['incr_missing'] = $m->increment('nokey', 1);
$cas = null;
$got = $m->get('k', null, Memcached::GET_EXTENDED);
$r['cas_ok'] = $m->cas($got['cas'], 'k', 'v3');
$r['cas_stale'] = $m->cas($got['cas'], 'k', 'v4');
$r['cas_value'] = $m->get('k');
$r['touch'] = $m->touch('k', 100);
$r['delete'] = $m->delete('k');
$r['delete_again'] = $m->delete('k');
$r['big'] = $m->set('big', str_repeat('x', 2 * 1024 * 1024));
$r['big_code'] = $m->getResultCode() != Memcached::RES_SUCCESS;
$stats = $m->getStats();
$s = array_values($stats)[0];
$r['stats_version'] = $s['version'];
$r['stats_items'] = $s['curr_items'];
$r['version'] = array_values($m->getVersion())[0];
$r['flush'] = $m->flush();
$r['after_flush'] = $m->get('a');
echo json_encode($r);
"""

EXPECTED_PHP_MEMCACHED = {
    "set": True, "get": "v1", "miss": False, "miss_code": True, "add_existing": False,
    "add_code": True, "replace": True, "append": True, "prepend": True,
    "after_ap": "start-v2-end", "setMulti": True, "getMulti": {"a": "A", "b": "B", "n": 10},
    "incr": 15, "decr": 0, "incr_missing": False, "cas_ok": True, "cas_stale": False,
    "cas_value": "v3", "touch": True, "delete": True, "delete_again": False, "big": False,
    "big_code": True, "stats_version": "1.6.18", "stats_items": 3, "version": "1.6.18",
    "flush": True, "after_flush": False,
}


@pytest.mark.parametrize("binary", ["false", "true"], ids=["ascii", "binary"])
def test_php_memcached(server, binary):
    got = run_php(PHP_MEMCACHED % {"binary": binary}, server.port)
    assert got == EXPECTED_PHP_MEMCACHED


def test_php_memcached_binary_increment_with_initial_value(server):
    code = r"""
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
    $m->addServer('127.0.0.1', (int)$argv[1]);
    $r = [];
    $r[] = $m->increment('ctr', 1, 100, 0);
    $r[] = $m->increment('ctr', 1, 100, 0);
    $r[] = $m->decrement('ctr2', 1, 7, 0);
    echo json_encode($r);
    """
    assert run_php(code, server.port) == [100, 101, 7]


def test_php_memcached_binary_against_binary_only_server(server_factory):
    srv = server_factory("-B", "binary")
    code = r"""
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
    $m->addServer('127.0.0.1', (int)$argv[1]);
    echo json_encode([$m->set('k', 'bin-only'), $m->get('k')]);
    """
    assert run_php(code, srv.port) == [True, "bin-only"]


PHP_MEMCACHE = r"""
$m = new Memcache();
$m->connect('127.0.0.1', (int)$argv[1], 5);
$r = [];
$r['set'] = $m->set('k', 'v1', 0, 0);
$r['get'] = $m->get('k');
$r['miss'] = $m->get('missing');
$r['multi'] = $m->get(['k', 'missing']);
$r['add_existing'] = $m->add('k', 'x', 0, 0);
$r['replace'] = $m->replace('k', 'v2', 0, 0);
$r['set_n'] = $m->set('n', '10', 0, 0);
$r['incr'] = $m->increment('n', 5);
$r['decr'] = $m->decrement('n', 100);
$r['incr_missing'] = $m->increment('nokey', 1);
$r['array'] = $m->set('arr', ['x' => 1], 0, 0);
$r['array_get'] = $m->get('arr');
$r['delete'] = $m->delete('k');
$r['after_delete'] = $m->get('k');
$s = $m->getStats();
$r['stats_version'] = $s['version'];
$r['version'] = $m->getVersion();
$r['flush'] = $m->flush();
$r['after_flush'] = $m->get('n');
echo json_encode($r);
"""


def test_php_memcache(server):
    got = run_php(PHP_MEMCACHE, server.port)
    assert got == {
        "set": True, "get": "v1", "miss": False, "multi": {"k": "v1"}, "add_existing": False,
        "replace": True, "set_n": True, "incr": 15, "decr": 0, "incr_missing": False,
        "array": True, "array_get": {"x": 1}, "delete": True, "after_delete": False,
        "stats_version": "1.6.18", "version": "1.6.18", "flush": True, "after_flush": False,
    }


# -- libmemcached command-line tools ---------------------------------------------------------

def run_tool(*argv, timeout=30):
    proc = subprocess.run(list(argv), capture_output=True, timeout=timeout)
    return proc


@pytest.mark.parametrize("binary", [False, True], ids=["ascii", "binary"])
def test_libmemcached_tools(server, tmp_path, binary):
    servers = "--servers=127.0.0.1:%d" % server.port
    proto = ["--binary"] if binary else []
    src = tmp_path / "payload.txt"
    src.write_bytes(b"file contents\nline two\n")
    p = run_tool("memccp", servers, *proto, "--flags=42", "--expire=1000", str(src))
    assert p.returncode == 0, p.stderr
    p = run_tool("memccat", servers, *proto, "payload.txt")
    # memccat prints a newline after each value.
    assert (p.returncode, p.stdout) == (0, b"file contents\nline two\n\n"), p.stderr
    p = run_tool("memccat", servers, *proto, "--flags", "payload.txt")
    assert p.returncode == 0 and b"42" in p.stdout, p.stdout
    with server.conn() as c:
        c.expect(b"get payload.txt\r\n", b"VALUE payload.txt 42 23\r\nfile contents\nline two\n\r\nEND\r\n")
    assert run_tool("memcexist", servers, *proto, "payload.txt").returncode == 0
    assert run_tool("memcexist", servers, *proto, "nothing").returncode != 0
    assert run_tool("memctouch", servers, *proto, "--expire=500", "payload.txt").returncode == 0
    p = run_tool("memcrm", servers, *proto, "payload.txt")
    assert p.returncode == 0, p.stderr
    assert run_tool("memccat", servers, *proto, "payload.txt").returncode != 0
    p = run_tool("memcping", servers)    # memcping has no --binary
    assert p.returncode == 0, p.stderr
    p = run_tool("memcflush", servers, *proto)
    assert p.returncode == 0, p.stderr


def test_memcstat(server):
    p = run_tool("memcstat", "--servers=127.0.0.1:%d" % server.port)
    assert p.returncode == 0, p.stderr
    assert b"version: 1.6.18" in p.stdout
    p = run_tool("memcstat", "--servers=127.0.0.1:%d" % server.port, "--binary")
    assert p.returncode == 0, p.stderr
    assert b"version: 1.6.18" in p.stdout


def test_memcslap_short_run(server):
    p = run_tool("memcslap", "--servers=127.0.0.1:%d" % server.port, "--concurrency=4",
                 "--execute-number=200", "--test=set", timeout=60)
    assert p.returncode == 0, p.stderr
    p = run_tool("memcslap", "--servers=127.0.0.1:%d" % server.port, "--concurrency=4",
                 "--execute-number=200", "--test=get", "--binary", timeout=60)
    assert p.returncode == 0, p.stderr
    with server.conn() as c:
        c.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
