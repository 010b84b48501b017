"""Defect 6: the login throttle was easy to bypass and wrong passwords slowed every tenant.

It counted failures per source address only, and one good login anywhere (on the attacker's own
instance) cleared it: one source made 90 guesses in 5 s. Wrong passwords were checked with bcrypt
on the I/O threads, so a flood of them raised a bystander tenant's pull latency from 0.5 ms to
42 ms median.

Now failures are counted per source and per (instance, user); a good login clears only its own
(instance, user) counter, never the source's. Passwords are checked by a small pool of threads of
their own behind a bounded queue (429 TOOMANYREQUESTS with Retry-After when it is full). The
latency a flood costs a bystander is measured in bench/ (bench/login_flood.sh); here only what
does not depend on the machine's speed is asserted.

Sources are loopback addresses (127.0.0.0/8); every loop is bounded in count and in time.
"""

import base64
import threading
import time

import pytest

from conftest import running_instances

from helpers import make_image
from instances_helpers import error_message, internet_host
from plain_server import is_peer

pytestmark = pytest.mark.skipif(is_peer(), reason="instances are a kura feature")

REGION = "ap-northeast-1"
LIMIT = 10  # failed logins per source, and per (instance, user), in a minute
PASSWORD = "the-Right-password-1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_instances(tmp_path_factory.mktemp("login-flood"),
                           {"inet": dict(endpoint="internet")}) as s:
        yield s


def make_instance(srv, name, users=(), password=PASSWORD):
    """A personal instance (its Internet endpoint is open to all) with these users."""
    srv.admin.ok("POST", "/api/v1/instances", {"name": name, "region": REGION,
                                               "edition": "personal"})
    for user in users:
        srv.admin.ok("PUT", "/api/v1/instances/%s/credentials/%s" % (name, user),
                     {"password": password})


def client(srv, instance, source, auth=None):
    return srv.client("inet", internet_host(instance), source=source, auth=auth)


def assert_throttled(r):
    assert r.status == 429, r
    assert [e["code"] for e in r.json()["errors"]] == ["TOOMANYREQUESTS"], r
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit() and int(retry) >= 1, r


def test_good_logins_elsewhere_do_not_reset_the_source_limit(srv):
    """One source alternates wrong guesses at instance `victim` with good logins at an instance of
    its own: at most LIMIT guesses are checked (401) before it is refused (429)."""
    make_instance(srv, "victim", ["alice"])
    make_instance(srv, "mine", ["mallory"])
    source = "127.0.3.1"
    mine = client(srv, "mine", source, auth=("mallory", PASSWORD))
    assert mine.get("/v2/").status == 200
    checked, refused = 0, None
    for i in range(4 * LIMIT):
        r = client(srv, "victim", source, auth=("alice", "guess-%d" % i)).get("/v2/")
        if r.status == 429:
            refused = r
            break
        assert r.status == 401, r
        checked += 1
        mine.get("/v2/")  # today a success here cleared the source's failures
    assert refused is not None, "%d guesses from one source, none refused" % checked
    assert checked <= LIMIT, "%d guesses checked before the first 429" % checked
    assert_throttled(refused)
    assert source in error_message(refused, "TOOMANYREQUESTS"), refused
    # The source stays refused, whichever instance it logs in to: its own success clears nothing.
    assert_throttled(mine.get("/v2/"))
    # Another source still logs in to the attacker's instance; alice's own count reached the limit
    # too, so she is refused from every source until the window ends (her tokens still work).
    assert client(srv, "mine", "127.0.3.2", auth=("mallory", PASSWORD)).get("/v2/").status == 200
    r = client(srv, "victim", "127.0.3.2", auth=("alice", PASSWORD)).get("/v2/")
    assert_throttled(r)
    assert "user alice of instance victim" in error_message(r, "TOOMANYREQUESTS"), r


