"""tandemctl against real processes: `status` on a standalone tandemd, on a
replicating pair and on stock memcached; `verify` on a converged pair and on
independent nodes holding different data; exit codes and error messages.

The binary is $TANDEMCTL (make integration passes the ASan build), else
build/asan/tandemctl. Every wait is a bounded poll; tandemctl itself runs
with a bounded subprocess timeout.
"""
import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from harness import (IS_MEMCACHED, REPO, SANITIZER_MARKERS, free_port, need, stats_dict,
                     wait_for)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="tandemctl drives tandemd nodes; "
                                                      "TARGET=memcached")

CTL = os.environ.get("TANDEMCTL", str(REPO / "build" / "asan" / "tandemctl"))
MEMCACHED = "/usr/bin/memcached"


def ctl(*args, timeout=60, env=None):
    """Run tandemctl (with `env` added to the environment); return (exit
    code, stdout, stderr). Fails the test on a sanitizer report."""
    if not os.path.exists(CTL):
        pytest.fail("tandemctl binary %s not found (make build/asan/tandemctl, or set "
                    "TANDEMCTL=...)" % CTL, pytrace=False)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1",
               **(env or {}))
    p = subprocess.run([CTL] + [str(a) for a in args], capture_output=True, timeout=timeout,
                       env=env)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert not any(m in err for m in SANITIZER_MARKERS), err
    return p.returncode, out, err


def status_json(addr):
    rc, out, err = ctl("status", "--json", addr)
    assert rc == 0, err
    return json.loads(out)


def store(srv, items):
    """Set each key to its value on srv (text protocol, noreply, fenced)."""
    with srv.conn() as c:
        for k, v in items.items():
            c.send(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(v), v))
        c.expect(b"", b"")


def cas_of(srv, key):
    with srv.conn() as c:
        reply = c.roundtrip(b"mg %s c\r\n" % key)
    m = re.fullmatch(rb"HD c(\d+)\r\n", reply)
    assert m, reply
    return int(m.group(1))


def pair(server_factory):
    """Two multi-master nodes (as in test_replication.py)."""
    rport = [free_port(), free_port()]
    return [server_factory("--repl-port", rport[i], "--peer", "127.0.0.1:%d" % rport[1 - i],
                           "--node-id", i + 1) for i in (0, 1)], rport


# -- verify output ---------------------------------------------------------------

KEY_LINE = re.compile(r"^  key (\S+): (.*)$")


def parse_verify(out):
    """(per-node {addr: (keys, digest)}, {key: {addr: cas or None}}, rest lines)."""
    nodes, keys, rest = {}, {}, []
    for line in out.splitlines():
        m = re.fullmatch(r"(\S+)\s+keys (\d+)\s+digest ([0-9a-f]{16})", line)
        k = KEY_LINE.match(line)
        if m:
            nodes[m.group(1)] = (int(m.group(2)), m.group(3))
        elif k and " cas " in k.group(2) and "differ" not in k.group(2):
            per = {}
            for part in k.group(2).split(", "):
                addr, what = part.split(" ", 1)
                per[addr] = None if what == "missing" else int(what.split()[1])
            keys[k.group(1)] = per
        else:
            rest.append(line)
    return nodes, keys, rest


# -- status ----------------------------------------------------------------------------


def test_status_standalone(server):
    store(server, {b"a": b"1", b"b": b"22"})
    with server.conn() as c:
        c.call(b"get a\r\n", until=b"END\r\n")
        c.call(b"get nope\r\n", until=b"END\r\n")
    rc, out, err = ctl("status", server.addr)
    assert rc == 0, err
    assert out.startswith("node %s (tandem)\n" % server.addr)
    assert "  version      1.6.18\n" in out
    assert "  items        2\n" in out
    assert re.search(r"^  uptime       \d+ s$", out, re.M)
    assert re.search(r"^  memory       \d+ B used of 64\.0 MiB \(0\.0%\)$", out, re.M)
    assert "  hit ratio    50.0% (1 hits, 1 misses)\n" in out
    assert out.endswith("replication\n  role         standalone\n")

    doc = status_json(server.addr)
    assert doc["address"] == server.addr and doc["tandem"] is True
    assert doc["items"] == 2 and doc["memory_limit"] == 64 * 1024 * 1024
    assert doc["get_hits"] == 1 and doc["get_misses"] == 1 and doc["hit_ratio"] == 0.5
    assert doc["replication"] == {"role": "standalone", "node_id": None, "links": []}


