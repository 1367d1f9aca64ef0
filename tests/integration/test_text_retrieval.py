"""Classic text protocol: get/gets/gat/gats/bget, multi-key and pipelined."""
import re

from harness import stats_dict


def store(conn, key, value, flags=0, exptime=0):
    conn.expect(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, exptime, len(value), value),
                b"STORED\r\n")


def test_get_miss_is_just_end(conn):
    conn.expect(b"get nothing\r\n", b"END\r\n")


def test_get_without_key_is_error(conn):
    conn.expect(b"get\r\n", b"ERROR\r\n")
    conn.expect(b"gets\r\n", b"ERROR\r\n")
    conn.expect(b"get \r\n", b"ERROR\r\n")


def test_multiget_skips_misses_and_keeps_order(conn):
    store(conn, b"a", b"1", flags=1)
    store(conn, b"c", b"333", flags=3)
    conn.expect(b"get a b c d\r\n",
                b"VALUE a 1 1\r\n1\r\nVALUE c 3 3\r\n333\r\nEND\r\n")
    conn.expect(b"get c a\r\n",
                b"VALUE c 3 3\r\n333\r\nVALUE a 1 1\r\n1\r\nEND\r\n")


def test_multiget_duplicate_keys_answered_twice(conn):
    store(conn, b"a", b"1")
    conn.expect(b"get a a\r\n", b"VALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n")


def test_gets_multi_returns_cas(conn):
    store(conn, b"a", b"1")
    store(conn, b"b", b"22")
    reply = conn.roundtrip(b"gets a b x\r\n")
    m = re.fullmatch(rb"VALUE a 0 1 (\d+)\r\n1\r\nVALUE b 0 2 (\d+)\r\n22\r\nEND\r\n", reply)
    assert m, reply
    assert int(m.group(2)) > int(m.group(1)) > 0


def test_bget_is_an_alias_for_get(conn):
    store(conn, b"a", b"1", flags=9)
    conn.expect(b"bget a zz\r\n", b"VALUE a 9 1\r\n1\r\nEND\r\n")


def test_multiget_over_24_tokens(conn):
    # memcached re-tokenizes beyond MAX_TOKENS (24): a multiget is unbounded.
    keys = [b"key%03d" % i for i in range(100)]
    for k in keys[::2]:
        store(conn, k, k.upper())
    expected = b"".join(b"VALUE %s 0 6\r\n%s\r\n" % (k, k.upper()) for k in keys[::2]) + b"END\r\n"
    conn.expect(b"get " + b" ".join(keys) + b"\r\n", expected)


def test_multiget_past_the_output_limit_resumes_in_order(conn):
    """A multi-get is fetched 16 keys at a time and pauses whenever its reply
    passes the output high-water mark (512 KiB), resuming at the next key,
    mid-batch or not. 60 keys, misses and repeats among them, ~3.6 MB of
    values: every value comes back once per mention, in order."""
    keys = [b"big%02d" % i for i in range(45)]
    values = {}
    for i, k in enumerate(keys):
        if i % 5 != 3:   # every fifth key is a miss
            values[k] = bytes([97 + i % 26]) * (60000 + 997 * i)
            store(conn, k, values[k], flags=i)
    asked = keys + keys[7:22]   # the repeats straddle a batch boundary
    expected = b"".join(b"VALUE %s %d %d\r\n%s\r\n" % (k, keys.index(k), len(values[k]), values[k])
                        for k in asked if k in values) + b"END\r\n"
    assert len(expected) > 6 * 512 * 1024
    conn.expect(b"get " + b" ".join(asked) + b"\r\n", expected, timeout=20)


def test_long_multiget_line_beyond_2048_bytes(conn):
    keys = [b"k" * 200 + b"%04d" % i for i in range(200)]   # ~41 KB line
    store(conn, keys[7], b"seven")
    store(conn, keys[199], b"last")
    line = b"get " + b" ".join(keys) + b"\r\n"
    assert len(line) > 40000
    conn.expect(line, b"VALUE %s 0 5\r\nseven\r\nVALUE %s 0 4\r\nlast\r\nEND\r\n"
                % (keys[7], keys[199]))
    line = b"gets " + b" ".join(keys) + b"\r\n"
    reply = conn.roundtrip(line)
    assert reply.startswith(b"VALUE %s 0 5 " % keys[7]) and reply.endswith(b"last\r\nEND\r\n")


def test_pipelined_gets_in_one_send(conn):
    store(conn, b"a", b"1")
    conn.expect(b"get a\r\nget b\r\nget a b\r\n",
                b"VALUE a 0 1\r\n1\r\nEND\r\nEND\r\nVALUE a 0 1\r\n1\r\nEND\r\n")


