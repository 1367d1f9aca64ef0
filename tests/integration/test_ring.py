"""Issue 6, point 4: server-side sharding without a proxy.

`tandemctl ring` must place keys exactly where a real libmemcached client
does: php-memcached with OPT_LIBKETAMA_COMPATIBLE (libmemcached 1.1.4's
weighted ketama + MD5) stores keys on three real servers (tandemd and stock
memcached), and each key must be found on the server `tandemctl ring`
names. getServerByKey() (no servers needed) checks weights and the float32
edge at 25 servers, where each server gets 156 points instead of 160.

`tandemctl rebalance` must let clients go from 3 servers to 4 without a
cold miss: 10,000 keys loaded through php over 3 nodes, rebalance to 4, and
every key reads back through php over the 4-node list; about a quarter of
the keys move (ketama moves only the new node's share). On tandemd the copy
keeps each item's version (apply, last-writer-wins), so a newer value
already on the new owner is never overwritten; on memcached add mode keeps
it. --delete leaves each key on one node only.
"""
import json
import os
import re
import subprocess

import pytest

import harness
from harness import IS_MEMCACHED, REPO, SANITIZER_MARKERS

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="tandemctl drives tandemd nodes; "
                                                      "TARGET=memcached")

CTL = os.environ.get("TANDEMCTL", str(REPO / "build" / "asan" / "tandemctl"))
MEMCACHED = "/usr/bin/memcached"

PHP_CLIENT = r"""<?php
// argv: op servers(host:port[:weight],...) n [prefix]
$m = new Memcached();
$m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true);
foreach (explode(',', $argv[2]) as $s) {
    $p = explode(':', $s);
    $m->addServer($p[0], (int)$p[1], isset($p[2]) ? (int)$p[2] : 0);
}
$n = (int)$argv[3];
$prefix = $argv[4] ?? 'user:';
$out = [];
if ($argv[1] === 'set') {
    $items = [];
    for ($i = 0; $i < $n; $i++) $items["$prefix$i"] = "value-$i-" . str_repeat('v', $i % 50);
    foreach (array_chunk($items, 500, true) as $chunk)
        if (!$m->setMulti($chunk, 0)) { fwrite(STDERR, $m->getResultMessage() . "\n"); exit(1); }
    $out = ['stored' => $n];
} elseif ($argv[1] === 'get') {
    $keys = [];
    for ($i = 0; $i < $n; $i++) $keys[] = "$prefix$i";
    $miss = []; $wrong = 0;
    foreach (array_chunk($keys, 500) as $chunk) {
        $got = $m->getMulti($chunk);
        foreach ($chunk as $k) {
            $i = (int)substr($k, strlen($prefix));
            if (!isset($got[$k])) $miss[] = $k;
            elseif ($got[$k] !== "value-$i-" . str_repeat('v', $i % 50)) $wrong++;
        }
    }
    $out = ['misses' => count($miss), 'first' => array_slice($miss, 0, 5), 'wrong' => $wrong];
} else {  // where: the server libmemcached picks for each key, no I/O
    for ($i = 0; $i < $n; $i++) {
        $s = $m->getServerByKey("$prefix$i");
        $out[] = "$prefix$i " . $s['host'] . ':' . $s['port'];
    }
}
echo json_encode($out), "\n";
"""


@pytest.fixture(scope="module")
def php_client(tmp_path_factory):
    path = tmp_path_factory.mktemp("php") / "client.php"
    path.write_text(PHP_CLIENT)
    return path


