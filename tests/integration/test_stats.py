"""stats and its sub-commands: exact names, order, formats and counters."""
import re
import time

from harness import IS_MEMCACHED, stats_dict, wait_for

GENERAL = """pid uptime time version libevent pointer_size rusage_user rusage_system max_connections
curr_connections total_connections rejected_connections connection_structures response_obj_oom
response_obj_count response_obj_bytes read_buf_count read_buf_bytes read_buf_bytes_free read_buf_oom
reserved_fds cmd_get cmd_set cmd_flush cmd_touch cmd_meta get_hits get_misses get_expired get_flushed
delete_misses delete_hits incr_misses incr_hits decr_misses decr_hits cas_misses cas_hits cas_badval
touch_hits touch_misses store_too_large store_no_memory auth_cmds auth_errors bytes_read bytes_written
limit_maxbytes accepting_conns listen_disabled_num time_in_listen_disabled_us threads conn_yields
hash_power_level hash_bytes hash_is_expanding slab_reassign_rescues slab_reassign_chunk_rescues
slab_reassign_evictions_nomem slab_reassign_inline_reclaim slab_reassign_busy_items
slab_reassign_busy_deletes slab_reassign_running slabs_moved lru_crawler_running lru_crawler_starts
lru_maintainer_juggles malloc_fails log_worker_dropped log_worker_written log_watcher_skipped
log_watcher_sent log_watchers unexpected_napi_ids round_robin_fallback bytes curr_items total_items
slab_global_page_pool expired_unfetched evicted_unfetched evicted_active evictions reclaimed
crawler_reclaimed crawler_items_checked lrutail_reflocked moves_to_cold moves_to_warm moves_within_lru
direct_reclaims lru_bumps_dropped""".split()

# Default `stats settings`, in order; None = checked separately.
SETTINGS = [
    ("maxbytes", "67108864"), ("maxconns", "1024"), ("tcpport", None), ("udpport", "0"),
    ("inter", "127.0.0.1"), ("verbosity", "0"), ("oldest", "0"), ("evictions", "on"),
    ("domain_socket", "NULL"), ("umask", "700"), ("shutdown_command", "no"),
    ("growth_factor", "1.25"), ("chunk_size", "48"), ("num_threads", "4"),
    ("num_threads_per_udp", "4"), ("stat_key_prefix", ":"), ("detail_enabled", "no"),
    ("reqs_per_event", "20"), ("cas_enabled", "yes"), ("tcp_backlog", "1024"),
    ("binding_protocol", "auto-negotiate"), ("auth_enabled_sasl", "no"),
    ("auth_enabled_ascii", "no"), ("item_size_max", "1048576"), ("maxconns_fast", "yes"),
    ("hashpower_init", "0"), ("slab_reassign", "yes"), ("slab_automove", "1"),
    ("slab_automove_ratio", "0.80"), ("slab_automove_window", "30"),
    ("slab_chunk_max", "524288"), ("lru_crawler", "yes"), ("lru_crawler_sleep", "100"),
    ("lru_crawler_tocrawl", "0"), ("tail_repair_time", "0"), ("flush_enabled", "yes"),
    ("dump_enabled", "yes"), ("hash_algorithm", "murmur3"), ("lru_maintainer_thread", "yes"),
    ("lru_segmented", "yes"), ("hot_lru_pct", "20"), ("warm_lru_pct", "40"),
    ("hot_max_factor", "0.20"), ("warm_max_factor", "2.00"), ("temp_lru", "no"),
    ("temporary_ttl", "61"), ("idle_timeout", "0"), ("watcher_logbuf_size", "262144"),
    ("worker_logbuf_size", "65536"), ("read_buf_mem_limit", "0"), ("track_sizes", "no"),
    ("inline_ascii_response", "no"), ("ext_item_size", "512"), ("ext_item_age", "4294967295"),
    ("ext_low_ttl", "0"), ("ext_recache_rate", "2000"), ("ext_wbuf_size", "4194304"),
    ("ext_compact_under", "0"), ("ext_drop_under", "0"), ("ext_max_sleep", "1000000"),
    ("ext_max_frag", "0.80"), ("slab_automove_freeratio", "0.010"), ("ext_drop_unread", "no"),
    ("ssl_enabled", "no"), ("ssl_chain_cert", "(null)"), ("ssl_key", "(null)"),
    ("ssl_verify_mode", "0"), ("ssl_keyformat", "1"), ("ssl_ciphers", "NULL"),
    ("ssl_ca_cert", "NULL"), ("ssl_wbuf_size", "16384"), ("ssl_session_cache", "no"),
    ("ssl_kernel_tls", "no"), ("ssl_min_version", "tlsv1.2"), ("num_napi_ids", "(null)"),
    ("memory_file", "(null)"),
]

