"""Issue 5: `tandemctl backup`, `restore` and `inspect` with real processes.

Round trips through every path are compared key by key (key bytes, value
bytes, flags, TTL within 2 s, and the version where the target is tandemd):
snapshot file, JSON lines and PostgreSQL between tandemd nodes; stock
memcached -> file -> tandemd; tandemd -> file -> stock memcached. Then: a
backup under concurrent writes, a restore over newer data (LWW on tandemd,
add on memcached), expired items skipped, damaged files (flipped bit,
truncated, wrong magic, future format) refused with the file and offset and
nothing applied, --salvage applying the valid prefix, --dry-run changing
nothing, inspect, and a tandemd --snapshot-dir snapshot restored elsewhere.

PostgreSQL is Debian's, started per module in a temporary directory (as the
`postgres` user when the tests run as root). Every wait is a bounded poll.
"""
import base64
import contextlib
import json
import os
import pty
import pwd
import re
import select
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections import namedtuple
from glob import glob
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

import frames
from harness import IS_MEMCACHED, free_port, need, stats_dict, wait_for
from test_ctl import (CTL, ctl, memcached,  # noqa: F401  (memcached is a fixture)
                      running_memcached)

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="tandemctl backup drives tandemd and "
                                                      "memcached itself; TARGET=memcached")

SUMMARY = re.compile(r"^(backup|restore): (\d+) items, [\d.]+ MB in [\d.]+ s \(\d+ items/s, "
                     r"[\d.]+ MB/s\); skipped (\d+) expired, (\d+) missing; ignored (\d+) older"
                     r"(?:; kept (\d+) existing)?", re.M)


def summary(out):
    m = SUMMARY.search(out)
    assert m, out
    return {"items": int(m.group(2)), "expired": int(m.group(3)), "missing": int(m.group(4)),
            "ignored": int(m.group(5)), "kept": int(m.group(6) or 0)}


# -- talking to nodes ---------------------------------------------------------------

def _token(key):
    """(key token, extra flag) as a meta command spells the key: itself if
    plain, else base64 with the b flag."""
    if all(0x20 < c < 0x7f for c in key):
        return key, b""
    return base64.b64encode(key), b" b"


class Node:
    """A meta-protocol client for one address (tandemd or memcached)."""

    def __init__(self, addr, login=None):
        import socket
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""
        if login:   # memcached's -Y: a set whose value is "user password"
            self.sock.sendall(b"set login 0 0 %d\r\n%s\r\n" % (len(login), login))
            assert self._line() == b"STORED"

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "connection closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "connection closed"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def put(self, items):
        """items: {key: (value, flags, ttl)}; ttl 0 = none. Pipelined ms, b for odd keys."""
        keys = list(items)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            req = []
            for k in chunk:
                v, f, ttl = items[k]
                req.append(b"ms %s %d%s F%d T%d\r\n%s\r\n" % (*_token(k)[:1], len(v),
                                                                _token(k)[1], f, ttl, v))
            self.sock.sendall(b"".join(req))
            for _ in chunk:
                assert self._line() == b"HD"

    def get(self, keys):
        """{key: (value, flags, ttl, cas)} for the keys that exist."""
        out = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            self.sock.sendall(b"".join(b"mg %s%s v f t c\r\n" % _token(k) for k in chunk))
            for k in chunk:
                line = self._line()
                if line.startswith(b"EN"):
                    continue
                m = re.match(rb"VA (\d+) (.*)", line)
                assert m, line
                value = self._exact(int(m.group(1)) + 2)[:-2]
                fl = dict((t[:1], t[1:]) for t in m.group(2).split())
                out[k] = (value, int(fl[b"f"]), int(fl[b"t"]), int(fl[b"c"]))
        return out

    def keys(self):
        """The keys metadump lists (its lines end in \\n; END ends in \\r\\n)."""
        self.sock.sendall(b"lru_crawler metadump all\r\n")
        keys = []
        for part in self._line().split(b"\n"):
            if part.startswith(b"key="):
                keys.append(unquote_to_bytes(part.split(b" ", 1)[0][4:]))
            else:
                assert part == b"END", part
        return keys


def dump(addr, login=None):
    """Every live item of a node: {key: (value, flags, ttl, cas)}."""
    n = Node(addr, login)
    try:
        return n.get(n.keys())
    finally:
        n.close()


def put(addr, items, login=None):
    n = Node(addr, login)
    try:
        n.put(items)
    finally:
        n.close()


def get(addr, keys):
    n = Node(addr)
    try:
        return n.get(keys)
    finally:
        n.close()


