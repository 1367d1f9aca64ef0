"""
Process and socket plumbing for the integration suite.

The suite runs the same tests against two targets so that every expectation
is first proven against the real thing:

  TARGET=memcached   -> /usr/bin/memcached (Debian's 1.6.18)
  (default)          -> $TANDEMD, or <repo>/build/asan/tandemd

Both get the same command line (memcached's flags). A server is a real child
process on a free 127.0.0.1 port; readiness is polled (connect + "version")
with a deadline, never slept for. Its stderr goes to a file that conftest.py
attaches to failing tests and scans for sanitizer reports.

The fixtures live in conftest.py; tests import helpers from here.
"""
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import time
from collections import namedtuple
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("TARGET", "tandemd")
IS_MEMCACHED = TARGET == "memcached"
BINARY = ("/usr/bin/memcached" if IS_MEMCACHED
          else os.environ.get("TANDEMD", str(REPO / "build" / "asan" / "tandemd")))


# `make test` installs every dependency first and sets TANDEM_REQUIRE_ALL=1:
# there a missing client, server or privilege is a failure, not a quiet skip.
REQUIRE_ALL = os.environ.get("TANDEM_REQUIRE_ALL") == "1"


def need(ok, why):
    """Skip the test unless `ok`; under `make test` (TANDEM_REQUIRE_ALL=1) fail
    instead, so a test cannot pass by not running."""
    if ok:
        return
    if REQUIRE_ALL:
        pytest.fail("%s (TANDEM_REQUIRE_ALL=1: make test runs every test)" % why, pytrace=False)
    pytest.skip(why)


def need_module(name):
    """pytest.importorskip, failing under TANDEM_REQUIRE_ALL=1."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError as e:
        need(False, "cannot import %s: %s" % (name, e))


def tandem_only(test):
    """Behaviour only Tandem promises (memcached differs or lacks it): marked
    `tandem_only` for -m selection, and skipped when TARGET=memcached."""
    skip = pytest.mark.skipif(os.environ.get("TARGET") == "memcached",
                              reason="Tandem-only behaviour; TARGET=memcached")
    return pytest.mark.tandem_only(skip(test))


# TANDEMD_WRAP runs the server under a tool, e.g. "valgrind -q ..." (make valgrind).
WRAP = shlex.split(os.environ.get("TANDEMD_WRAP", "")) if not IS_MEMCACHED else []

# Markers that mean "the sanitizers (or valgrind) caught a bug" in a tandemd stderr file.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                     "VALGRIND-ERROR-BEGIN")

READY_TIMEOUT = 60.0 if WRAP else 15.0   # ASan and valgrind start slower; memcached ~10 ms
STOP_TIMEOUT = 30.0 if WRAP else 5.0     # valgrind's leak check runs at exit
IO_TIMEOUT = 5.0

_ports_handed_out = set()


def free_port(udp_too=False):
    """A 127.0.0.1 port nobody listens on (TCP, and UDP too if asked).

    Found by binding to port 0; ports already given to this session are not
    given again, so two servers of one test never race for the same port.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port in _ports_handed_out:
            continue
        if udp_too:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                u.close()
        _ports_handed_out.add(port)
        return port
    raise RuntimeError("no free port found in 10 s")


class ServerStartError(Exception):
    pass


