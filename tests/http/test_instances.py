"""Instances and their endpoints, live: the tables of /work/shared/EXPOSURE.md reproduced against
a running `kura serve`, plus the token flow, namespaces, persistence and bad input.

The world of the report is built through the admin API and the `kura` CLI: account A (Tokyo,
ap-northeast-1) with VPC-A 192.168.0.0/16 and vSwitch-A 192.168.0.0/24, owning the enterprise
instance `acme`, the personal instance `solo` and a second enterprise instance `beta`; account B
(Singapore, ap-southeast-1) with VPC-B 10.0.0.0/8 and vSwitch-B 10.0.0.0/24.

Hosts: on loopback, ECS-A and ECS-B are the source addresses 127.0.0.11 and 127.0.0.12; through
a trusted PROXY sender (127.0.0.9) they are their public IPs 198.51.100.10 and 203.0.113.20, or
arrive with a PROXY v2 TLV naming their VPC.

KURA_SLOW_TESTS=1 also runs the check that a temporary password stops working once it expires
(the shortest lifetime the API grants is 60 s).
"""

import calendar
import ipaddress
import os
import socket
import subprocess
import time

import pytest

from conftest import KURA_BIN, is_peer
from helpers import OCI_MANIFEST, assert_error, make_image, push_blob, unique
from instances_helpers import (
    ECS_A_LOCAL, ECS_A_PUBLIC, ECS_B_LOCAL, ECS_B_PUBLIC, PROXY_SENDER, REGION_A, REGION_B,
    TLV_ALIBABA, TLV_AWS, TOKEN_A, TOKEN_B, InstanceServer,
    denied_message, error_message, forge_jwt, internet_host, jwt_claims, parse_challenge,
    proxy_v1, proxy_v2, raw_proxy_exchange, vpc_host, vpc_tlv)

pytestmark = pytest.mark.skipif(is_peer(), reason="instances are a kura feature")

USER, PASSWORD = "ciuser", "ci-Pass.word-1"
BETA_PASSWORD = "beta-Pass.word-2"
SLOW = os.environ.get("KURA_SLOW_TESTS") == "1"

LISTENERS = {
    # Internet endpoints; 127.0.0.9 is a trusted PROXY sender (and then must send a header).
    "inet": dict(endpoint="internet", proxy=["%s/32" % PROXY_SENDER]),
    # VPC endpoints: one listener sitting in each VPC (naming the VPC's owner), and behind a PROXY
    # relay whose v2 TLV names the arrival VPC, one listener per account whose VPCs it carries.
    "vpc-a": dict(endpoint="vpc", network="vpc-a", network_account="A"),
    "vpc-b": dict(endpoint="vpc", network="vpc-b", network_account="B"),
    "vpc-relay": dict(endpoint="vpc", proxy=["%s/32" % PROXY_SENDER], network_account="A"),
    "vpc-relay-b": dict(endpoint="vpc", proxy=["%s/32" % PROXY_SENDER], network_account="B"),
}


def relay_for(network):
    """The relay listener of a network's account: B's networks are vpc-b..."""
    return "vpc-relay-b" if network.startswith("vpc-b") else "vpc-relay"

ACME_INET = internet_host("acme")
ACME_VPC = vpc_host("acme")
SOLO_INET = internet_host("solo")
SOLO_VPC = vpc_host("solo")
BETA_INET = internet_host("beta")


# ============================================================================ fixtures

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InstanceServer(KURA_BIN, tmp_path_factory.mktemp("instances"), LISTENERS)
    s.start()
    yield s
    s.stop()


def cli_ok(srv, *args, token=TOKEN_A, stdin=None):
    r = srv.cli(*args, token=token, stdin=stdin)
    assert r.returncode == 0, "kura %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                         r.stdout, r.stderr)
    return r.stdout


@pytest.fixture(scope="module")
def world(srv):
    """The report's world, built with the CLI (networks, instances, passwords) and the API."""
    cli_ok(srv, "network", "create", "vpc-a", "--region", REGION_A, "--cidr", "192.168.0.0/16")
    cli_ok(srv, "subnet", "create", "vsw-a", "--network", "vpc-a", "--cidr", "192.168.0.0/24")
    cli_ok(srv, "subnet", "create", "vsw-small", "--network", "vpc-a", "--cidr", "192.168.1.0/30")
    cli_ok(srv, "network", "create", "vpc-b", "--region", REGION_B, "--cidr", "10.0.0.0/8",
           token=TOKEN_B)
    cli_ok(srv, "subnet", "create", "vsw-b", "--network", "vpc-b", "--cidr", "10.0.0.0/24",
           token=TOKEN_B)
    cli_ok(srv, "instance", "create", "acme", "--region", REGION_A, "--edition", "enterprise")
    cli_ok(srv, "instance", "create", "solo", "--region", REGION_A, "--edition", "personal")
    cli_ok(srv, "instance", "create", "beta", "--region", REGION_A, "--edition", "enterprise")
    for inst, pw in (("acme", PASSWORD), ("solo", PASSWORD), ("beta", BETA_PASSWORD)):
        cli_ok(srv, "credential", "set", inst, "--user", USER, "--password-stdin", stdin=pw + "\n")
    cli_ok(srv, "namespace", "create", "acme", "pub", "--visibility", "public")
    cli_ok(srv, "namespace", "create", "acme", "priv", "--visibility", "private")
    # beta is open to all: its tokens are used against acme
    srv.admin.internet("beta", True, [("0.0.0.0/0", "all IPs")])
    # a temporary password, checked again at the end of the module once it has expired
    out = srv.cli_json("token", "issue", "acme", "--user", "temp-early", "--ttl", "60s")
    return {"temp_early": (out["password"], time.time() + 60)}


def acme_open(srv):
    srv.admin.internet("acme", True, [("0.0.0.0/0", "all IPs")])


@pytest.fixture
def open_acme(srv, world):
    """acme's Internet endpoint enabled for all IPs."""
    acme_open(srv)


def inet(srv, host=ACME_INET, **kw):
    """A client of the Internet listener, from 127.0.0.1 unless told, with the instance password."""
    kw.setdefault("auth", (USER, PASSWORD))
    return srv.client("inet", host, **kw)


# ============================================================================ checks

def check_admission(srv, client, allowed, rule, source, reason=None, endpoint="internet",
                    instance="acme", arrival=None):
    """One cell of a table: the request passes admission and then gets 200 from /v2/ with
    credentials (after a Bearer challenge without them), or gets 403 DENIED with `reason`
    whether or not it carries credentials. Each request writes one audit line saying so."""
    anon = client.but(auth=None, bearer=None)
    mark = srv.audit_mark()
    r1 = anon.get("/v2/")
    r2 = client.get("/v2/")
    if allowed:
        assert_error(r1, 401, "UNAUTHORIZED")
        scheme, params = parse_challenge(r1.header("WWW-Authenticate", ""))
        assert scheme == "Bearer", r1
        assert params.get("realm") == "http://%s/token" % client.host_header, r1
        assert params.get("service") == client.hostname, r1
        assert r2.status == 200, "admitted with credentials, /v2/ should be 200: %r" % r2
    else:
        assert denied_message(r1) == reason
        assert denied_message(r2) == reason
    lines = srv.audit_since(mark, expect=2)
    assert len(lines) == 2, "want one audit line per request, got %r" % lines
    for line in lines:
        want = {"rule": rule, "source": source, "allowed": allowed, "endpoint": endpoint,
                "instance": instance, "arrival_network": arrival}
        got = {k: line.get(k) for k in want}
        assert got == want, "audit line %r" % line
        if allowed:
            assert "reason" not in line, line
        else:
            assert line.get("reason") == reason, line
        assert line.get("time", "").endswith("Z"), line


