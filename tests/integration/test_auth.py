"""ASCII authentication with -Y <authfile>.

Auth replies are read before the next command is sent: memcached 1.6.18
drops an auth error reply when another command is pipelined behind it.
"""
import os
import signal
import subprocess

import pytest

from harness import BINARY, free_port, stats_dict, wait_for


@pytest.fixture
def authfile(tmp_path):
    path = tmp_path / "auth.txt"
    path.write_text("alice:secret\nbob:pw2\n")
    return path


@pytest.fixture
def auth_server(server_factory, authfile):
    return server_factory("-Y", str(authfile))


def login(conn, user, password):
    token = b"%s %s" % (user, password)
    return conn.call(b"set auth 0 0 %d\r\n%s\r\n" % (len(token), token))


def test_everything_is_refused_before_auth(auth_server):
    with auth_server.conn() as c:
        for line in (b"version\r\n", b"get a\r\n", b"mn\r\n", b"stats\r\n", b"bogus\r\n",
                     b"set a\r\n", b"set a 0 0 abc\r\n"):
            assert c.call(line) == b"CLIENT_ERROR unauthenticated\r\n", line


def test_login_then_normal_service(auth_server):
    with auth_server.conn() as c:
        assert login(c, b"alice", b"secret") == b"STORED\r\n"
        c.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
        c.expect(b"set a 0 0 1\r\nx\r\nget a\r\n", b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n")
        # The auth "set" did not store anything.
        c.expect(b"get auth\r\n", b"END\r\n")
    with auth_server.conn() as c:   # authentication is per connection
        assert c.call(b"get a\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
        assert login(c, b"bob", b"pw2") == b"STORED\r\n"
        c.expect(b"get a\r\n", b"VALUE a 0 1\r\nx\r\nEND\r\n")


def test_login_ignores_other_tokens_and_noreply(auth_server):
    with auth_server.conn() as c:
        assert c.call(b"set x y z 7\r\nbob pw2\r\n") == b"STORED\r\n"
    with auth_server.conn() as c:
        assert c.call(b"set a 0 0 7 noreply\r\nbob pw2\r\n") == b"STORED\r\n"


def test_login_failures(auth_server):
    cases = [
        (b"set a 0 0 9\r\nalice bad\r\n", b"CLIENT_ERROR authentication failure\r\n"),
        (b"set a 0 0 3\r\na b\r\n", b"CLIENT_ERROR authentication failure\r\n"),
        (b"set a 0 0 10\r\nnobody pw2\r\n", b"CLIENT_ERROR authentication failure\r\n"),
        (b"set a 0 0 5\r\nalice\r\n", b"CLIENT_ERROR bad authentication token format\r\n"),
        (b"set a 0 0 0\r\n\r\n", b"CLIENT_ERROR bad authentication token format\r\n"),
        (b"set a 0 0 12\r\nalice secretXX", b"CLIENT_ERROR bad command line termination\r\n"),
    ]
    for request, reply in cases:
        with auth_server.conn() as c:
            assert c.call(request) == reply, request
            assert c.call(b"version\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
    with auth_server.conn() as c:
        assert login(c, b"alice", b"secret") == b"STORED\r\n"
        st = stats_dict(c)
        # Only well-formed tokens count: 3 wrong credentials + 1 good login.
        assert (st["auth_cmds"], st["auth_errors"]) == ("4", "3")


def test_settings_show_authfile(auth_server, authfile):
    with auth_server.conn() as c:
        assert login(c, b"alice", b"secret") == b"STORED\r\n"
        st = stats_dict(c, b"settings")
        assert st["auth_enabled_ascii"] == str(authfile)
        assert st["auth_enabled_sasl"] == "no"


def test_sighup_reloads_authfile(auth_server, authfile):
    authfile.write_text("carol:new\n")
    auth_server.proc.send_signal(signal.SIGHUP)

    def carol_can_login():
        with auth_server.conn() as c:
            return login(c, b"carol", b"new") == b"STORED\r\n"
    wait_for(carol_can_login, timeout=5, what="SIGHUP to reload the authfile")
    with auth_server.conn() as c:
        assert login(c, b"alice", b"secret") == b"CLIENT_ERROR authentication failure\r\n"


def test_authfile_refuses_binary_protocol(tmp_path, authfile):
    argv = [BINARY] + (["-u", "root"] if os.geteuid() == 0 else []) + \
        ["-l", "127.0.0.1", "-p", str(free_port()), "-Y", str(authfile), "-B", "binary"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert proc.returncode != 0
    assert ("ERROR: You cannot allow the BINARY protocol while using ascii authentication "
            "tokens.") in proc.stderr


def test_authfile_forces_ascii(auth_server):
    from harness import OP_VERSION, bin_request
    with auth_server.conn() as c:
        assert login(c, b"alice", b"secret") == b"STORED\r\n"
        assert stats_dict(c, b"settings")["binding_protocol"] == "ascii"
    with auth_server.conn() as c:
        # A binary request is read as text, and text needs auth first.
        c.send(bin_request(OP_VERSION) + b"\r\n")
        assert c.recv_until(b"\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
