"""PUT / GET / HEAD / DELETE /v2/<name>/manifests/<reference>."""

import json
import os

import pytest

from helpers import (ALL_MANIFEST_TYPES, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_LAYER,
                     OCI_MANIFEST, OCI_CONFIG, assert_error, canon, descriptor, digest_of,
                     make_image, push_blob, push_manifest, unique)


def check_get(reg, repo, ref, body, mt):
    d = digest_of(body)
    r = reg.get("/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": ALL_MANIFEST_TYPES})
    assert r.status == 200, r
    assert r.body == body, "GET returned different bytes: %r" % r
    assert r.header("Content-Type", "").split(";")[0] == mt, r
    assert r.header("Docker-Content-Digest") == d, r
    assert int(r.header("Content-Length")) == len(body), r
    h = reg.head("/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": ALL_MANIFEST_TYPES})
    assert h.status == 200, h
    assert h.body == b""
    assert h.header("Docker-Content-Digest") == d, h
    assert int(h.header("Content-Length")) == len(body), h
    assert h.header("Content-Type", "").split(";")[0] == mt, h


def build_index(reg, repo, docker):
    children = []
    for arch in ("amd64", "arm64"):
        body, mt, d, _ = make_image(reg, repo, docker=docker)
        desc = descriptor(mt, body, platform={"architecture": arch, "os": "linux"})
        children.append(desc)
    mt = DOCKER_LIST if docker else OCI_INDEX
    body = canon({"schemaVersion": 2, "mediaType": mt, "manifests": children})
    return body, mt


@pytest.mark.parametrize("kind", ["oci", "docker", "oci-index", "docker-list"])
def test_push_and_pull_by_tag_and_digest(reg, kind):
    repo = unique("man") + "/" + kind
    if kind in ("oci", "docker"):
        body, mt, _, _ = make_image(reg, repo, docker=(kind == "docker"), push=False)
    else:
        body, mt = build_index(reg, repo, docker=(kind == "docker-list"))
    d = digest_of(body)
    r = push_manifest(reg, repo, "v1", body, mt)
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    loc = r.header("Location")
    assert loc, r
    g = reg.get(loc, headers={"Accept": ALL_MANIFEST_TYPES})
    assert g.status == 200 and g.body == body, g
    check_get(reg, repo, "v1", body, mt)
    check_get(reg, repo, d, body, mt)


@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_push_by_digest(reg, kind):
    repo = unique("bydig")
    body, mt, d, _ = make_image(reg, repo, docker=(kind == "docker"), push=False)
    r = push_manifest(reg, repo, d, body, mt)
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    check_get(reg, repo, d, body, mt)
    # Pushed by digest only: no tag appeared.
    t = reg.get("/v2/%s/tags/list" % repo)
    assert t.status in (200, 404), t
    if t.status == 200:
        assert not t.json().get("tags"), t


def test_exact_bytes_are_kept(reg):
    # Whitespace, key order and unicode escapes must survive: the digest is over the bytes.
    repo = unique("bytes")
    _, _, _, blobs = make_image(reg, repo, push=False)
    cfg = [d for d, b in blobs.items() if b.startswith(b"{")][0]
    layer = [d for d, b in blobs.items() if not b.startswith(b"{")][0]
    body = ('{\n  "schemaVersion" : 2,\n  "mediaType": "%s",\n'
            '  "config": {"size": %d, "digest": "%s", "mediaType": "%s"},\n'
            '  "layers": [ {"mediaType": "%s", "digest": "%s", "size": %d} ],\n'
            '  "annotations": {"note": "caf\\u00e9 \xe2\x98\x83"}\n}\n'
            % (OCI_MANIFEST, len(blobs[cfg]), cfg, OCI_CONFIG, OCI_LAYER, layer,
               len(blobs[layer]))).encode("latin-1")
    r = push_manifest(reg, repo, "pretty", body, OCI_MANIFEST)
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == digest_of(body), r
    check_get(reg, repo, "pretty", body, OCI_MANIFEST)


def test_put_by_digest_mismatch(reg):
    repo = unique("mismatch")
    body, mt, _, _ = make_image(reg, repo, push=False)
    wrong = digest_of(body + b" ")
    r = push_manifest(reg, repo, wrong, body, mt)
    assert_error(r, 400, "DIGEST_INVALID")
    assert reg.get("/v2/%s/manifests/%s" % (repo, wrong)).status == 404
    assert reg.get("/v2/%s/manifests/%s" % (repo, digest_of(body))).status == 404