def assert_cli_refused(r, *needles):
    """A CLI verb that was refused: non-zero exit, nothing on stdout, one line on stderr."""
    assert r.returncode != 0, "expected a refusal, got exit 0: %r" % r.stdout
    assert r.stdout == "", r.stdout
    lines = r.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("kura: "), "want one error line: %r" % r.stderr
    for n in needles:
        assert n in lines[0], "%r not in %r" % (n, lines[0])
    return lines[0]


# ============================================================================ Enterprise Internet

# EXPOSURE.md, "Enterprise edition: Internet endpoint".
INTERNET_COLUMNS = ["disabled", "all IPs allowed", "only ECS-A's public IP",
                    "only ECS-B's public IP"]
INTERNET_TABLE = {
    "ECS-A": ["denied", "allowed", "allowed", "denied"],
    "ECS-B": ["denied", "allowed", "denied", "allowed"],
}
INTERNET_CELLS = [(host, col, INTERNET_TABLE[host][i])
                  for host in INTERNET_TABLE for i, col in enumerate(INTERNET_COLUMNS)]


def set_internet_column(srv, column, ip_a, ip_b):
    if column == "disabled":
        # the allowlist stays all-IPs: disabling alone must deny
        srv.admin.internet("acme", False, [("0.0.0.0/0", "all IPs")])
    elif column == "all IPs allowed":
        srv.admin.internet("acme", True, [("0.0.0.0/0", "all IPs")])
    elif column == "only ECS-A's public IP":
        srv.admin.internet("acme", True, [("%s/32" % ip_a, "ECS-A")])
    else:
        srv.admin.internet("acme", True, [("%s/32" % ip_b, "ECS-B")])


def expect_internet(column, host, verdict, address):
    if verdict == "allowed":
        return True, "in-allowlist", None
    if column == "disabled":
        return False, "internet-disabled", "internet endpoint of instance acme is disabled"
    return False, "not-in-allowlist", "%s is not in the allowlist of instance acme" % address


@pytest.mark.parametrize("host,column,verdict", INTERNET_CELLS)
def test_enterprise_internet_table_loopback_sources(srv, world, host, column, verdict):
    """The table with ECS-A and ECS-B as distinct loopback sources (allowlist entries: /32s)."""
    set_internet_column(srv, column, ECS_A_LOCAL, ECS_B_LOCAL)
    source = ECS_A_LOCAL if host == "ECS-A" else ECS_B_LOCAL
    allowed, rule, reason = expect_internet(column, host, verdict, source)
    check_admission(srv, inet(srv, source=source), allowed, rule, source, reason)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("host,column,verdict", INTERNET_CELLS)
def test_enterprise_internet_table_through_proxy(srv, world, host, column, verdict, version):
    """The table through a PROXY sender claiming ECS-A's or ECS-B's public IP; the sender's own
    address (127.0.0.9) is in no allowlist, so only the claimed address can decide."""
    set_internet_column(srv, column, ECS_A_PUBLIC, ECS_B_PUBLIC)
    public = ECS_A_PUBLIC if host == "ECS-A" else ECS_B_PUBLIC
    header = proxy_v1(public) if version == "v1" else proxy_v2(public)
    allowed, rule, reason = expect_internet(column, host, verdict, public)
    check_admission(srv, inet(srv, proxy=header), allowed, rule, public, reason)


def test_allowlist_cidr_and_description(srv, world):
    """An allowlist entry may be a CIDR; its description is kept; revoke removes one entry."""
    srv.admin.internet("acme", True, [("198.51.100.0/24", "office"), ("192.0.2.7/32", "")])
    doc = srv.cli_json("endpoint", "show", "acme")
    assert doc["internet"]["enabled"] is True
    assert {(e["cidr"], e["description"]) for e in doc["internet"]["allowlist"]} == \
        {("198.51.100.0/24", "office"), ("192.0.2.7/32", "")}
    check_admission(srv, inet(srv, proxy=proxy_v2("198.51.100.200")), True, "in-allowlist",
                    "198.51.100.200")
    cli_ok(srv, "endpoint", "internet", "revoke", "acme", "198.51.100.0/24")
    check_admission(srv, inet(srv, proxy=proxy_v2("198.51.100.200")), False, "not-in-allowlist",
                    "198.51.100.200",
                    "198.51.100.200 is not in the allowlist of instance acme")
    cli_ok(srv, "endpoint", "internet", "allow", "acme", "198.51.100.200",
           "--description", "ECS-X")
    entries = srv.cli_json("endpoint", "show", "acme")["internet"]["allowlist"]
    assert {"cidr": "198.51.100.200/32", "description": "ECS-X"} in entries, entries
    check_admission(srv, inet(srv, proxy=proxy_v2("198.51.100.200")), True, "in-allowlist",
                    "198.51.100.200")


def test_enterprise_instance_is_created_closed(srv, world):
    """A new enterprise instance's Internet endpoint starts disabled."""
    name = "closed" + os.urandom(3).hex()
    doc = srv.admin.ok("POST", "/api/v1/instances",
                       {"name": name, "region": REGION_A, "edition": "enterprise"})
    try:
        assert doc["internet"] == {"hostname": internet_host(name), "enabled": False,
                                   "open_to_all": False, "allowlist": []}, doc
        check_admission(srv, inet(srv, host=internet_host(name), source=ECS_A_LOCAL), False,
                        "internet-disabled", ECS_A_LOCAL,
                        "internet endpoint of instance %s is disabled" % name, instance=name)
    finally:
        srv.admin.ok("DELETE", "/api/v1/instances/" + name)


def test_ipv6_clients_and_allowlist(srv, world):
    """IPv6 clients (PROXY v2 over AF_INET6) are matched against IPv6 allowlist entries."""
    srv.admin.internet("acme", True,
                       [("2001:db8::/32", "v6 office"), ("%s/32" % ECS_A_PUBLIC, "")])
    check_admission(srv, inet(srv, proxy=proxy_v2("2001:db8::5", "2001:db8::1")), True,
                    "in-allowlist", "2001:db8::5")
    check_admission(srv, inet(srv, proxy=proxy_v1("2001:db9::5", "2001:db8::1")), False,
                    "not-in-allowlist", "2001:db9::5",
                    "2001:db9::5 is not in the allowlist of instance acme")


def test_ipv4_mapped_source_is_the_ipv4_address(srv, world):
    """policy.h: an IPv4-mapped IPv6 client address is treated as the IPv4 address: in the
    decision, in the denial message and in the audit line's source alike."""
    srv.admin.internet("acme", True, [("%s/32" % ECS_A_PUBLIC, "ECS-A")])
    check_admission(srv, inet(srv, proxy=proxy_v2("::ffff:" + ECS_A_PUBLIC, "::1")), True,
                    "in-allowlist", ECS_A_PUBLIC)
    check_admission(srv, inet(srv, proxy=proxy_v1("::ffff:" + ECS_B_PUBLIC, "::1")), False,
                    "not-in-allowlist", ECS_B_PUBLIC,
                    "%s is not in the allowlist of instance acme" % ECS_B_PUBLIC)


# ============================================================================ Personal edition

# EXPOSURE.md, "Personal edition".
@pytest.mark.parametrize("via", ["loopback", "proxy-v1", "proxy-v2"])
@pytest.mark.parametrize("host", ["ECS-A", "ECS-B"])
def test_personal_internet_open_to_all(srv, world, host, via):
    if via == "loopback":
        source = ECS_A_LOCAL if host == "ECS-A" else ECS_B_LOCAL
        client = inet(srv, host=SOLO_INET, source=source)
    else:
        source = ECS_A_PUBLIC if host == "ECS-A" else ECS_B_PUBLIC
        client = inet(srv, host=SOLO_INET,
                      proxy=proxy_v1(source) if via == "proxy-v1" else proxy_v2(source))
    check_admission(srv, client, True, "internet-open", source, instance="solo")