def sample_items(n=300, prefix=b"k"):
    """Keys and values a backup must carry exactly: binary and spaced keys, a
    250-byte key, empty, binary and large values, flags up to 2^32-1, TTLs."""
    items = {
        b"\x00\x01\xff binary key": (b"\x00\xff\r\n\x80" * 10, 7, 0),
        b"with space": (b"text value", 4294967295, 0),
        b"k" * 250: (b"", 1, 3600),
        prefix + b":large": (bytes(range(256)) * 800, 3, 7200),
        "ключ".encode(): ("значение".encode(), 9, 0),
    }
    for i in range(n):
        items[b"%s:%d" % (prefix, i)] = (b"value-%d-" % i + b"x" * (i % 50), i, 0 if i % 3 else 1000)
    return items


def assert_same(src, dst, versions=True):
    """Key by key: value, flags, TTL within 2 s, and the version (CAS) if asked."""
    assert set(dst) == set(src), (set(src) ^ set(dst))
    for k, (v, f, ttl, cas) in src.items():
        v2, f2, ttl2, cas2 = dst[k]
        assert (v2, f2) == (v, f), k
        if ttl == -1:
            assert ttl2 == -1, k
        else:
            assert ttl2 != -1 and abs(ttl2 - ttl) <= 2, (k, ttl, ttl2)
        if versions:
            assert cas2 == cas, k


def curr_items(srv):
    with srv.conn() as c:
        return int(stats_dict(c)["curr_items"])


# -- PostgreSQL ------------------------------------------------------------------------

