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
                          assert_consistent, is_peer, reg, server, server_factory)


def pytest_report_header(config):
    if is_peer():
        return "kura http tests against PEER %s" % PEER_BIN
    return "kura http tests against %s" % KURA_BIN