ITEMS_FIELDS = """number number_hot number_warm number_cold age_hot age_warm age mem_requested
evicted evicted_nonzero evicted_time outofmemory tailrepairs reclaimed expired_unfetched
evicted_unfetched evicted_active crawler_reclaimed crawler_items_checked lrutail_reflocked
moves_to_cold moves_to_warm moves_within_lru direct_reclaims hits_to_hot hits_to_warm
hits_to_cold hits_to_temp""".split()

SLABS_FIELDS = """chunk_size chunks_per_page total_pages total_chunks used_chunks free_chunks
free_chunks_end get_hits cmd_set delete_hits incr_hits decr_hits cas_hits cas_badval
touch_hits""".split()


def stat_lines(conn, cmd):
    raw = conn.call(cmd, until=b"END\r\n")
    assert raw.endswith(b"END\r\n")
    lines = raw[:-5].split(b"\r\n")
    assert lines[-1] == b""
    out = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"STAT (\S+) (.*)", line)
        assert m, line
        out.append((m.group(1).decode(), m.group(2).decode()))
    return out


def test_stats_names_and_order(conn):
    lines = stat_lines(conn, b"stats\r\n")
    assert [n for n, _ in lines] == GENERAL


def test_stats_values(server, conn):
    def stats_when_alone():
        d = dict(stat_lines(conn, b"stats\r\n"))
        return d if d["curr_connections"] == "1" else None
    # The readiness probe's connection may still be closing: poll.
    st = wait_for(stats_when_alone, timeout=5, what="curr_connections 1")
    assert st["pid"] == str(server.proc.pid)
    assert st["version"] == "1.6.18"
    assert st["pointer_size"] == "64"
    assert st["max_connections"] == "1024"
    assert st["threads"] == "4"
    assert st["limit_maxbytes"] == "67108864"
    assert st["accepting_conns"] == "1"
    assert st["curr_items"] == "0" and st["total_items"] == "0" and st["bytes"] == "0"
    assert re.fullmatch(r"\d+\.\d{6}", st["rusage_user"])
    assert re.fullmatch(r"\d+\.\d{6}", st["rusage_system"])
    assert re.fullmatch(r"2\.\d+\.\d+-stable", st["libevent"])
    assert abs(int(st["time"]) - time.time()) <= 2
    assert 0 <= int(st["uptime"]) <= 5


def test_stats_counts_bytes_and_items(conn):
    conn.expect(b"set a 0 0 5\r\nhello\r\n", b"STORED\r\n")
    st = stats_dict(conn)
    assert st["curr_items"] == "1" and st["total_items"] == "1"
    assert int(st["bytes"]) > 0
    assert int(st["bytes_read"]) > 0 and int(st["bytes_written"]) > 0


def test_stats_settings_names_order_and_defaults(server, conn):
    lines = stat_lines(conn, b"stats settings\r\n")
    assert [n for n, _ in lines] == [n for n, _ in SETTINGS]
    values = dict(lines)
    assert values["tcpport"] == str(server.port)
    for name, value in SETTINGS:
        if value is not None:
            assert values[name] == value, name


