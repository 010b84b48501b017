"""Defect 5: network ids were global and first-come. Account B could register the id of the
network an operator's VPC listener sits in ("vpc-a") and get its own instance, bound to that
network, served through the listener, while account A was refused its own vpc-a (409).

Now a network is (owner account, id): two accounts may each have a vpc-a; the admin API names
networks in the caller's account (another account's as ACCOUNT/ID); a VPC listener names the
owner of its network (`network_account`), and refuses to start without one; the network a PROXY
v2 TLV names is one of the listener's owner's."""

import subprocess

import pytest

from conftest import running_instances

from instances_helpers import (PROXY_SENDER, REGION_A, TOKEN_A, TOKEN_B, denied_message,
                               proxy_v2, vpc_host, vpc_tlv)
from plain_server import KURA_BIN

LISTENERS = {
    "vpc-a": dict(endpoint="vpc", network="vpc-a", network_account="A"),
    "relay": dict(endpoint="vpc", proxy=["%s/32" % PROXY_SENDER], network_account="A"),
    "relay-b": dict(endpoint="vpc", proxy=["%s/32" % PROXY_SENDER], network_account="B"),
}
USER, PASSWORD = "dev", "dev-Pass.word-123"


@pytest.fixture
def srv(tmp_path):
    with running_instances(tmp_path, LISTENERS) as s:
        yield s


def enterprise(admin, name, network):
    admin.ok("POST", "/api/v1/instances", {"name": name, "region": REGION_A,
                                           "edition": "enterprise"})
    admin.ok("POST", "/api/v1/instances/%s/vpc/bindings" % name, {"network": network})
    admin.ok("PUT", "/api/v1/instances/%s/credentials/%s" % (name, USER), {"password": PASSWORD})


def network(admin, id_, cidr, subnet, subnet_cidr, want=201):
    status, doc, raw = admin.call("POST", "/api/v1/networks",
                                  {"id": id_, "region": REGION_A, "cidrs": [cidr]})
    assert status == want, raw
    if status == 201:
        admin.ok("POST", "/api/v1/subnets", {"id": subnet, "network": id_, "cidr": subnet_cidr})
    return doc


def through_listener(srv, instance):
    return srv.client("vpc-a", vpc_host(instance), auth=(USER, PASSWORD)).get("/v2/")


def through_relay(srv, relay, instance, tlv_id):
    header = proxy_v2("192.168.0.50", tlvs=[vpc_tlv(tlv_id)])
    return srv.client(relay, vpc_host(instance), proxy=header,
                      auth=(USER, PASSWORD)).get("/v2/")


def test_another_account_cannot_take_the_network_of_a_listener(srv):
    # B registers the id A's listener names, first, and binds its own instance to it.
    doc = network(srv.admin_b, "vpc-a", "10.1.0.0/16", "vsw-b1", "10.1.0.0/24")
    assert doc["account"] == "B" and doc["id"] == "vpc-a", doc
    enterprise(srv.admin_b, "bee", "vpc-a")
    # The listener sits in A's vpc-a, which does not exist yet: nothing arrives through B's.
    assert "bee" in denied_message(through_listener(srv, "bee"))

    # A is not refused its own vpc-a, and binds it.
    doc = network(srv.admin, "vpc-a", "192.168.0.0/16", "vsw-a", "192.168.0.0/24")
    assert doc["account"] == "A", doc
    enterprise(srv.admin, "acme", "vpc-a")
    assert through_listener(srv, "acme").status == 200
    message = denied_message(through_listener(srv, "bee"))
    assert "vpc-a" in message and "bee" in message, message

    # Each account sees its own vpc-a only.
    mine = srv.admin.ok("GET", "/api/v1/networks")
    theirs = srv.admin_b.ok("GET", "/api/v1/networks")
    assert [(n["id"], n["account"], n["cidrs"]) for n in mine] == \
        [("vpc-a", "A", ["192.168.0.0/16"])]
    assert [(n["id"], n["account"], n["cidrs"]) for n in theirs] == \
        [("vpc-a", "B", ["10.1.0.0/16"])]
    assert [s["id"] for s in mine[0]["subnets"]] == ["vsw-a"]
    assert [s["id"] for s in theirs[0]["subnets"]] == ["vsw-b1"]

    # The same account creating it twice: 409, saying what clashes.
    status, doc, raw = srv.admin.call("POST", "/api/v1/networks",
                                      {"id": "vpc-a", "region": REGION_A,
                                       "cidrs": ["172.16.0.0/16"]})
    assert status == 409, raw
    assert "vpc-a" in doc["error"] and "already" in doc["error"] and "A" in doc["error"], doc

    # The vpc-a a relay's TLV names is the listener owner's: A's through A's relay, B's through
    # B's.
    assert through_relay(srv, "relay", "acme", "vpc-a").status == 200
    assert "bee" in denied_message(through_relay(srv, "relay", "bee", "vpc-a"))
    assert through_relay(srv, "relay-b", "bee", "vpc-a").status == 200
    message = denied_message(through_relay(srv, "relay-b", "acme", "vpc-a"))
    assert message == "network vpc-a of account B is not bound to instance acme", message


