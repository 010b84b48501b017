"""Defect 9: the verified-token cache had an entry cap but no byte cap, and kept whole tokens as
its keys: 9,000 distinct 53 KB tokens grew the server's memory by 1.4 GiB.

Now a token over 8 KiB is refused with a clear 401 before any HMAC or JSON work, the token
endpoint never issues one, and the cache is keyed by a SHA-256 of (incarnation, service, token)
and bounded in bytes.

The tokens here are well formed and signed with the instance's real key (read from the data
directory, as tests/http does): before the fix the server accepted and remembered every one.
Memory is the server's VmRSS; every loop is bounded in count and in time.
"""

import hashlib
import hmac
import http.client
import json
import os
import time

import pytest

from conftest import running_instances

from helpers import assert_error
from instances_helpers import b64url, error_message, forge_jwt, internet_host
from plain_server import is_peer

pytestmark = pytest.mark.skipif(is_peer(), reason="instances are a kura feature")

REGION = "ap-northeast-1"
HOST = internet_host("big")
MAX_TOKEN = 8 * 1024
TOKENS = 9000
SECONDS = 120.0
GROWTH_BOUND_MIB = 64
PASSWORD = "the-Right-password-1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_instances(tmp_path_factory.mktemp("token-cache"),
                           {"inet": dict(endpoint="internet")}) as s:
        s.admin.ok("POST", "/api/v1/instances", {"name": "big", "region": REGION,
                                                 "edition": "personal"})
        s.admin.ok("PUT", "/api/v1/instances/big/credentials/owner", {"password": PASSWORD})
        yield s


def rss_kib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % srv.proc.pid)


class TokenMaker:
    """Distinct tokens of about `size` bytes, signed with the instance's key: the access claim is
    made once, only the jti changes."""

    def __init__(self, key, size):
        self.key = key
        self.header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        entry = '{"type":"repository","name":"team/repository-%05d","actions":["pull","push"]}'
        now = int(time.time())
        self.head = ('{"iss":"kura","sub":"owner","aud":"%s","iat":%d,"nbf":%d,"exp":%d,"jti":"'
                     % (HOST, now, now, now + 3600))
        entries, length = [], len(self.head) + 40
        while (length + len(entry)) * 4 // 3 + len(self.header) + 45 < size:
            entries.append(entry % len(entries))
            length += len(entries[-1]) + 1
        self.tail = '","access":[' + ",".join(entries) + "]}"

    def make(self, n):
        payload = b64url((self.head + "%s-%08d" % (os.urandom(4).hex(), n) + self.tail).encode())
        signing_input = self.header + "." + payload
        sig = hmac.new(self.key, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(sig)


def send_tokens(srv, maker, want_status, check_message=None):
    """Sends TOKENS distinct tokens (or for SECONDS) on GET /v2/ over one keep-alive connection;
    fails as soon as the server's RSS grew by more than GROWTH_BOUND_MIB. Returns the number sent."""
    conn = None
    deadline = time.monotonic() + SECONDS
    base = None
    sent = 0
    wrong = []
    for n in range(TOKENS):
        if time.monotonic() > deadline:
            break
        token = maker.make(n)
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", srv.port("inet"), timeout=30)
            try:
                conn.request("GET", "/v2/", headers={"Host": "%s:%d" % (HOST, srv.port("inet")),
                                                     "Authorization": "Bearer " + token})
                r = conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
                if attempt:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        sent += 1
        if r.status != want_status or (check_message and check_message not in body.decode()):
            wrong.append((r.status, body[:200]))
        if n == 50:
            base = rss_kib(srv)  # after the buffers of the first requests
        if base is not None and n % 250 == 0:
            grown = (rss_kib(srv) - base) / 1024
            assert grown < GROWTH_BOUND_MIB, \
                "RSS grew by %.0f MiB after %d tokens of %d bytes" % (grown, n, len(token))
    if conn is not None:
        conn.close()
    assert not wrong, "%d of %d answers unexpected, first: %r" % (len(wrong), sent, wrong[0])
    grown = (rss_kib(srv) - base) / 1024
    assert grown < GROWTH_BOUND_MIB, "RSS grew by %.0f MiB over %d tokens" % (grown, sent)
    return sent


def test_large_tokens_are_refused_and_take_no_memory(srv):
    """9,000 distinct well-formed 53 KB tokens signed with the instance's key: each is a 401
    "token larger than 8 KiB", and the server's RSS stays within GROWTH_BOUND_MIB."""
    maker = TokenMaker(srv.token_secret("big"), 53 * 1024)
    assert len(maker.make(0)) > 50 * 1024
    client = srv.client("inet", HOST)
    # control: the same key signs a small token that is accepted
    small = forge_jwt({"iss": "kura", "sub": "owner", "aud": HOST, "exp": int(time.time()) + 300,
                       "access": []}, srv.token_secret("big"))
    assert client.but(bearer=small).get("/v2/").status == 200
    sent = send_tokens(srv, maker, 401, "token larger than 8 KiB")
    assert sent == TOKENS
    r = client.but(bearer=maker.make(-1)).get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    assert error_message(r, "UNAUTHORIZED") == "invalid token: token larger than 8 KiB", r
    assert 'error="invalid_token"' in r.header("WWW-Authenticate", ""), r
    assert client.but(bearer=small).get("/v2/").status == 200


def test_tokens_under_the_limit_are_remembered_within_a_byte_bound(srv):
    """9,000 distinct valid tokens just under 8 KiB: each is accepted, and the cache of verified
    tokens keeps the server's RSS within GROWTH_BOUND_MIB."""
    maker = TokenMaker(srv.token_secret("big"), MAX_TOKEN - 600)
    assert MAX_TOKEN - 1200 < len(maker.make(0)) <= MAX_TOKEN
    sent = send_tokens(srv, maker, 200)
    assert sent == TOKENS


def test_token_endpoint_never_issues_a_token_over_the_limit(srv):
    """Asking for hundreds of repositories at once is refused (400 DENIED) rather than answered
    with a token that would then be refused; a usual request still gets its token."""
    client = srv.client("inet", HOST, auth=("owner", PASSWORD))
    scopes = ["repository:team/repository-%05d:pull,push" % i for i in range(300)]
    r = client.token(*scopes)
    assert_error(r, 400, "DENIED")
    assert "8 KiB" in error_message(r, "DENIED"), r
    r = client.token(*scopes[:3])
    assert r.status == 200, r
    assert len(r.json()["token"]) <= MAX_TOKEN