def test_personal_internet_cannot_be_disabled_or_restricted(srv, world):
    line = assert_cli_refused(srv.cli("endpoint", "internet", "disable", "solo"), "solo",
                              "personal")
    assert "disable" in line
    assert_cli_refused(srv.cli("endpoint", "internet", "allow", "solo", ECS_A_PUBLIC), "solo",
                       "personal")
    assert_cli_refused(srv.cli("endpoint", "internet", "revoke", "solo", ECS_A_PUBLIC), "solo")
    status, doc, raw = srv.admin.call("PUT", "/api/v1/instances/solo/internet/allowlist",
                                      {"entries": [{"cidr": "%s/32" % ECS_A_PUBLIC}]})
    assert status == 403 and "error" in doc, raw
    doc = srv.cli_json("endpoint", "show", "solo")
    assert doc["internet"]["enabled"] is True and doc["internet"]["open_to_all"] is True, doc
    assert doc["internet"]["allowlist"] == [], doc
    # and it is still open, to both hosts
    check_admission(srv, inet(srv, host=SOLO_INET, source=ECS_B_LOCAL), True, "internet-open",
                    ECS_B_LOCAL, instance="solo")


def test_personal_vpc_binding_refused(srv, world):
    assert_cli_refused(srv.cli("endpoint", "vpc", "bind", "solo", "--network", "vpc-a"),
                       "solo", "personal")


PERSONAL_VPC = [
    # host, arrival network, allowed, rule, reason
    ("ECS-A", "vpc-a", True, "same-region", None),
    ("ECS-B", "vpc-b", False, "other-region",
     "network vpc-b is in region ap-southeast-1, instance solo in ap-northeast-1"),
]


@pytest.mark.parametrize("tlv", [TLV_ALIBABA, TLV_AWS], ids=["alibaba-tlv", "aws-tlv"])
@pytest.mark.parametrize("host,network,allowed,rule,reason", PERSONAL_VPC)
def test_personal_vpc_endpoint_through_proxy_tlv(srv, world, host, network, allowed, rule,
                                                 reason, tlv):
    private = "192.168.0.10" if host == "ECS-A" else "10.0.0.10"
    header = proxy_v2(private, "192.168.0.1", tlvs=[vpc_tlv(network, tlv)])
    client = srv.client(relay_for(network), SOLO_VPC, proxy=header, auth=(USER, PASSWORD))
    check_admission(srv, client, allowed, rule, private, reason, endpoint="vpc",
                    instance="solo", arrival=network)


@pytest.mark.parametrize("host,network,allowed,rule,reason", PERSONAL_VPC)
def test_personal_vpc_endpoint_through_network_listener(srv, world, host, network, allowed,
                                                        rule, reason):
    source = ECS_A_LOCAL if host == "ECS-A" else ECS_B_LOCAL
    client = srv.client(network, SOLO_VPC, source=source, auth=(USER, PASSWORD))
    check_admission(srv, client, allowed, rule, source, reason, endpoint="vpc",
                    instance="solo", arrival=network)


def test_personal_vpc_endpoint_of_other_account_same_region(srv, world):
    """Every VPC of the region, of any account: a network of account B in Tokyo gets in."""
    status, doc, raw = srv.admin_b.call("GET", "/api/v1/networks")
    assert status == 200, raw
    if "vpc-b-tokyo" not in [n["id"] for n in doc]:
        srv.admin_b.ok("POST", "/api/v1/networks",
                       {"id": "vpc-b-tokyo", "region": REGION_A, "cidrs": ["172.16.0.0/16"]})
    header = proxy_v2("172.16.0.5", tlvs=[vpc_tlv("vpc-b-tokyo")])
    client = srv.client(relay_for("vpc-b-tokyo"), SOLO_VPC, proxy=header, auth=(USER, PASSWORD))
    check_admission(srv, client, True, "same-region", "172.16.0.5", endpoint="vpc",
                    instance="solo", arrival="vpc-b-tokyo")


# ============================================================================ Enterprise VPC

# EXPOSURE.md, "Enterprise edition: VPC endpoint". ECS-A arrives through vpc-a, ECS-B through
# vpc-b; VPC-B cannot be bound (tested below), so ECS-B is denied in both columns.
VPC_TABLE = {
    "ECS-A": {"no VPC bound": "denied", "VPC-A bound": "allowed"},
    "ECS-B": {"no VPC bound": "denied", "VPC-A bound": "denied"},
}
VPC_CELLS = [(h, c, v) for h, row in VPC_TABLE.items() for c, v in row.items()]


def set_vpc_column(srv, column):
    srv.admin.ensure_unbound("acme", "vpc-b")  # never possible, but be sure
    if column == "no VPC bound":
        srv.admin.ensure_unbound("acme", "vpc-a")
    else:
        srv.admin.ensure_bound("acme", "vpc-a", "vsw-a")
    assert set(srv.admin.bindings("acme")) == (set() if column == "no VPC bound" else {"vpc-a"})


def vpc_client(srv, host, via):
    network = "vpc-a" if host == "ECS-A" else "vpc-b"
    if via == "network-listener":
        source = ECS_A_LOCAL if host == "ECS-A" else ECS_B_LOCAL
        return srv.client(network, ACME_VPC, source=source, auth=(USER, PASSWORD)), \
            source, network
    private = "192.168.0.1" if host == "ECS-A" else "10.0.0.1"
    tlv = TLV_ALIBABA if via == "proxy-v2-alibaba" else TLV_AWS
    header = proxy_v2(private, "192.168.0.200", tlvs=[(0x04, b"noop"), vpc_tlv(network, tlv)])
    return srv.client(relay_for(network), ACME_VPC, proxy=header, auth=(USER, PASSWORD)), \
        private, network


@pytest.mark.parametrize("via", ["network-listener", "proxy-v2-alibaba", "proxy-v2-aws"])
@pytest.mark.parametrize("host,column,verdict", VPC_CELLS)
def test_enterprise_vpc_table(srv, world, host, column, verdict, via):
    set_vpc_column(srv, column)
    client, source, network = vpc_client(srv, host, via)
    if verdict == "allowed":
        check_admission(srv, client, True, "network-bound", source, endpoint="vpc",
                        arrival=network)
    else:
        owner = "" if network == "vpc-a" else " of account B"
        check_admission(srv, client, False, "network-not-bound", source,
                        "network %s%s is not bound to instance acme" % (network, owner),
                        endpoint="vpc", arrival=network)


def test_vpc_endpoint_needs_an_arrival_network(srv, world):
    """Bound or not, traffic that arrives through no network is refused by the VPC endpoint:
    the VPC hostname on the Internet listener, and a relay that names no VPC."""
    set_vpc_column(srv, "VPC-A bound")
    reason = "vpc endpoint of instance acme admits only traffic arriving through a network"
    check_admission(srv, inet(srv, host=ACME_VPC, source=ECS_A_LOCAL), False,
                    "no-arrival-network", ECS_A_LOCAL, reason, endpoint="vpc")
    client = srv.client("vpc-relay", ACME_VPC, proxy=proxy_v2("192.168.0.1"),
                        auth=(USER, PASSWORD))
    check_admission(srv, client, False, "no-arrival-network", "192.168.0.1", reason,
                    endpoint="vpc")


