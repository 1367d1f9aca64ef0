"""
Fixtures for the integration suite (see harness.py for the plumbing).

  server_factory(*flags, listen=..., unix=..., udp=...) -> Server   (started, ready)
  server        a server with default flags, fresh for each test
  conn          a RawConn to `server`

Every server a test starts is stopped at teardown (SIGTERM, then SIGKILL).
Its stderr is attached to the report of a failing test. For tandemd the test
also fails if stderr holds an AddressSanitizer / UBSan / LeakSanitizer report.

Run against memcached with TARGET=memcached; tests that check Tandem-only
behaviour carry @tandem_only and are skipped there.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402

def pytest_configure(config):
    config.addinivalue_line("markers", "tandem_only: behaviour only tandemd promises "
                                       "(skipped when TARGET=memcached)")


def pytest_report_header(config):
    return "server under test: %s (%s)" % (harness.BINARY, harness.TARGET)


_servers_key = pytest.StashKey()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in item.stash.get(_servers_key, []):
            text = srv.stderr_text()
            if text:
                report.sections.append(("server stderr: %s" % " ".join(srv.argv or []),
                                        text[-20000:]))


class Factory:
    def __init__(self, item, tmp_path):
        self.item = item
        self.tmp_path = tmp_path
        self.servers = []
        item.stash[_servers_key] = self.servers

    def __call__(self, *args, listen="127.0.0.1", unix=None, udp=False, port=None,
                 wait=True, env=None):
        srv = harness.Server(self.tmp_path / "servers", args, listen=listen, unix=unix,
                             udp=udp, port=port, env=env)
        self.servers.append(srv)
        try:
            srv.start(wait=wait)
        except harness.ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        return srv

    def teardown(self):
        for srv in self.servers:
            srv.stop()
        if harness.IS_MEMCACHED:
            return
        reports = [(srv, srv.sanitizer_report()) for srv in self.servers]
        bad = [(s, r) for s, r in reports if r]
        if bad:
            pytest.fail("sanitizer report from %s:\n%s" % (" ".join(bad[0][0].argv), bad[0][1]),
                        pytrace=False)


@pytest.fixture
def server_factory(request, tmp_path):
    if not os.path.exists(harness.BINARY):
        pytest.fail("server binary %s not found (build it, or set TANDEMD=..., "
                    "or TARGET=memcached)" % harness.BINARY, pytrace=False)
    factory = Factory(request.node, tmp_path)
    yield factory
    factory.teardown()


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def conn(server):
    c = server.conn()
    yield c
    c.close()


@pytest.fixture
def sentinel(server):
    """A key stored before abuse; check() asserts it and a fresh client still work."""
    return Sentinel(server)


class Sentinel:
    KEY = b"sentinel"
    VALUE = b"precious-data-\x00\xff-" + b"v" * 100

    def __init__(self, server):
        self.server = server
        with server.conn() as c:
            c.expect(b"set %s 77 0 %d\r\n%s\r\n" % (self.KEY, len(self.VALUE), self.VALUE),
                     b"STORED\r\n")

    def check(self):
        assert self.server.alive(), "server died:\n" + self.server.stderr_text()[-3000:]
        with self.server.conn() as c:
            c.expect(b"get %s\r\n" % self.KEY,
                     b"VALUE %s 77 %d\r\n%s\r\nEND\r\n" % (self.KEY, len(self.VALUE), self.VALUE))
            c.expect(b"version\r\n", b"VERSION 1.6.18\r\n")
