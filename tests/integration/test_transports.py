"""Listeners: UDP (-U), unix sockets (-s/-a), connection limits (-c),
listen addresses (-l), and process behaviour users see (-A, signals)."""
import os
import signal
import socket
import stat
import time
import pytest

from harness import (
    UDP_HEADER, RawConn, free_port, stats_dict, tandem_only, udp_call, wait_for,
)


# -- UDP ----------------------------------------------------------------------------

def test_udp_set_get(server_factory):
    srv = server_factory(udp=True)
    frames, data = udp_call(srv.udp_port, b"set k 0 0 5\r\nhello\r\n", request_id=7)
    assert frames == [((7, 0, 1, 0), b"STORED\r\n")]
    frames, data = udp_call(srv.udp_port, b"get k\r\n", request_id=0xbeef)
    assert frames == [((0xbeef, 0, 1, 0), b"VALUE k 0 5\r\nhello\r\nEND\r\n")]
    # Shared with TCP.
    with srv.conn() as c:
        c.expect(b"get k\r\n", b"VALUE k 0 5\r\nhello\r\nEND\r\n")


def test_udp_meta_and_errors(server_factory):
    srv = server_factory(udp=True)
    assert udp_call(srv.udp_port, b"version\r\n", 1)[1] == b"VERSION 1.6.18\r\n"
    assert udp_call(srv.udp_port, b"ms k 2\r\nhi\r\n", 2)[1] == b"HD\r\n"
    assert udp_call(srv.udp_port, b"mg k v\r\n", 3)[1] == b"VA 2\r\nhi\r\n"
    assert udp_call(srv.udp_port, b"bogus\r\n", 4)[1] == b"ERROR\r\n"


def test_udp_large_response_is_split_in_1400_byte_datagrams(server_factory):
    srv = server_factory(udp=True)
    with srv.conn() as c:
        c.expect(b"set big 0 0 5000\r\n%s\r\n" % (b"x" * 5000), b"STORED\r\n")
    frames, data = udp_call(srv.udp_port, b"get big\r\n", request_id=11)
    assert [hdr for hdr, _ in frames] == [(11, i, 4, 0) for i in range(4)]
    assert [len(d) for _, d in frames] == [1392, 1392, 1392, 849]
    assert data == b"VALUE big 0 5000\r\n" + b"x" * 5000 + b"\r\nEND\r\n"


def test_udp_settings(server_factory):
    srv = server_factory(udp=True)
    with srv.conn() as c:
        assert stats_dict(c, b"settings")["udpport"] == str(srv.udp_port)


