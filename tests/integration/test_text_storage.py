"""Classic text protocol: set/add/replace/append/prepend/cas, byte for byte."""
import re

import pytest


def gets_cas(conn, key):
    reply = conn.call(b"gets %s\r\n" % key, until=b"END\r\n")
    m = re.match(rb"VALUE \S+ \d+ \d+ (\d+)\r\n", reply)
    assert m, reply
    return int(m.group(1))


def test_set_then_get_returns_value_and_flags(conn):
    conn.expect(b"set foo 5 0 3\r\nbar\r\n", b"STORED\r\n")
    conn.expect(b"get foo\r\n", b"VALUE foo 5 3\r\nbar\r\nEND\r\n")


def test_set_overwrites_value_flags_and_length(conn):
    conn.expect(b"set foo 1 0 3\r\nbar\r\n", b"STORED\r\n")
    conn.expect(b"set foo 2 0 5\r\nhello\r\n", b"STORED\r\n")
    conn.expect(b"get foo\r\n", b"VALUE foo 2 5\r\nhello\r\nEND\r\n")


def test_empty_value(conn):
    conn.expect(b"set e 0 0 0\r\n\r\n", b"STORED\r\n")
    conn.expect(b"get e\r\n", b"VALUE e 0 0\r\n\r\nEND\r\n")


def test_value_is_binary_safe(conn):
    value = bytes(range(256)) + b"\r\nEND\r\n\x00"
    conn.expect(b"set bin 0 0 %d\r\n%s\r\n" % (len(value), value), b"STORED\r\n")
    conn.expect(b"get bin\r\n", b"VALUE bin 0 %d\r\n%s\r\nEND\r\n" % (len(value), value))


def test_bare_newline_ends_the_command_line(conn):
    conn.expect(b"set nl 0 0 2\nhi\r\nget nl\n", b"STORED\r\nVALUE nl 0 2\r\nhi\r\nEND\r\n")