def test_binding_vpc_b_refused(srv, world):
    """VPC-B (account B, Singapore) cannot be bound to acme (account A, Tokyo): named as B/vpc-b
    (a bare id is one of the caller's networks), the refusal names both accounts and regions, in
    one line; nothing changes."""
    before = srv.admin.bindings("acme")
    line = assert_cli_refused(srv.cli("endpoint", "vpc", "bind", "acme", "--network", "B/vpc-b"),
                              "vpc-b", "acme")
    for word in ("account B", REGION_B, "account A", REGION_A):
        assert word in line, "%r not in %r" % (word, line)
    status, doc, raw = srv.admin.call("POST", "/api/v1/instances/acme/vpc/bindings",
                                      {"network": "B/vpc-b", "subnet": "vsw-b"})
    assert status == 403 and set(doc) == {"error"} and "account B" in doc["error"], raw
    # By its bare id, vpc-b is a network account A does not have.
    status, doc, raw = srv.admin.call("POST", "/api/v1/instances/acme/vpc/bindings",
                                      {"network": "vpc-b", "subnet": "vsw-b"})
    assert status == 404 and "account A" in doc["error"], raw
    assert srv.admin.bindings("acme") == before


def test_binding_other_region_same_account_refused(srv, world):
    """Same account but another region is refused too, naming the regions."""
    status, doc, raw = srv.admin.call("GET", "/api/v1/networks")
    if "vpc-a-sg" not in [n["id"] for n in doc]:
        cli_ok(srv, "network", "create", "vpc-a-sg", "--region", REGION_B, "--cidr",
               "172.20.0.0/16")
        cli_ok(srv, "subnet", "create", "vsw-a-sg", "--network", "vpc-a-sg", "--cidr",
               "172.20.1.0/24")
    line = assert_cli_refused(
        srv.cli("endpoint", "vpc", "bind", "acme", "--network", "vpc-a-sg"), "vpc-a-sg")
    assert REGION_B in line and REGION_A in line, line
    assert "vpc-a-sg" not in srv.admin.bindings("acme")


def test_bind_allocates_private_ip_and_unbind_removes_it(srv, world):
    srv.admin.ensure_unbound("acme", "vpc-a")
    doc = srv.cli_json("endpoint", "show", "acme")
    assert doc["vpc"]["bindings"] == [] and doc["vpc"]["hostname"] == ACME_VPC, doc
    cli_ok(srv, "endpoint", "vpc", "bind", "acme", "--network", "vpc-a", "--subnet", "vsw-a")
    doc = srv.cli_json("endpoint", "show", "acme")
    bindings = doc["vpc"]["bindings"]
    assert len(bindings) == 1, doc
    b = bindings[0]
    assert b["network"] == "vpc-a" and b["subnet"] == "vsw-a", b
    ip = ipaddress.ip_address(b["private_ip"])
    vsw = ipaddress.ip_network("192.168.0.0/24")
    assert ip in vsw and ip not in (vsw.network_address, vsw.broadcast_address), b
    # the text form names the network, the subnet and the address
    text = cli_ok(srv, "endpoint", "show", "acme")
    assert "vpc-a via vsw-a at %s" % ip in text, text
    # a second bind of the same network is refused and keeps the address
    assert_cli_refused(srv.cli("endpoint", "vpc", "bind", "acme", "--network", "vpc-a"),
                       "already bound", str(ip))
    # another instance bound to the same vSwitch gets another address
    cli_ok(srv, "endpoint", "vpc", "bind", "beta", "--network", "vpc-a")
    try:
        other = srv.admin.bindings("beta")["vpc-a"]["private_ip"]
        assert other != str(ip) and ipaddress.ip_address(other) in vsw, other
    finally:
        cli_ok(srv, "endpoint", "vpc", "unbind", "beta", "--network", "vpc-a")
    cli_ok(srv, "endpoint", "vpc", "unbind", "acme", "--network", "vpc-a")
    doc = srv.cli_json("endpoint", "show", "acme")
    assert doc["vpc"]["bindings"] == [], doc
    assert_cli_refused(srv.cli("endpoint", "vpc", "unbind", "acme", "--network", "vpc-a"),
                       "not bound")


def test_subnet_exhaustion_and_release(srv, world):
    """A /30 vSwitch holds two endpoint addresses: a third bind is refused (409), and deleting
    an instance gives its address back."""
    names = ["small" + os.urandom(3).hex() for _ in range(3)]
    for n in names:
        srv.admin.ok("POST", "/api/v1/instances",
                     {"name": n, "region": REGION_A, "edition": "enterprise"})
    try:
        got = []
        for n in names[:2]:
            doc = srv.admin.ok("POST", "/api/v1/instances/%s/vpc/bindings" % n,
                               {"network": "vpc-a", "subnet": "vsw-small"})
            got.append(doc["vpc"]["bindings"][0]["private_ip"])
        assert sorted(got) == ["192.168.1.1", "192.168.1.2"], got
        status, doc, raw = srv.admin.call("POST", "/api/v1/instances/%s/vpc/bindings" % names[2],
                                          {"network": "vpc-a", "subnet": "vsw-small"})
        assert status == 409 and "no free address" in doc["error"], raw
        srv.admin.ok("DELETE", "/api/v1/instances/" + names[0])
        doc = srv.admin.ok("POST", "/api/v1/instances/%s/vpc/bindings" % names[2],
                           {"network": "vpc-a", "subnet": "vsw-small"})
        assert doc["vpc"]["bindings"][0]["private_ip"] == got[0], doc
    finally:
        for n in names:
            srv.admin.call("DELETE", "/api/v1/instances/" + n)


def recreate_for_account_b(srv):
    """Account A creates an instance, pushes secret/app:1 and takes a token; deletes the
    instance; account B creates one of the same name (names are global). Returns
    (name, host, A's token, manifest media type)."""
    name = "gone" + os.urandom(3).hex()
    host = internet_host(name)
    srv.admin.ok("POST", "/api/v1/instances", {"name": name, "region": REGION_A,
                                               "edition": "enterprise"})
    srv.admin.internet(name, True, [("0.0.0.0/0", "all IPs")])
    srv.admin.ok("PUT", "/api/v1/instances/%s/credentials/alice" % name,
                 {"password": "alice-Pass.1"})
    a = inet(srv, host=host, auth=("alice", "alice-Pass.1"))
    _, mt, _, _ = make_image(a, "secret/app", tag="1")
    tok = get_token(a, "repository:secret/app:pull,push")
    srv.admin.ok("DELETE", "/api/v1/instances/" + name)
    srv.admin_b.ok("POST", "/api/v1/instances", {"name": name, "region": REGION_A,
                                                 "edition": "personal"})
    srv.admin_b.ok("PUT", "/api/v1/instances/%s/credentials/bob" % name,
                   {"password": "bob-Pass.word2"})
    return name, host, tok, mt


def test_deleted_instance_repositories_not_inherited(srv, world):
    """B's new instance of a deleted instance's name must not hold A's repositories."""
    name, host, _, mt = recreate_for_account_b(srv)
    try:
        b = inet(srv, host=host, auth=("bob", "bob-Pass.word2"))
        r = b.get("/v2/secret/app/manifests/1", headers={"Accept": mt})
        assert r.status == 404, "B pulls A's image from its new instance: %r" % r
        r = b.get("/v2/_catalog")
        assert r.status == 200 and r.json()["repositories"] == [], \
            "B's new instance lists A's repositories: %r" % r
        # A's password went with the old instance
        assert_error(inet(srv, host=host, auth=("alice", "alice-Pass.1")).get("/v2/"), 401,
                     "UNAUTHORIZED")
    finally:
        srv.admin_b.call("DELETE", "/api/v1/instances/" + name)


def test_deleted_instance_tokens_not_valid_for_new_owner(srv, world):
    """A token A was given for the deleted instance must not open B's instance of that name."""
    name, host, tok, mt = recreate_for_account_b(srv)
    try:
        bearer = inet(srv, host=host, auth=None, bearer=tok)
        r = bearer.get("/v2/")
        assert r.status == 401, "A's token of the deleted instance opens B's: %r" % r
        r = bearer.post("/v2/secret/app/blobs/uploads/")
        assert r.status == 401, "A's token of the deleted instance pushes into B's: %r" % r
    finally:
        srv.admin_b.call("DELETE", "/api/v1/instances/" + name)


