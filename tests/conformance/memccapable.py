#!/usr/bin/env python3
"""
memccapable conformance runner.

libmemcached's `memccapable` is a free conformance suite: Debian's memcached
1.6.18 passes all 27 ASCII and all 27 binary tests. This runner requires the
same of the server under test.

  memccapable.py /path/to/server          start it on a free port, test, stop it
  memccapable.py --target memcached       the same with /usr/bin/memcached
  memccapable.py --port 11211 [--host H]  test a server that is already running

The server gets memcached's flags (-l 127.0.0.1 -p PORT, plus -u root when run
as root). memccapable FLUSHES the server it tests.

Exit status 0 when both protocols pass every test; otherwise 1, with each
non-passing test and memccapable's output printed.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

EXPECTED = {"ascii": 27, "binary": 27}
RESULT_LINE = re.compile(r"^(ascii|binary) (\S.*?)\s+\[(\w+)\]\s*$")
READY_TIMEOUT = 15.0
RUN_TIMEOUT = 120


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(proc, port, timeout=READY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %d before it was ready" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"version\r\n")
                if s.recv(64):
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("server not ready after %.0f s" % timeout)


def start_server(binary, extra=()):
    port = free_port()
    argv = [binary] + (["-u", "root"] if os.geteuid() == 0 else []) + \
        ["-l", "127.0.0.1", "-p", str(port)] + list(extra)
    # stderr goes to a file: a pipe nobody reads could fill and stall the server.
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    proc.errfile = err
    try:
        wait_ready(proc, port)
    except RuntimeError:
        stop_server(proc, port)
        raise
    return proc, port


def stop_server(proc, port):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:   # wake the event loop so the signal is acted on now
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    proc.errfile.seek(0)
    err = proc.errfile.read().decode("utf-8", "replace")
    proc.errfile.close()
    return err


def run_protocol(host, port, protocol):
    """Run memccapable for one protocol; return (results dict, raw output)."""
    switch = {"ascii": "-a", "binary": "-b"}[protocol]
    proc = subprocess.run(["memccapable", "-h", host, "-p", str(port), switch, "-t", "10"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    output = proc.stdout + proc.stderr
    results = {}
    for line in output.splitlines():
        m = RESULT_LINE.match(line)
        if m and m.group(1) == protocol:
            results[m.group(2)] = m.group(3)
    return results, output, proc.returncode


def check(host, port, out=sys.stdout):
    """True when every ASCII and binary test passes."""
    ok = True
    for protocol, want in EXPECTED.items():
        results, output, rc = run_protocol(host, port, protocol)
        passed = [n for n, r in results.items() if r == "pass"]
        bad = {n: r for n, r in results.items() if r != "pass"}
        print("%s: %d/%d passed (memccapable exit %d)" % (protocol, len(passed), want, rc),
              file=out)
        if len(passed) != want or bad or rc != 0:
            ok = False
            for name, result in sorted(bad.items()):
                print("  %s %s: %s" % (protocol, name, result), file=out)
            print(output, file=out)
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip())
    ap.add_argument("binary", nargs="?", help="server binary to start and test")
    ap.add_argument("--target", choices=["memcached"], help="test /usr/bin/memcached")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="test an already running server")
    args = ap.parse_args(argv)

    if args.port:
        return 0 if check(args.host, args.port) else 1
    binary = "/usr/bin/memcached" if args.target == "memcached" else args.binary
    if not binary:
        ap.error("give a server binary, --target memcached, or --port")
    proc, port = start_server(binary)
    try:
        ok = check("127.0.0.1", port)
    finally:
        err = stop_server(proc, port)
    if err.strip() and not ok:
        print("server stderr:\n" + err)
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        if marker in err:
            print("sanitizer report in server stderr:\n" + err)
            ok = False
            break
    print("memccapable: %s" % ("all tests passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
