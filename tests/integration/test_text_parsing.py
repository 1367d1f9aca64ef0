"""How the text protocol tokenizes: long lines, whitespace, control
characters, case, and the ERROR cases."""
import pytest


def test_unknown_and_empty_commands(conn):
    for line in (b"xyzzy\r\n", b"\r\n", b"\n", b"s\r\n", b"g\r\n", b"GET foo\r\n",
                 b"Set a 0 0 1\r\n", b"VERSION\r\n", b"get\r\n", b"mgx a\r\n",
                 b"version\r\r\n", b"\x00\r\n"):
        conn.expect(line, b"ERROR\r\n")


def test_several_empty_lines(conn):
    conn.expect(b"\r\n\r\n\n", b"ERROR\r\nERROR\r\nERROR\r\n")


def test_leading_spaces_are_skipped(conn):
    conn.expect(b"  version\r\n", b"VERSION 1.6.18\r\n")


def test_runs_of_spaces_collapse(conn):
    conn.expect(b"set  spaced   0  0  1 \r\nx\r\n", b"STORED\r\n")
    conn.expect(b"get   spaced  \r\n", b"VALUE spaced 0 1\r\nx\r\nEND\r\n")
    conn.expect(b"incr  spaced   1\r\n",
                b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")


def test_tab_is_part_of_the_key(conn):
    conn.expect(b"set tab\tkey 0 0 1\r\nx\r\n", b"STORED\r\n")
    conn.expect(b"get tab\tkey\r\n", b"VALUE tab\tkey 0 1\r\nx\r\nEND\r\n")
    conn.expect(b"get tab\r\n", b"END\r\n")
    conn.expect(b"get a\tb\r\n", b"END\r\n")


def test_control_characters_are_part_of_the_key(conn):
    key = b"a\x01b\x7f\x1bc"
    conn.expect(b"set %s 0 0 1\r\nx\r\n" % key, b"STORED\r\n")
    conn.expect(b"get %s\r\n" % key, b"VALUE %s 0 1\r\nx\r\nEND\r\n" % key)
    conn.expect(b"delete %s\r\n" % key, b"DELETED\r\n")


def test_high_bytes_in_key(conn):
    key = "ключ-κλειδί".encode()
    conn.expect(b"set %s 0 0 1\r\nx\r\n" % key, b"STORED\r\n")
    conn.expect(b"get %s\r\n" % key, b"VALUE %s 0 1\r\nx\r\nEND\r\n" % key)


def test_keys_are_case_sensitive(conn):
    conn.expect(b"set Key 0 0 1\r\nA\r\nset key 0 0 1\r\nb\r\n", b"STORED\r\nSTORED\r\n")
    conn.expect(b"get Key key KEY\r\n", b"VALUE Key 0 1\r\nA\r\nVALUE key 0 1\r\nb\r\nEND\r\n")


def test_carriage_return_before_newline_is_stripped(conn):
    conn.expect(b"get a\r\n", b"END\r\n")
    conn.expect(b"get a\n", b"END\r\n")


def test_line_over_2048_bytes_without_newline_closes(conn):
    conn.send(b"set " + b"x" * 3000)
    assert conn.expect_closed() == b""


def test_long_garbage_without_newline_closes(conn):
    conn.send(b"y" * 5000)
    assert conn.expect_closed() == b""


@pytest.mark.parametrize("prefix", [b"get ", b"gets ", b"   get "])
def test_long_get_line_without_newline_stays_open(conn, prefix):
    conn.send(prefix + b"x" * 3000)
    conn.quiet_for(0.3)
    # The line is completed later; its 3000-byte key is too long.
    conn.expect(b"\r\n", b"CLIENT_ERROR bad command line format\r\n")


def test_complete_long_line_is_parsed(conn):
    conn.expect(b"x" * 3000 + b"\r\n", b"ERROR\r\n")


def test_http_request_closes_silently(conn):
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.expect_closed() == b""


def test_http_token_only_matters_for_unknown_commands(conn):
    conn.expect(b"version HTTP/1.1\r\n", b"VERSION 1.6.18\r\n")


def test_data_line_of_erroneous_storage_command_is_parsed_as_command(conn):
    conn.expect(b"set k 0 0\r\nversion\r\n", b"ERROR\r\nVERSION 1.6.18\r\n")


def test_many_tokens_for_fixed_arity_command(conn):
    conn.expect(b"set a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", b"ERROR\r\n")
    conn.expect(b"incr a 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5\r\n", b"ERROR\r\n")


def test_pipelined_mixed_commands_in_one_send(conn):
    request = (b"set a 0 0 1\r\n1\r\n"
               b"add a 0 0 1\r\n2\r\n"
               b"get a b\r\n"
               b"incr a 41\r\n"
               b"append a 0 0 1\r\nx\r\n"
               b"gets nothing\r\n"
               b"delete a\r\n"
               b"bogus\r\n"
               b"touch a 1\r\n"
               b"ms m 2 T0\r\nhi\r\n"
               b"mg m v\r\n"
               b"version\r\n")
    conn.expect(request, b"STORED\r\nNOT_STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n42\r\n"
                         b"STORED\r\nEND\r\nDELETED\r\nERROR\r\nNOT_FOUND\r\nHD\r\n"
                         b"VA 2\r\nhi\r\nVERSION 1.6.18\r\n")


def test_request_split_across_many_sends(conn):
    request = b"set split 3 0 10\r\n0123456789\r\nget split\r\n"
    for i in range(len(request)):
        conn.send(request[i:i + 1])
    conn.expect(b"", b"STORED\r\nVALUE split 3 10\r\n0123456789\r\nEND\r\n")