def test_missing_layer(reg):
    repo = unique("nolayer")
    body, mt, d, blobs = make_image(reg, repo, push=False)
    doc = json.loads(body)
    doc["layers"].append(descriptor(OCI_LAYER, os.urandom(100)))
    r = push_manifest(reg, repo, "t", canon(doc), mt)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert reg.get("/v2/%s/manifests/t" % repo).status == 404


def test_missing_config(reg):
    repo = unique("nocfg")
    body, mt, d, blobs = make_image(reg, repo, push=False)
    doc = json.loads(body)
    doc["config"] = descriptor(OCI_CONFIG, b'{"never":"pushed","n":"%s"}' % unique().encode())
    r = push_manifest(reg, repo, "t", canon(doc), mt)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


def test_blob_in_other_repo_is_not_enough(reg):
    a, b = unique("ra"), unique("rb")
    body, mt, d, blobs = make_image(reg, a, push=False)
    push_blob(reg, b, b"b exists")
    r = push_manifest(reg, b, "t", body, mt)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("docker", [False, True])
def test_index_with_missing_child(reg, docker):
    repo = unique("noidx")
    body, mt, d, _ = make_image(reg, repo, docker=docker)
    ghost = canon({"schemaVersion": 2, "mediaType": mt, "ghost": unique()})
    idx_mt = DOCKER_LIST if docker else OCI_INDEX
    idx = canon({"schemaVersion": 2, "mediaType": idx_mt,
                 "manifests": [descriptor(mt, body), descriptor(mt, ghost)]})
    r = push_manifest(reg, repo, "idx", idx, idx_mt)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert reg.get("/v2/%s/manifests/idx" % repo).status == 404


