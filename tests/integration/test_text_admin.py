"""Admin commands: flush_all, version, verbosity, quit, shutdown,
cache_memlimit, lru_crawler, slabs/lru tuning, watch."""
import re
import time

import pytest

from harness import IS_MEMCACHED, stats_dict, wait_for


def store(conn, key, value, flags=0, exptime=0):
    conn.expect(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, exptime, len(value), value),
                b"STORED\r\n")


# -- flush_all -----------------------------------------------------------------

def test_flush_all_invalidates_everything(conn):
    store(conn, b"a", b"1")
    store(conn, b"b", b"2")
    conn.expect(b"flush_all\r\n", b"OK\r\n")
    conn.expect(b"get a b\r\n", b"END\r\n")
    store(conn, b"a", b"3")
    conn.expect(b"get a\r\n", b"VALUE a 0 1\r\n3\r\nEND\r\n")
    st = stats_dict(conn)
    assert st["cmd_flush"] == "1"
    # Both gets missed. A flushed item found by the get also counts as
    # get_flushed; one the LRU crawler reaped first does not.
    assert st["get_misses"] == "2"
    assert int(st["get_flushed"]) <= 2
    assert st["get_hits"] == "1"


def test_flush_all_zero_negative_and_noreply(conn):
    store(conn, b"a", b"1")
    conn.expect(b"flush_all 0\r\n", b"OK\r\n")
    conn.expect(b"get a\r\n", b"END\r\n")
    store(conn, b"a", b"1")
    conn.expect(b"flush_all -1\r\n", b"OK\r\n")
    conn.expect(b"get a\r\n", b"END\r\n")
    store(conn, b"a", b"1")
    conn.expect(b"flush_all noreply\r\n", b"")
    conn.expect(b"get a\r\n", b"END\r\n")
    store(conn, b"a", b"1")
    conn.expect(b"flush_all 0 noreply\r\n", b"")
    conn.expect(b"get a\r\n", b"END\r\n")


