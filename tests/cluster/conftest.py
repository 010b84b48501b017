"""The cluster the tests of tests/cluster run against, started once for the session.

Environment:
  KURA_BIN      the kura binary (default: build/kura of the repository)
  CLUSTER_ENV   the cluster.env of a cluster already up (tests/cluster/run.sh starts one for all
                suites): the tests use it and leave it running. Without it the session starts
                its own with scripts/cluster.sh up in a temporary directory, on a free block of
                ports, and stops it at the end.
  KURA_KEEP_CLUSTER=1   keep the temporary directory (logs, data) of a cluster the session started

The tests of test_faults.py kill nodes and stop PostgreSQL and the S3 gateway; each brings the
cluster back (every node ready, haproxy sees all UP) before it ends, failed or not.
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
sys.path.insert(0, HERE)

from cluster_helpers import CLUSTER_SH, REPO_ROOT, Cluster  # noqa: E402

KURA_BIN = os.environ.get("KURA_BIN", os.path.join(REPO_ROOT, "build", "kura"))
PORTS_USED = 53  # CLUSTER_PORT .. CLUSTER_PORT+52 (scripts/cluster.sh)
UP_TIMEOUT = 180
_timings = {}


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_block():
    """A CLUSTER_PORT whose whole block of ports is free, below the ephemeral range (32768)."""
    bases = list(range(20000, 32000 - PORTS_USED, 100))
    random.shuffle(bases)
    for base in bases:
        if all(port_free(p) for p in range(base, base + PORTS_USED)):
            return base
    pytest.fail("no free block of %d ports between 20000 and 32000" % PORTS_USED)


@pytest.fixture(scope="session")
def cluster():
    if os.environ.get("CLUSTER_ENV"):
        c = Cluster(os.environ["CLUSTER_ENV"])
        c.timings = _timings
        c.wait_all_ready()
        yield c
        return
    if not os.path.exists(KURA_BIN):
        pytest.fail("kura binary not found at %s (build it or set KURA_BIN)" % KURA_BIN)
    work = tempfile.mkdtemp(prefix="kura-cluster-", dir="/tmp")
    os.chmod(work, 0o755)  # PostgreSQL runs as the user postgres and must reach work/pg
    env = dict(os.environ, KURA_BIN=os.path.abspath(KURA_BIN), CLUSTER_PORT=str(free_port_block()))
    t0 = time.monotonic()
    r = subprocess.run([CLUSTER_SH, "up", work], env=env, capture_output=True, text=True,
                       timeout=UP_TIMEOUT)
    _timings["cluster up"] = time.monotonic() - t0
    if r.returncode != 0:
        subprocess.run([CLUSTER_SH, "down", work], capture_output=True, timeout=UP_TIMEOUT)
        pytest.fail("scripts/cluster.sh up %s failed (kept for reading):\n%s%s"
                    % (work, r.stdout, r.stderr))
    c = Cluster(os.path.join(work, "cluster.env"))
    c.up_seconds = _timings["cluster up"]
    c.timings = _timings
    try:
        yield c
    finally:
        t0 = time.monotonic()
        subprocess.run([CLUSTER_SH, "down", work], capture_output=True, timeout=UP_TIMEOUT)
        _timings["cluster down"] = time.monotonic() - t0
        if os.environ.get("KURA_KEEP_CLUSTER") == "1":
            _timings["kept"] = work
        else:
            shutil.rmtree(work, ignore_errors=True)


def pytest_report_header(config):
    where = os.environ.get("CLUSTER_ENV") or "a cluster of its own (scripts/cluster.sh up)"
    return "kura cluster tests with %s against %s" % (KURA_BIN, where)


def pytest_terminal_summary(terminalreporter):
    for name, value in _timings.items():
        if isinstance(value, float):
            terminalreporter.write_line("%s: %.1f s" % (name, value))
        else:
            terminalreporter.write_line("%s: %s" % (name, value))