class Server:
    """One server process under test.

    args are extra memcached-style flags. listen=None omits -l (for the
    default-bind test); unix=<path> serves a unix socket (-s) instead of TCP.
    """

    def __init__(self, workdir, args=(), listen="127.0.0.1", unix=None,
                 udp=False, port=None, env=None):
        self.workdir = Path(workdir)
        self.extra = [str(a) for a in args]
        self.listen = listen
        self.unix = str(unix) if unix else None
        self.udp = udp
        self.port = port
        self.udp_port = None
        self.env = env
        self.proc = None
        self.stderr_path = None
        self.argv = None

    # -- lifecycle -----------------------------------------------------------

    def command(self):
        argv = WRAP + [BINARY]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        if self.unix:
            argv += ["-s", self.unix]
        else:
            if self.listen is not None:
                argv += ["-l", self.listen]
            argv += ["-p", str(self.port)]
            if self.udp:
                argv += ["-U", str(self.udp_port)]
        return argv + self.extra

    @property
    def binary_only(self):
        joined = " ".join(self.extra)
        return "-B binary" in joined or "--protocol=binary" in joined

    def start(self, wait=True):
        if not os.path.exists(BINARY):
            raise ServerStartError("server binary %s does not exist" % BINARY)
        last = None
        for _attempt in range(3):   # a port can be stolen between probe and bind
            if not self.unix:
                if self.port is None or last is not None:
                    self.port = free_port(udp_too=self.udp)
                if self.udp:
                    self.udp_port = self.port
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except ServerStartError as e:
                last = e
                if "in use" not in self.stderr_text():
                    raise
        raise last

    def _spawn(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.workdir.glob("server-*.stderr")))
        self.stderr_path = self.workdir / ("server-%d.stderr" % n)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if self.env:
            env.update(self.env)
        self.argv = self.command()
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=env)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Poll until the server answers a version request (any reply counts:
        with -Y it is CLIENT_ERROR unauthenticated)."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError("server exited with %s before becoming ready: %s\n%s"
                                       % (self.proc.returncode, " ".join(self.argv),
                                          self.stderr_text()))
            try:
                s = self._connect(timeout=1.0)
                try:
                    if self.binary_only:
                        s.sendall(bin_request(OP_VERSION))
                    else:
                        s.sendall(b"version\r\n")
                    if s.recv(64):
                        return
                finally:
                    s.close()
            except OSError:
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise ServerStartError("server not ready after %.0f s: %s\n%s"
                               % (timeout, " ".join(self.argv), self.stderr_text()))

    def _connect(self, timeout=IO_TIMEOUT):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(self.unix)
            except OSError:
                s.close()
                raise
            return s
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait (bounded) for the process to exit; return its code or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit within STOP_TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        # memcached only notices a signal when its event loop wakes up; a
        # connection attempt wakes it at once instead of at the next 1 s tick.
        try:
            self._connect(timeout=0.5).close()
        except OSError:
            pass
        if self.wait_exit(STOP_TIMEOUT) is None:
            self.proc.kill()
            self.wait_exit(STOP_TIMEOUT)

    def stderr_text(self):
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def sanitizer_report(self):
        text = self.stderr_text()
        return text if any(m in text for m in SANITIZER_MARKERS) else None

    # -- clients -------------------------------------------------------------

    def conn(self, timeout=IO_TIMEOUT):
        return RawConn(self._connect(timeout=timeout), timeout=timeout)

    @property
    def addr(self):
        """host:port (or the socket path) as clients spell it."""
        return self.unix if self.unix else "127.0.0.1:%d" % self.port

    def __repr__(self):
        return "<Server %s>" % " ".join(self.argv or [])


class ConnectionClosed(AssertionError):
    pass


class RawConn:
    """A byte-exact client: send bytes, read until a terminator or timeout."""

    def __init__(self, sock, timeout=IO_TIMEOUT):
        self.sock = sock
        self.timeout = timeout
        self.buf = b""
        self.sock.settimeout(timeout)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed("connection closed by server after %r" % self.buf[-300:])
        self.buf += chunk

    def recv_until(self, terminator, timeout=None):
        """Bytes up to and including the first `terminator`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while terminator not in self.buf:
            try:
                self._fill(deadline)
            except socket.timeout:
                raise AssertionError("timed out waiting for %r; got %r"
                                     % (terminator, self.buf[-300:])) from None
        i = self.buf.index(terminator) + len(terminator)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            try:
                self._fill(deadline)
            except socket.timeout:
                raise AssertionError("timed out waiting for %d bytes; got %d: %r"
                                     % (n, len(self.buf), self.buf[-300:])) from None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def readline(self, timeout=None):
        return self.recv_until(b"\r\n", timeout)

    def call(self, data, until=b"\r\n", timeout=None):
        self.send(data)
        return self.recv_until(until, timeout)

    def roundtrip(self, data, timeout=None):
        """Send data followed by the `mn` fence and return everything the
        server sent before MN. Byte-exact: nothing can hide after a reply."""
        self.send(data + b"mn\r\n")
        return self.recv_until(b"MN\r\n", timeout)[:-4]

    def expect(self, data, reply, timeout=None):
        """Send data and assert the reply is exactly `reply` (fenced by mn)."""
        got = self.roundtrip(data, timeout)
        assert got == reply, "sent %r\nexpected %r\n     got %r" % (data[:300], reply, got)

    def expect_re(self, data, pattern, timeout=None):
        """Like expect, but the reply must fully match a bytes regex. Used
        where the server clock may tick between two commands (TTLs, ages)."""
        got = self.roundtrip(data, timeout)
        m = re.fullmatch(pattern, got)
        assert m, "sent %r\nexpected /%r/\n     got %r" % (data[:300], pattern, got)
        return m

    def expect_closed(self, timeout=None):
        """Assert the server closes the connection (after any pending bytes)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                return self.buf
            except (ConnectionResetError, BrokenPipeError):
                return self.buf
            except socket.timeout:
                raise AssertionError("connection still open; got %r" % self.buf[-300:]) from None

    def quiet_for(self, seconds):
        """Assert nothing arrives for `seconds` (only where no fence exists)."""
        deadline = time.monotonic() + seconds
        try:
            self._fill(deadline)
        except socket.timeout:
            return
        raise AssertionError("unexpected bytes %r" % self.buf[-300:])