def test_stats_settings_reflect_flags(server_factory):
    srv = server_factory("-m", "128", "-c", "100", "-t", "2", "-I", "2m", "-C", "-f", "1.5",
                         "-n", "64", "-R", "7", "-b", "256", "-B", "ascii", "-D", "/",
                         "-o", "hash_algorithm=jenkins,idle_timeout=30,track_sizes")
    with srv.conn() as c:
        v = dict(stat_lines(c, b"stats settings\r\n"))
    expected = {"maxbytes": "134217728", "maxconns": "100", "num_threads": "2",
                "num_threads_per_udp": "2", "item_size_max": "2097152", "cas_enabled": "no",
                "growth_factor": "1.50", "chunk_size": "64", "reqs_per_event": "7",
                "tcp_backlog": "256", "binding_protocol": "ascii", "stat_key_prefix": "/",
                "detail_enabled": "yes", "hash_algorithm": "jenkins", "idle_timeout": "30",
                "track_sizes": "yes"}
    assert {k: v[k] for k in expected} == expected


def test_stats_settings_unix_socket(server_factory, tmp_path):
    path = tmp_path / "mc.sock"
    srv = server_factory("-a", "755", unix=path)
    with srv.conn() as c:
        v = stats_dict(c, b"settings")
    assert v["domain_socket"] == str(path)
    assert v["umask"] == "755"
    assert v["tcpport"] == "11211"   # the default is shown even though TCP is off


