"""Defect 2: JSON nested 100,000 deep (about 200 KB) in a manifest or an admin body overflowed the
stack when kura re-serialized it, and took every tenant down. Every body kura parses has a
nesting limit (64 levels): too deep is a 400 with a clear error, and the server lives on."""

import json

import pytest

from conftest import running_instances

from helpers import (OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, assert_error, descriptor,
                     digest_of, push_blob, push_manifest, unique)

DEEP = 100000


def nested(depth, kind="["):
    close = {"[": "]", "{": "}"}[kind]
    inner = '"x"'
    if kind == "{":
        return '{"a":' * depth + inner + "}" * depth
    return kind * depth + inner + close * depth


def image_with(reg, repo, field, raw_value):
    cfg = json.dumps({"nonce": unique()}).encode()
    layer = b"layer " + unique().encode()
    push_blob(reg, repo, cfg)
    push_blob(reg, repo, layer)
    head = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor(OCI_CONFIG, cfg),
                       "layers": [descriptor(OCI_LAYER, layer)]})
    return (head[:-1] + ',"%s":%s}' % (field, raw_value)).encode()


@pytest.mark.parametrize("kind", ["[", "{"])
@pytest.mark.parametrize("field", ["annotations", "config", "layers", "subject", "unknownField"])
def test_deep_manifest_is_refused_and_the_server_lives(reg, kind, field):
    repo = unique("deep")
    value = nested(DEEP, kind)
    if field == "annotations":
        value = '{"k":%s}' % value
    body = image_with(reg, repo, field, value)
    r = push_manifest(reg, repo, "v1", body, OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert "nested deeper than 64 levels" in r.body.decode()
    assert reg.get("/v2/").status == 200
    assert reg.get("/v2/%s/manifests/v1" % repo).status == 404


def test_deep_index_is_refused(reg):
    repo = unique("deep")
    body = ('{"schemaVersion":2,"mediaType":"%s","manifests":%s}'
            % (OCI_INDEX, nested(DEEP))).encode()
    r = push_manifest(reg, repo, "v1", body, OCI_INDEX)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert reg.get("/v2/").status == 200


def test_nesting_up_to_the_limit_is_accepted(reg):
    """64 levels in all (the manifest object and 63 arrays in a field of its own) are stored and
    served byte for byte; one level more is refused."""
    repo = unique("deep")
    body = image_with(reg, repo, "x-deep", nested(63))
    r = push_manifest(reg, repo, "v1", body, OCI_MANIFEST)
    assert r.status == 201, r
    got = reg.get("/v2/%s/manifests/v1" % repo)
    assert got.status == 200 and got.body == body
    r = push_manifest(reg, repo, "v2", image_with(reg, repo, "x-deep", nested(64)), OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")


def test_wide_manifest_within_4_mib_is_accepted(reg):
    """Wide is not deep: 100,000 annotations (about 2.4 MB) are stored and served back whole."""
    repo = unique("wide")
    annotations = {"k%06d" % i: "v" for i in range(100000)}
    body = image_with(reg, repo, "annotations", json.dumps(annotations, separators=(",", ":")))
    assert len(body) < 4 * 1024 * 1024
    r = push_manifest(reg, repo, "v1", body, OCI_MANIFEST)
    assert r.status == 201, r
    got = reg.get("/v2/%s/manifests/%s" % (repo, digest_of(body)))
    assert got.status == 200 and got.body == body


# ----------------------------------------------------------------------------- admin bodies

ADMIN_BODIES = [
    ("POST", "/api/v1/networks"),
    ("POST", "/api/v1/subnets"),
    ("POST", "/api/v1/instances"),
    ("PUT", "/api/v1/instances/deep/internet/allowlist"),
    ("POST", "/api/v1/instances/deep/vpc/bindings"),
    ("PUT", "/api/v1/instances/deep/credentials/alice"),
    ("POST", "/api/v1/instances/deep/tokens"),
    ("POST", "/api/v1/instances/deep/namespaces"),
]


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    with running_instances(tmp_path_factory.mktemp("deep-admin"),
                           {"inet": dict(endpoint="internet")}) as s:
        s.admin.ok("POST", "/api/v1/instances",
                   {"name": "deep", "region": "ap-northeast-1", "edition": "enterprise"})
        yield s


@pytest.mark.parametrize("method,path", ADMIN_BODIES)
@pytest.mark.parametrize("kind", ["[", "{"])
def test_deep_admin_body_is_a_400_and_the_server_lives(instances, method, path, kind):
    raw = ('{"name":"x","entries":%s}' % nested(DEEP, kind)).encode()
    status, doc, out = instances.admin.call(method, path, raw=raw)
    assert status == 400, out[:200]
    assert doc and "nested deeper than 64 levels" in doc["error"]
    status, doc, _ = instances.admin.call("GET", "/api/v1/whoami")
    assert status == 200 and doc == {"account": "A"}


def test_wide_admin_body_within_16_mib_is_read(instances):
    """A 100,000-entry allowlist (about 4 MB) is accepted whole: width is not depth."""
    entries = [{"cidr": "10.%d.%d.0/24" % (i // 256 % 256, i % 256), "description": "e%d" % i}
               for i in range(65536)]
    status, doc, out = instances.admin.call("PUT", "/api/v1/instances/deep/internet/allowlist",
                                            body={"entries": entries}, timeout=120)
    assert status == 200, out[:300]
    assert len(doc["internet"]["allowlist"]) == 65536


# ----------------------------------------------------------------------------- topology files

def test_deep_topology_file_is_refused_with_a_line(tmp_path):
    from plain_server import KURA_BIN
    import subprocess
    path = tmp_path / "deep.yaml"
    path.write_text("accounts: " + "[" * DEEP + "]" * DEEP + "\n")
    r = subprocess.run([KURA_BIN, "scope", "analyze", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode not in (0, -11, -6), (r.returncode, r.stderr[-500:])
    assert r.returncode > 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr[-500:]
    assert "deep.yaml" in r.stderr