def test_binding_names_networks_of_the_callers_account(srv):
    network(srv.admin_b, "vpc-b", "10.2.0.0/16", "vsw-b2", "10.2.0.0/24")
    network(srv.admin, "vpc-a", "192.168.0.0/16", "vsw-a", "192.168.0.0/24")
    srv.admin.ok("POST", "/api/v1/instances", {"name": "acme", "region": REGION_A,
                                               "edition": "enterprise"})
    # A bare id is looked up in A's account only.
    status, doc, raw = srv.admin.call("POST", "/api/v1/instances/acme/vpc/bindings",
                                      {"network": "vpc-b"})
    assert status == 404, raw
    assert "vpc-b" in doc["error"] and "account A" in doc["error"], doc
    # Another account's network, named in full, is refused by the rule of EXPOSURE.md.
    status, doc, raw = srv.admin.call("POST", "/api/v1/instances/acme/vpc/bindings",
                                      {"network": "B/vpc-b"})
    assert status == 403, raw
    assert "account B" in doc["error"] and "account A" in doc["error"], doc
    # Nor may B put a subnet into A's network.
    status, doc, raw = srv.admin_b.call("POST", "/api/v1/subnets",
                                        {"id": "sneaky", "network": "A/vpc-a",
                                         "cidr": "192.168.9.0/24"})
    assert status in (400, 404), raw
    assert srv.admin.ok("GET", "/api/v1/instances/acme")["vpc"]["bindings"] == []
    srv.admin.ok("POST", "/api/v1/instances/acme/vpc/bindings", {"network": "vpc-a"})
    assert list(srv.admin.bindings("acme")) == ["vpc-a"]


def test_ids_survive_a_restart(srv):
    network(srv.admin_b, "vpc-a", "10.1.0.0/16", "vsw-b1", "10.1.0.0/24")
    network(srv.admin, "vpc-a", "192.168.0.0/16", "vsw-a", "192.168.0.0/24")
    enterprise(srv.admin, "acme", "vpc-a")
    enterprise(srv.admin_b, "bee", "vpc-a")
    srv.restart()
    assert through_listener(srv, "acme").status == 200
    assert "bee" in denied_message(through_listener(srv, "bee"))
    assert [n["account"] for n in srv.admin_b.ok("GET", "/api/v1/networks")] == ["B"]


@pytest.mark.parametrize("listener,why", [
    ("{listen: 127.0.0.1:0, endpoint: vpc, network: vpc-a}", "network_account"),
    ("{listen: 127.0.0.1:0, endpoint: vpc, proxy_protocol: [127.0.0.9/32]}", "network_account"),
    ("{listen: 127.0.0.1:0, endpoint: vpc, network: vpc-a, network_account: C}", "C"),
    ("{listen: 127.0.0.1:0, endpoint: vpc, network: A/vpc-a, network_account: A}", "vpc-a"),
])
def test_listener_without_a_network_owner_refuses_to_start(tmp_path, listener, why):
    config = tmp_path / "kura.yaml"
    config.write_text("\n".join([
        'listen: ""', "data: %s" % (tmp_path / "data"), "endpoints:", "  - " + listener,
        "admin:", "  listen: 127.0.0.1:0", "  accounts:",
        "    A: {token: %s}" % TOKEN_A, "    B: {token: %s}" % TOKEN_B]) + "\n")
    r = subprocess.run([KURA_BIN, "serve", "--config", str(config)], capture_output=True,
                       text=True, timeout=20, cwd=str(tmp_path))
    assert r.returncode != 0, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and why in lines[0], r.stderr
