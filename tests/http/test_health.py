"""The health listener (`health: {listen: ...}`): liveness and readiness probes for load
balancers, on a listener of its own."""

import urllib.error
import urllib.request

import pytest

from helpers import free_port
from plain_server import is_peer

pytestmark = pytest.mark.skipif(is_peer(), reason="kura's own health listener")


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


@pytest.fixture
def probed(server_factory):
    port = free_port()
    s = server_factory(extra_config="health: {listen: 127.0.0.1:%d}" % port)
    return s, port


def test_a_serving_node_is_live_and_ready(probed):
    _, port = probed
    assert get(port, "/healthz")[:2] == (200, "ok\n")
    status, body, headers = get(port, "/readyz")
    assert (status, body) == (200, "ready\n")
    assert headers["Cache-Control"] == "no-store"
    status, body, headers = get(port, "/readyz", method="HEAD")
    assert status == 200 and body == ""


def test_the_health_listener_answers_nothing_else(probed):
    _, port = probed
    assert get(port, "/v2/")[0] == 404
    assert get(port, "/")[0] == 404
    status, _, headers = get(port, "/readyz", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_the_registry_listener_does_not_answer_probes(probed):
    s, _ = probed
    status, _, _ = get(s.port, "/readyz")
    assert status == 404