@pytest.mark.parametrize("body", [b"{not json", b"", b"[]", b'{"schemaVersion": 2, "mediaType": 7}',
                                  b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":"x","layers":[]}'])
def test_malformed_manifest(reg, body):
    repo = unique("malformed")
    push_blob(reg, repo, b"x")
    r = push_manifest(reg, repo, "bad", body, OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert reg.get("/v2/%s/manifests/bad" % repo).status == 404


def test_media_type_field_disagrees_with_content_type(reg):
    repo = unique("mtype")
    body, mt, d, _ = make_image(reg, repo, push=False)
    r = push_manifest(reg, repo, "t", body, DOCKER_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")


def test_manifest_too_large(reg):
    repo = unique("huge")
    body, mt, d, _ = make_image(reg, repo, push=False)
    doc = json.loads(body)
    doc["annotations"] = {"pad": "x" * (4 * 1024 * 1024 + 10)}
    big = canon(doc)
    assert len(big) > 4 * 1024 * 1024
    r = push_manifest(reg, repo, "big", big, mt)
    assert r.status in (413, 400), r
    assert_error(r, r.status, "SIZE_INVALID", "MANIFEST_INVALID")
    assert reg.get("/v2/").status == 200
    assert reg.get("/v2/%s/manifests/big" % repo).status == 404


def test_unknown_manifest(reg):
    repo = unique("unk")
    make_image(reg, repo, tag="exists")
    assert_error(reg.get("/v2/%s/manifests/nope" % repo), 404, "MANIFEST_UNKNOWN")
    assert_error(reg.get("/v2/%s/manifests/%s" % (repo, digest_of(os.urandom(9)))), 404,
                 "MANIFEST_UNKNOWN")
    assert reg.head("/v2/%s/manifests/nope" % repo).status == 404


def test_unknown_manifest_in_unknown_repo(reg):
    r = reg.get("/v2/%s/manifests/latest" % unique("norepo"))
    assert_error(r, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")


def test_subject_header(reg):
    repo = unique("subj")
    sbody, smt, sd, _ = make_image(reg, repo, tag="base")
    push_blob(reg, repo, b"{}")
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.test.sig",
           "config": descriptor("application/vnd.oci.empty.v1+json", b"{}"),
           "layers": [descriptor("application/vnd.oci.empty.v1+json", b"{}")],
           "subject": descriptor(smt, sbody)}
    body = canon(doc)
    r = push_manifest(reg, repo, digest_of(body), body, OCI_MANIFEST)
    assert r.status == 201, r
    assert r.header("OCI-Subject") == sd, r


def test_tag_overwrite(reg):
    repo = unique("over")
    b1, mt, d1, _ = make_image(reg, repo, tag="latest")
    b2, _, d2, _ = make_image(reg, repo, tag="latest")
    check_get(reg, repo, "latest", b2, mt)
    # The old manifest is still there by digest.
    check_get(reg, repo, d1, b1, mt)


def test_same_manifest_twice_is_idempotent(reg):
    repo = unique("idem")
    body, mt, d, _ = make_image(reg, repo, tag="a")
    r = push_manifest(reg, repo, "a", body, mt)
    assert r.status == 201 and r.header("Docker-Content-Digest") == d, r
    r = push_manifest(reg, repo, "b", body, mt)
    assert r.status == 201, r
    check_get(reg, repo, "b", body, mt)


def test_delete_by_digest(reg):
    repo = unique("deld")
    keep_body, mt, keep_d, _ = make_image(reg, repo, tag="keep")
    body, mt, d, _ = make_image(reg, repo, tag="one")
    assert push_manifest(reg, repo, "two", body, mt).status == 201
    r = reg.delete("/v2/%s/manifests/%s" % (repo, d))
    assert r.status == 202, r
    assert_error(reg.get("/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")
    assert_error(reg.get("/v2/%s/manifests/one" % repo), 404, "MANIFEST_UNKNOWN")
    assert_error(reg.get("/v2/%s/manifests/two" % repo), 404, "MANIFEST_UNKNOWN")
    assert reg.head("/v2/%s/manifests/%s" % (repo, d)).status == 404
    tags = reg.get("/v2/%s/tags/list" % repo).json()["tags"]
    assert tags == ["keep"], tags
    check_get(reg, repo, "keep", keep_body, mt)
    assert_error(reg.delete("/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag(reg):
    repo = unique("delt")
    body, mt, d, _ = make_image(reg, repo, tag="one")
    assert push_manifest(reg, repo, "two", body, mt).status == 201
    r = reg.delete("/v2/%s/manifests/one" % repo)
    assert r.status == 202, r
    assert_error(reg.get("/v2/%s/manifests/one" % repo), 404, "MANIFEST_UNKNOWN")
    check_get(reg, repo, "two", body, mt)
    check_get(reg, repo, d, body, mt)
    assert reg.get("/v2/%s/tags/list" % repo).json()["tags"] == ["two"]
    assert_error(reg.delete("/v2/%s/manifests/one" % repo), 404, "MANIFEST_UNKNOWN")


def test_accept_without_stored_type_still_returns_content(reg):
    repo = unique("accept")
    body, mt, d, _ = make_image(reg, repo, tag="t")
    r = reg.get("/v2/%s/manifests/t" % repo, headers={"Accept": DOCKER_MANIFEST})
    # Registries commonly return the stored manifest as it is (or 404 MANIFEST_UNKNOWN).
    assert r.status in (200, 404), r
    if r.status == 200:
        assert r.body == body and r.header("Content-Type").split(";")[0] == mt, r
    r = reg.get("/v2/%s/manifests/t" % repo, headers={"Accept": "*/*"})
    assert r.status == 200 and r.body == body, r
    r = reg.get("/v2/%s/manifests/t" % repo)
    assert r.status == 200 and r.body == body, r


@pytest.mark.parametrize("tag", ["-leading", "a" * 129, "has%20space", ".dot"])
def test_invalid_tag(reg, tag):
    repo = unique("badtag")
    body, mt, d, _ = make_image(reg, repo, push=False)
    r = push_manifest(reg, repo, tag, body, mt)
    assert r.status in (400, 404), r
    t = reg.get("/v2/%s/tags/list" % repo)
    if t.status == 200:
        assert not t.json().get("tags"), t


@pytest.mark.parametrize("tag", ["A", "a" * 128, "_under", "v1.2.3-rc_1", "UPPER.lower-9"])
def test_valid_tags(reg, tag):
    repo = unique("goodtag")
    body, mt, d, _ = make_image(reg, repo, push=False)
    r = push_manifest(reg, repo, tag, body, mt)
    assert r.status == 201, r
    check_get(reg, repo, tag, body, mt)
