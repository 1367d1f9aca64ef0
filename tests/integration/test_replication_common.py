"""Helpers shared by the test_replication_*.py files (no tests here).

Every wait is a bounded poll (harness.wait_for); nothing sleeps blindly.
"""
import re
import threading
import time
from urllib.parse import unquote_to_bytes

from harness import free_port, stats_dict, wait_for

MG_LINE = re.compile(rb"VA (\d+)((?: \S+)*)\r\n")


def repl_stats(conn):
    return stats_dict(conn, b"replication")


def node_args(rport, peers, node_id, *extra):
    args = ["--repl-port", str(rport), "--node-id", str(node_id)]
    for p in peers:
        args += ["--peer", "127.0.0.1:%d" % p]
    return tuple(args) + tuple(extra)


class Mesh:
    """N multi-master nodes, each --peer every other one (full mesh).

    start(i, port=...) restarts node i on the same client and repl ports."""

    def __init__(self, factory, n, *extra, per_node=None):
        self.factory = factory
        self.extra = extra
        self.per_node = per_node or {}
        self.rport = [free_port() for _ in range(n)]
        self.nodes = [None] * n
        for i in range(n):
            self.start(i)

    def args(self, i):
        peers = [p for j, p in enumerate(self.rport) if j != i]
        return node_args(self.rport[i], peers, i + 1, *(self.extra + tuple(self.per_node.get(i, ()))))

    def start(self, i, port=None):
        self.nodes[i] = self.factory(*self.args(i), port=port)
        return self.nodes[i]


def item(conn, key):
    """(value, flags, cas, ttl) of a key through `mg`, or None on a miss.
    ttl is -1 for an item that never expires."""
    conn.send(b"mg %s v f c t\r\n" % key)
    head = conn.readline()
    if head == b"EN\r\n":
        return None
    m = MG_LINE.fullmatch(head)
    assert m, "unexpected mg reply %r" % head
    value = conn.recv_exact(int(m.group(1)) + 2)[:-2]
    tokens = {t[:1]: t[1:] for t in m.group(2).split()}
    return value, int(tokens[b"f"]), int(tokens[b"c"]), int(tokens[b"t"])


def ttl_near(remaining, ttl, below=2):
    """A remaining TTL read back after setting `ttl`: up to `below` seconds
    less (time passed), or one more: each process ticks its own seconds
    clock, so an expiry stamped on one node can read a second longer on
    another."""
    return ttl - below <= remaining <= ttl + 1


def same_item(a, b, ttl_slack=2):
    """Value, flags and CAS identical; remaining TTLs within ttl_slack s."""
    if a is None or b is None:
        return a is None and b is None
    if a[:3] != b[:3]:
        return False
    if (a[3] == -1) != (b[3] == -1):
        return False
    return abs(a[3] - b[3]) <= ttl_slack


ANY = object()


def wait_item_everywhere(conns, key, expect=ANY, timeout=10, ttl_slack=2):
    """Poll until every connection shows the same item for key (value,
    flags, CAS; TTLs within ttl_slack s), or the same miss. With
    expect=(value, flags) the item must also be that one; expect=None means
    the key must be gone everywhere. Returns the item the first node shows."""
    last = {}

    def check():
        items = [item(c, key) for c in conns]
        last["items"] = items
        if not all(same_item(items[0], it, ttl_slack) for it in items[1:]):
            return False
        if expect is ANY:
            return True
        if expect is None:
            return items[0] is None
        return items[0] is not None and items[0][:2] == expect

    try:
        wait_for(check, timeout=timeout, what="%r to be the same on every node" % key)
    except AssertionError as e:
        raise AssertionError("%s; last seen (value, flags, cas, ttl) per node: %r"
                             % (e, last.get("items"))) from None
    return last["items"][0]


METADUMP_LINE = re.compile(rb"key=(\S+) exp=(-1|\d+) la=\d+ cas=(\d+) ")


def metadump(conn):
    """{key: (cas, exp)} from `lru_crawler metadump all` (retried while BUSY);
    keys URL-decoded."""
    def attempt():
        reply = conn.call(b"lru_crawler metadump all\r\n", until=b"END\r\n", timeout=20)
        return None if reply.startswith(b"BUSY") else reply
    raw = wait_for(attempt, timeout=10, interval=0.05, what="the LRU crawler to be free")
    out = {}
    for line in raw.split(b"\n"):
        m = METADUMP_LINE.match(line)
        if m:
            out[unquote_to_bytes(m.group(1))] = (int(m.group(3)), int(m.group(2)))
    return out


def key_cas(dump):
    return {k: v[0] for k, v in dump.items()}


def describe_diff(dumps):
    keys = set().union(*dumps)
    diff = sorted(k for k in keys if len({d.get(k, (None,))[0] for d in dumps}) > 1)
    lines = ["%d keys differ (node sizes %s)" % (len(diff), [len(d) for d in dumps])]
    for k in diff[:10]:
        lines.append("  %r: %s" % (k, [d.get(k, (None,))[0] for d in dumps]))
    return "\n".join(lines)


def wait_converged(conns, timeout=20, min_keys=0):
    """Poll until every node's metadump has the same key -> cas map."""
    last = {}

    def check():
        dumps = [key_cas(metadump(c)) for c in conns]
        last["dumps"] = dumps
        return len(dumps[0]) >= min_keys and all(d == dumps[0] for d in dumps[1:])

    try:
        wait_for(check, timeout=timeout, interval=0.2, what="the nodes to converge")
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, describe_diff(last["dumps"]))) from None
    return last["dumps"][0]


def wait_stable(read, window=0.6, timeout=8, what="a value to stop changing"):
    """Poll read() until it returns the same value over `window` seconds."""
    state = {"v": read(), "since": time.monotonic()}

    def check():
        v = read()
        now = time.monotonic()
        if v != state["v"]:
            state["v"], state["since"] = v, now
            return False
        return now - state["since"] >= window

    try:
        wait_for(check, timeout=timeout, interval=0.1, what=what)
    except AssertionError as e:
        raise AssertionError("%s; last %r" % (e, state["v"])) from None
    return state["v"]


class Workers:
    """Threads running bounded loops; exceptions are collected and re-raised."""

    def __init__(self):
        self.threads = []
        self.errors = []
        self.stop = threading.Event()

    def spawn(self, fn, *args):
        def run():
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in join()
                self.errors.append(e)
                self.stop.set()
        t = threading.Thread(target=run, daemon=True)
        self.threads.append(t)
        t.start()

    def join(self, timeout=60):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in self.threads if t.is_alive()]
        self.stop.set()
        if self.errors:
            raise self.errors[0]
        assert not alive, "%d worker threads still running after %d s" % (len(alive), timeout)


def upstreams_synced(conn):
    st = repl_stats(conn)
    ups = [k[:-len(":synced")] for k in st if k.startswith("upstream_") and k.endswith(":synced")]
    return all(st[u + ":synced"] == "yes" and st[u + ":state"] == "streaming" for u in ups)


def wait_linked(conns, timeout=20):
    """Poll until every upstream link of every node has synced and streams,
    so a test's writes do not race the links coming up. (upstream_N:synced
    stays "yes" after a link drops, so after a partition wait for a sync
    counter to move instead.)"""
    for c in conns:
        try:
            wait_for(lambda c=c: upstreams_synced(c), timeout=timeout, interval=0.05,
                     what="every upstream link to sync")
        except AssertionError as e:
            raise AssertionError("%s: %r" % (e, repl_stats(c))) from None