def php(script, *args, timeout=60):
    p = subprocess.run(["php", "-d", "display_errors=stderr", str(script)] +
                       [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "php failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def ctl(*args, stdin=None, timeout=60):
    """Run tandemctl; (exit code, stdout, stderr); fails on a sanitizer report."""
    if not os.path.exists(CTL):
        pytest.fail("tandemctl binary %s not found (set TANDEMCTL=...)" % CTL, pytrace=False)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
    p = subprocess.run([CTL] + [str(a) for a in args], input=stdin, capture_output=True,
                       text=True, timeout=timeout, env=env)
    assert not any(m in p.stderr for m in SANITIZER_MARKERS), p.stderr
    return p.returncode, p.stdout, p.stderr


class Memcached(harness.Server):
    """Stock memcached on a free port, managed like a tandemd Server."""

    def command(self):
        argv = [MEMCACHED, "-l", self.listen, "-p", str(self.port), "-U", "0"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        return argv + self.extra


@pytest.fixture
def nodes(server_factory, tmp_path):
    """nodes(kind, n) -> n started servers of kind "tandemd" or "memcached"."""
    extra = []

    def start(kind, n):
        if kind == "tandemd":
            return [server_factory() for _ in range(n)]
        out = []
        for _ in range(n):
            srv = Memcached(tmp_path / "memcached")
            extra.append(srv)
            srv.start()
            out.append(srv)
        return out

    yield start
    for srv in extra:
        srv.stop()


def addrs(servers):
    return ",".join("127.0.0.1:%d" % s.port for s in servers)


def holders(servers, keys):
    """For each key, the addresses of the servers holding it (mg, pipelined)."""
    found = {k: [] for k in keys}
    for s in servers:
        with s.conn() as c:
            for i in range(0, len(keys), 200):
                chunk = keys[i:i + 200]
                c.send(b"".join(b"mg %s\r\n" % k.encode() for k in chunk) + b"mn\r\n")
                replies = c.recv_until(b"MN\r\n").split(b"\r\n")
                for k, r in zip(chunk, replies):
                    assert r in (b"HD", b"EN"), r
                    if r == b"HD":
                        found[k].append("127.0.0.1:%d" % s.port)
    return found


def ring_owners(servers_arg, keys, *opts):
    rc, out, err = ctl("ring", "--servers", servers_arg, *opts, stdin="\n".join(keys) + "\n")
    assert rc == 0, err
    return dict(line.split(" ", 1) for line in out.splitlines())


# --- ring: placement as libmemcached clients do it ---------------------------------


@pytest.mark.parametrize("kind", ["tandemd", "memcached"])
def test_ring_names_the_server_php_memcached_stored_each_key_on(nodes, php_client, kind):
    servers = nodes(kind, 3)
    assert php(php_client, "set", addrs(servers), 600) == {"stored": 600}
    keys = ["user:%d" % i for i in range(600)]
    found = holders(servers, keys)
    owners = ring_owners(addrs(servers), keys)
    wrong = [(k, found[k], owners[k]) for k in keys if found[k] != [owners[k]]]
    assert not wrong, "%d of 600 keys placed differently, e.g. %s" % (len(wrong), wrong[:5])
    # every server got a fair share, so the comparison covered all three
    per = {a: sum(1 for k in keys if owners[k] == a) for a in addrs(servers).split(",")}
    assert all(100 < n < 320 for n in per.values()), per


def test_ring_weights_and_server_counts_match_libmemcached(php_client):
    """getServerByKey is libmemcached's own dispatch; no server is contacted.
    Weighted lists, a server on 11211 (label without the port), and 25
    servers, where float32 rounding gives 156 points each."""
    lists = [
        "10.0.0.1:11211:1,10.0.0.2:11211:2,10.0.0.3:11212:3",
        "cache-a:11211,cache-b:22122:5,cache-c:11213",
        ",".join("10.1.0.%d:11211" % i for i in range(1, 26)),
    ]
    for servers in lists:
        placed = php(php_client, "where", servers, 2000)
        keys = [line.split(" ")[0] for line in placed]
        owners = ring_owners(servers, keys)
        # php prints host:port; tandemctl prints host:port too
        wrong = [line for line in placed if "%s %s" % (line.split(" ")[0],
                                                        owners[line.split(" ")[0]]) != line]
        assert not wrong, "%s: %d of 2000 differ, e.g. %s" % (servers, len(wrong), wrong[:3])


def test_ring_output_formats_and_errors():
    rc, out, _ = ctl("ring", "--servers", "a:1,b:2,c:3", "--replicas", "3", "k1", "k 2")
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("k%202 ")
    for line in lines:
        owners = line.split(" ")[1:]
        assert sorted(owners) == ["a:1", "b:2", "c:3"]
    rc, out, _ = ctl("ring", "--servers", "127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213",
                     "--continuum")
    assert rc == 0
    assert out == (REPO / "tests/testdata/ketama/continuum_ketama_weighted.txt").read_text()
    rc, out, _ = ctl("ring", "--servers", "a:1:1,b:1:3", "--shares")
    assert rc == 0 and re.search(r"^b:1\s+3\s+240\s+", out, re.M), out
    for args, message in [
        (["--servers", "a:70000", "k"], "'a:70000' has a bad port"),
        (["--servers", "a:1:0", "k"], "'a:1:0' has a bad weight"),
        (["--servers", "a,a", "k"], "lists a:11211 twice"),
        (["--servers", "a", "--hash", "sha1", "k"], "unknown hash 'sha1'"),
        (["--servers", "a", "--distribution", "vnode", "k"], "unknown distribution 'vnode'"),
        (["k"], "needs --servers"),
    ]:
        rc, out, err = ctl("ring", *args)
        assert rc == 1 and message in err and out == "", (args, err)


# --- rebalance: adding a node without cold misses -------------------------------------


def summary(out):
    m = re.search(r"scanned (\d+) keys on \d+ servers; (\d+) \(([\d.]+)%\) belong elsewhere", out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


@pytest.mark.parametrize("kind", ["tandemd", "memcached"])
def test_rebalance_adding_a_fourth_node_causes_no_cold_miss(nodes, php_client, kind):
    servers = nodes(kind, 4)
    old, new = addrs(servers[:3]), addrs(servers)
    assert php(php_client, "set", old, 10000) == {"stored": 10000}
    before = php(php_client, "get", new, 10000)
    assert 1500 < before["misses"] < 3500, before  # what the switch would cost without it

    # a newer value written through the new list before the rebalance must survive it
    newer_key = next(k for k in ("user:%d" % i for i in range(100))
                     if ring_owners(new, [k])[k] == "127.0.0.1:%d" % servers[3].port)
    with servers[3].conn() as c:
        c.expect(b"set %s 0 0 5\r\nnewer\r\n" % newer_key.encode(), b"STORED\r\n")

    rc, out, err = ctl("rebalance", "--from", old, "--to", new, "--dry-run")
    assert rc == 0, err
    scanned, moving, pct = summary(out)
    assert scanned == 10000 and moving == before["misses"], out

    rc, out, err = ctl("rebalance", "--from", old, "--to", new)
    assert rc == 0, err
    scanned, moved, pct = summary(out)
    assert scanned == 10000 and moved == before["misses"] and 15 < pct < 35, out
    # every moving key was written but the one the new node already had newer
    m = re.search(r"rebalance: (\d+) items.*ignored (\d+) older(?:; kept (\d+) existing)?", out)
    assert m, out
    written, ignored, kept = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    assert written == moved - 1 and ignored + kept == 1, out

    after = php(php_client, "get", new, 10000)
    assert after["misses"] == 0 and after["wrong"] == 1, after  # the one is newer_key
    with servers[3].conn() as c:
        c.expect(b"get %s\r\n" % newer_key.encode(),
                 b"VALUE %s 0 5\r\nnewer\r\nEND\r\n" % newer_key.encode())


def cas_of(srv, key):
    with srv.conn() as c:
        reply = c.roundtrip(b"mg %s c\r\n" % key.encode())
    m = re.fullmatch(rb"HD c(\d+)\r\n", reply)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("kind", ["tandemd", "memcached"])
def test_rebalance_delete_leaves_each_key_on_its_owner_only(nodes, php_client, kind):
    servers = nodes(kind, 4)
    old, new = addrs(servers[:3]), addrs(servers)
    assert php(php_client, "set", old, 2000, "d:") == {"stored": 2000}
    keys = ["d:%d" % i for i in range(2000)]
    owners = ring_owners(new, keys)
    moving = [k for k in keys if owners[k] == "127.0.0.1:%d" % servers[3].port]
    old_owner = ring_owners(old, moving)
    by_addr = {"127.0.0.1:%d" % s.port: s for s in servers}

    rc, out, err = ctl("rebalance", "--from", old, "--to", new)
    assert rc == 0, err
    if kind == "tandemd":  # apply kept each item's version (its CAS)
        for k in moving[:50]:
            assert cas_of(servers[3], k) == cas_of(by_addr[old_owner[k]], k) is not None, k

    rc, out, err = ctl("rebalance", "--from", old, "--to", new, "--delete")
    assert rc == 0, err
    m = re.search(r"deleted (\d+) moved keys", out)
    assert m and int(m.group(1)) == len(moving), out
    found = holders(servers, keys)
    wrong = [(k, found[k]) for k in keys if found[k] != [owners[k]]]
    assert not wrong, "%d keys not on exactly their owner, e.g. %s" % (len(wrong), wrong[:5])
    assert php(php_client, "get", new, 2000, "d:")["misses"] == 0


def test_rebalance_errors(nodes):
    srv = nodes("tandemd", 1)[0]
    for args, message in [
        (["--from", "a:1"], "needs --from OLD_LIST and --to NEW_LIST"),
        (["--from", "a:1", "--to", "b:x"], "'b:x' has a bad port"),
        (["--from", "a:1", "--to", "b:1", "--distribution", "random"], "random"),
        (["--from", "a:1", "--to", "b:1", "extra"], "unexpected argument 'extra'"),
    ]:
        rc, out, err = ctl("rebalance", *args)
        assert rc == 1 and message in err, (args, err)
    # an unreachable old server is an error that names it
    port = harness.free_port()
    rc, out, err = ctl("rebalance", "--from", "127.0.0.1:%d" % port,
                       "--to", "127.0.0.1:%d" % srv.port, "--timeout", "2")
    assert rc == 1 and "127.0.0.1:%d" % port in err, err