def test_guesses_spread_over_sources_are_limited_per_user(srv):
    """Many sources, each well under its own limit, guess the passwords of three users of one
    instance: each user's password is checked at most LIMIT times; then that user is refused
    (even with the right password) while the same name at another instance is not."""
    users = ["ann", "bob", "cid"]
    make_instance(srv, "target", users)
    make_instance(srv, "elsewhere", ["ann"])
    checked = {u: 0 for u in users}
    refused = {}
    for round_ in range(3 * LIMIT):
        source = "127.0.4.%d" % (round_ + 1)  # 3 guesses per source: under its limit
        for user in users:
            r = client(srv, "target", source, auth=(user, "guess-%d" % round_)).get("/v2/")
            if r.status == 429:
                refused.setdefault(user, r)
                continue
            assert r.status == 401, r
            checked[user] += 1
    for user in users:
        assert checked[user] <= LIMIT, "user %s: %d guesses checked" % (user, checked[user])
        assert user in refused, "user %s never refused after %d guesses" % (user, checked[user])
        assert_throttled(refused[user])
        message = error_message(refused[user], "TOOMANYREQUESTS")
        assert user in message and "target" in message, refused[user]
    # A user name that is not UTF-8 is refused in a valid JSON body like any other.
    for i in range(LIMIT + 1):
        r = client(srv, "target", "127.0.4.%d" % (100 + i)).get("/v2/", headers={
            "Authorization": "Basic " + base64.b64encode(b"\xff\xfe\xc3:guess").decode()})
    assert_throttled(r)
    assert "user ??? of instance target" in error_message(r, "TOOMANYREQUESTS"), r
    fresh = "127.0.4.200"
    assert_throttled(client(srv, "target", fresh, auth=("ann", PASSWORD)).get("/v2/"))
    assert client(srv, "elsewhere", fresh, auth=("ann", PASSWORD)).get("/v2/").status == 200


FLOOD_REQUESTS = 2000
FLOOD_SECONDS = 10.0
FLOOD_THREADS = 48  # more guesses at once than the password checks' queue holds
FLOOD_USERS = 5


def test_bystander_pulls_succeed_during_a_wrong_password_flood(srv):
    """A flood of wrong passwords (FLOOD_REQUESTS or FLOOD_SECONDS, whichever comes first) from
    ever new sources, spread over the users of the attacker's own instance, while a bystander pulls
    a public image of another instance: every pull succeeds, the flood gets 401 for at most LIMIT
    guesses per user and 429 for the rest, and the server lives on."""
    make_instance(srv, "shop", ["owner"])
    owner = client(srv, "shop", "127.0.0.1", auth=("owner", PASSWORD))
    srv.admin.ok("POST", "/api/v1/instances/shop/namespaces",
                 {"name": "pub", "visibility": "public"})
    body, mt, digest, blobs = make_image(owner, "pub/app", tag="1")
    layer = next(iter(blobs))
    flood_users = ["u%02d" % i for i in range(FLOOD_USERS)]
    make_instance(srv, "flood", flood_users)

    lock = threading.Lock()
    sent = [0]
    flood_status = {}
    stop = threading.Event()
    deadline = time.monotonic() + FLOOD_SECONDS

    def flood():
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                k = sent[0]
                if k >= FLOOD_REQUESTS:
                    return
                sent[0] += 1
            source = "127.1.%d.%d" % (k // 200, k % 200 + 1)
            auth = (flood_users[k % FLOOD_USERS], "wrong-%d" % k)
            try:
                r = client(srv, "flood", source, auth=auth).get("/v2/", timeout=30)
                key = r.status
                if r.status == 429 and r.header("Retry-After") is None:
                    key = "429 without Retry-After"
            except OSError as e:
                key = type(e).__name__
            with lock:
                flood_status[key] = flood_status.get(key, 0) + 1

    pulls = {}
    anon = client(srv, "shop", "127.0.5.1")

    def bystander():
        for _ in range(5000):
            if stop.is_set() or time.monotonic() > deadline + 30:
                return
            for path, headers in (("/v2/pub/app/manifests/1", {"Accept": mt}),
                                  ("/v2/pub/app/blobs/" + layer, {})):
                try:
                    r = anon.get(path, headers=headers, timeout=30)
                    key = r.status
                except OSError as e:
                    key = type(e).__name__
                pulls[key] = pulls.get(key, 0) + 1

    threads = [threading.Thread(target=flood) for _ in range(FLOOD_THREADS)]
    pull_thread = threading.Thread(target=bystander)
    pull_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(FLOOD_SECONDS + 60)
    stop.set()
    pull_thread.join(60)
    assert not any(t.is_alive() for t in threads + [pull_thread]), "a client thread hung"

    assert set(pulls) == {200} and pulls[200] > 0, "bystander pulls: %r" % pulls
    assert set(flood_status) <= {401, 429}, "flood answers: %r" % flood_status
    assert flood_status.get(401, 0) <= FLOOD_USERS * LIMIT, \
        "more wrong passwords checked than the limit allows: %r" % flood_status
    assert flood_status.get(429, 0) > 0, "the flood was never refused: %r" % flood_status
    assert anon.get("/v2/pub/app/manifests/1", headers={"Accept": mt}).body == body