# ============================================================================ live changes

def test_changes_take_effect_on_next_request(srv, world):
    """No restart, not even a new connection: each request on one keep-alive connection is
    admitted under the state of the moment."""
    client = inet(srv, source=ECS_A_LOCAL)
    conn = client.connection()
    try:
        srv.admin.internet("acme", True, [("%s/32" % ECS_A_LOCAL, "ECS-A")])
        assert client.get("/v2/", conn=conn).status == 200
        srv.admin.internet("acme", False)
        assert denied_message(client.get("/v2/", conn=conn)) == \
            "internet endpoint of instance acme is disabled"
        srv.admin.internet("acme", True, [("%s/32" % ECS_B_LOCAL, "ECS-B")])
        assert denied_message(client.get("/v2/", conn=conn)) == \
            "%s is not in the allowlist of instance acme" % ECS_A_LOCAL
        cli_ok(srv, "endpoint", "internet", "allow", "acme", ECS_A_LOCAL)
        assert client.get("/v2/", conn=conn).status == 200
    finally:
        conn.close()
    # the VPC endpoint likewise
    vpc = srv.client("vpc-a", ACME_VPC, source=ECS_A_LOCAL, auth=(USER, PASSWORD))
    conn = vpc.connection()
    try:
        srv.admin.ensure_unbound("acme", "vpc-a")
        assert denied_message(vpc.get("/v2/", conn=conn)) == \
            "network vpc-a is not bound to instance acme"
        cli_ok(srv, "endpoint", "vpc", "bind", "acme", "--network", "vpc-a")
        assert vpc.get("/v2/", conn=conn).status == 200
    finally:
        conn.close()


def test_state_persists_across_restart(srv, world):
    acme_open(srv)
    srv.admin.internet("acme", True, [("%s/32" % ECS_A_LOCAL, "ECS-A after restart")])
    srv.admin.ensure_bound("acme", "vpc-a", "vsw-a")
    repo = "team/" + unique("persist")
    body, _, digest, _ = make_image(inet(srv, source=ECS_A_LOCAL), repo, tag="1")
    tok = inet(srv, source=ECS_A_LOCAL).token("repository:%s:pull" % repo).json()["token"]
    before = {n: srv.admin.ok("GET", "/api/v1/instances/" + n) for n in ("acme", "solo", "beta")}
    nets_before = srv.admin.ok("GET", "/api/v1/networks")
    ns_before = srv.admin.ok("GET", "/api/v1/instances/acme/namespaces")

    srv.restart()

    for n, doc in before.items():
        assert srv.admin.ok("GET", "/api/v1/instances/" + n) == doc
    assert srv.admin.ok("GET", "/api/v1/networks") == nets_before
    assert srv.admin.ok("GET", "/api/v1/instances/acme/namespaces") == ns_before
    # admission under the saved state, with the saved password
    check_admission(srv, inet(srv, source=ECS_A_LOCAL), True, "in-allowlist", ECS_A_LOCAL)
    check_admission(srv, inet(srv, source=ECS_B_LOCAL), False, "not-in-allowlist", ECS_B_LOCAL,
                    "%s is not in the allowlist of instance acme" % ECS_B_LOCAL)
    check_admission(srv, srv.client("vpc-a", ACME_VPC, source=ECS_A_LOCAL,
                                    auth=(USER, PASSWORD)),
                    True, "network-bound", ECS_A_LOCAL, endpoint="vpc", arrival="vpc-a")
    # the image, and a token issued before the restart (the signing key is kept)
    r = inet(srv, source=ECS_A_LOCAL, auth=None, bearer=tok).get(
        "/v2/%s/manifests/1" % repo, headers={"Accept": OCI_MANIFEST})
    assert r.status == 200 and r.body == body, r
    assert r.header("Docker-Content-Digest") == digest, r


# ============================================================================ accounts

def test_account_isolation(srv, world):
    """Account B's token neither sees nor changes account A's instance, and cannot bind."""
    b = srv.admin_b
    listed = b.ok("GET", "/api/v1/instances")
    assert "acme" not in [i["name"] for i in listed], listed
    assert "vpc-a" not in [n["id"] for n in b.ok("GET", "/api/v1/networks")]
    before = srv.admin.ok("GET", "/api/v1/instances/acme")
    calls = [
        ("GET", "/api/v1/instances/acme", None),
        ("DELETE", "/api/v1/instances/acme", None),
        ("POST", "/api/v1/instances/acme/internet/enable", None),
        ("POST", "/api/v1/instances/acme/internet/disable", None),
        ("POST", "/api/v1/instances/acme/internet/allowlist", {"cidr": "0.0.0.0/0"}),
        ("PUT", "/api/v1/instances/acme/internet/allowlist", {"entries": []}),
        ("DELETE", "/api/v1/instances/acme/internet/allowlist?cidr=0.0.0.0/0", None),
        ("POST", "/api/v1/instances/acme/vpc/bindings", {"network": "vpc-b", "subnet": "vsw-b"}),
        ("DELETE", "/api/v1/instances/acme/vpc/bindings/vpc-a", None),
        ("GET", "/api/v1/instances/acme/credentials", None),
        ("PUT", "/api/v1/instances/acme/credentials/mallory", {"password": "long-enough-pw"}),
        ("POST", "/api/v1/instances/acme/tokens", {"user": USER, "ttl_seconds": 3600}),
        ("GET", "/api/v1/instances/acme/namespaces", None),
        ("POST", "/api/v1/instances/acme/namespaces", {"name": "priv", "visibility": "public"}),
    ]
    for method, path, body in calls:
        status, doc, raw = b.call(method, path, body)
        assert status == 404 and isinstance(doc, dict) and "error" in doc, \
            "%s %s as B -> %d %r" % (method, path, status, raw)
    assert srv.admin.ok("GET", "/api/v1/instances/acme") == before
    assert {"name": "priv", "visibility": "private"} in \
        srv.admin.ok("GET", "/api/v1/instances/acme/namespaces")
    # the CLI says so in one line, and B cannot bind its own VPC-B to acme
    assert_cli_refused(srv.cli("instance", "show", "acme", token=TOKEN_B), "acme")
    assert_cli_refused(srv.cli("endpoint", "vpc", "bind", "acme", "--network", "vpc-b",
                               token=TOKEN_B), "acme")
    # nor act as A by naming it
    status, doc, raw = b.call("POST", "/api/v1/instances",
                              {"name": "stolen", "account": "A", "region": REGION_A,
                               "edition": "enterprise"})
    assert status == 403 and "error" in doc, raw
    assert b.ok("GET", "/api/v1/whoami") == {"account": "B"}
    # B's own subnet cannot be used by A, and A's network is unknown to B's subnets
    status, doc, raw = b.call("POST", "/api/v1/subnets",
                              {"id": "vsw-steal", "network": "vpc-a", "cidr": "192.168.9.0/24"})
    assert status == 404 and "error" in doc, raw


def test_admin_token_required(srv, world):
    for token in ("", "not-a-token-of-anyone-at-all"):
        status, doc, raw = srv.admin.call("GET", "/api/v1/instances", token=token)
        assert status == 401 and "error" in doc, raw
    r = srv.cli("instance", "list", token="not-a-token-of-anyone-at-all")
    assert_cli_refused(r, "token")


# ============================================================================ tokens

def test_token_wrong_password_401(srv, open_acme):
    r = inet(srv, auth=(USER, "wrong-password")).token("repository:team/app:pull")
    assert_error(r, 401, "UNAUTHORIZED")
    assert "incorrect username or password" in error_message(r, "UNAUTHORIZED"), r
    assert r.header("WWW-Authenticate", "").startswith("Bearer "), r
    r = inet(srv, auth=("nobody", PASSWORD)).token("repository:team/app:pull")
    assert_error(r, 401, "UNAUTHORIZED")
    # the password of another instance does not open this one
    r = inet(srv, auth=(USER, BETA_PASSWORD)).token("repository:team/app:pull")
    assert_error(r, 401, "UNAUTHORIZED")