def _pg_bin():
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A throwaway PostgreSQL: (url, url with a password that must never be printed)."""
    bindir = _pg_bin()
    need(bindir, "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/"
                 "initdb; scripts/deps.sh test installs postgresql)")
    # not under pytest's tmp dir: that is private to root, and postgres must not run as root
    base = Path(tempfile.mkdtemp(prefix="tandem-pg-"))
    as_user = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres" if _has_user("postgres") else "nobody")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", pw.pw_name, "--"]
    data, port = base / "data", free_port()
    subprocess.run(as_user + [bindir + "/initdb", "-D", str(data), "-A", "trust", "-U",
                              "tandem", "--no-sync", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    opts = "-k %s -p %d -c listen_addresses='' -c fsync=off" % (base, port)
    subprocess.run(as_user + [bindir + "/pg_ctl", "-D", str(data), "-l", str(base / "log"),
                              "-o", opts, "-w", "-t", "60", "start"],
                   check=True, capture_output=True, timeout=90)
    try:
        yield Postgres("postgresql://tandem@/postgres?host=%s&port=%d" % (base, port),
                       "postgresql://tandem:hunter2-secret@/postgres?host=%s&port=%d"
                       % (base, port), [bindir + "/psql", "-h", str(base), "-p", str(port),
                                        "-U", "tandem", "-d", "postgres", "-Atc"])
    finally:
        subprocess.run(as_user + [bindir + "/pg_ctl", "-D", str(data), "-m", "immediate",
                                  "-w", "-t", "60", "stop"], capture_output=True, timeout=90)
        shutil.rmtree(base, ignore_errors=True)


class Postgres(namedtuple("Postgres", "url secret_url psql")):
    def sql(self, query):
        """One query through psql; its output, stripped."""
        return subprocess.run(self.psql + [query], check=True, capture_output=True,
                              timeout=30).stdout.decode().strip()


def _has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# -- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["file", "jsonl", "postgresql"])
def test_round_trip_tandemd_to_tandemd(server_factory, tmp_path, request, kind):
    dest = {"file": str(tmp_path / "b.tsnap"), "jsonl": str(tmp_path / "b.jsonl")}.get(kind)
    if kind == "postgresql":  # started first: TTLs are compared within 2 s
        dest = request.getfixturevalue("postgres").url
    a, b = server_factory(), server_factory()
    put(a.addr, sample_items())
    src = dump(a.addr)
    rc, out, err = ctl("backup", "--from", a.addr, "--to", dest)
    assert rc == 0, err
    assert summary(out)["items"] == len(src)
    assert "wrote %s (tandemd)" % dest in out
    rc, out, err = ctl("restore", "--from", dest, "--to", b.addr)
    assert rc == 0, err
    assert summary(out) == {"items": len(src), "expired": 0, "missing": 0, "ignored": 0,
                            "kept": 0}
    assert_same(src, dump(b.addr))


def test_memcached_to_file_to_tandemd(memcached, server_factory, tmp_path):
    t = server_factory()
    put(memcached, sample_items())
    src = dump(memcached)
    f = str(tmp_path / "mc.tsnap")
    before = int(time.time() * 1000)
    rc, out, err = ctl("backup", "--from", memcached, "--to", f)
    assert rc == 0, err
    assert "wrote %s (memcached)" % f in out
    rc, out, err = ctl("restore", "--from", f, "--to", t.addr)
    assert rc == 0, err
    got = dump(t.addr)
    assert_same(src, got, versions=False)
    # memcached's CAS means nothing elsewhere: every item carries the backup's time
    versions = {cas for (_, _, _, cas) in got.values()}
    assert len(versions) == 1
    ms = (versions.pop() >> 22) + frames.HLC_EPOCH_MS
    assert before - 1000 <= ms <= int(time.time() * 1000)


def test_tandemd_to_file_to_memcached(memcached, server_factory, tmp_path):
    t = server_factory()
    put(t.addr, sample_items())
    src = dump(t.addr)
    f = str(tmp_path / "t.jsonl")
    rc, out, err = ctl("backup", "--from", t.addr, "--to", f)
    assert rc == 0, err
    rc, out, err = ctl("restore", "--from", f, "--to", memcached)
    assert rc == 0, err
    assert summary(out)["items"] == len(src)
    assert "versions are not kept" in out
    assert_same(src, dump(memcached), versions=False)


def test_jsonl_is_readable_and_exact(server_factory, tmp_path):
    t = server_factory()
    items = {b"plain": (b"hello\nworld", 5, 0), b"\xffbin": (b"\x00\x01", 6, 0)}
    put(t.addr, items)
    f = tmp_path / "t.jsonl"
    rc, out, err = ctl("backup", "--from", t.addr, "--to", f)
    assert rc == 0, err
    lines = [json.loads(x) for x in f.read_text("ascii").splitlines()]
    assert lines[0]["format"] == "tandem-jsonl" and lines[0]["server"] == "tandemd"
    assert lines[-1] == {"end": True, "records": 2}
    by_key = {(l.get("key") or base64.b64decode(l["key_b64"]).decode("latin-1")): l
              for l in lines[1:-1]}
    assert by_key["plain"]["value"] == "hello\nworld" and by_key["plain"]["flags"] == 5
    binary = by_key["\xffbin"]
    assert base64.b64decode(binary["value_b64"]) == b"\x00\x01" and binary["binary_key"]
    cas = dump(t.addr)
    assert by_key["plain"]["version"] == cas[b"plain"][3]


# -- consistency, LWW, expiry ------------------------------------------------------------

def test_backup_under_concurrent_writes(server_factory, tmp_path):
    t = server_factory()
    stable = {b"stable:%d" % i: (b"v%d" % i * 20, i, 0) for i in range(20000)}
    put(t.addr, stable)
    stop = threading.Event()
    written = [0]

    def writer():
        n = Node(t.addr)
        try:
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                batch = {b"hot:%d" % (written[0] + i): (b"h" * 100, 0, 0) for i in range(200)}
                n.put(batch)
                written[0] += 200
        finally:
            n.close()

    th = threading.Thread(target=writer)
    th.start()
    try:
        wait_for(lambda: written[0] >= 2000, timeout=30, what="the writer to start")
        f = tmp_path / "busy.jsonl"
        rc, out, err = ctl("backup", "--from", t.addr, "--to", f)
    finally:
        stop.set()
        th.join(timeout=30)
    assert rc == 0, err
    assert written[0] > 2000
    got = {}
    for line in f.read_text("ascii").splitlines()[1:-1]:
        rec = json.loads(line)
        got[rec["key"].encode()] = (rec["value"].encode(), rec["flags"])
    for k, (v, fl, _) in stable.items():
        assert got.get(k) == (v, fl), k
    assert summary(out)["items"] == len(got)


@pytest.mark.parametrize("role", ["replica", "peer"])
def test_backup_of_a_replica_or_peer(server_factory, tmp_path, role):
    """Issue 5 point 1: any node serves a backup, not only a master."""
    rp = [free_port(), free_port()]
    if role == "replica":
        src = server_factory("--repl-port", str(rp[0]), "--node-id", "1")
        node = server_factory("--repl-port", str(rp[1]), "--replica-of",
                              "127.0.0.1:%d" % rp[0], "--node-id", "2")
    else:
        src = server_factory("--repl-port", str(rp[0]), "--peer", "127.0.0.1:%d" % rp[1],
                             "--node-id", "1")
        node = server_factory("--repl-port", str(rp[1]), "--peer", "127.0.0.1:%d" % rp[0],
                              "--node-id", "2")
    items = {b"r%d" % i: (b"v%d" % i, i, 0) for i in range(300)}
    put(src.addr, items)
    wait_for(lambda: curr_items(node) == 300, timeout=20, what="the %s to receive 300 keys" % role)
    f = tmp_path / "node.tsnap"
    rc, out, err = ctl("backup", "--from", node.addr, "--to", f)
    assert rc == 0, err
    assert summary(out)["items"] == 300
    target = server_factory()
    assert ctl("restore", "--from", f, "--to", target.addr)[0] == 0
    got = dump(target.addr)
    assert {k: (v[0], v[1]) for k, v in got.items()} == {k: (v[0], v[1]) for k, v in items.items()}


@pytest.mark.parametrize("source", ["tandemd", "memcached"])
def test_backup_and_restore_with_a_login(server_factory, tmp_path, source):
    """Nodes started with -Y (memcached's ASCII login): tandemctl logs in with
    the user:password in the file TANDEM_AUTH_FILE names. Without it, or with
    a wrong password, it refuses and says what to do; the password is never
    shown; and a node without -Y gets no login key stored."""
    auth, wrong = tmp_path / "auth", tmp_path / "wrong"
    auth.write_text("ops:s3cret-pw\n")
    wrong.write_text("ops:not-the-pw\n")
    login = b"ops s3cret-pw"
    with contextlib.ExitStack() as stack:
        if source == "memcached":
            src = stack.enter_context(running_memcached("-Y", str(auth)))
        else:
            src = server_factory("-Y", str(auth)).addr
        dst = server_factory("-Y", str(auth)).addr
        items = sample_items()
        put(src, items, login)
        f = str(tmp_path / "b.tsnap")
        rc, out, err = ctl("backup", "--from", src, "--to", f)
        assert rc != 0 and "asks for a login (it was started with -Y)" in err, err
        assert "TANDEM_AUTH_FILE" in err
        rc, out, err = ctl("backup", "--from", src, "--to", f, env={"TANDEM_AUTH_FILE": wrong})
        assert rc != 0 and "login refused" in err, err
        assert "not-the-pw" not in out + err and not os.path.exists(f)
        rc, out, err = ctl("backup", "--from", src, "--to", f, env={"TANDEM_AUTH_FILE": auth})
        assert rc == 0, err
        assert summary(out)["items"] == len(items)
        rc, out, err = ctl("restore", "--from", f, "--to", dst, env={"TANDEM_AUTH_FILE": auth})
        assert rc == 0, err
        assert "s3cret" not in out + err
        got = dump(dst, login)
        assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in items.items()}
    plain = server_factory()
    rc, out, err = ctl("status", plain.addr, env={"TANDEM_AUTH_FILE": auth})
    assert rc == 0, err
    assert curr_items(plain) == 0   # asked first, so no login key was stored


def test_restore_over_newer_data_keeps_it(server_factory, tmp_path):
    a, b = server_factory(), server_factory()
    put(a.addr, {b"k%d" % i: (b"old", 1, 0) for i in range(100)})
    f = str(tmp_path / "old.tsnap")
    assert ctl("backup", "--from", a.addr, "--to", f)[0] == 0
    # b first gets the backup, then newer writes to ten keys
    assert ctl("restore", "--from", f, "--to", b.addr)[0] == 0
    put(b.addr, {b"k%d" % i: (b"new", 2, 0) for i in range(10)})
    put(b.addr, {b"only-on-b": (b"mine", 3, 0)})
    rc, out, err = ctl("restore", "--from", f, "--to", b.addr)
    assert rc == 0, err
    assert summary(out)["items"] == 0 and summary(out)["ignored"] == 100
    got = dump(b.addr)
    assert all(got[b"k%d" % i][:2] == (b"new", 2) for i in range(10))
    assert all(got[b"k%d" % i][:2] == (b"old", 1) for i in range(10, 100))
    assert got[b"only-on-b"][:2] == (b"mine", 3)
    # into a node that has never seen them, old data still goes in
    put(a.addr, {b"k5": (b"newer on a", 9, 0)})
    c = server_factory()
    assert ctl("restore", "--from", f, "--to", c.addr)[0] == 0
    assert dump(c.addr)[b"k5"][:2] == (b"old", 1)


def test_restore_into_memcached_keeps_existing(memcached, server_factory, tmp_path):
    t = server_factory()
    put(t.addr, {b"k%d" % i: (b"backup", 1, 0) for i in range(50)})
    f = str(tmp_path / "t.tsnap")
    assert ctl("backup", "--from", t.addr, "--to", f)[0] == 0
    put(memcached, {b"k%d" % i: (b"live", 2, 0) for i in range(20)})
    rc, out, err = ctl("restore", "--from", f, "--to", memcached)
    assert rc == 0, err
    s = summary(out)
    assert s["items"] == 30 and s["kept"] == 20
    got = dump(memcached)
    assert all(got[b"k%d" % i][:2] == (b"live", 2) for i in range(20))
    assert all(got[b"k%d" % i][:2] == (b"backup", 1) for i in range(20, 50))


def _jsonl(path, items):
    """Write a JSON lines backup by hand: items are dicts of the line format."""
    head = {"format": "tandem-jsonl", "format_version": 1, "node": 0, "created_ms": 0,
            "history": 0, "log_pos": 0}
    lines = [head] + items + [{"end": True, "records": len(items)}]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(path)


@pytest.mark.parametrize("target", ["tandemd", "memcached"])
def test_expired_items_are_skipped(server_factory, tmp_path, request, target):
    addr = (request.getfixturevalue("memcached") if target == "memcached"
            else server_factory().addr)
    now = int(time.time())
    v = frames.version()
    f = _jsonl(tmp_path / "e.jsonl", [
        {"key": "gone", "value": "x", "flags": 0, "exptime": now - 10, "version": v},
        {"key": "live", "value": "y", "flags": 0, "exptime": now + 500, "version": v},
        {"key": "forever", "value": "z", "flags": 0, "exptime": 0, "version": v},
    ])
    rc, out, err = ctl("restore", "--from", f, "--to", addr)
    assert rc == 0, err
    assert summary(out)["expired"] == 1 and summary(out)["items"] == 2
    got = get(addr, [b"gone", b"live", b"forever"])
    assert set(got) == {b"live", b"forever"}
    assert abs(got[b"live"][2] - 500) <= 2 and got[b"forever"][2] == -1
    if target == "tandemd":
        assert got[b"live"][3] == v


# -- damaged files -------------------------------------------------------------------------

def _header_frame(fmt):
    body = b"TANDEMSN" + struct.pack("<HHQQQ", fmt, 1, 0, 0, 0)
    return frames.frame(frames.FILE_HEADER, body)


@pytest.fixture
def backup_file(server_factory, tmp_path):
    t = server_factory()
    put(t.addr, {b"k%04d" % i: (b"v" * 100, i, 0) for i in range(200)})
    f = tmp_path / "good.tsnap"
    assert ctl("backup", "--from", t.addr, "--to", f)[0] == 0
    return f


DAMAGE = {
    # name: (how to damage the bytes, what the error says, its offset)
    "flipped_bit": (lambda d: d[:5000] + bytes([d[5000] ^ 0x04]) + d[5001:],
                    "CRC32C mismatch", None),
    "truncated": (lambda d: d[:len(d) // 2], "truncated", None),
    "wrong_magic": (lambda d: d[:6] + b"X" + d[7:], "not a Tandem snapshot (bad magic)", 0),
    "future_version": (lambda d: _header_frame(2) + d[len(_header_frame(1)):],
                       "file format 2 is newer than this build reads", 14),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_file_is_refused_and_nothing_applied(server_factory, backup_file, damage):
    how, says, offset = DAMAGE[damage]
    bad = backup_file.with_name(damage + ".tsnap")
    bad.write_bytes(how(backup_file.read_bytes()))
    target = server_factory()
    rc, out, err = ctl("restore", "--from", bad, "--to", target.addr)
    assert rc == 1 and out == ""
    m = re.search(r"tandemctl restore: %s: offset (\d+): (.*)" % re.escape(str(bad)), err)
    assert m, err
    assert says in m.group(2), err
    if offset is not None:
        assert int(m.group(1)) == offset
    assert "nothing was applied" in err
    assert curr_items(target) == 0
    rc, out, err = ctl("inspect", bad)
    assert rc == 1 and ("%s: offset " % bad) in err and says in err


def test_salvage_applies_the_valid_prefix(server_factory, backup_file):
    data = backup_file.read_bytes()
    bad = backup_file.with_name("cut.tsnap")
    bad.write_bytes(data[:len(data) * 3 // 4])
    target = server_factory()
    rc, out, err = ctl("restore", "--from", bad, "--to", target.addr)
    assert rc == 1 and curr_items(target) == 0
    n = int(re.search(r"--salvage restores the (\d+) valid records", err).group(1))
    assert 100 < n < 200
    rc, out, err = ctl("restore", "--from", bad, "--to", target.addr, "--salvage")
    assert rc == 0, err
    assert re.search(r"salvaged the %d records \(\d+ bytes\) before the damage; the rest of "
                     r"the backup is lost: %s: offset \d+: truncated" % (n, re.escape(str(bad))),
                     err), err
    assert summary(out)["items"] == n and curr_items(target) == n
    # the prefix is the first n records of the file, in order
    assert set(dump(target.addr)) == {b"k%04d" % i for i in range(n)}


def test_damaged_jsonl_is_refused(server_factory, tmp_path):
    f = tmp_path / "t.jsonl"
    _jsonl(f, [{"key": "a", "value": "1", "flags": 0, "exptime": 0, "version": 5},
               {"key": "b", "value": "2", "flags": 0, "exptime": 0, "version": 5}])
    lines = f.read_text().splitlines(True)
    target = server_factory()
    f.write_text("".join(lines[:-1]))  # no end line
    rc, out, err = ctl("restore", "--from", f, "--to", target.addr)
    assert rc == 1 and "%s: offset %d (line 4): no end line" % (f, len("".join(lines[:-1]))) in err
    f.write_text(lines[0] + lines[1] + '{"key": "b", "value": 2}\n' + lines[3])
    rc, out, err = ctl("restore", "--from", f, "--to", target.addr)
    assert rc == 1 and ("%s: offset %d (line 3): column " % (f, len(lines[0] + lines[1]))) in err
    assert "\"value\" must be a string" in err
    assert curr_items(target) == 0
    rc, out, err = ctl("restore", "--from", f, "--to", target.addr, "--salvage")
    assert rc == 0 and summary(out)["items"] == 1
    assert set(dump(target.addr)) == {b"a"}


def test_dry_run_changes_nothing(server_factory, tmp_path):
    a, b = server_factory(), server_factory()
    put(a.addr, {b"k%d" % i: (b"old", 1, 0) for i in range(40)})
    f = str(tmp_path / "a.tsnap")
    assert ctl("backup", "--from", a.addr, "--to", f)[0] == 0
    put(b.addr, {b"k%d" % i: (b"new", 2, 0) for i in range(5)})
    before = dump(b.addr)
    rc, out, err = ctl("restore", "--from", f, "--to", b.addr, "--dry-run")
    assert rc == 0, err
    assert "dry run: would restore 40 items (0.00 MB) from %s to %s; skip 0 expired" % (f, b.addr) \
        in out
    assert "dry run: 5 of those keys exist on %s, 5 at a newer or equal version" % b.addr in out
    assert "nothing was written" in out
    assert dump(b.addr) == before
    rc, out, err = ctl("restore", "--from", f, "--dry-run")  # no target: just the file
    assert rc == 0 and "would restore 40 items" in out


# -- inspect, snapshots, PostgreSQL specifics, usage -------------------------------------

def test_inspect(backup_file):
    rc, out, err = ctl("inspect", backup_file)
    assert rc == 0, err
    assert "format     Tandem snapshot, format 1\n" in out
    assert "records    200: 200 items, 0 tombstones, 0 flushes\n" in out
    assert "bytes      20000 value bytes, 1000 key bytes\n" in out
    assert re.search(r"^integrity  OK \(trailer: 200 records, digest [0-9a-f]{16}\)$", out, re.M)
    rc, out, err = ctl("inspect", backup_file, "--json", "--records")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True and doc["items"] == 200 and doc["error"] is None
    assert doc["first_ms"] <= doc["last_ms"] <= int(time.time() * 1000)
    assert doc["created_ms"] >= doc["last_ms"]
    assert len(doc["records"]) == 200
    assert doc["records"][7] == {"type": "SET", "key": "k0007", "version": doc["records"][7]
                                 ["version"], "flags": 7, "exptime": 0, "bytes": 100}
    rc, out, err = ctl("inspect", backup_file.with_name("missing.tsnap"))
    assert rc == 1 and "missing.tsnap" in err


def test_inspect_jsonl(server_factory, tmp_path):
    t = server_factory()
    put(t.addr, {b"a": (b"1", 0, 0), b"b": (b"22", 0, 0)})
    f = tmp_path / "t.jsonl"
    assert ctl("backup", "--from", t.addr, "--to", f)[0] == 0
    rc, out, err = ctl("inspect", f)
    assert rc == 0, err
    assert "format     Tandem JSON lines, format_version 1\n" in out
    assert "source     %s (tandemd)\n" % t.addr in out
    assert "records    2: 2 items, 0 tombstones, 0 flushes\n" in out
    assert "integrity  OK (end line: 2 records)\n" in out
    f.write_bytes(f.read_bytes()[:-5])
    rc, out, err = ctl("inspect", f, "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and doc["items"] == 2
    assert doc["error"].startswith("%s: offset " % f) and "truncated" in doc["error"]


def test_tandemd_snapshot_restores_elsewhere(server_factory, tmp_path):
    d = tmp_path / "snaps"
    d.mkdir()
    a = server_factory("--snapshot-dir", d)
    items = sample_items(50)
    put(a.addr, items)
    with a.conn() as c:
        reply = c.call(b"snapshot\r\n", timeout=30)
    assert reply.startswith(b"OK "), reply
    path = reply[3:-2].decode()
    rc, out, err = ctl("inspect", path)
    assert rc == 0 and "integrity  OK" in out, err
    b = server_factory()
    rc, out, err = ctl("restore", "--from", path, "--to", b.addr)
    assert rc == 0, err
    assert_same(dump(a.addr), dump(b.addr))


def test_snapshot_tombstones_delete_older_copies(server_factory, tmp_path):
    d = tmp_path / "snaps"
    d.mkdir()
    # tombstones are kept by a node that replicates (a peer may need them)
    a = server_factory("--snapshot-dir", d, "--repl-port", free_port(), "--node-id", 3)
    put(a.addr, {b"doomed": (b"old", 1, 0), b"kept": (b"k", 2, 0)})
    before = str(tmp_path / "before.tsnap")
    assert ctl("backup", "--from", a.addr, "--to", before)[0] == 0
    with a.conn() as c:
        assert c.call(b"delete doomed\r\n") == b"DELETED\r\n"
        reply = c.call(b"snapshot\r\n", timeout=30)
    assert reply.startswith(b"OK "), reply
    snap = reply[3:-2].decode()
    rc, out, err = ctl("inspect", snap)
    assert rc == 0 and "1 items, 1 tombstones" in out, out + err
    b = server_factory("--repl-port", free_port(), "--node-id", 4)
    assert ctl("restore", "--from", before, "--to", b.addr)[0] == 0
    assert set(dump(b.addr)) == {b"doomed", b"kept"}
    rc, out, err = ctl("restore", "--from", snap, "--to", b.addr)
    assert rc == 0, err
    assert "; 1 tombstones" in out
    assert set(dump(b.addr)) == {b"kept"}  # the delete is newer than the copy b held
    # and an old backup does not bring the deleted key back
    rc, out, err = ctl("restore", "--from", before, "--to", b.addr)
    assert rc == 0 and summary(out)["ignored"] == 2, out
    assert set(dump(b.addr)) == {b"kept"}


def test_postgresql_password_is_never_shown(server_factory, postgres):
    url, secret_url = postgres.url, postgres.secret_url
    t = server_factory()
    put(t.addr, {b"a": (b"1", 0, 0)})
    rc, out, err = ctl("backup", "--from", t.addr, "--to", secret_url)
    assert rc == 0, err
    assert "hunter2" not in out + err and "tandem:***@" in out
    bid = int(re.search(r"as backup_id (\d+)", out).group(1))
    rc, out, err = ctl("restore", "--from", secret_url, "--id", bid + 1000, "--to", t.addr)
    assert rc == 1 and "hunter2" not in out + err
    assert "no backup with backup_id %d" % (bid + 1000) in err
    bad = secret_url.replace("port=", "port=1")
    rc, out, err = ctl("backup", "--from", t.addr, "--to", bad)
    assert rc == 1 and "hunter2" not in err and "cannot connect to PostgreSQL" in err
    # a chosen backup by id; the newest is the default
    b = server_factory()
    rc, out, err = ctl("restore", "--from", url, "--id", bid, "--to", b.addr)
    assert rc == 0 and get(b.addr, [b"a"])[b"a"][0] == b"1", err


def test_summary_only_without_a_terminal(server_factory, tmp_path):
    t = server_factory()
    put(t.addr, {b"a": (b"1", 0, 0)})
    rc, out, err = ctl("backup", "--from", t.addr, "--to", tmp_path / "x.tsnap")
    assert rc == 0 and err == "" and "\r" not in out
    assert len(out.splitlines()) == 2


def test_progress_line_on_a_terminal(server_factory, tmp_path):
    t = server_factory()
    put(t.addr, {b"k%d" % i: (b"v" * 50, 0, 0) for i in range(1000)})
    master, slave = pty.openpty()
    p = subprocess.Popen([CTL, "backup", "--from", t.addr, "--to", str(tmp_path / "p.tsnap")],
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        out = p.communicate(timeout=60)[0].decode()
    finally:
        os.close(master)
    assert p.returncode == 0, shown
    # drawn with \r, at most 4 times a second, and erased before the summary
    assert re.search(rb"\rbackup: \d+ items, \d+ items/s", shown), shown
    assert shown.endswith(b"\r\x1b[K"), shown
    assert summary(out)["items"] == 1000


class SlowNode:
    """A memcached-speaking server for one client: `stats replication` is
    ERROR (a memcached), the metadump lists `nkeys` keys, and each pipelined
    mg batch is answered after `delay` seconds. `batches` counts the answers."""

    def __init__(self, nkeys, delay, va=b"VA 1 f0 t-1 c1 k%s\r\nx\r\n"):
        import socket
        self.nkeys, self.delay, self.batches, self.va = nkeys, delay, 0, va
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        c, _ = self.sock.accept()
        c.settimeout(30)
        buf = b""
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
                lines = buf.split(b"\r\n")
                buf = lines.pop()
                out = []
                for line in lines:
                    if line == b"stats replication":
                        out.append(b"ERROR\r\n")
                    elif line == b"lru_crawler metadump all":
                        out.extend(b"key=k%d exp=-1 la=0 cas=%d fetch=no cls=1 size=60\n"
                                   % (i, i + 1) for i in range(self.nkeys))
                        out.append(b"END\r\n")
                    elif line.startswith(b"mg "):
                        key = line.split()[1]
                        out.append(self.va % key)
                if any(x.startswith(b"VA") for x in out):
                    time.sleep(self.delay)  # the slow part: a server far away
                    self.batches += 1
                c.sendall(b"".join(out))
        except OSError:
            return

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("dest", ["x.tsnap", "x.jsonl", "postgresql"])
def test_interrupted_backup_leaves_nothing(server_factory, tmp_path, request, dest):
    pg = request.getfixturevalue("postgres") if dest == "postgresql" else None
    if pg:  # one complete backup first, so the tables exist
        assert ctl("backup", "--from", server_factory().addr, "--to", pg.url)[0] == 0
    before = pg.sql("SELECT count(*) FROM tandem_backups") if pg else None
    node = SlowNode(nkeys=128 * 100, delay=0.05)  # 100 batches: 5 s
    target = pg.url if pg else tmp_path / dest
    p = subprocess.Popen([CTL, "backup", "--from", node.addr, "--to", str(target)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: node.batches >= 2, timeout=30, what="two batches to be fetched")
        p.send_signal(2)  # SIGINT, as ^C
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        node.close()
    assert p.returncode == 1, err
    assert re.search(rb"tandemctl backup: interrupted after \d+ items", err), err
    assert b"nothing was written to %s" % str(target).encode() in err
    if pg:  # rolled back
        assert pg.sql("SELECT count(*) FROM tandem_backups") == before
        assert pg.sql("SELECT count(*) FROM tandem_backup_items WHERE backup_id NOT IN "
                      "(SELECT backup_id FROM tandem_backups)") == "0"
    else:
        assert os.listdir(tmp_path) == []  # neither the file nor its .tmp


def test_backup_refuses_a_value_no_record_can_hold(tmp_path):
    """A node that claims a 60 GB value gets a clear error, not an attempt
    to allocate it."""
    node = SlowNode(nkeys=3, delay=0, va=b"VA 60000000000 f0 t-1 c1 k%s\r\n")
    try:
        rc, out, err = ctl("backup", "--from", node.addr, "--to", tmp_path / "x.tsnap")
    finally:
        node.close()
    assert rc == 1
    assert "claims a value of 60000000000 bytes, more than the" in err, err
    assert os.listdir(tmp_path) == []


def test_postgresql_version_beyond_64_bits_is_refused(server_factory, postgres):
    t = server_factory()
    put(t.addr, {b"a": (b"1", 0, 0), b"b": (b"2", 0, 0)})
    assert ctl("backup", "--from", t.addr, "--to", postgres.url)[0] == 0
    postgres.sql("UPDATE tandem_backup_items SET version = 99999999999999999999 WHERE key = 'b'")
    target = server_factory()
    rc, out, err = ctl("restore", "--from", postgres.url, "--to", target.addr)
    assert rc == 1
    assert "flags/exptime/version out of range" in err, err


def test_inspect_quotes_control_bytes_from_the_file(tmp_path):
    f = tmp_path / "t.jsonl"
    head = {"format": "tandem-jsonl", "format_version": 1, "node": 0, "created_ms": 0,
            "history": 0, "log_pos": 0, "source": "evil\x1b[2J", "server": "x\ny"}
    f.write_text(json.dumps(head) + "\n" + json.dumps({"end": True, "records": 0}) + "\n")
    rc, out, err = ctl("inspect", f)
    assert rc == 0, err
    assert "\x1b" not in out and "x\ny" not in out
    assert "source     evil\\x1b[2J (x\\x0ay)\n" in out


@pytest.mark.parametrize("args,message", [
    (("backup", "--to", "x.tsnap"), "needs --from HOST:PORT and --to"),
    (("backup", "--from", "a:1", "--to"), "--to needs a value"),
    (("backup", "--from", "a:1", "--to", "x", "--to", "y"), "--to given twice"),
    (("backup", "--from", "a:1", "--to", "x", "extra"), "unexpected argument 'extra'"),
    (("backup", "--from", "a:1", "--to", "x", "--frobnicate"), "unknown option '--frobnicate'"),
    (("restore", "--from", "x.tsnap"), "needs --from"),
    (("restore", "--from", "x.tsnap", "--to", "a:1", "--id", "3"), "--id picks a backup in "
                                                                    "PostgreSQL"),
    (("inspect",), "takes one snapshot or backup file, got 0"),
])
def test_usage_errors(args, message):
    rc, out, err = ctl(*args)
    assert rc == 1 and out == "" and message in err, err
