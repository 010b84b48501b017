"""Defect 10 (admin part): a user name with invalid UTF-8 (PUT .../credentials/%ff) was stored,
and from then on the credential list never answered (the JSON writer threw on it). Every string
of a path or a body that the admin API stores or echoes is now checked: invalid input is a 400
with a clear message and is never stored, and every answer is valid JSON."""

import pytest

from conftest import running_instances

from instances_helpers import REGION_A

PASSWORD = "a-long-password"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_instances(tmp_path_factory.mktemp("admin-input"),
                           {"inet": dict(endpoint="internet")}) as s:
        s.admin.ok("POST", "/api/v1/instances", {"name": "acme", "region": REGION_A,
                                                 "edition": "enterprise"})
        s.admin.ok("POST", "/api/v1/networks", {"id": "vpc-a", "region": REGION_A,
                                                "cidrs": ["192.168.0.0/16"]})
        yield s


def call(srv, method, path, body=None, raw=None):
    """The answer, which must be JSON whatever the input."""
    status, doc, out = srv.admin.call(method, path, body=body, raw=raw)
    assert doc is not None, "not a JSON answer: %d %r" % (status, out)
    out.decode("utf-8")  # valid UTF-8, always
    return status, doc


def assert_bad(srv, method, path, body=None, raw=None, words=()):
    status, doc = call(srv, method, path, body, raw)
    assert status == 400, (status, doc)
    for w in words:
        assert w in doc["error"], doc
    return doc["error"]


def users(srv):
    status, doc = call(srv, "GET", "/api/v1/instances/acme/credentials")
    assert status == 200, doc
    return doc["users"]


BAD_USERS = {
    "invalid-utf8": "%ff",
    "truncated-utf8": "ab%c3",
    "overlong-utf8": "%c0%af",
    "surrogate": "%ed%a0%80",
    "colon": "a%3ab",
    "newline": "bad%0aname",
    "nul": "a%00b",
    "escape": "%1b%5b31m",
    "delete": "x%7f",
    "c1-control": "x%c2%85",
    "too-long": "u" * 65,
}


@pytest.mark.parametrize("user", list(BAD_USERS.values()), ids=list(BAD_USERS))
def test_bad_user_name_is_refused_and_not_stored(srv, user):
    before = users(srv)
    assert_bad(srv, "PUT", "/api/v1/instances/acme/credentials/" + user,
               {"password": PASSWORD}, words=["user name"])
    assert users(srv) == before


@pytest.mark.parametrize("user", ["x\u0001", "a:b", "", "u" * 65, "x\u009b"])
def test_bad_user_name_of_a_temporary_password_is_refused(srv, user):
    assert_bad(srv, "POST", "/api/v1/instances/acme/tokens", {"user": user, "ttl_seconds": 600},
               words=["user name"])


def test_good_user_names_are_stored_and_listed(srv):
    for path, name in (("alice", "alice"), ("jos%c3%a9", "jos\u00e9"),
                       ("%e7%94%b0%e4%b8%ad", "\u7530\u4e2d"), ("u" * 64, "u" * 64)):
        status, doc = call(srv, "PUT", "/api/v1/instances/acme/credentials/" + path,
                           {"password": PASSWORD})
        assert status == 200 and doc["user"] == name, doc
        assert name in users(srv)
    status, doc = call(srv, "POST", "/api/v1/instances/acme/tokens",
                       {"user": "jos\u00e9", "ttl_seconds": 600})
    assert status == 201 and doc["user"] == "jos\u00e9", doc


def test_invalid_utf8_in_a_body_is_refused(srv):
    before = users(srv)
    assert_bad(srv, "PUT", "/api/v1/instances/acme/credentials/carol",
               raw=b'{"password": "\xff\xfe-long-password"}')
    assert_bad(srv, "POST", "/api/v1/instances/acme/internet/allowlist",
               raw=b'{"cidr": "10.0.0.0/8", "description": "caf\xe9"}')
    assert users(srv) == before


@pytest.mark.parametrize("network_id", ["a/b", "", "n" * 65, "vpc\u0000a", "vpc a",
                                        "vpc\u00e9", "..", "-x"])
def test_bad_network_id_is_refused(srv, network_id):
    assert_bad(srv, "POST", "/api/v1/networks",
               {"id": network_id, "region": REGION_A, "cidrs": ["10.9.0.0/16"]},
               words=["network"])
    status, doc = call(srv, "GET", "/api/v1/networks")
    assert status == 200 and [n["id"] for n in doc] == ["vpc-a"], doc


@pytest.mark.parametrize("subnet_id", ["a/b", "", "s" * 65, "vsw\u0007"])
def test_bad_subnet_id_is_refused(srv, subnet_id):
    assert_bad(srv, "POST", "/api/v1/subnets",
               {"id": subnet_id, "network": "vpc-a", "cidr": "192.168.7.0/24"}, words=["subnet"])
    status, doc = call(srv, "GET", "/api/v1/networks")
    assert status == 200 and doc[0]["subnets"] == [], doc


@pytest.mark.parametrize("description", ["line\nbreak", "nul\u0000", "bell\u0007",
                                         "csi\u009b", "d" * 257])
def test_bad_allowlist_description_is_refused(srv, description):
    assert_bad(srv, "POST", "/api/v1/instances/acme/internet/allowlist",
               {"cidr": "10.1.0.0/16", "description": description}, words=["description"])
    assert_bad(srv, "PUT", "/api/v1/instances/acme/internet/allowlist",
               {"entries": [{"cidr": "10.1.0.0/16", "description": description}]},
               words=["description"])
    status, doc = call(srv, "GET", "/api/v1/instances/acme")
    assert status == 200 and doc["internet"]["allowlist"] == [], doc


def test_good_description_is_kept_as_given(srv):
    status, doc = call(srv, "POST", "/api/v1/instances/acme/internet/allowlist",
                       {"cidr": "10.2.0.0/16", "description": "\u6771\u4eac office \u2014 d"})
    assert status == 200, doc
    entries = doc["internet"]["allowlist"]
    assert entries == [{"cidr": "10.2.0.0/16", "description": "\u6771\u4eac office \u2014 d"}]
    call(srv, "DELETE", "/api/v1/instances/acme/internet/allowlist?cidr=10.2.0.0/16")


@pytest.mark.parametrize("name", ["Pub", "a\u0007", "pub/x", "", "n" * 300])
def test_bad_namespace_name_is_refused(srv, name):
    assert_bad(srv, "POST", "/api/v1/instances/acme/namespaces", {"name": name},
               words=["namespace"])
    status, doc = call(srv, "GET", "/api/v1/instances/acme/namespaces")
    assert status == 200 and doc == [], doc


@pytest.mark.parametrize("path", [
    "/api/v1/instances/%ff",
    "/api/v1/instances/%ff/credentials",
    "/api/v1/instances/acme/vpc/bindings/%ff",
    "/api/v1/%ff%fe",
    "/api/v1/instances/acme/%c3",
    "/api/v1/instances/bad%0aname",
])
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_echoed_path_always_answers_json(srv, path, method):
    status, doc = call(srv, method, path, {"password": PASSWORD} if method == "PUT" else None)
    assert 400 <= status < 500, (status, doc)
    assert users(srv) is not None


def test_bind_with_bad_network_name_answers(srv):
    status, doc = call(srv, "POST", "/api/v1/instances/acme/vpc/bindings",
                       {"network": "vpc\u0001\u009b"})
    assert status in (400, 404), doc
    status, doc = call(srv, "GET", "/api/v1/instances/acme")
    assert status == 200 and doc["vpc"]["bindings"] == [], doc