def test_status_replicating_pair_shows_the_links(server_factory):
    (a, b), rport = pair(server_factory)
    store(a, {b"k%d" % i: b"v" for i in range(5)})

    def applied_on_b():
        links = status_json(b.addr)["replication"]["links"]
        up = [l for l in links if l["direction"] == "upstream"]
        return up and up[0]["records_applied"] >= 5 and up[0]["state"] == "streaming"
    wait_for(applied_on_b, timeout=15, what="b to apply a's five writes")

    doc = status_json(b.addr)
    repl = doc["replication"]
    assert repl["role"] == "peer" and repl["node_id"] == 2
    up = [l for l in repl["links"] if l["direction"] == "upstream"][0]
    assert up["name"] == "upstream_0"
    assert up["peer"] == "127.0.0.1:%d" % rport[0] and up["kind"] == "peer"
    for field in ("records_sent", "lag_records", "lag_ms", "full_syncs", "partial_syncs",
                  "auth_failures"):
        assert isinstance(up[field], int), field
    assert up["full_syncs"] + up["partial_syncs"] >= 1
    assert isinstance(up["last_error"], str)
    # the JSON says what `stats replication` says
    with b.conn() as c:
        raw = stats_dict(c, b"replication")
    assert raw["upstream_0:peer"] == up["peer"] and raw["role"] == "peer"

    wait_for(lambda: any(l["direction"] == "downstream"
                         for l in status_json(a.addr)["replication"]["links"]),
             timeout=15, what="a to list b's subscription as a downstream link")
    rc, out, err = ctl("status", a.addr)
    assert rc == 0, err
    assert "  role         peer\n  node id      1\n" in out
    assert re.search(r"^  upstream_0: 127\.0\.0\.1:%d \(peer\) \w+$" % rport[1], out, re.M)
    assert re.search(r"^  downstream_0: 127\.0\.0\.1:\d+ \(peer\) \w+$", out, re.M)
    assert re.search(r"^    records    sent \d+, applied \d+$", out, re.M)
    assert re.search(r"^    lag        \d+ records, \d+ ms$", out, re.M)
    assert re.search(r"^    syncs      \d+ full, \d+ partial$", out, re.M)
    assert re.search(r"^    auth       \d+ failures$", out, re.M)
    assert re.search(r"^    last error .+$", out, re.M)


@contextlib.contextmanager
def running_memcached(*args):
    """A stock memcached on a free port with extra args; yields its address
    and kills it on exit."""
    need(os.path.exists(MEMCACHED), "%s not installed" % MEMCACHED)
    port = free_port()
    proc = subprocess.Popen([MEMCACHED, "-u", "root", "-l", "127.0.0.1", "-p", str(port)] +
                            list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"version\r\n")
                reply = s.recv(64)   # under -Y: CLIENT_ERROR unauthenticated
                return reply.startswith((b"VERSION", b"CLIENT_ERROR unauthenticated"))
        except OSError:
            return False
    try:
        wait_for(ready, timeout=10, what="memcached to accept connections")
        yield "127.0.0.1:%d" % port
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def memcached():
    """A stock memcached on a free port, killed after the test."""
    with running_memcached() as addr:
        yield addr


def test_status_stock_memcached(memcached):
    rc, out, err = ctl("status", memcached)
    assert rc == 0, err
    assert out.startswith("node %s (memcached)\n" % memcached)
    assert "  version      1.6.18\n" in out
    assert out.endswith("replication: none (not a Tandem node)\n")
    doc = status_json(memcached)
    assert doc["tandem"] is False and doc["replication"] is None
    assert doc["version"] == "1.6.18" and doc["items"] == 0


# -- status: failures -----------------------------------------------------------------


def test_status_connection_refused():
    addr = "127.0.0.1:%d" % free_port()
    rc, out, err = ctl("status", addr)
    assert rc == 1 and out == ""
    assert err.startswith("tandemctl status: %s: connection refused" % addr), err


