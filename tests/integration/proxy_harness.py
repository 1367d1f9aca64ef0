"""
Plumbing for the tandem-proxy tests: backends (stock memcached or tandemd),
fake backends that misbehave on purpose, and the proxy itself.

  ProxyEnv(workdir)           one per test: the fixture `px` below
    .backend(kind="memcached"|"tandemd", port=None) -> Backend (started)
    .fake(handler)            -> FakeBackend: a thread answering with handler(line)
    .proxy(yaml_text)         -> Proxy (started, answers `version`)
    .check_config(yaml_text)  -> (exit code, output) of tandem-proxy -t
    .stop()                   stops everything; fails on a sanitizer report

The proxy binary is $TANDEM_PROXY (make integration sets it), else
build/asan/tandem-proxy. Every wait is a bounded poll.
"""
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness

PROXY = os.environ.get("TANDEM_PROXY", str(harness.REPO / "build" / "asan" / "tandem-proxy"))
TANDEMD = os.environ.get("TANDEMD", str(harness.REPO / "build" / "asan" / "tandemd"))
MEMCACHED = "/usr/bin/memcached"


class Backend(harness.Server):
    """A real cache process on a free port: memcached or tandemd."""

    def __init__(self, workdir, binary, args=(), port=None):
        super().__init__(workdir, args, port=port)
        self.binary = binary

    def command(self):
        argv = [self.binary]
        if os.geteuid() == 0:
            argv += ["-u", "root"] if self.binary != MEMCACHED else ["-u", "nobody"]
        return argv + ["-l", "127.0.0.1", "-p", str(self.port)] + self.extra

    def kill(self):
        """kill -9: no goodbye to the proxy's connection."""
        if self.alive():
            self.proc.kill()
            self.wait_exit(5)

    def keys_present(self, keys):
        """Which of keys this backend holds (asked directly, one multi-get)."""
        with self.conn() as c:
            got = set()
            c.send(b"get " + b" ".join(keys) + b"\r\n")
            while True:
                line = c.readline()
                if line == b"END\r\n":
                    return got
                parts = line.split()
                assert parts[0] == b"VALUE", line
                c.recv_exact(int(parts[3]) + 2)
                got.add(parts[1])


class FakeBackend:
    """A listening socket whose replies come from handler(line) -> bytes or
    None (None: say nothing). Runs in a daemon thread until stop()."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.lines = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conns = []
        while self.running:
            try:
                c, _ = self.sock.accept()
                c.settimeout(0.05)
                conns.append([c, b""])
            except socket.timeout:
                pass
            for entry in list(conns):
                c = entry[0]
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    conns.remove(entry)
                    continue
                if not data:
                    conns.remove(entry)
                    c.close()
                    continue
                entry[1] += data
                while b"\n" in entry[1]:
                    line, entry[1] = entry[1].split(b"\n", 1)
                    self.lines.append(line)
                    out = self.handler(line.rstrip(b"\r"))
                    if out:
                        try:
                            c.sendall(out)
                        except OSError:
                            pass
        for c, _ in conns:
            c.close()

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


class Proxy:
    def __init__(self, workdir, yaml_text, port):
        self.workdir = Path(workdir)
        self.port = port
        self.conf = self.workdir / ("proxy-%d.yml" % port)
        self.conf.write_text(yaml_text)
        self.stderr_path = self.workdir / ("proxy-%d.stderr" % port)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.argv = [PROXY, "-c", str(self.conf), "-v", "6"]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, env=env)
        self.wait_ready()

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("proxy exited with %s: %s" % (self.proc.returncode,
                                                                   self.stderr_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"version\r\n")
                    if s.recv(64).startswith(b"VERSION"):
                        return
            except OSError:
                pass
            time.sleep(0.01)
        raise AssertionError("proxy not ready: " + self.stderr_text())

    def conn(self, timeout=harness.IO_TIMEOUT):
        return harness.RawConn(socket.create_connection(("127.0.0.1", self.port),
                                                        timeout=timeout), timeout=timeout)

    def stats(self):
        with self.conn() as c:
            return harness.stats_dict(c)

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace") \
            if self.stderr_path.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("proxy did not exit on SIGTERM")
        return self.proc.returncode


class ProxyEnv:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.backends = []
        self.fakes = []
        self.proxies = []

    def backend(self, kind="memcached", port=None, args=()):
        b = Backend(self.workdir / "backends", MEMCACHED if kind == "memcached" else TANDEMD,
                    args=args, port=port)
        self.backends.append(b)
        b.start()
        return b

    def fake(self, handler):
        f = FakeBackend(handler)
        self.fakes.append(f)
        return f

    def proxy(self, yaml_text):
        port = harness.free_port()
        p = Proxy(self.workdir, yaml_text.replace("@PORT@", str(port)), port)
        self.proxies.append(p)
        return p

    def check_config(self, yaml_text, name="check.yml"):
        path = self.workdir / name
        path.write_text(yaml_text)
        r = subprocess.run([PROXY, "-c", str(path), "-t"], capture_output=True, timeout=30)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    def stop(self):
        problems = []
        for p in self.proxies:
            try:
                rc = p.stop()
                if rc != 0:
                    problems.append("proxy exited %s" % rc)
            except AssertionError as e:
                problems.append(str(e))
            text = p.stderr_text()
            if any(m in text for m in harness.SANITIZER_MARKERS):
                problems.append("sanitizer report from the proxy:\n" + text[-6000:])
        for f in self.fakes:
            f.stop()
        for b in self.backends:
            b.stop()
        return problems


@pytest.fixture
def px(tmp_path):
    """A ProxyEnv for one test; fails the test if the proxy did not exit
    cleanly or left a sanitizer report."""
    if not os.path.exists(PROXY):
        pytest.fail("proxy binary %s not found (set TANDEM_PROXY)" % PROXY, pytrace=False)
    env = ProxyEnv(tmp_path / "px")
    yield env
    problems = env.stop()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def pool(servers, port="@PORT@", **keys):
    """YAML for one pool 'alpha' listening on the proxy's port."""
    lines = ["alpha:", "  listen: 127.0.0.1:%s" % port]
    keys.setdefault("hash", "md5")
    keys.setdefault("distribution", "ketama")
    for k, v in keys.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        lines.append("  %s: %s" % (k, v))
    lines.append("  servers:")
    for s in servers:
        lines.append("   - %s" % s)
    return "\n".join(lines) + "\n"


def wait_for(pred, timeout=10.0, what="condition"):
    return harness.wait_for(pred, timeout=timeout, what=what)