# -- text protocol helpers ----------------------------------------------------

def stats_dict(conn, sub=b""):
    """Parse `stats [sub]` into an ordered dict of name -> value (bytes)."""
    cmd = b"stats" + (b" " + sub if sub else b"") + b"\r\n"
    raw = conn.call(cmd, until=b"END\r\n")
    out = {}
    for line in raw.split(b"\r\n"):
        if line.startswith(b"STAT "):
            _, name, value = line.split(b" ", 2)
            out[name.decode()] = value.decode()
    return out


def wait_for(predicate, timeout=5.0, interval=0.02, what="condition"):
    """Poll predicate() until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# -- binary protocol ------------------------------------------------------------

REQ_MAGIC = 0x80
RES_MAGIC = 0x81
HEADER = struct.Struct(">BBHBBHIIQ")

OP_GET, OP_SET, OP_ADD, OP_REPLACE, OP_DELETE, OP_INCR, OP_DECR, OP_QUIT = range(0x00, 0x08)
OP_FLUSH, OP_GETQ, OP_NOOP, OP_VERSION, OP_GETK, OP_GETKQ, OP_APPEND, OP_PREPEND = range(0x08, 0x10)
OP_STAT = 0x10
OP_SETQ, OP_ADDQ, OP_REPLACEQ, OP_DELETEQ, OP_INCRQ, OP_DECRQ, OP_QUITQ = range(0x11, 0x18)
OP_FLUSHQ, OP_APPENDQ, OP_PREPENDQ = 0x18, 0x19, 0x1a
OP_TOUCH, OP_GAT, OP_GATQ = 0x1c, 0x1d, 0x1e
OP_GATK, OP_GATKQ = 0x23, 0x24

ST_OK, ST_ENOENT, ST_EEXISTS, ST_E2BIG, ST_EINVAL, ST_NOT_STORED, ST_DELTA_BADVAL = range(7)
ST_UNKNOWN_COMMAND = 0x81
ST_ENOMEM = 0x82

BinResponse = namedtuple("BinResponse",
                         "magic opcode keylen extlen datatype status bodylen opaque cas "
                         "extras key value")


def bin_request(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0,
                vbucket=0, magic=REQ_MAGIC, datatype=0):
    body = extras + key + value
    return HEADER.pack(magic, opcode, len(key), len(extras), datatype, vbucket,
                       len(body), opaque, cas) + body


def bin_store_extras(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def bin_incr_extras(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


def bin_read(conn, timeout=None):
    head = conn.recv_exact(HEADER.size, timeout)
    (magic, opcode, keylen, extlen, datatype, status, bodylen, opaque,
     cas) = HEADER.unpack(head)
    body = conn.recv_exact(bodylen, timeout) if bodylen else b""
    return BinResponse(magic, opcode, keylen, extlen, datatype, status, bodylen,
                       opaque, cas, body[:extlen], body[extlen:extlen + keylen],
                       body[extlen + keylen:])


def bin_call(conn, opcode, **kw):
    conn.send(bin_request(opcode, **kw))
    return bin_read(conn)


# -- UDP ----------------------------------------------------------------------------

UDP_HEADER = struct.Struct(">HHHH")


def udp_call(port, payload, request_id=1, timeout=IO_TIMEOUT):
    """Send one framed request; collect datagrams until all `total` arrived.

    Returns (list of (header tuple, data), joined data)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(UDP_HEADER.pack(request_id, 0, 1, 0) + payload, ("127.0.0.1", port))
        frames = {}
        total = None
        deadline = time.monotonic() + timeout
        while total is None or len(frames) < total:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data, _ = s.recvfrom(65536)
            hdr = UDP_HEADER.unpack(data[:8])
            frames[hdr[1]] = (hdr, data[8:])
            total = hdr[2]
        ordered = [frames[i] for i in sorted(frames)]
        return ordered, b"".join(d for _, d in ordered)
    finally:
        s.close()