class SilentListener:
    """A port that accepts connections (kernel backlog) and never answers,
    or answers every connection with `reply` and closes."""

    def __init__(self, reply=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply = reply
        self.done = threading.Event()
        if reply is not None:
            self.sock.settimeout(0.1)
            self.thread = threading.Thread(target=self._serve, daemon=True)
            self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(5)
                try:
                    c.recv(4096)
                    c.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.done.set()
        if self.reply is not None:
            self.thread.join(timeout=5)
        self.sock.close()


def test_status_timeout_is_bounded():
    silent = SilentListener()
    try:
        start = time.monotonic()
        rc, out, err = ctl("status", "--timeout", "0.5", silent.addr)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert rc == 1
    assert err.startswith("tandemctl status: %s: no reply within 0.5 s" % silent.addr), err
    assert "--timeout" in err
    assert elapsed < 10


def test_status_not_a_memcached_server():
    http = SilentListener(reply=b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    try:
        rc, out, err = ctl("status", "--timeout=5", http.addr)
    finally:
        http.close()
    assert rc == 1 and out == ""
    assert ("tandemctl status: %s: not a memcached protocol reply to 'stats': "
            "\"HTTP/1.1 400 Bad Request\"" % http.addr) in err


def test_status_on_the_replication_port_says_so(server_factory):
    rport = free_port()
    server_factory("--repl-port", rport, "--node-id", 1)
    rc, out, err = ctl("status", "127.0.0.1:%d" % rport)
    assert rc == 1
    assert err.startswith("tandemctl status: 127.0.0.1:%d: " % rport)
    assert "client port" in err      # the hint names the likely mistake


# -- verify ------------------------------------------------------------------------------

ODD_KEYS = {b"user:42/profile%x": b"odd", b"caf\xc3\xa9": b"utf8", b"~a.b_c-d": b"plain"}


def test_verify_converged_pair_agrees(server_factory):
    (a, b), _ = pair(server_factory)
    store(a, {b"a%d" % i: b"value-%d" % i for i in range(300)})
    store(b, {b"b%d" % i: b"x" * (i % 50) for i in range(200)})
    store(a, ODD_KEYS)
    with b.conn() as c:
        c.expect(b"delete b7\r\nincr a1 1\r\n", b"DELETED\r\nCLIENT_ERROR cannot increment "
                                                  b"or decrement non-numeric value\r\n")
    total = 300 + 199 + len(ODD_KEYS)

    def agree():
        rc, out, _ = ctl("verify", a.addr, b.addr, "--timeout", "5")
        return rc == 0 and out
    out = wait_for(agree, timeout=30, interval=0.1, what="verify to find the pair converged")
    nodes, keys, rest = parse_verify(out)
    assert nodes[a.addr][0] == total and nodes[b.addr] == nodes[a.addr]
    assert keys == {}
    assert rest == ["result: the 2 nodes agree (same keys and versions)"]
    with a.conn() as c:
        assert int(stats_dict(c)["curr_items"]) == total

    rc, out, err = ctl("verify", "--values", a.addr, b.addr)
    assert rc == 0, out + err
    assert out.endswith("result: the 2 nodes agree (same keys and versions; values compared "
                        "for %d keys)\n" % total)


def test_verify_independent_nodes_lists_exactly_the_differing_keys(server_factory):
    a, b = server_factory(), server_factory()
    store(a, {b"only-a-1": b"1", b"only-a-2": b"2", b"both-1": b"x", b"caf\xc3\xa9": b"y"})
    store(b, {b"only-b": b"3", b"both-1": b"x", b"caf\xc3\xa9": b"y"})
    rc, out, err = ctl("verify", a.addr, b.addr)
    assert rc == 2, out + err
    nodes, keys, rest = parse_verify(out)
    assert nodes[a.addr][0] == 4 and nodes[b.addr][0] == 3
    assert nodes[a.addr][1] != nodes[b.addr][1]
    # independent nodes stamp their own versions: even equal values differ by cas
    expected = {
        "only-a-1": {a.addr: cas_of(a, b"only-a-1"), b.addr: None},
        "only-a-2": {a.addr: cas_of(a, b"only-a-2"), b.addr: None},
        "only-b": {a.addr: None, b.addr: cas_of(b, b"only-b")},
        "both-1": {a.addr: cas_of(a, b"both-1"), b.addr: cas_of(b, b"both-1")},
        "caf%C3%A9": {a.addr: cas_of(a, b"caf\xc3\xa9"), b.addr: cas_of(b, b"caf\xc3\xa9")},
    }
    assert keys == expected
    assert rest == ["differing keys:", "result: 5 keys differ"]


def test_verify_equal_keys_are_not_listed(server_factory):
    # with -C every cas is 0, so independent nodes holding the same keys agree
    # on them: only the keys missing somewhere may be listed
    a, b, c = (server_factory("-C") for _ in range(3))
    common = {b"common-%d" % i: b"v" for i in range(50)}
    for srv in (a, b, c):
        store(srv, common)
    store(a, {b"extra-a": b"1"})
    store(c, {b"extra-c": b"2", b"extra-c2": b"3"})
    rc, out, err = ctl("verify", a.addr, b.addr, c.addr)
    assert rc == 2, out + err
    nodes, keys, rest = parse_verify(out)
    assert [n for n, _ in nodes.values()] == [51, 50, 52]
    assert keys == {
        "extra-a": {a.addr: 0, b.addr: None, c.addr: None},
        "extra-c": {a.addr: None, b.addr: None, c.addr: 0},
        "extra-c2": {a.addr: None, b.addr: None, c.addr: 0},
    }
    assert rest[-1] == "result: 3 keys differ"
    # and nodes with the same keys agree: exit 0
    rc, out, err = ctl("verify", b.addr, b.addr)
    assert rc == 0, out + err


def test_verify_values_finds_equal_versions_with_different_bytes(server_factory):
    a, b = server_factory("-C"), server_factory("-C")
    store(a, {b"same": b"abc", b"diverged": b"left"})
    store(b, {b"same": b"abc", b"diverged": b"right!"})
    with a.conn() as c:   # a key only reachable base64-encoded in meta commands
        c.expect(b"ms a2V5IHdpdGggc3BhY2U= 2 b\r\nhi\r\n", b"HD\r\n")
    with b.conn() as c:
        c.expect(b"ms a2V5IHdpdGggc3BhY2U= 2 b\r\nhi\r\n", b"HD\r\n")
    # cas 0 everywhere: the key/version digests agree ...
    rc, out, err = ctl("verify", a.addr, b.addr)
    assert rc == 0, out + err
    # ... and only the values tell the difference
    rc, out, err = ctl("verify", a.addr, b.addr, "--values")
    assert rc == 2, out + err
    lines = out.splitlines()
    assert ("  key diverged: cas 0 on every node but the values differ: %s 4 bytes xxh3-128 "
            % a.addr) in "\n".join(lines)
    diffs = [l for l in lines if l.startswith("  key ")]
    assert len(diffs) == 1 and re.search(r", %s 6 bytes xxh3-128 [0-9a-f]{32}$" % b.addr,
                                         diffs[0])
    assert lines[-1] == "result: 1 key differs"


def test_verify_lists_the_first_100_and_counts_the_rest(server_factory):
    a, b = server_factory(), server_factory()
    store(a, {b"k%03d" % i: b"v" for i in range(150)})
    rc, out, err = ctl("verify", a.addr, b.addr)
    assert rc == 2, err
    nodes, keys, rest = parse_verify(out)
    assert nodes[a.addr][0] == 150 and nodes[b.addr] == (0, "2d06800538d394c2")  # XXH3("")
    assert len(keys) == 100
    assert sorted(keys) == ["k%03d" % i for i in range(100)]   # sorted key order
    assert rest == ["differing keys:", "  ... and 50 more", "result: 150 keys differ"]


def test_verify_unreachable_node_is_an_error(server):
    dead = "127.0.0.1:%d" % free_port()
    rc, out, err = ctl("verify", server.addr, dead)
    assert rc == 1
    assert err.startswith("tandemctl verify: %s: connection refused" % dead), err


def test_verify_metadump_refused(server_factory):
    a, b = server_factory(), server_factory("-X")
    rc, out, err = ctl("verify", a.addr, b.addr)
    assert rc == 1
    assert ("tandemctl verify: %s: the server answered 'lru_crawler metadump all' with "
            "\"ERROR metadump not allowed\"" % b.addr) in err


# -- command line -----------------------------------------------------------------------


def test_help_documents_every_command_and_option():
    rc, out, err = ctl("-h")
    assert rc == 0 and err == ""
    for word in ("status", "verify", "help", "--json", "--values", "--timeout", "HOST:PORT",
                 "Exit status"):
        assert word in out, word
    rc, out2, _ = ctl("help")
    assert rc == 0 and out2 == out
    rc, out, _ = ctl("help", "verify")
    assert rc == 0 and out.startswith("usage: tandemctl verify HOST:PORT HOST:PORT...")
    rc, out, _ = ctl("status", "--help")
    assert rc == 0 and out.startswith("usage: tandemctl status HOST:PORT")


@pytest.mark.parametrize("args,message", [
    ((), "usage: tandemctl COMMAND"),
    (("frobnicate",), "tandemctl: unknown command 'frobnicate'"),
    (("--verbose",), "tandemctl: unknown option '--verbose'"),
    (("help", "nope"), "tandemctl: unknown command 'nope'"),
    (("status", "--jsn", "127.0.0.1:1"), "tandemctl status: unknown option '--jsn'"),
    (("status", "--values", "127.0.0.1:1"), "tandemctl status: unknown option '--values'"),
    (("status",), "tandemctl status: needs the address of a node"),
    (("status", "a:1", "b:2"), "tandemctl status: takes one address, got 2"),
    (("status", "--timeout", "soon", "a:1"), "--timeout needs a number of seconds"),
    (("status", "host:99999"), "tandemctl status: host:99999: bad address"),
    (("verify", "127.0.0.1:1"), "tandemctl verify: needs at least two addresses"),
    (("verify", "--json", "a:1", "b:2"), "tandemctl verify: unknown option '--json'"),
])
def test_usage_errors_name_the_problem(args, message):
    rc, out, err = ctl(*args)
    assert rc == 1 and out == ""
    assert message in err, err