def test_udp_is_off_by_default(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(UDP_HEADER.pack(1, 0, 1, 0) + b"version\r\n", ("127.0.0.1", server.port))
        with pytest.raises((socket.timeout, ConnectionRefusedError)):
            s.recvfrom(100)
    finally:
        s.close()


def test_udp_garbage_datagrams_are_ignored(server_factory):
    srv = server_factory(udp=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for junk in (b"", b"\x00", b"\x00\x01\x00", b"\x00\x01\x00\x00\x00\x02\x00\x00get k\r\n",
                     b"\xff" * 2000):
            s.sendto(junk, ("127.0.0.1", srv.udp_port))
    finally:
        s.close()
    assert udp_call(srv.udp_port, b"version\r\n", 5)[1] == b"VERSION 1.6.18\r\n"
    assert srv.alive()


# -- unix socket ------------------------------------------------------------------------

def unix_conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return RawConn(s)


def test_unix_socket(server_factory, tmp_path):
    path = str(tmp_path / "mc.sock")
    server_factory(unix=path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700        # default -a 700
    with unix_conn(path) as c:
        c.expect(b"set k 0 0 2\r\nhi\r\nget k\r\n", b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n")
        conns = stats_dict(c, b"conns")
        assert "unix:%s" % path in conns.values()
        assert not [v for v in conns.values() if v.startswith("tcp:")]   # -s turns TCP off


def test_unix_socket_mask(server_factory, tmp_path):
    path = str(tmp_path / "mc.sock")
    server_factory("-a", "755", unix=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    with unix_conn(path) as c:
        c.expect(b"version\r\n", b"VERSION 1.6.18\r\n")


def test_unix_socket_binary_protocol(server_factory, tmp_path):
    from harness import OP_VERSION, bin_call
    path = str(tmp_path / "mc.sock")
    server_factory(unix=path)
    with unix_conn(path) as c:
        assert bin_call(c, OP_VERSION).value == b"1.6.18"


# -- connection limit -------------------------------------------------------------------

def flood(srv, limit):
    """Open connections until one is refused; return (accepted conns, reply)."""
    accepted = []
    for _ in range(limit + 5):
        c = srv.conn()
        c.send(b"version\r\n")
        try:
            reply = c.readline()
        except AssertionError:
            reply = c.buf
        if reply != b"VERSION 1.6.18\r\n":
            return accepted, c, reply
        accepted.append(c)
    raise AssertionError("no connection was refused with -c %d" % limit)


@pytest.mark.parametrize("limit", [32])
def test_connection_limit(server_factory, limit):
    # memcached cannot even start with -c 10: it lowers RLIMIT_NOFILE to -c and
    # needs ~24 descriptors for itself (so -c 32 leaves room for 8 clients).
    srv = server_factory("-c", str(limit))
    accepted, refused, reply = flood(srv, limit)
    try:
        assert 1 <= len(accepted) <= limit
        assert reply == b"ERROR Too many open connections\r\n"
        assert refused.expect_closed() == b""
        # Existing clients keep working.
        accepted[0].expect(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n")
    finally:
        for c in accepted:
            c.close()
        refused.close()
    # Once clients leave, new ones are accepted again.
    def works():
        try:
            with srv.conn() as c:
                c.send(b"stats\r\n")
                return stats_dict_from(c)
        except (OSError, AssertionError):
            return None
    st = wait_for(works, timeout=5, what="a connection to be accepted again")
    assert int(st["rejected_connections"]) >= 1
    assert st["max_connections"] == str(limit)


def stats_dict_from(c):
    raw = c.recv_until(b"END\r\n")
    if not raw.startswith(b"STAT "):
        return None
    return {l.split(b" ")[1].decode(): l.split(b" ", 2)[2].decode()
            for l in raw.split(b"\r\n") if l.startswith(b"STAT ")}


@tandem_only
def test_connection_limit_10(server_factory):
    srv = server_factory("-c", "10")
    accepted, refused, reply = flood(srv, 10)
    try:
        assert 1 <= len(accepted) <= 10, "accepted %d clients, then got %r" % (len(accepted), reply)
        assert reply == b"ERROR Too many open connections\r\n"
        assert refused.expect_closed() == b""
    finally:
        for c in accepted:
            c.close()
        refused.close()


# -- listen address ----------------------------------------------------------------------

@tandem_only
def test_default_bind_is_loopback_only(server_factory):
    # Tandem listens on 127.0.0.1 unless -l says otherwise (memcached: INADDR_ANY).
    srv = server_factory(listen=None)
    with srv.conn() as c:
        conns = stats_dict(c, b"conns")
        listeners = [v for k, v in conns.items() if k.endswith(":addr") and v.startswith("tcp:")
                     and conns.get(k.replace(":addr", ":state")) == "conn_listening"]
        assert listeners == ["tcp:127.0.0.1:%d" % srv.port]
        assert stats_dict(c, b"settings")["inter"] == "127.0.0.1"


def test_listen_on_two_addresses(server_factory):
    port = free_port()
    srv = server_factory(listen="127.0.0.1,127.0.0.2", port=port)
    for host in ("127.0.0.1", "127.0.0.2"):
        with RawConn(socket.create_connection((host, srv.port), timeout=5)) as c:
            c.expect(b"version\r\n", b"VERSION 1.6.18\r\n")


def test_cannot_run_as_root_without_u(tmp_path):
    import subprocess
    from harness import BINARY, need
    need(os.geteuid() == 0, "needs root")
    proc = subprocess.run([BINARY, "-l", "127.0.0.1", "-p", str(free_port())],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode != 0
    assert "can't run as root without the -u switch" in proc.stderr


def test_version_flag():
    import subprocess
    from harness import BINARY
    proc = subprocess.run([BINARY, "-V"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0
    # Scripts read the version as the second word; tandemd names itself after it.
    assert proc.stdout.split()[:2] == ["memcached", "1.6.18"]


def test_sigterm_exits_cleanly(server):
    server.proc.send_signal(signal.SIGTERM)
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
    except OSError:
        pass
    assert server.wait_exit(10) == 0


def test_sigint_exits_cleanly(server):
    server.proc.send_signal(signal.SIGINT)
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
    except OSError:
        pass
    assert server.wait_exit(10) == 0


def test_idle_timeout_closes_quiet_clients(server_factory):
    srv = server_factory("-o", "idle_timeout=2")
    with srv.conn() as busy, srv.conn() as quiet:
        quiet.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
        deadline = time.monotonic() + 10
        closed = False
        while time.monotonic() < deadline and not closed:
            busy.expect(b"version\r\n", b"VERSION 1.6.18\r\n")  # keeps `busy` active
            try:
                quiet.sock.settimeout(0.5)
                closed = quiet.sock.recv(16) == b""
            except socket.timeout:
                pass
        assert closed, "an idle connection was not closed within 10 s"
        busy.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
