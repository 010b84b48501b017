"""Fixtures that start kura (or, for a sanity check, CNCF distribution) as a child process.

Environment:
  KURA_BIN   path of the kura binary (default: build/kura under the repository root)
  KURA_PEER  set to "distribution" to run the suite against /usr/bin/docker-registry instead;
             distribution deviates from kura in places, so that is only a sanity check.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers import READY_TIMEOUT, STOP_TIMEOUT, Registry, ServerProcess, free_port  # noqa: E402,F401
from plain_server import (KURA_BIN, PEER, PEER_BIN, REPO_ROOT, Server,  # noqa: E402,F401
                          assert_consistent, is_peer)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A plain-HTTP server shared by the tests of one module."""
    s = Server(tmp_path_factory.mktemp("kura"))
    s.start()
    yield s
    s.stop()
    assert_consistent(s.data)


@pytest.fixture(scope="module")
def reg(server):
    return server.registry


@pytest.fixture
def server_factory(tmp_path_factory):
    """Start servers of one's own (auth, TLS, restart, crash); all are stopped at the end."""
    made = []

    def make(start=True, **kw):
        s = Server(tmp_path_factory.mktemp("kura-own"), **kw)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in made:
        try:
            s.stop()
        except Exception:
            pass
    for s in made:  # crashes and restarts included: what is stored must hold together
        assert_consistent(s.data)


def pytest_report_header(config):
    if is_peer():
        return "kura http tests against PEER %s" % PEER_BIN
    return "kura http tests against %s" % KURA_BIN
