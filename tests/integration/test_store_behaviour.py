"""Storage behaviour a user can observe: eviction keeps what is used, memory
stays under -m, expired items are reclaimed in the background, the table grows
under load without losing keys, and (Tandem only) CAS values are versions."""
import socket
import threading
import time

from harness import IS_MEMCACHED, stats_dict, tandem_only, wait_for

HLC_EPOCH_MS = 1577836800000  # 2020-01-01, src/core/hlc.h


def fill(conn, prefix, count, size, noreply=True):
    """Store `count` keys of `size` bytes with noreply, then fence with a get."""
    value = b"v" * size
    batch = []
    for i in range(count):
        batch.append(b"set %s%d 0 0 %d noreply\r\n%s\r\n" % (prefix, i, size, value))
        if len(batch) == 64:
            conn.send(b"".join(batch))
            batch = []
    conn.send(b"".join(batch))
    conn.expect(b"", b"")  # the mn fence: every noreply set has been applied


def present(conn, keys):
    reply = conn.call(b"get " + b" ".join(keys) + b"\r\n", until=b"END\r\n")
    return {line.split(b" ")[1] for line in reply.split(b"\r\n") if line.startswith(b"VALUE ")}


def test_eviction_keeps_recently_used_keys(server_factory):
    srv = server_factory("-m", "8")
    with srv.conn() as c:
        hot = [b"hot%d" % i for i in range(20)]
        fill(c, b"hot", len(hot), 4000)
        # Write ~4x the memory limit while reading the hot keys every round.
        for round_ in range(32):
            fill(c, b"cold%d-" % round_, 64, 4000)
            assert present(c, hot) == set(hot), "hot keys evicted in round %d" % round_
        st = stats_dict(c)
        assert int(st["evictions"]) > 0
        early = [b"cold0-%d" % i for i in range(64)]
        assert len(present(c, early)) < len(early) // 2   # the oldest cold data went first


def flood_sizes(c):
    for size in (100, 1000, 5000, 20000, 300):
        fill(c, b"s%d-" % size, 2000, size)


def test_item_bytes_stay_under_the_limit(server_factory):
    srv = server_factory("-m", "8")
    with srv.conn() as c:
        flood_sizes(c)
        st = stats_dict(c)
        assert int(st["limit_maxbytes"]) == 8 * 1024 * 1024
        assert int(st["bytes"]) <= int(st["limit_maxbytes"])


@tandem_only
def test_all_item_memory_stays_under_the_limit(server_factory):
    # memcached's -m counts slab pages but hands every class a page anyway
    # (10 MB malloced under -m 8 in this test); Tandem's limit holds for all
    # item memory, chunk rounding and large items included.
    srv = server_factory("-m", "8")
    with srv.conn() as c:
        flood_sizes(c)
        malloced = int(stats_dict(c, b"slabs")["total_malloced"])
        assert 0 < malloced <= 8 * 1024 * 1024


def test_background_sweep_reclaims_expired_items(server_factory):
    srv = server_factory()
    with srv.conn() as c:
        batch = b"".join(b"set exp%d 0 1 1 noreply\r\nx\r\n" % i for i in range(200))
        c.send(batch)
        c.expect(b"", b"")
        assert stats_dict(c)["curr_items"] == "200"
        # Nobody touches the keys again: only a background sweep can reap them.
        wait_for(lambda: stats_dict(c)["curr_items"] == "0", timeout=30,
                 what="expired items to be reclaimed without being read")
        if not IS_MEMCACHED:   # memcached's LRU maintainer counts these elsewhere
            assert int(stats_dict(c)["crawler_reclaimed"]) >= 200


def test_table_grows_under_load_without_losing_keys(server_factory):
    srv = server_factory("-o", "hashpower=13")   # the smallest memcached takes with -t 4
    stop = threading.Event()
    errors = []

    def reader():
        try:
            with srv.conn() as r:
                while not stop.is_set():
                    if r.call(b"get anchor\r\n", until=b"END\r\n") != b"VALUE anchor 0 1\r\n1\r\nEND\r\n":
                        errors.append("anchor missing while the table grew")
                        return
        except (OSError, AssertionError) as e:
            errors.append(repr(e))

    with srv.conn() as c:
        c.expect(b"set anchor 0 0 1\r\n1\r\n", b"STORED\r\n")
        before = int(stats_dict(c)["hash_power_level"])
        t = threading.Thread(target=reader)
        t.start()
        try:
            fill(c, b"grow", 20000, 10)
        finally:
            stop.set()
            t.join(timeout=10)
        assert not errors, errors
        def grown():
            st = stats_dict(c)
            return int(st["hash_power_level"]) > before and st["hash_is_expanding"] == "0"
        wait_for(grown, timeout=20, what="the table to grow (memcached grows it in a thread)")
        keys = [b"grow%d" % i for i in range(0, 20000, 97)]
        assert present(c, keys) == set(keys)
        assert stats_dict(c)["curr_items"] == "20001"


@tandem_only
def test_cas_is_a_hybrid_logical_clock_version(conn):
    """CAS values are versions: unique, increasing, and they carry the wall
    clock (ms since 2020 in the top 42 bits), so they mean the same on every node."""
    cas = []
    for i in range(50):
        conn.expect(b"set v%d 0 0 1\r\nx\r\n" % i, b"STORED\r\n")
        line = conn.call(b"gets v%d\r\n" % i, until=b"END\r\n").split(b"\r\n")[0]
        cas.append(int(line.split(b" ")[4]))
    assert cas == sorted(cas) and len(set(cas)) == len(cas)
    now_ms = time.time() * 1000
    stamped_ms = (cas[-1] >> 22) + HLC_EPOCH_MS
    assert abs(stamped_ms - now_ms) < 60_000
    # touch keeps the version (memcached keeps CAS on touch), a write changes it
    conn.expect(b"touch v0 100\r\n", b"TOUCHED\r\n")
    assert int(conn.call(b"gets v0\r\n", until=b"END\r\n").split(b"\r\n")[0].split(b" ")[4]) == cas[0]


def test_flush_all_hides_older_items_only(conn):
    conn.expect(b"set old 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"flush_all\r\n", b"OK\r\n")
    conn.expect(b"set new 0 0 1\r\n2\r\n", b"STORED\r\n")
    conn.expect(b"get old new\r\n", b"VALUE new 0 1\r\n2\r\nEND\r\n")
