"""
tandem-proxy when backends die, come back, stall or talk nonsense.
"""
import socket
import threading
import time

import pytest

from proxy_harness import px  # noqa: F401 (the fixture)
from proxy_harness import pool, wait_for




def get(c, key):
    """The value, None on a miss; raises on an error reply."""
    c.send(b"get %s\r\n" % key)
    line = c.readline()
    if line == b"END\r\n":
        return None
    assert line.startswith(b"VALUE "), line
    n = int(line.split()[3])
    data = c.recv_exact(n + 2)[:-2]
    assert c.readline() == b"END\r\n"
    return data


def test_replicas_2_survive_a_backend_killed_under_load(px):
    """kill -9 one of three tandemd backends while a writer and a reader run:
    no read misses, no errors after the first failover, and every key is
    readable at the end."""
    bs = [px.backend("tandemd") for _ in range(3)]
    p = px.proxy(pool(["%s:1" % b.addr for b in bs], replicas=2, auto_eject_hosts=True,
                      server_failure_limit=1, server_retry_timeout=30000, timeout=2000))
    keys = [b"r%d" % i for i in range(200)]
    with p.conn() as c:
        c.send(b"".join(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(k), k) for k in keys))
        c.expect(b"", b"")
    # each key is on exactly two backends
    held = [b.keys_present(keys) for b in bs]
    assert all(sum(k in h for h in held) == 2 for k in keys)

    stop = threading.Event()
    errors, written = [], []

    def writer():
        with p.conn() as w:
            i = 0
            while not stop.is_set() and i < 5000:
                k = b"w%d" % i
                r = w.call(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(k), k))
                if r != b"STORED\r\n":
                    errors.append(r)
                else:
                    written.append(k)
                i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        with p.conn() as c:
            for rnd in range(6):
                if rnd == 2:
                    bs[1].kill()
                for k in keys:
                    assert get(c, k) == k, "round %d key %r" % (rnd, k)
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors[:3]
    with p.conn() as c:
        missing = [k for k in written if get(c, k) != k]
        assert not missing, missing[:5]
        got = c.call(b"get " + b" ".join(keys) + b"\r\n", until=b"END\r\n")
        assert got.count(b"VALUE ") == len(keys)
    st = p.stats()
    assert st["server:alpha:%s:ejected" % bs[1].addr] == "1"
    assert int(st["pool:alpha:live_servers"]) == 2


def test_ejected_server_is_probed_and_used_again(px):
    """replicas 1 (twemproxy's rule): a dead backend's keys fail with an error
    naming it, then move to the others once it is ejected; when it comes back
    a version probe returns it to the ring and its keys go to it again."""
    bs = [px.backend("memcached") for _ in range(3)]
    p = px.proxy(pool(["%s:1" % b.addr for b in bs], auto_eject_hosts=True,
                      server_failure_limit=2, server_retry_timeout=300, timeout=1000))
    keys = [b"e%d" % i for i in range(60)]
    dead = bs[0]
    with p.conn() as c:
        for k in keys:
            assert c.call(b"set %s 0 0 1\r\nx\r\n" % k) == b"STORED\r\n"
    mine = sorted(dead.keys_present(keys))
    assert mine
    port = dead.port
    dead.kill()
    with p.conn() as c:
        r = c.call(b"get %s\r\n" % mine[0])
        assert r.startswith(b"SERVER_ERROR backend %s" % dead.addr.encode()), r
        # after server_failure_limit failures it is ejected; its keys live elsewhere
        wait_for(lambda: c.call(b"set %s 0 0 1\r\ny\r\n" % mine[0]) == b"STORED\r\n",
                 what="ejection")
        assert get(c, mine[0]) == b"y"
    st = p.stats()
    assert st["server:alpha:%s:ejected" % dead.addr] == "1"
    assert int(st["server:alpha:%s:ejections" % dead.addr]) == 1

    back = px.backend("memcached", port=port)
    wait_for(lambda: p.stats()["server:alpha:%s:ejected" % back.addr] == "0", timeout=10,
             what="the returned backend to be probed back in")
    with p.conn() as c:
        for k in mine:
            assert c.call(b"set %s 0 0 1\r\nz\r\n" % k) == b"STORED\r\n"
    assert back.keys_present(mine) == set(mine)


def test_without_auto_eject_a_dead_backend_answers_server_error(px):
    a, b = px.backend(), px.backend()
    p = px.proxy(pool(["%s:1" % a.addr, "%s:1" % b.addr]))
    keys = [b"d%d" % i for i in range(40)]
    with p.conn() as c:
        for k in keys:
            assert c.call(b"set %s 0 0 1\r\nx\r\n" % k) == b"STORED\r\n"
    on_b = sorted(b.keys_present(keys))
    b.kill()
    with p.conn() as c:
        for _ in range(3):
            r = c.call(b"get %s\r\n" % on_b[0])
            assert r.startswith(b"SERVER_ERROR backend %s" % b.addr.encode()), r
        # a multi-get touching the dead server fails as a whole, with its name
        r = c.call(b"get " + b" ".join(keys) + b"\r\n")
        assert r.startswith(b"SERVER_ERROR backend %s" % b.addr.encode()), r
        on_a = sorted(set(keys) - set(on_b))
        assert get(c, on_a[0]) == b"x"