def test_add(conn):
    conn.expect(b"add a 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"add a 0 0 1\r\n2\r\n", b"NOT_STORED\r\n")
    conn.expect(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n")


def test_replace(conn):
    conn.expect(b"replace r 0 0 1\r\n1\r\n", b"NOT_STORED\r\n")
    conn.expect(b"get r\r\n", b"END\r\n")
    conn.expect(b"set r 0 0 1\r\n1\r\n", b"STORED\r\n")
    conn.expect(b"replace r 9 0 2\r\n22\r\n", b"STORED\r\n")
    conn.expect(b"get r\r\n", b"VALUE r 9 2\r\n22\r\nEND\r\n")


def test_append_prepend_missing_key_not_stored(conn):
    conn.expect(b"append nx 0 0 1\r\na\r\n", b"NOT_STORED\r\n")
    conn.expect(b"prepend nx 0 0 1\r\na\r\n", b"NOT_STORED\r\n")
    conn.expect(b"get nx\r\n", b"END\r\n")


def test_append_prepend_keep_flags_and_ttl(conn):
    conn.expect(b"set ap 42 1000 3\r\nmid\r\n", b"STORED\r\n")
    conn.expect(b"append ap 7 0 4\r\n-end\r\n", b"STORED\r\n")
    conn.expect(b"prepend ap 8 0 6\r\nstart-\r\n", b"STORED\r\n")
    conn.expect(b"get ap\r\n", b"VALUE ap 42 13\r\nstart-mid-end\r\nEND\r\n")
    reply = conn.roundtrip(b"mg ap t\r\n")
    ttl = int(re.match(rb"HD t(\d+)\r\n$", reply).group(1))
    assert 990 <= ttl <= 1000


def test_append_changes_cas(conn):
    conn.expect(b"set c 0 0 1\r\na\r\n", b"STORED\r\n")
    before = gets_cas(conn, b"c")
    conn.expect(b"append c 0 0 1\r\nb\r\n", b"STORED\r\n")
    assert gets_cas(conn, b"c") > before


def test_cas_lifecycle(conn):
    conn.expect(b"cas nokey 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"set k 3 0 2\r\nv1\r\n", b"STORED\r\n")
    unique = gets_cas(conn, b"k")
    conn.expect(b"gets k\r\n", b"VALUE k 3 2 %d\r\nv1\r\nEND\r\n" % unique)
    conn.expect(b"cas k 4 0 2 %d\r\nv2\r\n" % (unique + 1000), b"EXISTS\r\n")
    conn.expect(b"cas k 4 0 2 %d\r\nv2\r\n" % unique, b"STORED\r\n")
    conn.expect(b"cas k 4 0 2 %d\r\nv3\r\n" % unique, b"EXISTS\r\n")
    conn.expect(b"get k\r\n", b"VALUE k 4 2\r\nv2\r\nEND\r\n")
    assert gets_cas(conn, b"k") != unique


def test_cas_counters_in_stats(conn):
    from harness import stats_dict
    conn.expect(b"cas nokey 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n")
    conn.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    unique = gets_cas(conn, b"k")
    conn.expect(b"cas k 0 0 1 %d\r\ny\r\n" % (unique + 1), b"EXISTS\r\n")
    conn.expect(b"cas k 0 0 1 %d\r\ny\r\n" % unique, b"STORED\r\n")
    st = stats_dict(conn)
    assert (st["cas_misses"], st["cas_hits"], st["cas_badval"]) == ("1", "1", "1")
    assert st["cmd_set"] == "4"


def test_cas_bad_unique_and_too_few_tokens(conn):
    conn.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"cas k 0 0 1 abc\r\ny\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    conn.expect(b"cas k 0 0 1\r\ny\r\n", b"ERROR\r\nERROR\r\n")
    conn.expect(b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n")


@pytest.mark.parametrize("cmd", [b"set", b"add", b"replace", b"append", b"prepend"])
def test_storage_noreply(conn, cmd):
    if cmd in (b"replace", b"append", b"prepend"):
        conn.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    else:
        conn.expect(b"delete k noreply\r\n", b"")
    conn.expect(b"%s k 0 0 1 noreply\r\ny\r\n" % cmd, b"")
    expected = {b"append": b"xy", b"prepend": b"yx"}.get(cmd, b"y")
    conn.expect(b"get k\r\n", b"VALUE k 0 %d\r\n%s\r\nEND\r\n" % (len(expected), expected))
    # A failing noreply command is silent too.
    if cmd == b"add":
        conn.expect(b"add k 0 0 1 noreply\r\nz\r\n", b"")


def test_cas_noreply(conn):
    conn.expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    unique = gets_cas(conn, b"k")
    conn.expect(b"cas k 0 0 1 %d noreply\r\ny\r\n" % (unique + 5), b"")
    conn.expect(b"cas k 0 0 1 %d noreply\r\nz\r\n" % unique, b"")
    conn.expect(b"cas nokey 0 0 1 1 noreply\r\nz\r\n", b"")
    conn.expect(b"get k\r\n", b"VALUE k 0 1\r\nz\r\nEND\r\n")


def test_noreply_suppresses_client_errors_too(conn):
    # memcached's classic protocol hides every reply under noreply, errors
    # included; the data line of a rejected command is then read as a command.
    conn.expect(b"set k 0 abc 1 noreply\r\nx\r\n", b"ERROR\r\n")
    conn.expect(b"set k 0 0 1 noreply\r\nxy\r\n", b"ERROR\r\n")
    conn.expect(b"get k\r\n", b"END\r\n")


def test_noreply_must_be_last_token_with_valid_count(conn):
    # "noreply" as the <bytes> token: the count (5 tokens) is valid and the
    # last token is "noreply", so the format error is hidden.
    conn.expect(b"set k 0 0 noreply\r\n", b"")
    conn.expect(b"set k 0 noreply\r\n", b"ERROR\r\n")
    conn.expect(b"set k 0 0 1 noreplyX\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"set k 0 0 1 NOREPLY\r\ny\r\n", b"STORED\r\n")


def test_bad_data_chunk_is_consumed_and_next_line_parsed(conn):
    conn.expect(b"set foo 0 0 3\r\nold\r\n", b"STORED\r\n")
    conn.expect(b"set foo 0 0 3\r\nbarx\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
    conn.expect(b"set foo 0 0 3\r\nbar\n\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
    # The rejected value is not stored; the old one survives.
    conn.expect(b"get foo\r\n", b"VALUE foo 0 3\r\nold\r\nEND\r\n")


def test_wrong_token_counts_give_error(conn):
    for line in (b"set\r\n", b"set k\r\n", b"set k 0\r\n", b"set k 0 0\r\n",
                 b"add k 0 0\r\n", b"replace k\r\n", b"append k 0\r\n", b"prepend\r\n",
                 b"cas k 0 0 1 2 noreply extra\r\n"):
        conn.expect(line, b"ERROR\r\n")


def test_bad_numbers_in_storage_line(conn):
    for line in (b"set k abc 0 1\r\n", b"set k 0 abc 1\r\n", b"set k 0 0 abc\r\n",
                 b"set k 0 0 -1\r\n", b"set k -1 0 1\r\n", b"set k 0abc 0 1\r\n",
                 b"set k 0 0 1abc\r\n"):
        conn.expect(line, b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"get k\r\n", b"END\r\n")


def test_flags_range_and_truncation(conn):
    conn.expect(b"set f 4294967295 0 1\r\nz\r\n", b"STORED\r\n")
    conn.expect(b"get f\r\n", b"VALUE f 4294967295 1\r\nz\r\nEND\r\n")
    # 2^32 is accepted and truncated to 0 (memcached's 32-bit cast).
    conn.expect(b"set f 4294967296 0 1\r\nz\r\n", b"STORED\r\n")
    conn.expect(b"get f\r\n", b"VALUE f 0 1\r\nz\r\nEND\r\n")
    conn.expect(b"set f -1 0 1\r\nz\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    conn.expect(b"get f\r\n", b"VALUE f 0 1\r\nz\r\nEND\r\n")


def test_storage_counts_bytes_and_cmd_set(conn):
    from harness import stats_dict
    conn.expect(b"set a 0 0 1\r\n1\r\nadd a 0 0 1\r\n1\r\nreplace b 0 0 1\r\n1\r\n",
                b"STORED\r\nNOT_STORED\r\nNOT_STORED\r\n")
    st = stats_dict(conn)
    assert st["cmd_set"] == "3"
    assert st["curr_items"] == "1"
    assert st["total_items"] == "1"