def get_token(client, *scopes):
    r = client.token(*scopes)
    assert r.status == 200, r
    doc = r.json()
    assert doc["token"] == doc["access_token"] and doc["expires_in"] > 0, doc
    return doc["token"]


def test_token_push_and_pull(srv, open_acme):
    repo = "team/" + unique("tok")
    tok = get_token(inet(srv), "repository:%s:pull,push" % repo)
    claims = jwt_claims(tok)
    assert claims["aud"] == ACME_INET and claims["sub"] == USER, claims
    assert {"type": "repository", "name": repo, "actions": ["pull", "push"]} in \
        [dict(a, actions=sorted(a["actions"])) for a in claims["access"]], claims
    bearer = inet(srv, auth=None, bearer=tok)
    assert bearer.get("/v2/").status == 200
    body, mt, digest, blobs = make_image(bearer, repo, tag="v1")
    r = bearer.get("/v2/%s/manifests/v1" % repo, headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r
    for d, data in blobs.items():
        r = bearer.get("/v2/%s/blobs/%s" % (repo, d))
        assert r.status == 200 and r.body == data, r
    # a pull-only token pulls but cannot push
    ro = inet(srv, auth=None, bearer=get_token(inet(srv), "repository:%s:pull" % repo))
    assert ro.get("/v2/%s/manifests/%s" % (repo, digest), headers={"Accept": mt}).status == 200
    r = ro.post("/v2/%s/blobs/uploads/" % repo)
    assert_error(r, 401, "UNAUTHORIZED")
    scheme, params = parse_challenge(r.header("WWW-Authenticate", ""))
    assert params.get("error") == "insufficient_scope", r
    assert params.get("scope") == "repository:%s:push" % repo, r
    # and a token for one repository does not open another
    r = bearer.get("/v2/team/other/manifests/v1", headers={"Accept": mt})
    assert_error(r, 401, "UNAUTHORIZED")


def test_token_for_another_instance_refused(srv, open_acme):
    """A token the beta instance issued (its service) is refused by acme."""
    tok = get_token(inet(srv, host=BETA_INET, auth=(USER, BETA_PASSWORD)),
                    "repository:team/app:pull,push")
    assert jwt_claims(tok)["aud"] == BETA_INET
    r = inet(srv, auth=None, bearer=tok).get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    # Each instance signs with its own key, so the signature fails before the audience is read.
    assert error_message(r, "UNAUTHORIZED") == "invalid token: bad signature", r
    assert 'error="invalid_token"' in r.header("WWW-Authenticate", ""), r


def base_claims(srv, repo, **over):
    now = int(time.time())
    c = {"iss": "kura", "sub": USER, "aud": ACME_INET, "iat": now, "nbf": now,
         "exp": now + 300, "jti": os.urandom(8).hex(),
         "access": [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]}
    c.update(over)
    return c


def test_forged_and_expired_tokens_refused(srv, open_acme):
    repo = "team/" + unique("forge")
    key = srv.token_secret("acme")
    client = inet(srv, auth=None)
    # control: a token signed with the server's key is accepted ...
    good = forge_jwt(base_claims(srv, repo), key)
    assert client.but(bearer=good).get("/v2/").status == 200
    cases = [
        # ... the same claims under another key, or no algorithm, are not
        (forge_jwt(base_claims(srv, repo), b"k" * 43), "invalid token: bad signature"),
        (forge_jwt(base_claims(srv, repo), key, alg="none"),
         "invalid token: unsupported algorithm"),
        # a good signature over an exp long past (beyond the 60 s leeway)
        (forge_jwt(base_claims(srv, repo, iat=int(time.time()) - 7200,
                               nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600), key),
         "invalid token: token expired"),
        # a forged future exp with a wrong signature
        (forge_jwt(base_claims(srv, repo, exp=int(time.time()) + 10 ** 6), b"x" * 43),
         "invalid token: bad signature"),
        ("not.a.jwt", "invalid token: malformed token"),
    ]
    for tok, message in cases:
        for path in ("/v2/", "/v2/%s/tags/list" % repo):
            r = client.but(bearer=tok).get(path)
            assert_error(r, 401, "UNAUTHORIZED")
            assert error_message(r, "UNAUTHORIZED") == message, (message, r)
            assert 'error="invalid_token"' in r.header("WWW-Authenticate", ""), r


def test_token_ttl_setting(tmp_path_factory):
    """token_ttl: 10 in the configuration gives tokens that live 10 s. (Waiting for the expiry
    itself would take 70 s with the 60 s clock leeway; an expired token is checked above with a
    token signed by the server's key.)"""
    s = InstanceServer(KURA_BIN, tmp_path_factory.mktemp("ttl"),
                       {"inet": dict(endpoint="internet")}, token_ttl=10)
    s.start()
    try:
        s.admin.ok("POST", "/api/v1/instances",
                   {"name": "acme", "region": REGION_A, "edition": "personal"})
        s.cli_json("instance", "show", "acme")
        cli_ok(s, "credential", "set", "acme", "--user", USER, "--password-stdin",
               stdin=PASSWORD + "\n")
        r = s.client("inet", ACME_INET, auth=(USER, PASSWORD)).token("repository:a/b:pull")
        assert r.status == 200, r
        doc = r.json()
        assert doc["expires_in"] == 10, doc
        c = jwt_claims(doc["token"])
        assert c["exp"] - c["iat"] == 10, c
    finally:
        s.stop()


def test_temporary_password(srv, open_acme):
    out = srv.cli_json("token", "issue", "acme", "--user", "robot", "--ttl", "60s")
    assert out["user"] == "robot" and out["instance"] == "acme" and len(out["password"]) >= 16
    exp = calendar.timegm(time.strptime(out["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(exp - (time.time() + 60)) < 5, out
    temp = inet(srv, auth=("robot", out["password"]))
    assert temp.get("/v2/").status == 200
    tok = get_token(temp, "repository:team/app:pull")
    assert jwt_claims(tok)["sub"] == "robot"
    assert inet(srv, auth=None, bearer=tok).get("/v2/").status == 200
    assert_error(inet(srv, auth=("robot", out["password"] + "x")).get("/v2/"), 401,
                 "UNAUTHORIZED")
    # temporary passwords are not listed among the users' permanent ones
    users = srv.admin.ok("GET", "/api/v1/instances/acme/credentials")["users"]
    assert USER in users and "robot" not in users, users
    # lifetimes under 60 s (or over 7 days) are refused in one line
    assert_cli_refused(srv.cli("token", "issue", "acme", "--user", "robot", "--ttl", "10s"),
                       "60 s")
    assert_cli_refused(srv.cli("token", "issue", "acme", "--user", "robot", "--ttl", "8d"))
    assert_cli_refused(srv.cli("token", "issue", "acme", "--user", "robot", "--ttl", "soon"),
                       "duration")


def test_login_throttle(srv, open_acme):
    """After 10 failed logins from one source, the 11th attempt (even a right one) gets 429
    TOOMANYREQUESTS; other sources are not affected. Through PROXY, the source is the client."""
    for source, make in (("127.0.0.66", lambda auth: inet(srv, source="127.0.0.66", auth=auth)),
                         ("192.0.2.66", lambda auth: inet(srv, proxy=proxy_v2("192.0.2.66"),
                                                          auth=auth))):
        # A user of its own: failures also count per (instance, user), and ten of them would
        # refuse USER at acme for a minute, to the tests after this one.
        bad = make(("guesser-" + source, "wrong"))
        for i in range(10):
            r = bad.get("/v2/") if i % 2 else bad.token("repository:team/app:pull")
            assert_error(r, 401, "UNAUTHORIZED")
        r = make((USER, PASSWORD)).get("/v2/")
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert source in error_message(r, "TOOMANYREQUESTS"), r
        assert_error(make((USER, PASSWORD)).token("repository:team/app:pull"), 429,
                     "TOOMANYREQUESTS")
    # another source, and another client of the same PROXY sender, still log in
    assert inet(srv, source="127.0.0.67").get("/v2/").status == 200
    assert inet(srv, proxy=proxy_v2("192.0.2.67")).get("/v2/").status == 200


# ============================================================================ namespaces

@pytest.fixture(scope="module")
def namespaced(srv, world):
    acme_open(srv)
    user = inet(srv)
    pub = make_image(user, "pub/app", tag="1")
    priv = make_image(user, "priv/app", tag="1")
    return pub, priv


def test_anonymous_pull_of_public_namespace(srv, namespaced, open_acme):
    body, mt, digest, blobs = namespaced[0]
    anon = inet(srv, auth=None)
    r = anon.get("/v2/pub/app/manifests/1", headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r
    for d, data in blobs.items():
        r = anon.get("/v2/pub/app/blobs/" + d)
        assert r.status == 200 and r.body == data, r
    # the token flow of clients: an anonymous token for pull, then the pull
    tok = get_token(anon, "repository:pub/app:pull,push")
    claims = jwt_claims(tok)
    assert claims["sub"] == "", claims
    assert [a["actions"] for a in claims["access"] if a["name"] == "pub/app"] == [["pull"]], claims
    r = anon.but(bearer=tok).get("/v2/pub/app/manifests/" + digest, headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r


def test_anonymous_pull_of_private_namespace_401(srv, namespaced, open_acme):
    body, mt, digest, blobs = namespaced[1]
    anon = inet(srv, auth=None)
    r = anon.get("/v2/priv/app/manifests/1", headers={"Accept": mt})
    assert_error(r, 401, "UNAUTHORIZED")
    scheme, params = parse_challenge(r.header("WWW-Authenticate", ""))
    assert params.get("scope") == "repository:priv/app:pull", r
    assert_error(anon.get("/v2/priv/app/blobs/" + next(iter(blobs))), 401, "UNAUTHORIZED")
    tok = get_token(anon, "repository:priv/app:pull")
    assert jwt_claims(tok).get("access", []) == [], jwt_claims(tok)
    assert_error(anon.but(bearer=tok).get("/v2/priv/app/manifests/1", headers={"Accept": mt}),
                 401, "UNAUTHORIZED")
    # the owner pulls it
    assert inet(srv).get("/v2/priv/app/manifests/1", headers={"Accept": mt}).status == 200


def test_anonymous_push_401(srv, namespaced, open_acme):
    anon = inet(srv, auth=None)
    for repo in ("pub/app", "priv/app", "newns/app"):
        r = anon.post("/v2/%s/blobs/uploads/" % repo)
        assert_error(r, 401, "UNAUTHORIZED")
        r = anon.put("/v2/%s/manifests/x" % repo, body=b"{}",
                     headers={"Content-Type": OCI_MANIFEST})
        assert_error(r, 401, "UNAUTHORIZED")
    # an anonymous token carries no push
    tok = get_token(anon, "repository:pub/app:push")
    assert_error(anon.but(bearer=tok).post("/v2/pub/app/blobs/uploads/"), 401, "UNAUTHORIZED")
    # and a namespace created by a push is private
    user = inet(srv)
    push_blob(user, "fresh%s/app" % os.urandom(3).hex(), b"x")
    nss = srv.admin.ok("GET", "/api/v1/instances/acme/namespaces")
    assert all(n["visibility"] == "private" for n in nss if n["name"].startswith("fresh")), nss


def test_instances_do_not_share_repositories(srv, namespaced, open_acme):
    """beta has its own repositories: acme's public image is not in it."""
    body, mt, _, _ = namespaced[0]
    r = inet(srv, host=BETA_INET, auth=(USER, BETA_PASSWORD)).get(
        "/v2/pub/app/manifests/1", headers={"Accept": mt})
    assert_error(r, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")


# ============================================================================ bad input

@pytest.mark.parametrize("host", [
    "nope-registry.ap-northeast-1.kura.test",        # no such instance
    "acme-registry.ap-southeast-1.kura.test",        # acme, wrong region
    "acme.ap-northeast-1.kura.test",                 # no endpoint suffix
    "acme-registry.ap-northeast-1.example.com",      # other domain
    "127.0.0.1",
    "",
])
def test_unknown_host_404(srv, world, host):
    mark = srv.audit_mark()
    client = srv.client("inet", "x", auth=(USER, PASSWORD))
    r = client.get("/v2/", headers={"Host": host})
    assert_error(r, 404, "NAME_UNKNOWN")
    assert srv.audit_since(mark) == [], "no admission decision for an unknown host"


def expect_closed(srv, listener, data, source=PROXY_SENDER):
    answer, closed = raw_proxy_exchange(srv.port(listener), data, source=source)
    assert not answer.startswith(b"HTTP/"), "no HTTP answer expected, got %r" % answer[:200]
    assert closed, "the server should close the connection"


GET_ACME = ("GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n" % ACME_INET).encode()


@pytest.mark.parametrize("data", [
    GET_ACME,                                                        # no header at all
    b"PROXY TCP4 198.51.100.10 192.0.2.1 40000\r\n" + GET_ACME,       # a field missing
    b"PROXY TCP4 198.51.100.010 192.0.2.1 40000 443\r\n" + GET_ACME,  # leading zero
    b"PROXY TCP4 198.51.100.10 192.0.2.1 40000 443\n" + GET_ACME,     # LF alone
    b"PROXY TCP4 198.51.100.10  192.0.2.1 40000 443\r\n" + GET_ACME,  # two spaces
    b"PROXY TCP9 198.51.100.10 192.0.2.1 40000 443\r\n" + GET_ACME,
    b"PROXY UNKNOWN " + b"A" * 200 + b"\r\n" + GET_ACME,              # over 107 bytes
    b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + b"\x00" * 12 + GET_ACME,  # version 3
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x08" + b"\x00" * 8 + GET_ACME,   # too short for TCP4
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff" + b"\x00" * 64,              # over 4096 bytes
    proxy_v2(ECS_A_PUBLIC, tlvs=[vpc_tlv("vpc-a"), vpc_tlv("vpc-b", TLV_AWS)]) + GET_ACME,
    proxy_v2(ECS_A_PUBLIC, tlvs=[(TLV_ALIBABA, b"\x01bad id!")]) + GET_ACME,
], ids=["no-header", "v1-missing-field", "v1-leading-zero", "v1-lf", "v1-two-spaces",
        "v1-family", "v1-too-long", "v2-version", "v2-short", "v2-huge", "v2-two-vpcs",
        "v2-bad-vpc-id"])
def test_malformed_proxy_header_closes_connection(srv, world, data):
    acme_open(srv)
    mark = srv.audit_mark()
    expect_closed(srv, "inet", data)
    assert srv.running(), "server died:\n" + srv.log_tail()
    assert srv.audit_since(mark) == []
    # still serving, through PROXY and directly
    assert inet(srv, proxy=proxy_v1(ECS_A_PUBLIC)).get("/v2/").status == 200
    assert inet(srv, source=ECS_A_LOCAL).get("/v2/").status == 200


def test_proxy_header_cut_short_then_closed(srv, world):
    """A trusted sender that sends half a header and hangs up leaves the server serving."""
    acme_open(srv)
    for part in (b"PROXY TCP4 198.51", proxy_v2(ECS_A_PUBLIC)[:20]):
        s = socket.socket()
        s.settimeout(5)
        s.bind((PROXY_SENDER, 0))
        s.connect(("127.0.0.1", srv.port("inet")))
        s.sendall(part)
        s.close()
    assert srv.running()
    assert inet(srv, proxy=proxy_v2(ECS_A_PUBLIC)).get("/v2/").status == 200


def test_proxy_local_and_unknown_keep_socket_address(srv, world):
    """PROXY v2 LOCAL and v1 UNKNOWN (health checks) keep the sender's own address."""
    srv.admin.internet("acme", True, [("%s/32" % PROXY_SENDER, "relay health check")])
    for header in (proxy_v2(None, command=0), proxy_v1(None)):
        check_admission(srv, inet(srv, proxy=header), True, "in-allowlist", PROXY_SENDER)


def test_untrusted_source_cannot_claim_an_address(srv, world):
    """A PROXY header from a source not in proxy_protocol is not honoured: ECS-B cannot pretend
    to be ECS-A's public IP."""
    srv.admin.internet("acme", True, [("%s/32" % ECS_A_PUBLIC, "ECS-A")])
    mark = srv.audit_mark()
    answer, _ = raw_proxy_exchange(srv.port("inet"), proxy_v1(ECS_A_PUBLIC) + GET_ACME,
                                   source=ECS_B_LOCAL)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert all(line["source"] != ECS_A_PUBLIC for line in srv.audit_since(mark))
    assert srv.running()


def test_vpc_tlv_from_untrusted_source_ignored(srv, world):
    """On the VPC listener sitting in vpc-b, a client cannot name vpc-a by TLV."""
    set_vpc_column(srv, "VPC-A bound")
    header = proxy_v2("10.0.0.1", tlvs=[vpc_tlv("vpc-a")])
    mark = srv.audit_mark()
    answer, _ = raw_proxy_exchange(srv.port("vpc-b"),
                                   header + ("GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n"
                                             % ACME_VPC).encode(), source=ECS_B_LOCAL)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert all(line["arrival_network"] != "vpc-a" for line in srv.audit_since(mark))


@pytest.mark.parametrize("method,path,raw,status", [
    ("POST", "/api/v1/instances", b"{not json", 400),
    ("POST", "/api/v1/instances", b"[1, 2]", 400),
    ("POST", "/api/v1/instances", b'{"name": "x1"}', 400),
    ("POST", "/api/v1/instances", b'{"name": "Bad_Name", "region": "ap-northeast-1", '
                                  b'"edition": "enterprise"}', 400),
    ("POST", "/api/v1/instances", b'{"name": "x2", "region": "ap-northeast-1", '
                                  b'"edition": "gold"}', 400),
    ("POST", "/api/v1/instances", b'{"name": "acme", "region": "ap-northeast-1", '
                                  b'"edition": "enterprise"}', 409),
    ("POST", "/api/v1/instances/acme/internet/allowlist", b'{"cidr": "300.1.2.3/32"}', 400),
    ("POST", "/api/v1/instances/acme/internet/allowlist", b'{"cidr": "10.0.0.0/33"}', 400),
    ("POST", "/api/v1/instances/acme/internet/allowlist", b'{"cidr": "not-an-ip"}', 400),
    ("POST", "/api/v1/instances/acme/internet/allowlist", b'{"cidr": 17}', 400),
    ("PUT", "/api/v1/instances/acme/internet/allowlist", b'{"entries": [{"cidr": "1.2.3"}]}',
     400),
    ("PUT", "/api/v1/instances/acme/internet/allowlist", b'{"entries": "0.0.0.0/0"}', 400),
    ("PUT", "/api/v1/instances/acme/internet/allowlist",
     b'{"entries": [{"cidr": "1.2.3.4/32"}, {"cidr": "1.2.3.4"}]}', 400),
    ("PUT", "/api/v1/instances/acme/internet/allowlist", b'{"entries": [{"cidr": "1.2.3.5/24"}]}',
     400),
    ("DELETE", "/api/v1/instances/acme/internet/allowlist?cidr=1.2.3.4/99", None, 400),
    ("DELETE", "/api/v1/instances/acme/internet/allowlist", None, 400),
    ("POST", "/api/v1/networks", b'{"id": "bad", "region": "ap-northeast-1", '
                                 b'"cidrs": ["192.168.0.0/40"]}', 400),
    ("POST", "/api/v1/networks", b'{"id": "bad", "region": "ap-northeast-1", "cidrs": []}', 400),
    ("POST", "/api/v1/subnets", b'{"id": "bad", "network": "vpc-a", "cidr": "10.9.0.0/24"}', 400),
    ("GET", "/api/v1/instances/nosuch", None, 404),
    ("POST", "/api/v1/instances/nosuch/internet/enable", None, 404),
    ("POST", "/api/v1/instances/nosuch/vpc/bindings", b'{"network": "vpc-a"}', 404),
    ("POST", "/api/v1/instances/acme/vpc/bindings", b'{"network": "vpc-nosuch"}', 404),
    ("POST", "/api/v1/instances/acme/vpc/bindings", b'{"network": "vpc-a", "subnet": "vsw-b"}',
     400),
    ("PUT", "/api/v1/instances/acme/credentials/u1", b'{"password": "short"}', 400),
    ("POST", "/api/v1/instances/acme/tokens", b'{"user": "u1", "ttl_seconds": 59}', 400),
    ("POST", "/api/v1/instances/acme/tokens", b'{"user": "u1", "ttl_seconds": "60"}', 400),
    ("POST", "/api/v1/instances/acme/namespaces", b'{"name": "n1", "visibility": "open"}', 400),
    ("GET", "/api/v1/nothing", None, 404),
    ("GET", "/elsewhere", None, 404),
])
def test_admin_api_bad_input(srv, world, method, path, raw, status):
    before = srv.admin.ok("GET", "/api/v1/instances/acme")
    got, doc, body = srv.admin.call(method, path, raw=raw)
    assert got == status, "%s %s %r -> %d %r" % (method, path, raw, got, body)
    assert isinstance(doc, dict) and list(doc) == ["error"], body
    assert isinstance(doc["error"], str) and doc["error"] and "\n" not in doc["error"], body
    if status != 409:
        assert srv.admin.ok("GET", "/api/v1/instances/acme") == before


def test_bad_cidr_from_cli(srv, world):
    before = srv.admin.ok("GET", "/api/v1/instances/acme")
    assert_cli_refused(srv.cli("endpoint", "internet", "allow", "acme", "192.168.1.300"))
    assert_cli_refused(srv.cli("endpoint", "internet", "revoke", "acme", "10.0.0.0/8"),
                       "not in the allowlist")
    assert_cli_refused(srv.cli("instance", "show", "nosuch"), "nosuch")
    assert srv.admin.ok("GET", "/api/v1/instances/acme") == before


def test_cli_without_server_or_token(srv, world):
    assert_cli_refused(srv.cli("instance", "list", token=None), "token")
    r = srv.cli("instance", "list")
    assert r.returncode == 0, r.stderr
    r = subprocess.run([KURA_BIN, "--server", "http://127.0.0.1:1", "--token", TOKEN_A,
                        "instance", "list"], capture_output=True, text=True, timeout=30)
    assert_cli_refused(r, "cannot reach")


# ============================================================================ last: slow checks

@pytest.mark.skipif(not SLOW, reason="waits up to 60 s for a temporary password to expire; "
                                     "set KURA_SLOW_TESTS=1")
def test_temporary_password_expires(srv, world):
    """The temporary password issued when the world was built (60 s) no longer works."""
    acme_open(srv)
    password, expires = world["temp_early"]
    wait = expires + 2 - time.time()
    assert wait < 70
    if wait > 0:
        time.sleep(wait)
    r = inet(srv, auth=("temp-early", password)).get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    assert_error(inet(srv, auth=("temp-early", password)).token("repository:a/b:pull"), 401,
                 "UNAUTHORIZED")