def test_backend_sending_garbage_is_dropped_not_trusted(px):
    """A backend answering nonsense: the client gets SERVER_ERROR naming it,
    the proxy closes that connection, keeps serving, and counts errors."""
    replies = {b"get": b"HELLO THERE\r\n", b"set": b"STORED\r\nEXTRA\r\n",
               b"delete": b"VALUE x 0 99999999999\r\n"}

    def handler(line):
        verb = line.split(b" ")[0]
        return replies.get(verb, b"\x00\xff garbage\r\n")

    fake = px.fake(handler)
    p = px.proxy(pool(["%s:1" % fake.addr], timeout=2000))
    with p.conn() as c:
        for cmd in (b"get k\r\n", b"delete k\r\n", b"incr k 1\r\n"):
            r = c.call(cmd)
            assert r.startswith(b"SERVER_ERROR backend %s" % fake.addr.encode()), (cmd, r)
            assert b"invalid" in r or b"no request" in r, r
        # STORED then EXTRA: the set succeeds, the extra bytes break the connection
        r = c.call(b"set k 0 0 1\r\nx\r\n")
        assert r == b"STORED\r\n"
        c.expect_re(b"version\r\n", rb"VERSION \S+\r\n")
    st = p.stats()
    assert int(st["server:alpha:%s:errors" % fake.addr]) >= 3
    assert p.alive()


def test_backend_that_never_answers_times_out(px):
    fake = px.fake(lambda line: None)
    p = px.proxy(pool(["%s:1" % fake.addr], timeout=300))
    with p.conn() as c:
        t0 = time.monotonic()
        r = c.call(b"get k\r\n", timeout=10)
        took = time.monotonic() - t0
    assert r == b"SERVER_ERROR backend %s: timed out after 300 ms\r\n" % fake.addr.encode()
    assert 0.25 < took < 5
    assert p.stats()["server:alpha:%s:timeouts" % fake.addr] == "1"


def test_client_going_away_with_requests_in_flight(px):
    """Replies for a client that left are dropped; nothing leaks (ASan)."""
    slow = []

    def handler(line):
        slow.append(line)
        return b"END\r\n" if line.startswith(b"get") else None

    fake = px.fake(handler)
    p = px.proxy(pool(["%s:1" % fake.addr], timeout=5000))
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(b"get a\r\n" * 100)
    s.close()
    wait_for(lambda: len(slow) >= 1, what="requests to reach the backend")
    with p.conn() as c:
        assert c.call(b"get b\r\n") == b"END\r\n"


def _copies_of(bs, p, key):
    """Which backends hold key after a write through the proxy."""
    with p.conn() as c:
        assert c.call(b"set %s 0 0 1\r\nv\r\n" % key) == b"STORED\r\n"
    return [b for b in bs if b.keys_present([key])]


@pytest.mark.parametrize("balance,spread", [("round-robin", True), ("hash", False),
                                            ("least-connections", None)])
def test_replicated_reads_are_balanced(px, balance, spread):
    bs = [px.backend() for _ in range(3)]
    p = px.proxy(pool(["%s:1" % b.addr for b in bs], replicas=2, balance=balance))
    holders = _copies_of(bs, p, b"bal")
    assert len(holders) == 2
    before = {b.addr: int(p.stats()["server:alpha:%s:requests" % b.addr]) for b in holders}
    with p.conn() as c:
        for _ in range(20):
            assert get(c, b"bal") == b"v"
    st = p.stats()
    reads = [int(st["server:alpha:%s:requests" % b.addr]) - before[b.addr] for b in holders]
    assert sum(reads) == 20
    if spread is True:
        assert reads == [10, 10]
    elif spread is False:
        assert sorted(reads) == [0, 20]


def test_failover_on_miss_reads_the_other_copy(px):
    """A copy that missed a write (as after an outage) answers a miss; with
    failover_on_miss the read goes on to the next copy and finds the value."""
    bs = [px.backend() for _ in range(3)]
    servers = ["%s:1" % b.addr for b in bs]
    p = px.proxy(pool(servers, replicas=2, read_from="primary"))
    holders = _copies_of(bs, p, b"fom")
    primary, second = holders[0], holders[1]
    # which one is the primary? delete on each directly and see what the proxy reads
    with primary.conn() as c:
        assert c.call(b"delete fom\r\n") == b"DELETED\r\n"
    with p.conn() as c:
        first = get(c, b"fom")
    if first == b"v":
        primary, second = second, primary  # we deleted from the second copy
        with primary.conn() as c:
            assert c.call(b"delete fom\r\n") == b"DELETED\r\n"
        with second.conn() as c:
            assert c.call(b"set fom 0 0 1\r\nv\r\n") == b"STORED\r\n"
        with p.conn() as c:
            assert get(c, b"fom") is None
    # same pool with failover_on_miss: the miss on the primary goes on to the second copy
    q = px.proxy(pool(servers, replicas=2, read_from="primary", failover_on_miss=True))
    with q.conn() as c:
        assert get(c, b"fom") == b"v"
        assert c.call(b"get fom nothere\r\n", until=b"END\r\n") == b"VALUE fom 0 1\r\nv\r\nEND\r\n"
        assert c.call(b"mg fom v\r\n", until=b"\r\nv\r\n") == b"VA 1\r\nv\r\n"
    assert int(q.stats()["pool:alpha:failovers"]) >= 3
