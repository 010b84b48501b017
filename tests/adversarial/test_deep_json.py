"""Defect 2: JSON nested 100,000 deep (about 200 KB) in a manifest or an admin body overflowed the
stack when kura re-serialized it, and took every tenant down. Every body kura parses has a
nesting limit (64 levels): too deep is a 400 with a clear error, and the server lives on."""

import json

import pytest

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
