"""libmemcached's memccapable: all 27 ASCII and all 27 binary tests pass."""
import subprocess
import sys

from harness import REPO

RUNNER = REPO / "tests" / "conformance" / "memccapable.py"


def test_memccapable_ascii_and_binary(server):
    proc = subprocess.run([sys.executable, str(RUNNER), "--port", str(server.port)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ascii: 27/27 passed" in proc.stdout
    assert "binary: 27/27 passed" in proc.stdout
