"""
tandem-proxy end to end: routing, placement, multi-get, clients, stats, and
the config checker. Backends are real memcached / tandemd processes; the
proxy runs under ASan in `make integration`.
"""
import re
from pathlib import Path

import pytest

import harness
import proxy_harness as ph
from proxy_harness import px  # noqa: F401 (the fixture)
from proxy_harness import pool

KETAMA = Path("/work/shared/testdata/ketama")
if not KETAMA.exists():
    KETAMA = harness.REPO.parent / "shared" / "testdata" / "ketama"




def three(px, kind="memcached"):
    return [px.backend(kind) for _ in range(3)]


def test_commands_route_and_answer_like_memcached(px):
    bs = three(px)
    p = px.proxy(pool(["%s:1" % b.addr for b in bs]))
    with p.conn() as c:
        c.expect(b"set a 1 0 1\r\nA\r\n", b"STORED\r\n")
        c.expect(b"add a 0 0 1\r\nB\r\n", b"NOT_STORED\r\n")
        c.expect(b"append a 0 0 2\r\nxy\r\n", b"STORED\r\n")
        c.expect(b"prepend a 0 0 1\r\n<\r\n", b"STORED\r\n")
        c.expect(b"get a\r\n", b"VALUE a 1 4\r\n<Axy\r\nEND\r\n")
        line = c.call(b"gets a\r\n", until=b"END\r\n")
        cas = int(line.split(b"\r\n")[0].split()[4])
        c.expect(b"cas a 0 0 1 %d\r\nZ\r\n" % (cas + 1000), b"EXISTS\r\n")
        c.expect(b"cas a 0 0 1 %d\r\nZ\r\n" % cas, b"STORED\r\n")
        c.expect(b"replace nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
        c.expect(b"set n 0 0 2\r\n10\r\n", b"STORED\r\n")
        c.expect(b"incr n 5\r\n", b"15\r\n")
        c.expect(b"decr n 20\r\n", b"0\r\n")
        c.expect(b"incr nope 1\r\n", b"NOT_FOUND\r\n")
        c.expect(b"touch n 100\r\n", b"TOUCHED\r\n")
        # memcached's decr keeps the length: "10" became "0 "
        c.expect(b"gat 100 n\r\n", b"VALUE n 0 2\r\n0 \r\nEND\r\n")
        c.expect(b"delete n\r\n", b"DELETED\r\n")
        c.expect(b"delete n\r\n", b"NOT_FOUND\r\n")
        # noreply: nothing comes back, and the next reply is in step
        c.send(b"set q 0 0 1 noreply\r\nQ\r\ndelete zz noreply\r\nincr q 1 noreply\r\n")
        c.expect(b"get q\r\n", b"VALUE q 0 1\r\nQ\r\nEND\r\n")
        # meta, with quiet mode and mn as the pipeline terminator
        c.expect(b"ms m 2 T0 F7\r\nhi\r\n", b"HD\r\n")
        c.expect(b"mg m v f k O9\r\n", b"VA 2 f7 km O9\r\nhi\r\n")
        # (expect() ends every batch with mn and reads up to its MN)
        c.expect(b"ms m2 1 q\r\nx\r\nmg nope v q\r\nmg m v q\r\nmd nope q\r\n",
                 b"VA 2\r\nhi\r\nNF\r\n")
        c.expect(b"ma cnt N0 J5 v\r\n", b"VA 1\r\n5\r\n")
        c.expect(b"md m\r\n", b"HD\r\n")
        c.expect(b"mg m v\r\n", b"EN\r\n")
        # errors in memcached's words
        c.expect(b"bogus\r\n", b"ERROR\r\n")
        c.expect(b"get " + b"k" * 251 + b"\r\n", b"CLIENT_ERROR bad command line format\r\n")
        c.expect(b"set x 0 0 notanumber\r\n", b"CLIENT_ERROR bad command line format\r\n")
        c.expect_re(b"version\r\n", rb"VERSION \S+\r\n")
        c.expect(b"verbosity 1\r\n", b"OK\r\n")
        c.expect(b"flush_all\r\n", b"OK\r\n")
        c.expect(b"get a q\r\n", b"END\r\n")
        c.send(b"quit\r\n")
        c.expect_closed()


def test_multiget_spans_three_servers_in_request_order(px):
    bs = three(px)
    p = px.proxy(pool(["%s:1" % b.addr for b in bs]))
    keys = [b"key%d" % i for i in range(60)]
    with p.conn() as c:
        for k in keys:
            c.expect(b"set %s 3 0 %d\r\nv-%s\r\n" % (k, len(k) + 2, k), b"STORED\r\n")
    holders = [b.keys_present(keys) for b in bs]
    assert all(holders), "every backend holds some keys: %r" % [len(h) for h in holders]
    assert sum(len(h) for h in holders) == len(keys)
    # ask in a shuffled order with misses and a duplicate in between
    ask = keys[::-1][:30] + [b"miss1"] + keys[:5] + [b"key7", b"miss2"]
    with p.conn() as c:
        got = c.call(b"get " + b" ".join(ask) + b"\r\n", until=b"END\r\n")
    expect = b"".join(b"VALUE %s 3 %d\r\nv-%s\r\n" % (k, len(k) + 2, k)
                      for k in ask if not k.startswith(b"miss")) + b"END\r\n"
    assert got == expect
    st = p.stats()
    assert int(st["pool:alpha:fragments"]) >= len(keys) + 3


@pytest.mark.parametrize("dist,vectors", [("ketama", "vectors_ketama_weighted.txt"),
                                          ("modula", "vectors_modula_md5.txt")])
def test_key_placement_matches_libmemcached(px, dist, vectors):
    """libmemcached's vectors were made with 127.0.0.1:11211..11213; twemproxy's
    server names let our backends on other ports hash under those labels."""
    bs = three(px)
    labels = ["127.0.0.1", "127.0.0.1:11212", "127.0.0.1:11213"]
    servers = ["%s:1 %s" % (b.addr, lab) for b, lab in zip(bs, labels)]
    p = px.proxy(pool(servers, distribution=dist))
    want = {}
    for line in (KETAMA / vectors).read_text().splitlines()[:300]:
        k, owner = line.split()
        want[k.encode()] = {"127.0.0.1:11211": 0, "127.0.0.1:11212": 1, "127.0.0.1:11213": 2}[owner]
    with p.conn() as c:
        c.send(b"".join(b"set %s 0 0 1 noreply\r\nx\r\n" % k for k in want))
        c.expect(b"", b"")
    for i, b in enumerate(bs):
        expected = {k for k, o in want.items() if o == i}
        assert b.keys_present(list(want)) == expected, "backend %d (%s)" % (i, labels[i])


def test_pymemcache_and_python_memcached_through_proxy(px):
    from pymemcache.client.base import Client
    import memcache
    bs = three(px, kind="tandemd")
    p = px.proxy(pool(["%s:1" % b.addr for b in bs]))
    pc = Client(("127.0.0.1", p.port), timeout=5)
    data = {"u%d" % i: ("value-%d" % i).encode() * 5 for i in range(50)}
    assert pc.set_many(data) == []
    assert pc.get_many(list(data)) == data
    assert pc.incr("nope", 1) is None
    assert pc.add("u1", b"x", noreply=False) is False
    assert pc.delete("u1") is True
    pc.close()
    mc = memcache.Client(["127.0.0.1:%d" % p.port])
    got = mc.get_multi(["u%d" % i for i in range(50)])
    assert len(got) == 49 and got["u2"] == data["u2"]
    assert mc.set("pm", {"a": 1})
    assert mc.get("pm") == {"a": 1}
    mc.disconnect_all()


def test_stats_count_per_pool_and_server(px):
    bs = three(px)
    p = px.proxy(pool(["%s:1" % b.addr for b in bs]))
    with p.conn() as c:
        for i in range(30):
            assert c.call(b"set s%d 0 0 1\r\nx\r\n" % i) == b"STORED\r\n"
        c.call(b"get " + b" ".join(b"s%d" % i for i in range(30)) + b"\r\n", until=b"END\r\n")
    st = p.stats()
    # 30 sets, the get, the readiness probe's version, and this stats
    assert int(st["pool:alpha:requests"]) == 30 + 1 + 1 + 1
    per = [int(st["server:alpha:%s:requests" % b.addr]) for b in bs]
    assert sum(per) == 30 + 3 and all(per)
    for b in bs:
        assert st["server:alpha:%s:ejected" % b.addr] == "0"
        assert int(st["server:alpha:%s:latency_p99_us" % b.addr]) > 0
    assert int(st["pool:alpha:latency_avg_us"]) > 0
    assert st["curr_connections"] == "1"


# --- config -----------------------------------------------------------------

NUTCRACKER_YML = """\
alpha:
  listen: 127.0.0.1:@PORT@
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: true
  redis: false
  server_retry_timeout: 2000
  server_failure_limit: 1
  timeout: 400
  backlog: 1024
  preconnect: true
  client_connections: 100
  server_connections: 1
  servers:
   - %s:1
   - %s:1 beta
"""


def test_nutcracker_yml_runs_unchanged(px):
    a, b = px.backend(), px.backend()
    text = NUTCRACKER_YML % (a.addr, b.addr)
    rc, out = px.check_config(text.replace("@PORT@", "22199"))
    assert rc == 0, out
    assert "syntax is ok" in out
    p = px.proxy(text)
    with p.conn() as c:
        c.expect(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n")
        c.expect(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n")


@pytest.mark.parametrize("text,line,words", [
    ("alpha:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:11211:1\n  hash: md6\n",
     5, ["'hash'", "md5", "md6"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  timeout: soon\n  servers:\n   - 127.0.0.1:11211:1\n",
     3, ["'timeout'", "integer", "soon"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:11211:1\n   - 127.0.0.1:99999:1\n",
     5, ["port", "127.0.0.1:99999:1"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:11211\n",
     4, ["weight", "host:port:weight"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n   - 127.0.0.1:11211:1\n",
     3, ["redis", "memcached protocol only"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  auto_eject_host: true\n  servers:\n   - 1.2.3.4:1:1\n",
     3, ["unknown key 'auto_eject_host'", "auto_eject_hosts"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  replicas: 3\n  servers:\n   - 127.0.0.1:1:1\n",
     1, ["replicas: 3", "1 server"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  balance: random\n  servers:\n   - 127.0.0.1:1:1\n",
     3, ["'balance'", "round-robin", "least-connections"]),
    ("alpha:\n  servers:\n   - 127.0.0.1:1:1\n", 1, ["'listen' is missing"]),
    ("alpha:\n  listen: [1, 2\n", 3, ["not valid YAML"]),
    ("alpha:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:1:1\n"
     "beta:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:1:1\n",
     5, ["same address", "'alpha'"]),
])
def test_bad_config_names_line_key_and_expectation(px, text, line, words):
    rc, out = px.check_config(text)
    assert rc == 1, out
    assert re.search(r"line %d\b" % line, out), out
    for w in words:
        assert w in out, (w, out)


def test_missing_config_file_is_reported(px):
    import subprocess
    r = subprocess.run([ph.PROXY, "-c", "/nonexistent/x.yml", "-t"], capture_output=True,
                       timeout=30)
    assert r.returncode == 1
    assert b"/nonexistent/x.yml" in r.stderr and b"cannot open" in r.stderr
