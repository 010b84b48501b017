"""The adversarial suite: kura attacked the way a hostile tenant would, over HTTP, against a running
`kura serve`. Each module takes one class of attack (tests/adversarial/README.md lists them); every
load loop is bounded in count and time, and talks to loopback only.

It reuses the black-box helpers of tests/http (clients, servers, the admin API).
"""

import contextlib
import os
import sys

import pytest

HTTP_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http")
sys.path.insert(0, HTTP_TESTS)

from plain_server import (KURA_BIN, Server, assert_consistent,  # noqa: E402,F401
                          reg, server, server_factory)
from instances_helpers import InstanceServer  # noqa: E402


@contextlib.contextmanager
def running_instances(workdir, listeners, **kw):
    """`kura serve` with endpoint listeners (instances_helpers.InstanceServer), started; stopped
    by PID at the end, and its data checked with fsck."""
    s = InstanceServer(KURA_BIN, workdir, listeners, **kw)
    s.start()
    try:
        yield s
    finally:
        s.stop()
    assert_consistent(s.data, s.config_path)