def test_flush_all_bad_delay(conn):
    conn.expect(b"flush_all abc\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
    conn.expect(b"flush_all noreply 1\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
    conn.expect(b"flush_all 1x\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")


def test_flush_all_with_delay(conn):
    store(conn, b"a", b"1")
    # oldest_live = now + 3 - 1: the item is still there right after.
    conn.expect(b"flush_all 3\r\n", b"OK\r\n")
    conn.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
    wait_for(lambda: conn.roundtrip(b"get a\r\n") == b"END\r\n", timeout=6,
             what="delayed flush_all to take effect")


def test_flush_all_absolute_time_in_the_past_flushes_nothing(conn):
    # An absolute time before process start maps to realtime 1, so
    # oldest_live becomes 0 and nothing is flushed (memcached quirk).
    store(conn, b"a", b"1")
    conn.expect(b"flush_all 1000000000\r\n", b"OK\r\n")
    conn.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")


def test_flush_all_disabled_with_F(server_factory):
    srv = server_factory("-F")
    with srv.conn() as c:
        store(c, b"a", b"1")
        c.expect(b"flush_all\r\n", b"CLIENT_ERROR flush_all not allowed\r\n")
        c.expect(b"flush_all 10\r\n", b"CLIENT_ERROR flush_all not allowed\r\n")
        c.expect(b"flush_all noreply\r\n", b"")
        c.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
        st = stats_dict(c)
        assert st["cmd_flush"] == "3"
        assert stats_dict(c, b"settings")["flush_enabled"] == "no"


# -- version / verbosity / quit ---------------------------------------------------

def test_version(conn):
    conn.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
    conn.expect(b"version extra args\r\n", b"VERSION 1.6.18\r\n")
    conn.expect(b"VERSION\r\n", b"ERROR\r\n")


def test_verbosity(conn):
    conn.expect(b"verbosity 1\r\n", b"OK\r\n")
    conn.expect(b"verbosity 5\r\n", b"OK\r\n")
    conn.expect(b"verbosity 0 noreply\r\n", b"")
    conn.expect(b"verbosity\r\n", b"ERROR\r\n")
    conn.expect(b"verbosity abc\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"verbosity 1 2 3\r\n", b"ERROR\r\n")


def test_verbosity_shows_in_settings(conn):
    conn.expect(b"verbosity 1\r\n", b"OK\r\n")
    assert stats_dict(conn, b"settings")["verbosity"] == "1"


def test_quit_closes_without_reply(conn):
    conn.send(b"version\r\nquit\r\nversion\r\n")
    assert conn.expect_closed() == b"VERSION 1.6.18\r\n"


def test_quit_with_arguments_also_closes(conn):
    conn.send(b"quit now\r\n")
    assert conn.expect_closed() == b""


# -- shutdown --------------------------------------------------------------------

def test_shutdown_not_enabled(server, conn):
    conn.expect(b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n")
    conn.expect(b"shutdown graceful\r\n", b"ERROR: shutdown not enabled\r\n")
    conn.expect(b"shutdown foo\r\n", b"ERROR: shutdown not enabled\r\n")
    assert server.alive()


def test_shutdown_with_A_exits(server_factory):
    srv = server_factory("-A")
    with srv.conn() as c:
        c.expect(b"shutdown foo\r\n", b"CLIENT_ERROR invalid shutdown mode\r\n")
        assert stats_dict(c, b"settings")["shutdown_command"] == "yes"
        c.send(b"shutdown\r\n")
        assert c.expect_closed() == b""
    assert srv.wait_exit(10) is not None, "server still running after shutdown"


def test_shutdown_graceful_with_A_exits(server_factory):
    srv = server_factory("-A")
    with srv.conn() as c:
        c.send(b"shutdown graceful\r\n")
        assert c.expect_closed() == b""
    assert srv.wait_exit(10) is not None, "server still running after shutdown graceful"


# -- cache_memlimit --------------------------------------------------------------

def test_cache_memlimit_replies(conn):
    conn.expect(b"cache_memlimit 100\r\n", b"OK\r\n")
    assert stats_dict(conn)["limit_maxbytes"] == str(100 * 1024 * 1024)
    assert stats_dict(conn, b"settings")["maxbytes"] == str(100 * 1024 * 1024)
    conn.expect(b"cache_memlimit 8\r\n", b"OK\r\n")
    conn.expect(b"cache_memlimit 64 noreply\r\n", b"")
    for small in (b"0", b"1", b"7"):
        conn.expect(b"cache_memlimit %s\r\n" % small,
                    b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n")
    conn.expect(b"cache_memlimit 2000000000\r\n",
                b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n")
    for bad in (b"abc", b"-1", b"12x"):
        conn.expect(b"cache_memlimit %s\r\n" % bad, b"ERROR\r\n")
    conn.expect(b"cache_memlimit\r\n", b"ERROR\r\n")
    assert stats_dict(conn)["limit_maxbytes"] == str(64 * 1024 * 1024)


def test_cache_memlimit_fails_when_memory_is_preallocated(server_factory):
    srv = server_factory("-L")
    with srv.conn() as c:
        if IS_MEMCACHED:
            c.expect(b"cache_memlimit 100\r\n",
                     b"MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n")
        else:
            # Tandem never preallocates, so -L does not pin the limit.
            c.expect(b"cache_memlimit 100\r\n", b"OK\r\n")
            assert stats_dict(c)["limit_maxbytes"] == str(100 * 1024 * 1024)


# -- lru_crawler -----------------------------------------------------------------

def metadump(conn, arg=b"all"):
    """lru_crawler metadump, retried while the crawler is busy with its own
    background crawl (memcached answers BUSY then)."""
    busy = b"BUSY currently processing crawler request\r\n"
    def attempt():
        # Dump lines end in a bare \n, so the first \r\n is the one after END.
        reply = conn.call(b"lru_crawler metadump %s\r\n" % arg)
        return None if reply == busy else reply
    return wait_for(attempt, timeout=5, interval=0.05, what="the LRU crawler to be free")


METADUMP_LINE = re.compile(
    rb"key=(\S+) exp=(-1|\d+) la=(\d+) cas=(\d+) fetch=(yes|no) cls=(\d+) size=(\d+)")


def test_lru_crawler_metadump_all(conn):
    store(conn, b"plain", b"1")
    store(conn, b"with%pct/slash\x01", b"22", exptime=100)
    conn.expect(b"get plain\r\n", b"VALUE plain 0 1\r\n1\r\nEND\r\n")
    now = int(stats_dict(conn)["time"])
    raw = metadump(conn)
    assert raw.endswith(b"\nEND\r\n")
    lines = raw[:-len(b"END\r\n")].split(b"\n")
    assert lines[-1] == b""   # metadump lines end in a bare \n
    parsed = {}
    for line in lines[:-1]:
        m = METADUMP_LINE.fullmatch(line)
        assert m, line
        parsed[m.group(1)] = m
    assert set(parsed) == {b"plain", b"with%25pct%2Fslash%01"}
    p, w = parsed[b"plain"], parsed[b"with%25pct%2Fslash%01"]
    assert p.group(2) == b"-1" and p.group(5) == b"yes" and p.group(6) == b"1"
    assert abs(int(w.group(2)) - (now + 100)) <= 2 and w.group(5) == b"no"
    assert abs(int(p.group(3)) - now) <= 2
    assert int(w.group(4)) > int(p.group(4)) > 0
    # size= is checked in test_stats.py::test_item_size_accounting


def test_lru_crawler_metadump_class_and_hash(conn):
    store(conn, b"a", b"1")
    for arg in (b"1", b"hash"):
        raw = metadump(conn, arg)
        assert re.fullmatch(rb"key=a exp=-1 la=\d+ cas=\d+ fetch=no cls=1 size=\d+\nEND\r\n", raw), raw


def test_lru_crawler_metadump_empty_cache(conn):
    # Not fenced: memcached does not parse bytes pipelined behind a metadump.
    assert metadump(conn) == b"END\r\n"


def test_lru_crawler_errors(conn):
    conn.expect(b"lru_crawler\r\n", b"ERROR\r\n")
    conn.expect(b"lru_crawler foo\r\n", b"ERROR\r\n")
    conn.expect(b"lru_crawler metadump\r\n", b"ERROR\r\n")
    conn.expect(b"lru_crawler metadump 99\r\n", b"BADCLASS invalid class id\r\n")
    conn.expect(b"lru_crawler sleep 2000000\r\n",
                b"CLIENT_ERROR sleep must be one second or less\r\n")
    conn.expect(b"lru_crawler sleep 100\r\n", b"OK\r\n")
    conn.expect(b"lru_crawler tocrawl 5\r\n", b"OK\r\n")


def test_lru_crawler_crawl(conn):
    store(conn, b"a", b"1")
    busy = b"BUSY currently processing crawler request\r\n"
    reply = wait_for(lambda: (lambda r: None if r == busy else r)(
        conn.roundtrip(b"lru_crawler crawl all\r\n")), timeout=5, interval=0.05,
        what="the LRU crawler to be free")
    assert reply == b"OK\r\n"


def test_lru_crawler_metadump_pipelined_is_refused(conn):
    conn.expect(b"version\r\nlru_crawler metadump all\r\n",
                b"VERSION 1.6.18\r\nERROR cannot pipeline other commands before metadump\r\n")


def test_metadump_disabled_with_X(server_factory):
    srv = server_factory("-X")
    with srv.conn() as c:
        c.expect(b"lru_crawler metadump all\r\n", b"ERROR metadump not allowed\r\n")
        c.expect(b"stats cachedump 1 1\r\n", b"CLIENT_ERROR stats cachedump not allowed\r\n")
        assert stats_dict(c, b"settings")["dump_enabled"] == "no"


# -- slabs / lru tuning / watch ------------------------------------------------------

def test_slabs_and_lru_commands(conn):
    conn.expect(b"slabs automove 0\r\n", b"OK\r\n")
    conn.expect(b"slabs automove 1\r\n", b"OK\r\n")
    conn.expect(b"slabs automove 9\r\n", b"ERROR\r\n")
    conn.expect(b"slabs reassign 1 1\r\n", b"SAME src and dst class are identical\r\n")
    conn.expect(b"slabs reassign 99 1\r\n", b"BADCLASS invalid src or dst class id\r\n")
    conn.expect(b"lru tune 90 10 0.2 2\r\n", b"ERROR hot and warm pcts must not exceed 80\r\n")
    conn.expect(b"lru tune 20 40 0 2\r\n", b"ERROR hot/warm age factors must be greater than 0\r\n")
    conn.expect(b"lru tune 20 40 0.2 2\r\n", b"OK\r\n")
    conn.expect(b"lru mode flat\r\n", b"OK\r\n")
    conn.expect(b"lru mode segmented\r\n", b"OK\r\n")
    conn.expect(b"lru mode other\r\n", b"ERROR\r\n")


def test_watch_streams_fetch_events(server):
    with server.conn() as w, server.conn() as c:
        assert w.call(b"watch fetchers\r\n") == b"OK\r\n"
        store(c, b"watched", b"1")
        c.expect(b"get watched\r\n", b"VALUE watched 0 1\r\n1\r\nEND\r\n")
        # Log lines end in a bare \n. The set's internal lookup is logged too
        # (status=not_found), then the get's hit.
        line = w.recv_until(b"status=found")
        assert re.search(rb"(^|\n)ts=\d+\.\d+ gid=\d+ type=item_get key=watched status=found$",
                         line), line
        assert re.fullmatch(rb" clsid=1 cfd=\d+ size=1\n", w.recv_until(b"\n"))


def test_watch_disabled_with_W(server_factory):
    srv = server_factory("-W")
    with srv.conn() as c:
        c.expect(b"watch\r\n", b"CLIENT_ERROR watch commands not allowed\r\n")


def test_refresh_certs_without_tls(conn):
    conn.expect(b"refresh_certs\r\n", b"Error TLS not enabled\r\n")


def test_debug_only_commands_are_errors(conn):
    conn.expect(b"misbehave\r\n", b"ERROR\r\n")
    conn.expect(b"debugtime 1\r\n", b"ERROR\r\n")


def test_watch_streams_mutations(server):
    with server.conn() as w, server.conn() as c:
        assert w.call(b"watch mutations\r\n") == b"OK\r\n"
        c.expect(b"set mut 0 100 3\r\nabc\r\n", b"STORED\r\n")
        c.expect(b"add mut 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
        first = w.recv_until(b"\n")
        assert re.fullmatch(rb"ts=\d+\.\d+ gid=\d+ type=item_store key=mut status=stored cmd=set "
                            rb"ttl=(99|100) clsid=\d+ cfd=\d+ size=3\n", first), first
        second = w.recv_until(b"\n")
        assert re.fullmatch(rb"ts=\d+\.\d+ gid=\d+ type=item_store key=mut status=not_stored "
                            rb"cmd=add ttl=0 clsid=\d+ cfd=\d+ size=1\n", second), second
        assert stats_dict(c)["log_watchers"] == "1"
