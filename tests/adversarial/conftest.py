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

from plain_server import KURA_BIN, Server, assert_consistent  # noqa: E402,F401
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
    assert_consistent(s.data)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A plain registry shared by the tests of one module; checked with fsck at the end."""
    s = Server(tmp_path_factory.mktemp("kura-adv"))
    s.start()
    yield s
    s.stop()
    assert_consistent(s.data)


@pytest.fixture(scope="module")
def reg(server):
    return server.registry


@pytest.fixture
def server_factory(tmp_path_factory):
    """Servers of a test's own (a config of its own, a restart, a small disk); all stopped at the
    end."""
    made = []

    def make(start=True, **kw):
        s = Server(tmp_path_factory.mktemp("kura-adv-own"), **kw)
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
    for s in made:
        assert_consistent(s.data)