def test_long_pipeline_in_odd_chunks_is_answered_in_order(conn):
    """Pipelined gets are prefetched ahead in the input (cmd_text_lookahead):
    a pipeline mixing hits, misses, gets, multi-gets, overlong keys and a set
    whose data block holds "get" lines, cut into chunks that end mid-line,
    must be answered exactly as one request at a time would be."""
    values = {b"k%d" % i: b"v" * (i % 7 + 1) for i in range(0, 120, 3)}
    for k, v in values.items():
        store(conn, k, v)
    block = b"get k0\r\nget k3\r\n"
    reqs, want = [], []

    def get(keys, cmd=b"get"):
        reqs.append(cmd + b" " + b" ".join(keys) + b"\r\n")
        out = b""
        for k in keys:
            v = values.get(k)
            if v is not None:
                out += b"VALUE %s 0 %d\r\n%s\r\n" % (k, len(v), v)
        want.append(out + b"END\r\n")

    for i in range(120):
        get([b"k%d" % i])
        if i == 40:
            reqs.append(b"set k41 0 0 %d\r\n%s\r\n" % (len(block), block))
            want.append(b"STORED\r\n")
            values[b"k41"] = block
        if i % 25 == 0:
            get([b"k%d" % j for j in range(i, i + 5)])
        if i % 30 == 0:
            get([b"none%d" % i], cmd=b"gets")  # a miss: no CAS to match
        if i == 60:
            reqs.append(b"get " + b"x" * 251 + b"\r\n")
            want.append(b"CLIENT_ERROR bad command line format\r\n")
    data = b"".join(reqs)
    pos, chunk = 0, 1
    while pos < len(data):
        conn.send(data[pos:pos + chunk])
        pos += chunk
        chunk = chunk * 7 % 97 + 1  # 1, 8, 57, ... bytes: ends fall mid-line
    expected = b"".join(want)
    assert conn.recv_exact(len(expected)) == expected


def test_gat_returns_value_and_updates_ttl(conn):
    store(conn, b"g", b"val", flags=4)
    conn.expect(b"gat 100 g nope\r\n", b"VALUE g 4 3\r\nval\r\nEND\r\n")
    ttl = int(re.fullmatch(rb"HD t(\d+)\r\n", conn.roundtrip(b"mg g t\r\n")).group(1))
    assert 98 <= ttl <= 100
    conn.expect(b"gat 0 g\r\n", b"VALUE g 4 3\r\nval\r\nEND\r\n")
    conn.expect(b"mg g t\r\n", b"HD t-1\r\n")


def test_gats_returns_cas_and_does_not_change_it(conn):
    store(conn, b"g", b"val")
    reply = conn.roundtrip(b"gets g\r\n")
    cas = re.match(rb"VALUE g 0 3 (\d+)\r\n", reply).group(1)
    conn.expect(b"gats 50 g\r\n", b"VALUE g 0 3 %s\r\nval\r\nEND\r\n" % cas)
    conn.expect(b"gets g\r\n", b"VALUE g 0 3 %s\r\nval\r\nEND\r\n" % cas)


def test_gat_multi_key(conn):
    store(conn, b"a", b"1")
    store(conn, b"b", b"2")
    conn.expect(b"gat 10 a x b\r\n", b"VALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n")


def test_gat_errors(conn):
    conn.expect(b"gat\r\n", b"ERROR\r\n")
    conn.expect(b"gat 10\r\n", b"END\r\n")
    conn.expect(b"gats 10\r\n", b"END\r\n")
    conn.expect(b"gat abc k\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
    conn.expect(b"gats 1x k\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")


def test_gat_counts_as_touch_not_get(conn):
    store(conn, b"a", b"1")
    conn.expect(b"gat 10 a b\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
    st = stats_dict(conn)
    assert (st["cmd_touch"], st["touch_hits"], st["touch_misses"]) == ("2", "1", "1")
    assert (st["cmd_get"], st["get_hits"], st["get_misses"]) == ("0", "0", "0")


def test_get_stats_counters(conn):
    store(conn, b"a", b"1")
    conn.expect(b"get a b c\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")
    st = stats_dict(conn)
    assert (st["cmd_get"], st["get_hits"], st["get_misses"]) == ("3", "1", "2")


def test_250_byte_key_ok_251_rejected(conn):
    k250, k251 = b"k" * 250, b"k" * 251
    store(conn, k250, b"v")
    conn.expect(b"get %s\r\n" % k250, b"VALUE %s 0 1\r\nv\r\nEND\r\n" % k250)
    # A too-long key replaces the whole multiget reply, even after a hit.
    conn.expect(b"get %s %s\r\n" % (k250, k251), b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"get %s\r\n" % k251, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"gets %s\r\n" % k251, b"CLIENT_ERROR bad command line format\r\n")
    # Storage: no swallow, so the data line is then read as a command.
    conn.expect(b"set %s 0 0 1\r\nv\r\n" % k251, b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    conn.expect(b"delete %s\r\n" % k251, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"incr %s 1\r\n" % k251, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"touch %s 1\r\n" % k251, b"CLIENT_ERROR bad command line format\r\n")