def test_stats_items_fields(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
    lines = stat_lines(conn, b"stats items\r\n")
    assert [n for n, _ in lines] == ["items:1:%s" % f for f in ITEMS_FIELDS]
    assert dict(lines)["items:1:number"] == "1"


def test_stats_items_empty(conn):
    conn.expect(b"stats items\r\n", b"END\r\n")


def test_stats_items_lists_each_nonempty_class(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"set b 0 0 500\r\n%s\r\n" % (b"x" * 500), b"STORED\r\n")
    names = [n for n, _ in stat_lines(conn, b"stats items\r\n")]
    classes = sorted({int(n.split(":")[1]) for n in names})
    assert len(classes) == 2 and classes[0] == 1
    assert len(names) == 2 * len(ITEMS_FIELDS)


def test_stats_slabs_fields(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
    lines = stat_lines(conn, b"stats slabs\r\n")
    names = [n for n, _ in lines]
    assert names == ["1:%s" % f for f in SLABS_FIELDS] + ["active_slabs", "total_malloced"]
    v = dict(lines)
    assert v["1:used_chunks"] == "1"
    assert v["1:get_hits"] == "1"
    assert v["1:cmd_set"] == "1"
    assert v["active_slabs"] == "1"


def test_stats_slabs_default_geometry(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"set b 0 0 50\r\n%s\r\n" % (b"x" * 50), b"STORED\r\n")
    v = dict(stat_lines(conn, b"stats slabs\r\n"))
    if IS_MEMCACHED:
        # 96-byte chunks in class 1 (10922 per 1 MB page), 120 in class 2.
        assert (v["1:chunk_size"], v["1:chunks_per_page"]) == ("96", "10922")
        assert v["2:chunk_size"] == "120"
    else:
        # Tandem: 64 KiB pages; a 32-byte header + key + value fits its chunk,
        # and the two items land in classes whose chunks grow with the item.
        classes = sorted(int(k.split(":")[0]) for k in v if k.endswith(":chunk_size"))
        assert len(classes) == 2
        small, big = (int(v["%d:chunk_size" % c]) for c in classes)
        assert 32 + 1 + 1 <= small < big and 32 + 1 + 50 <= big <= 32 + 1 + 50 + 64
        for c in classes:
            size, per_page = int(v["%d:chunk_size" % c]), int(v["%d:chunks_per_page" % c])
            assert per_page == 65536 // size
            assert v["%d:used_chunks" % c] == "1"


# Item size as memcached counts it: 48-byte header + 8 cas (unless -C) +
# key + 1 + data + 2 (\r\n) + 4 if flags != 0. Shown by me, metadump,
# stats bytes and items mem_requested.
ITEM_SIZES = [(b"a", b"1", 0, 61), (b"e1", b"abc", 0, 64), (b"f", b"xyz", 5, 67),
              (b"k" * 100, b"v" * 100, 0, 259)]


def tandem_item_size(key, value, flags):
    """Tandem's item size: a 32-byte header, 4 bytes of flags if non-zero, the
    key and the value (no CAS field: the version lives in the header)."""
    return 32 + (4 if flags else 0) + len(key) + len(value)


def tandem_item_sizes(conn):
    """`me` shows each item's own size; its class's chunks are at least that big."""
    slabs = dict(stat_lines(conn, b"stats slabs\r\n"))
    sizes = {}
    for key, value, flags, _ in ITEM_SIZES:
        m = re.fullmatch(rb"ME \S+ exp=-1 la=[01] cas=\d+ fetch=no cls=(\d+) size=(\d+)\r\n",
                         conn.call(b"me %s\r\n" % key))
        assert m
        cls, size = int(m.group(1)), int(m.group(2))
        assert size == tandem_item_size(key, value, flags)
        if "%d:chunk_size" % cls in slabs:   # large items are not in a slab class
            assert size <= int(slabs["%d:chunk_size" % cls])
        sizes[key] = size
    return sizes


def test_item_size_accounting(conn):
    for key, value, flags, size in ITEM_SIZES:
        conn.expect(b"set %s %d 0 %d\r\n%s\r\n" % (key, flags, len(value), value), b"STORED\r\n")
    if not IS_MEMCACHED:
        sizes = tandem_item_sizes(conn)
        assert stats_dict(conn)["bytes"] == str(sum(sizes.values()))
        from test_text_admin import metadump
        dumped = dict(re.findall(rb"key=(\S+) .* size=(\d+)\n", metadump(conn)))
        assert dumped == {k: b"%d" % v for k, v in sizes.items()}
        return
    for key, value, flags, size in ITEM_SIZES:
        conn.expect_re(b"me %s\r\n" % key, rb"ME \S+ exp=-1 la=[01] cas=\d+ fetch=no cls=\d+ size=%d\r\n" % size)
    st = stats_dict(conn)
    assert st["bytes"] == str(sum(size for *_, size in ITEM_SIZES))
    items = stats_dict(conn, b"items")
    assert items["items:1:mem_requested"] == str(61 + 64 + 67)   # the big one is in another class
    from test_text_admin import metadump
    dump = metadump(conn)
    sizes = dict(re.findall(rb"key=(\S+) .* size=(\d+)\n", dump))
    assert sizes == {k: b"%d" % size for k, _, _, size in ITEM_SIZES}


def test_item_size_accounting_without_cas(server_factory):
    srv = server_factory("-C")
    with srv.conn() as c:
        c.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
        # memcached saves the 8 CAS bytes under -C; Tandem keeps versions
        # (replication needs them) and only reports cas=0.
        size = 53 if IS_MEMCACHED else tandem_item_size(b"a", b"1", 0)
        c.expect_re(b"me a\r\n", rb"ME a exp=-1 la=[01] cas=0 fetch=no cls=1 size=%d\r\n" % size)
        assert stats_dict(c)["bytes"] == str(size)


def test_stats_conns(server, conn):
    lines = stat_lines(conn, b"stats conns\r\n")
    by_fd = {}
    for name, value in lines:
        fd, field = name.split(":", 1)
        by_fd.setdefault(fd, {})[field] = value
    listeners = [d for d in by_fd.values() if d.get("state") == "conn_listening"]
    assert [d["addr"] for d in listeners] == ["tcp:127.0.0.1:%d" % server.port]
    assert "listen_addr" not in listeners[0]
    # Other clients (the readiness probe) may not be reaped yet: find ours.
    mine = "tcp:127.0.0.1:%d" % conn.sock.getsockname()[1]
    me = [d for d in by_fd.values() if d.get("addr") == mine]
    assert len(me) == 1, by_fd
    me = me[0]
    assert list(me) == ["addr", "listen_addr", "state", "secs_since_last_cmd"]
    assert me["listen_addr"] == "tcp:127.0.0.1:%d" % server.port
    assert me["state"] == "conn_parse_cmd"
    assert me["secs_since_last_cmd"] == "0"


def test_stats_sizes(conn):
    conn.expect(b"stats sizes\r\n", b"STAT sizes_status disabled\r\nEND\r\n")


def test_stats_sizes_enable_disable(conn):
    # 1.6.18 answers these with a single STAT line and no END.
    conn.expect(b"stats sizes_enable\r\n", b"STAT sizes_status enabled\r\n")
    # one item, in the 32-byte bucket that holds its size (61 or 34 bytes)
    bucket = 64
    conn.expect(b"set a 0 0 1\r\n1\r\nstats sizes\r\n", b"STORED\r\nSTAT %d 1\r\nEND\r\n" % bucket)
    conn.expect(b"stats sizes_disable\r\n", b"STAT sizes_status disabled\r\n")


def test_stats_sizes_with_track_sizes(server_factory):
    srv = server_factory("-o", "track_sizes")
    with srv.conn() as c:
        c.expect(b"set a 0 0 1\r\n1\r\nset b 0 0 100\r\n%s\r\n" % (b"x" * 100),
                 b"STORED\r\nSTORED\r\n")
        # 32-byte buckets of the item size: 61/160 bytes in memcached, 34/133 in Tandem
        c.expect(b"stats sizes\r\n", b"STAT 64 1\r\nSTAT 160 1\r\nEND\r\n")


def test_stats_detail(conn):
    conn.expect(b"stats detail dump\r\n", b"END\r\n")
    conn.expect(b"stats detail\r\n", b"CLIENT_ERROR usage: stats detail on|off|dump\r\n")
    conn.expect(b"stats detail foo\r\n", b"CLIENT_ERROR usage: stats detail on|off|dump\r\n")
    conn.expect(b"stats detail on\r\n", b"OK\r\n")
    conn.expect(b"set p:x 0 0 1\r\n1\r\nget p:x p:y q:z\r\ndelete p:x\r\n",
                b"STORED\r\nVALUE p:x 0 1\r\n1\r\nEND\r\nDELETED\r\n")
    raw = conn.call(b"stats detail dump\r\n", until=b"END\r\n")
    lines = set(raw.split(b"\r\n")[:-2])
    assert lines == {b"PREFIX p get 2 hit 1 set 1 del 1", b"PREFIX q get 1 hit 0 set 0 del 0"}, raw
    conn.expect(b"stats detail off\r\n", b"OK\r\n")


def test_stats_detail_with_custom_delimiter(server_factory):
    srv = server_factory("-D", "/")
    with srv.conn() as c:
        c.expect(b"set ns/k 0 0 1\r\n1\r\n", b"STORED\r\n")
        c.expect(b"stats detail dump\r\n", b"PREFIX ns get 0 hit 0 set 1 del 0\r\nEND\r\n")


def test_stats_reset(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\nget a\r\nget b\r\n",
                b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nEND\r\n")
    conn.expect(b"stats reset\r\n", b"RESET\r\n")
    st = stats_dict(conn)
    assert (st["cmd_get"], st["get_hits"], st["get_misses"], st["cmd_set"]) == ("0", "0", "0", "0")
    assert st["curr_items"] == "1"   # reset clears counters, not data


def test_stats_unknown_subcommand(conn):
    conn.expect(b"stats foo\r\n", b"ERROR\r\n")
    conn.expect(b"stats proxy\r\n", b"ERROR\r\n")
    conn.expect(b"STATS\r\n", b"ERROR\r\n")


def test_stats_extstore_without_ext_path(conn):
    conn.expect(b"stats extstore\r\n", b"END\r\n")


def test_stats_cachedump(conn):
    conn.expect(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"stats cachedump 99 0\r\n", b"CLIENT_ERROR Illegal slab id\r\n")
    conn.expect(b"stats cachedump\r\n", b"CLIENT_ERROR bad command line\r\n")
    conn.expect(b"stats cachedump 1\r\n", b"CLIENT_ERROR bad command line\r\n")
    conn.expect(b"stats cachedump a b\r\n", b"CLIENT_ERROR bad command line format\r\n")
    # The dump walks one LRU; the item shows up once the maintainer moved it.
    wait_for(lambda: conn.roundtrip(b"stats cachedump 1 0\r\n") == b"ITEM a [1 b; 0 s]\r\nEND\r\n",
             timeout=5, what="ITEM a in stats cachedump")


def test_stats_settings_ignores_extra_tokens(conn):
    assert stats_dict(conn, b"settings foo")["maxconns"] == "1024"
